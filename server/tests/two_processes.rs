//! Two `bidkey-server` processes on one PostgreSQL behind a loopback round-robin (issue 18
//! §5, the multi-node layout of docs/operations.md): a holder's story runs across both, and
//! one process is killed (SIGKILL, no goodbye) in the middle; the other carries the story to
//! a co-signed signature.

#[path = "support/process.rs"]
mod process;
#[allow(unused_imports)]
mod support;

use bidkey_crypto::sm2::{self, DEFAULT_ID};
use bidkey_protocol::accounts::{
    SendSmsRequest, SendSmsResponse, Session, SmsLoginRequest, SmsPurpose,
};
use bidkey_protocol::certs::PersonalApplicationRequest;
use bidkey_protocol::orders::{self as ow, ReviewDecision};
use bidkey_testkit::balancer::RoundRobin;
use process::ServerProcess;
use std::path::Path;
use support::Client;
use support::device::{co_sign, enroll, pay};

fn serve(data: &Path, db: &str) -> ServerProcess {
    ServerProcess::spawn(
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--database-url",
            db,
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
        &data.with_extension("log"),
    )
}

/// The newest SMS code to `phone`, from the sandbox outbox in the shared database.
async fn sms_code(db: &str, phone: &str) -> String {
    let (db, phone) = (db.to_owned(), phone.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&db, postgres::NoTls).expect("database");
        let row = c
            .query_one(
                "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
                &[&phone],
            )
            .expect("a message");
        let body: String = row.get(0);
        body.chars()
            .collect::<Vec<_>>()
            .windows(6)
            .map(|w| w.iter().collect::<String>())
            .find(|w| w.chars().all(|c| c.is_ascii_digit()))
            .expect("a six-digit code")
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_runs_across_two_processes_and_survives_one_killed() {
    bidkey_testkit::install_tls_provider();
    let db = bidkey_testkit::pg::fresh_database();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    // The first process makes the key files; the second gets copies, as the layout says.
    let mut a = serve(&a_dir, &db);
    std::fs::create_dir_all(&b_dir).expect("b");
    for entry in std::fs::read_dir(&a_dir).expect("a's files") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, b_dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let b = serve(&b_dir, &db);
    let rr = RoundRobin::start(&[a.url.clone(), b.url.clone()]).await;
    let op_token = std::fs::read_to_string(a_dir.join("operator.token")).expect("token");
    let mut c = Client {
        base: rr.url(),
        operator_base: a.operator_url.clone(),
        http: reqwest::Client::new(),
        token: None,
        confirmation: None,
    };

    // Sign up and real-name through the balancer: the steps land on both processes.
    let phone = "13800138411";
    let _: SendSmsResponse = c
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: phone.into(),
                purpose: SmsPurpose::Signup,
            },
        )
        .await
        .expect("sent");
    let s: Session = c
        .post(
            "/v1/accounts/signup",
            &SmsLoginRequest {
                phone: phone.into(),
                code: sms_code(&db, phone).await,
                device_name: Some("test phone".into()),
                device_id: None,
            },
        )
        .await
        .expect("signed up");
    c.token = Some(s.token);
    support::real_named(&c, "王五", "110101199003074514").await;
    let app: ow::Application = c
        .post(
            "/v1/applications/personal",
            &PersonalApplicationRequest::default(),
        )
        .await
        .expect("applied");
    let _: ow::Application = c
        .with_token(op_token.trim())
        .post(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect("approved on the first process's operator listener");
    let served = rr.served();
    assert!(served.iter().all(|n| *n > 0), "both served: {served:?}");

    // The first process dies, mid-story, without a goodbye.
    a.child.kill().expect("killed");
    a.child.wait().expect("reaped");

    // The rest of the story: payment, two-party enrolment, a co-signature.
    pay(&c, &app.id).await;
    let w = enroll(&c, &app.id).await;
    let msg = b"bid file digest, signed after a process died";
    let sig = co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        msg,
    )
    .await
    .expect("co-signed");
    sm2::verify(&w.signing_public, DEFAULT_ID, msg, &sig).expect("a valid SM2 signature");
    let after = rr.served();
    assert_eq!(after[0], served[0], "nothing reached the dead process");
    assert!(after[1] > served[1]);
    drop(b);
}

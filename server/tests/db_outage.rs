//! The database goes away and comes back (issue 18, "Bad input and faults"), on a
//! PostgreSQL cluster of the test's own that it stops and starts: mid-run, `/readyz` fails
//! and requests get a typed 503 with a retry hint, and the server recovers by itself; at
//! start, the server listens at once, answers 503 (the probe naming the database) and
//! serves once the database answers, without a restart (ADR 0030). Every wait is a poll with a
//! bounded deadline: no sleep decides an outcome.

#[path = "support/process.rs"]
mod process;
mod support;

use bidkey_protocol::accounts::{SendSmsRequest, SmsPurpose};
use bidkey_protocol::{ErrorBody, ErrorCode};
use bidkey_server::db::DbUrl;
use bidkey_testkit::pg::OwnCluster;
use std::time::{Duration, Instant};
use support::{Store, TestServer, signed_up};

const DEADLINE: Duration = Duration::from_secs(60);

/// `GET path` with `token`: the status and the error body, if any.
async fn get(url: &str, token: Option<&str>) -> (u16, Option<ErrorBody>) {
    // reqwest on rustls without a built-in provider: whichever test runs first needs one.
    bidkey_testkit::install_tls_provider();
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).ok())
}

/// Poll until `f` says done, at most [`DEADLINE`]; each answer on the way is judged by `f`.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + DEADLINE;
    loop {
        if f().await {
            return;
        }
        assert!(Instant::now() < end, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_typed_503(status: u16, body: &Option<ErrorBody>) -> bool {
    status == 503
        && body
            .as_ref()
            .is_some_and(|b| b.code == ErrorCode::Unavailable && b.retry_after.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_goes_away_mid_run_and_the_server_recovers_by_itself() {
    let mut pg = tokio::task::spawn_blocking(OwnCluster::new)
        .await
        .expect("cluster");
    let url = pg.fresh_database();
    let server =
        TestServer::start_with(Store::Sqlite, |c| c.db = DbUrl::Postgres(url.clone())).await;
    let user = signed_up(&server, "13800138311").await;
    let token = user.token.clone().expect("token");
    let me = format!("{}/v1/applications", server.url());
    let ready = format!("{}/readyz", server.url());
    assert_eq!(get(&ready, None).await.0, 200);
    assert_eq!(get(&me, Some(&token)).await.0, 200);

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .expect("stopped");

    // Down: the probe fails and names the check; requests get a typed 503 with a retry
    // hint, never a 500.
    let (status, body) = get(&ready, None).await;
    assert_eq!(status, 503);
    let body = body.expect("typed");
    assert_eq!(body.code, ErrorCode::Unavailable);
    assert_eq!(body.detail.as_deref(), Some("database: unreachable"));
    for _ in 0..6 {
        let (status, body) = get(&me, Some(&token)).await;
        assert!(is_typed_503(status, &body), "{status} {body:?}");
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sms/send", server.url()))
        .json(&SendSmsRequest {
            phone: "13800138312".into(),
            purpose: SmsPurpose::Signup,
        })
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));

    // Back: the server notices by itself, without a restart.
    let mut pg = pg;
    let pg = tokio::task::spawn_blocking(move || {
        pg.start();
        pg
    })
    .await
    .expect("started");
    until("ready again", || async { get(&ready, None).await.0 == 200 }).await;
    // Every answer until it serves is a typed 503 (a pooled connection that died is replaced
    // at its next use); then the account is as it was.
    until("serves again", || async {
        let (status, body) = get(&me, Some(&token)).await;
        assert!(
            status == 200 || is_typed_503(status, &body),
            "{status} {body:?}"
        );
        status == 200
    })
    .await;
    server.running.stop().await;
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_while_the_database_is_down_listens_at_once_and_serves_when_it_answers() {
    let mut pg = tokio::task::spawn_blocking(OwnCluster::new)
        .await
        .expect("cluster");
    let url = pg.fresh_database();
    let mut pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .expect("stopped");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    let args = [
        "--data-dir",
        &data.display().to_string(),
        "--database-url",
        &url,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The listeners open although the database does not answer.
    let server =
        tokio::task::block_in_place(|| process::ServerProcess::spawn_listening(&args, &[], &log));
    // The process is up; it is not ready, and says why; every other route, on either
    // listener, is a typed 503 with a retry hint (a load balancer sees an answer, not a
    // refused connection).
    let (healthz, ready) = (
        format!("{}/healthz", server.url),
        format!("{}/readyz", server.url),
    );
    assert_eq!(get(&healthz, None).await.0, 200);
    assert_eq!(
        get(&format!("{}/healthz", server.operator_url), None)
            .await
            .0,
        200
    );
    until("readyz names the database", || async {
        let (status, body) = get(&ready, None).await;
        assert!(is_typed_503(status, &body), "{status} {body:?}");
        body.and_then(|b| b.detail).as_deref() == Some("database: unreachable")
    })
    .await;
    let (status, body) = get(&format!("{}/v1/applications", server.url), Some("x")).await;
    assert!(is_typed_503(status, &body), "{status} {body:?}");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sms/send", server.url))
        .json(&SendSmsRequest {
            phone: "13800138313".into(),
            purpose: SmsPurpose::Signup,
        })
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(resp.headers().contains_key("x-request-id"));
    let (status, body) = get(&format!("{}/readyz", server.operator_url), None).await;
    assert!(is_typed_503(status, &body), "{status} {body:?}");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("database unreachable at start"),
        "the log says what it waits for"
    );

    // The database comes up: the same process, on the same listeners, becomes ready by
    // itself and serves.
    pg = tokio::task::spawn_blocking(move || {
        pg.start();
        pg
    })
    .await
    .expect("started");
    until("ready", || async {
        let (status, body) = get(&ready, None).await;
        assert!(
            status == 200 || is_typed_503(status, &body),
            "{status} {body:?}"
        );
        status == 200
    })
    .await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sms/send", server.url))
        .json(&SendSmsRequest {
            phone: "13800138313".into(),
            purpose: SmsPurpose::Signup,
        })
        .send()
        .await
        .expect("answered");
    assert!(resp.status().is_success(), "{}", resp.status());
    // A route that needs a token refuses a bad one as it would on any serving server.
    let (status, _) = get(&format!("{}/v1/applications", server.url), Some("x")).await;
    assert_eq!(status, 401);
    drop(server);
    drop(pg);
}

/// Listening early does not mean half-starting: a key file that does not open (a wrong
/// passphrase) still ends the process with a message before anything listens, even while
/// the database is unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_that_does_not_open_ends_the_start_before_anything_listens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let env = [
        ("BIDKEY_ROOT_PASSPHRASE", "root: the right one"),
        ("BIDKEY_CA_PASSPHRASE", "ca: the right one"),
        ("BIDKEY_KMC_PASSPHRASE", "kmc: the right one"),
        ("BIDKEY_COSIGN_PASSPHRASE", "cosign: the right one"),
    ];
    let (ok, _, err) = process::run(&["--data-dir", &data, "ca", "init"], &env);
    assert!(ok, "{err}");
    let mut wrong = env;
    wrong[1].1 = "ca: a wrong one";
    // Port 1 on loopback: nothing answers there.
    let args = [
        "--data-dir".to_owned(),
        data,
        "--database-url".to_owned(),
        "postgres://postgres@127.0.0.1:1/bidkey".to_owned(),
        "serve".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    let ran = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            process::run(&args, &wrong)
        }),
    )
    .await
    .expect("the process ends by itself")
    .expect("joined");
    let (ok, out, err) = ran;
    assert!(!ok, "{out}");
    assert!(!out.contains("listening on"), "{out}");
    assert!(
        err.contains("wrong passphrase (BIDKEY_CA_PASSPHRASE)"),
        "{err}"
    );
}

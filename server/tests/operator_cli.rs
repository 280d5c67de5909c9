//! The operator's command line on the same data directory the server uses (SQLite).

mod support;

use bidkey_protocol::certs::PersonalApplicationRequest;
use bidkey_protocol::orders::{Application, Status};
use std::process::Command;
use support::{Store, TestServer, real_named, signed_up};

fn cli(server: &TestServer, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .args(args)
        .output()
        .expect("bidkey-server runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn applied(server: &TestServer, phone: &str) -> (support::Client, Application) {
    let c = signed_up(server, phone).await;
    real_named(&c, "王五", "110101199003074514").await;
    let app: Application = c
        .post(
            "/v1/applications/personal",
            &PersonalApplicationRequest {
                idempotency_key: None,
            },
        )
        .await
        .expect("applied");
    (c, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_queue_approve_reject_and_outbox() {
    let server = TestServer::start(Store::Sqlite).await;
    let (c1, first) = applied(&server, "13800138001").await;
    let (c2, second) = applied(&server, "13800138002").await;

    let (ok, out) = cli(&server, &["reviews"]);
    assert!(ok, "{out}");
    assert!(out.contains(&first.id) && out.contains(&second.id), "{out}");

    let (ok, out) = cli(&server, &["approve", &first.id]);
    assert!(ok, "{out}");
    let seen: Application = c1
        .get(&format!("/v1/applications/{}", first.id))
        .await
        .expect("get");
    assert_eq!(seen.status, Status::AwaitingPayment);
    assert!(seen.order.is_some_and(|o| o.amount_fen > 0));

    let (ok, out) = cli(&server, &["reject", &second.id, "--reason", "材料不清晰"]);
    assert!(ok, "{out}");
    let seen: Application = c2
        .get(&format!("/v1/applications/{}", second.id))
        .await
        .expect("get");
    assert_eq!(seen.status, Status::Rejected);
    assert_eq!(seen.reason.as_deref(), Some("材料不清晰"));

    // Deciding twice is refused with a clear message, and the queue is empty.
    let (ok, out) = cli(&server, &["approve", &first.id]);
    assert!(!ok && out.contains("当前状态不允许此操作"), "{out}");
    let (ok, out) = cli(&server, &["reviews"]);
    assert!(ok && out.contains("no applications"), "{out}");

    // The outbox is the sandbox's: it is read in sandbox mode, asked for by name, and
    // does not exist without it.
    let (ok, out) = cli(
        &server,
        &["--sandbox", "sms-outbox", "--phone", "13800138001"],
    );
    assert!(ok && out.contains("验证码"), "{out}");
    let (ok, out) = cli(&server, &["sms-outbox", "--phone", "13800138001"]);
    assert!(
        !ok && out.contains("only in sandbox mode") && !out.contains("验证码"),
        "{out}"
    );
}

/// Without `--sandbox` the binary refuses the sandbox providers in words and exits non-zero,
/// before it creates anything; a provider it does not know is refused the same way.
#[test]
fn the_binary_refuses_the_sandboxes_without_sandbox_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
            .env_remove("BIDKEY_SANDBOX")
            .env_remove("BIDKEY_SMS_PROVIDER")
            .env_remove("BIDKEY_REALNAME_PROVIDER")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .expect("bidkey-server runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A configuration error (status 2: systemd does not restart it), for each sandbox.
    let (code, err) = run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    for words in [
        "sms.provider = \"sandbox\": the sandbox serves only in sandbox mode",
        "realname.provider = \"sandbox\": the sandbox serves only in sandbox mode",
    ] {
        assert!(err.contains(words), "{err}");
    }
    assert!(!data.exists(), "nothing half-started");
    let (code, err) = run(&["--sms-provider", "carrier-pigeon", "serve"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "sms.provider = \"carrier-pigeon\": must be \"sandbox\", \"tencent\" or \"aliyun\""
        ),
        "{err}"
    );
    // A vendor without its credentials: refused in words, nothing created.
    let (code, err) = run(&[
        "--sms-provider",
        "tencent",
        "--realname-provider",
        "gateway",
        "serve",
    ]);
    assert_eq!(code, Some(2), "{err}");
    for words in [
        "sms.templates: SMS templates missing for: signup",
        "sms.sign_name is empty",
        "sms.tencent_sdk_app_id is empty",
        "realname.gateway_url = \"\"",
    ] {
        assert!(err.contains(words), "{words}: {err}");
    }
    assert!(!data.exists(), "nothing half-started");
}

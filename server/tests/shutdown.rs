//! Stopping the server binary as a supervisor does (SIGTERM, SIGINT): waiting long polls are
//! released with a retry hint, the process closes its database and exits 0, promptly.

#[path = "support/process.rs"]
mod process;

use bidkey_protocol::accounts::{SendSmsRequest, Session, SmsLoginRequest, SmsPurpose};
use bidkey_protocol::{ErrorBody, ErrorCode};
use process::{ServerProcess, run};
use std::path::Path;
use std::time::Duration;

/// The longest a clean stop may take here (it takes milliseconds; the bound only keeps a hung
/// server from hanging the test).
const STOP_BOUND: Duration = Duration::from_secs(20);

fn serve(dir: &Path) -> ServerProcess {
    let d = dir.to_str().expect("utf-8");
    ServerProcess::spawn(
        &["--data-dir", d, "serve", "--listen", "127.0.0.1:0"],
        &[],
        &dir.join("server.log"),
    )
}

/// Sign up through the SMS outbox, read by the operator's command.
async fn signed_up(http: &reqwest::Client, url: &str, dir: &Path, phone: &str) -> String {
    let sent = http
        .post(format!("{url}/v1/sms/send"))
        .json(&SendSmsRequest {
            phone: phone.into(),
            purpose: SmsPurpose::Signup,
        })
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), 200);
    let d = dir.to_str().expect("utf-8");
    let (ok, out, err) = run(&["--data-dir", d, "sms-outbox", "--phone", phone], &[]);
    assert!(ok, "{err}");
    let code: String = out
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a code in the outbox")
        .to_owned();
    let s: Session = http
        .post(format!("{url}/v1/accounts/signup"))
        .json(&SmsLoginRequest {
            phone: phone.into(),
            code,
            device_name: None,
            device_id: None,
        })
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("session");
    s.token
}

/// The value of `name` in the Prometheus text, if present.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn stop_releases_the_long_poll(signal: &str) {
    bidkey_testkit::install_tls_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = serve(dir.path());
    let url = server.url.clone();
    let ops = server.operator_url.clone();
    let http = reqwest::Client::new();
    let token = signed_up(&http, &url, dir.path(), "13800138555").await;
    let operator = std::fs::read_to_string(dir.path().join("operator.token")).expect("token");

    // A phone waits on its inbox for up to a minute.
    let poll = {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tokio::spawn(async move {
            http.get(format!("{url}/v1/relay/inbox?wait=60"))
                .bearer_auth(token)
                .send()
                .await
                .expect("answered")
        })
    };
    // Until the server counts it as waiting.
    loop {
        let text = http
            .get(format!("{ops}/metrics"))
            .bearer_auth(operator.trim())
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
        if gauge(&text, "bidkey_relay_long_polls") == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    server.signal(signal);
    let resp = tokio::time::timeout(STOP_BOUND, poll)
        .await
        .expect("the poll is released")
        .expect("joined");
    assert_eq!(resp.status(), 503);
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("Retry-After");
    let header_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("request id");
    let body: ErrorBody = resp.json().await.expect("typed error body");
    assert_eq!(body.code, ErrorCode::Unavailable);
    assert_eq!(body.retry_after, Some(retry));
    assert!(retry > 0);
    assert_eq!(body.request_id.as_deref(), Some(header_id.as_str()));

    let status = tokio::task::spawn_blocking(move || {
        let s = server.wait_exit(STOP_BOUND);
        (s, server)
    })
    .await
    .expect("joined");
    let (status, server) = status;
    let status = status.expect("the server exits within the bound");
    assert!(
        status.success(),
        "{status:?}: {}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    // Nothing listens any more, and SQLite's log was folded back as its last connection closed.
    assert!(http.get(format!("{url}/healthz")).send().await.is_err());
    assert!(!dir.path().join("bidkey.sqlite3-wal").exists());
    // The log is JSON, one object a line, each request under its id.
    let log = std::fs::read_to_string(&server.log).expect("log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == header_id.as_str() && l["fields"]["status"] == 503),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_long_polls_and_exits_cleanly() {
    stop_releases_the_long_poll("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_does_the_same() {
    stop_releases_the_long_poll("INT").await;
}

/// A request in flight when SIGTERM arrives is answered before the process exits: here one
/// whose body is still on its way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_finished() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    bidkey_testkit::install_tls_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = serve(dir.path());
    let url = server.url.clone();
    let ops = server.operator_url.clone();
    let operator = std::fs::read_to_string(dir.path().join("operator.token")).expect("token");
    let http = reqwest::Client::new();

    // Headers and half of the body of an SMS request.
    let body = serde_json::to_string(&SendSmsRequest {
        phone: "13800138556".into(),
        purpose: SmsPurpose::Signup,
    })
    .expect("json");
    let (first, rest) = body.split_at(body.len() / 2);
    let addr = url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    conn.write_all(
        format!(
            "POST /v1/sms/send HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send half");
    // Until the server has routed it (the scrape itself is the other request in flight).
    loop {
        let text = http
            .get(format!("{ops}/metrics"))
            .bearer_auth(operator.trim())
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
        if gauge(&text, "bidkey_http_requests_in_flight") == Some(2.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    server.signal("TERM");
    conn.write_all(rest.as_bytes())
        .await
        .expect("send the rest");
    let mut answer = Vec::new();
    tokio::time::timeout(STOP_BOUND, conn.read_to_end(&mut answer))
        .await
        .expect("answered within the bound")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("expires_in"), "{answer}");
    let status = tokio::task::spawn_blocking(move || server.wait_exit(STOP_BOUND))
        .await
        .expect("joined")
        .expect("the server exits within the bound");
    assert!(status.success(), "{status:?}");
    // The answer was not lost in the database either: the code is in the outbox.
    let d = dir.path().to_str().expect("utf-8");
    let (ok, out, err) = run(
        &["--data-dir", d, "sms-outbox", "--phone", "13800138556"],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("13800138556"), "{out}");
}

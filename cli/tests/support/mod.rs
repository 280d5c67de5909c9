//! Running the real `bidkey` binary against a server on loopback; one wallet directory per
//! "phone".

#![allow(dead_code)]

use bidkey_testkit::TestServer;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PIN: &str = "123456";

/// A phone: the binary with one wallet directory, JSON output and English messages.
pub struct Phone {
    pub url: String,
    pub wallet: PathBuf,
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON value on stdout; panics (with stderr) unless the command succeeded.
    pub fn ok(&self) -> Value {
        assert_eq!(self.code, 0, "failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).expect("one JSON value on stdout")
    }

    /// The JSON error on stderr; panics if the command succeeded.
    pub fn err(&self) -> Value {
        assert_ne!(self.code, 0, "unexpected success: {}", self.stdout);
        assert!(self.stdout.is_empty(), "stdout not empty: {}", self.stdout);
        let v: Value = serde_json::from_str(self.stderr.trim()).expect("JSON error on stderr");
        v["error"].clone()
    }
}

impl Phone {
    pub fn new(server: &TestServer, wallet: &Path) -> Phone {
        Phone {
            url: server.url(),
            wallet: wallet.to_path_buf(),
        }
    }

    fn command(&self, json: bool) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bidkey"));
        c.arg("--server")
            .arg(&self.url)
            .arg("--wallet")
            .arg(&self.wallet)
            .arg("--lang")
            .arg("en")
            .env_remove("BIDKEY_SERVER")
            .env_remove("BIDKEY_WALLET")
            .env_remove("BIDKEY_LANG");
        if json {
            c.arg("--json");
        }
        c
    }

    /// Run with `--json`; `stdin` (if any) is written and closed.
    pub fn json(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run(self.command(true), args, stdin)
    }

    /// Start with `--json` and leave it running; `stdin` (if any) is written and closed.
    pub fn spawn_json(&self, args: &[&str], stdin: Option<&str>) -> std::process::Child {
        let mut c = self.command(true);
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("binary runs");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes()).expect("stdin");
            }
        }
        child
    }

    /// Run for people (no `--json`).
    pub fn human(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run(self.command(false), args, stdin)
    }
}

fn run(mut c: Command, args: &[&str], stdin: Option<&str>) -> Run {
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("binary runs");
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("stdin");
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("binary ends");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Send an SMS code for `purpose` (past the resend limit) and read it from the sandbox.
pub async fn sms(server: &TestServer, phone: &Phone, number: &str, purpose: &str) -> String {
    server.running.state.clock.advance(61);
    phone
        .json(
            &[
                "account",
                "sms",
                "send",
                "--phone",
                number,
                "--purpose",
                purpose,
            ],
            None,
        )
        .ok();
    server.sms_code(number).await
}

/// Sign `number` up on `phone` and pass real-name; returns the account JSON.
pub async fn registered(
    server: &TestServer,
    phone: &Phone,
    number: &str,
    name: &str,
    id: &str,
) -> Value {
    server.running.state.clock.advance(61);
    phone
        .json(
            &[
                "account",
                "sms",
                "send",
                "--phone",
                number,
                "--purpose",
                "sign-up",
            ],
            None,
        )
        .ok();
    let code = server.sms_code(number).await;
    phone
        .json(
            &["account", "sign-up", "--phone", number, "--code", &code],
            None,
        )
        .ok();
    phone
        .json(
            &["account", "real-name", "--name", name, "--id-number", id],
            None,
        )
        .ok()
}

/// The operator approves application `id` (as the CA's reviewer does).
pub async fn operator_approves(server: &TestServer, id: &str) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1/operator/reviews/{id}",
            server.operator_url()
        ))
        .bearer_auth(server.operator_token())
        .json(&serde_json::json!({ "approve": true, "reason": null }))
        .send()
        .await
        .expect("operator call");
    assert!(resp.status().is_success(), "review: {}", resp.status());
}

/// Apply for a personal certificate, have it approved, pay, and enrol with `PIN` read from
/// stdin; returns the enrolment JSON.
pub async fn personal_certificate(server: &TestServer, phone: &Phone) -> Value {
    let app = phone.json(&["certs", "apply"], None).ok();
    approve_pay_enrol(server, phone, &app).await
}

/// Take application `app` (JSON) through the operator's review if it waits for one, the
/// sandbox payment, and enrolment with `PIN` from stdin; returns the enrolment JSON.
pub async fn approve_pay_enrol(server: &TestServer, phone: &Phone, app: &Value) -> Value {
    let id = app["id"].as_str().expect("application id").to_owned();
    if app["status"] == "pending_review" {
        // A recovery is approved only after its cooling-off (ADR 0011): the server clock
        // steps over it for the approval alone, and back.
        let clock = &server.running.state.clock;
        let wait = app["not_before"]
            .as_i64()
            .map_or(0, |t| (t - clock.now()).max(0));
        clock.advance(wait);
        operator_approves(server, &id).await;
        clock.advance(-wait);
    }
    let app = phone.json(&["certs", "application", &id], None).ok();
    assert_eq!(app["status"], "awaiting_payment", "{app}");
    let order = app["order"]["id"].as_str().expect("order id").to_owned();
    let paid = phone.json(&["certs", "pay", &order], None).ok();
    assert_eq!(paid["status"], "paid", "{paid}");
    phone
        .json(
            &["certs", "enrol", &id, "--pin-stdin"],
            Some(&format!("{PIN}\n")),
        )
        .ok()
}

/// An operator call over HTTP; panics unless it succeeds.
pub async fn operator(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url_for(path)))
        .bearer_auth(server.operator_token())
        .json(&body)
        .send()
        .await
        .expect("operator call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("operator answer")
}

pub use bidkey_testkit::phones::id_number;

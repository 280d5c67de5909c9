//! `bidkey-test-server`: a Bidkey server on loopback for tests in other languages (the
//! Kotlin binding test). SQLite in a temp dir on `127.0.0.1:0`.
//!
//! On start it prints one JSON line: `{"url": …, "operator_token": …, "data_dir": …}`.
//! Then it answers commands on stdin, one per line, one answer line each:
//!
//! - `sms PHONE` → the newest SMS code sent to PHONE
//! - `advance SECS` → `ok`, after moving the server clock forward (e.g. past SMS resend limits)
//! - `bank TXN LAST6 FEN REMARK…` → `matched`, `unmatched` or `duplicate`: the operator
//!   imports one statement line (a credit of FEN fen from an account ending in LAST6 with
//!   the remark REMARK, paid by the enterprise that asked for that amount: its registered
//!   name is the payer's), as `bidkey-server bank-import` does with a bank's CSV
//!
//! The platform side of a scan, through the platform SDK (`bidkey-platform`) as a trading
//! platform uses it:
//!
//! - `platform ORIGIN NAME…` → the platform's id: the operator registers it and issues its
//!   certificate; later scan commands act as this platform
//! - `login [USCC]` → `REQUEST_ID CODE URI`: a signed login request (for the enterprise
//!   USCC, or any certificate when omitted) living two minutes, its four-digit verification
//!   code and the QR code's text now
//! - `session` → `REQUEST_ID CODE URI`: a session request (ten minutes, auto-confirm
//!   allowed), shown like a login request
//! - `insession SESSION_ID` → `REQUEST_ID`: a login request sent through an open session
//!   (no QR code; the phone receives it with `next_session_request`)
//! - `qr REQUEST_ID` → the QR code's text now (it rotates every second)
//! - `result REQUEST_ID` → waits for the phone's answer, opens and verifies it:
//!   `verified SERIAL USCC` (`-` for a personal certificate; a confirmed session request
//!   adds the session id and `auto` when auto-confirm was chosen or used),
//!   `rejected REASON`, or `refused WHY` when the relay refused (e.g. `scan_expired`) or
//!   the reply did not verify
//!
//! It stops and deletes its data when stdin closes (the test process ended).

use bidkey_platform::PlatformError;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, ScanClient, ScanResult};
use bidkey_protocol::scan::{DEFAULT_TTL_SECS, ScanAction};
use bidkey_testkit::{Store, TestServer};
use std::collections::HashMap;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The platform the scan commands act as, and its requests waiting for an answer.
#[derive(Default)]
struct PlatformSide {
    current: Option<(ScanClient, ReplyVerifier)>,
    pending: HashMap<String, PendingScan>,
}

#[tokio::main]
async fn main() {
    let server = TestServer::start(Store::Sqlite).await;
    let hello = serde_json::json!({
        "url": server.url(),
        "operator_url": server.operator_url(),
        "operator_token": server.operator_token(),
        "data_dir": server.data_dir.path(),
    });
    let mut out = tokio::io::stdout();
    say(&mut out, &hello.to_string()).await;
    let mut side = PlatformSide::default();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("bank"), Some(txn)) => bank_line(&server, txn, words).await,
            (Some("sms"), Some(phone)) => server.sms_code(phone).await,
            (Some("advance"), Some(secs)) => match secs.parse() {
                Ok(secs) => {
                    server.running.state.clock.advance(secs);
                    "ok".to_owned()
                }
                Err(_) => format!("error: bad seconds {secs:?}"),
            },
            (Some("platform"), Some(origin)) => {
                let name = words.collect::<Vec<_>>().join(" ");
                side.register(&server, origin, &name).await
            }
            (Some("login"), uscc) => {
                let uscc = uscc.map(str::to_owned);
                side.request(ScanAction::Login { uscc }, None).await
            }
            (Some("session"), None) => {
                let action = ScanAction::Session {
                    ttl_secs: 600,
                    auto_confirm_allowed: true,
                    uscc: None,
                };
                side.request(action, None).await
            }
            (Some("insession"), Some(sid)) => {
                let sid = sid.to_owned();
                match side
                    .request(ScanAction::Login { uscc: None }, Some(&sid))
                    .await
                {
                    answer if answer.starts_with("error") => answer,
                    answer => answer.split(' ').next().unwrap_or_default().to_owned(),
                }
            }
            (Some("qr"), Some(id)) => match side.pending.get(id) {
                Some(p) => p.current_qr_uri(),
                None => format!("error: no request {id}"),
            },
            (Some("result"), Some(id)) => side.result(id).await,
            _ => format!("error: unknown command {line:?}"),
        };
        say(&mut out, &answer).await;
    }
    server.running.stop().await;
}

impl PlatformSide {
    async fn register(&mut self, server: &TestServer, origin: &str, name: &str) -> String {
        if name.is_empty() {
            return "error: usage: platform ORIGIN NAME".to_owned();
        }
        let p = bidkey_testkit::phones::registered_platform(server, name, origin).await;
        let side = bidkey_testkit::phones::platform_side(server, &p, origin).await;
        self.current = Some((side.client, side.verifier));
        p.platform.id
    }

    /// A request by QR code, or through session `session_id`.
    async fn request(&mut self, action: ScanAction, session_id: Option<&str>) -> String {
        let Some((client, _)) = &self.current else {
            return "error: no platform yet".to_owned();
        };
        let made = match session_id {
            None => client.create(action, DEFAULT_TTL_SECS).await,
            Some(sid) => {
                client
                    .create_in_session(sid, action, DEFAULT_TTL_SECS)
                    .await
            }
        };
        match made {
            Ok(p) => {
                let answer = format!(
                    "{} {} {}",
                    p.request_id(),
                    p.verification_code(),
                    p.current_qr_uri()
                );
                self.pending.insert(p.request_id().to_owned(), p);
                answer
            }
            Err(e) => format!("error: {e}"),
        }
    }

    async fn result(&mut self, id: &str) -> String {
        let (Some((client, verifier)), Some(p)) = (&self.current, self.pending.get(id)) else {
            return format!("error: no request {id}");
        };
        let reply = match client.wait(p).await {
            Ok(ScanResult::Approved(reply)) => reply,
            Ok(ScanResult::Rejected { reason }) => {
                return format!("rejected {}", reason.unwrap_or_default());
            }
            Err(e) => return refused(e),
        };
        match verifier.check_reply(&p.body, &reply).await {
            Ok(v) => match v.signer {
                Some(s) => {
                    let mut line =
                        format!("verified {} {}", s.serial, s.uscc.as_deref().unwrap_or("-"));
                    if let Some(g) = &v.session {
                        line.push(' ');
                        line.push_str(&g.session_id);
                    }
                    if reply.auto_confirmed || v.session.as_ref().is_some_and(|g| g.auto_confirm) {
                        line.push_str(" auto");
                    }
                    line
                }
                None => "refused no signer".to_owned(),
            },
            Err(e) => refused(e),
        }
    }
}

/// The relay's error code when it refused, else the SDK's words.
fn refused(e: PlatformError) -> String {
    match e {
        PlatformError::Relay(code) => match serde_json::to_value(code) {
            Ok(serde_json::Value::String(s)) => format!("refused {s}"),
            _ => format!("refused {code:?}"),
        },
        other => format!("refused {other}"),
    }
}

/// Import one credit line through the operator's CSV import.
async fn bank_line<'a>(
    server: &TestServer,
    txn: &str,
    mut words: impl Iterator<Item = &'a str>,
) -> String {
    let (Some(last6), Some(fen)) = (
        words.next(),
        words.next().and_then(|f| f.parse::<i64>().ok()),
    ) else {
        return "error: usage: bank TXN LAST6 FEN REMARK".to_owned();
    };
    let remark = words.collect::<Vec<_>>().join(" ");
    let now = server.running.state.clock.now();
    // The bank prints the payer's name: the enterprise whose request has this tail and amount.
    let (tail, amount) = (last6.to_owned(), fen);
    let payer: Result<Option<String>, bidkey_server::db::DbError> = server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query_opt(
                "SELECT e.name FROM micropayments m JOIN enterprises e ON e.id = m.enterprise_id \
                 WHERE m.account_last6 = $1 AND m.amount_fen = $2 AND m.status = 'pending'",
                &[
                    bidkey_server::db::Value::Text(tail.clone()),
                    bidkey_server::db::Value::Int(amount),
                ],
            )?
            .map(|r| r.text(0))
            .transpose()
        })
        .await;
    let payer = match payer {
        Ok(p) => p.unwrap_or_else(|| "无此企业".to_owned()),
        Err(e) => return format!("error: {e}"),
    };
    let csv = format!(
        "{}\n{txn},{now},6222020200001{last6},\"{payer}\",{}.{:02},{remark}\n",
        bidkey_server::bank::CSV_HEADER,
        fen / 100,
        fen % 100
    );
    match bidkey_server::bank::import(&server.running.state.db, now, &csv).await {
        Ok(s) if s.matched == 1 => "matched".to_owned(),
        Ok(s) if s.duplicate == 1 => "duplicate".to_owned(),
        Ok(_) => "unmatched".to_owned(),
        Err(errors) => format!("error: {}", errors.join("; ")),
    }
}

async fn say(out: &mut tokio::io::Stdout, line: &str) {
    // The reader may have gone away; then stdin closes too and the loop ends.
    let _ = out.write_all(format!("{line}\n").as_bytes()).await;
    let _ = out.flush().await;
}

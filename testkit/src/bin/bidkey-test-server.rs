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
//!   the remark REMARK), as `bidkey-server bank-import` does with a bank's CSV
//!
//! It stops and deletes its data when stdin closes (the test process ended).

use bidkey_testkit::{Store, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::main]
async fn main() {
    let server = TestServer::start(Store::Sqlite).await;
    let hello = serde_json::json!({
        "url": server.url(),
        "operator_token": server.operator_token(),
        "data_dir": server.data_dir.path(),
    });
    let mut out = tokio::io::stdout();
    say(&mut out, &hello.to_string()).await;
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
            _ => format!("error: unknown command {line:?}"),
        };
        say(&mut out, &answer).await;
    }
    server.running.stop().await;
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
    let csv = format!(
        "{}\n{txn},{now},6222020200001{last6},测试企业,{}.{:02},{remark}\n",
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

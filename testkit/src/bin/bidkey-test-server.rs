//! `bidkey-test-server`: a Bidkey server on loopback for tests in other languages (the
//! Kotlin binding test). SQLite in a temp dir on `127.0.0.1:0`.
//!
//! On start it prints one JSON line: `{"url": …, "operator_token": …, "data_dir": …}`.
//! Then it answers commands on stdin, one per line, one answer line each:
//!
//! - `sms PHONE` → the newest SMS code sent to PHONE
//! - `advance SECS` → `ok`, after moving the server clock forward (e.g. past SMS resend limits)
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

async fn say(out: &mut tokio::io::Stdout, line: &str) {
    // The reader may have gone away; then stdin closes too and the loop ends.
    let _ = out.write_all(format!("{line}\n").as_bytes()).await;
    let _ = out.flush().await;
}

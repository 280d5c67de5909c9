//! The webhook option: once a request is answered the relay also POSTs its `RelayResult`
//! JSON to the platform's `webhook_url`, best effort, three tries with a growing pause.
//! The body carries only the sealed reply, so a webhook leaks nothing the poll would not.

use bidkey_protocol::scan::RelayResult;
use std::time::Duration;

const TRIES: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Deliver in the background; failures are logged, never reported to the phone.
pub fn spawn(url: String, result: RelayResult) {
    tokio::spawn(async move {
        if let Err(e) = deliver(&url, &result).await {
            tracing::warn!(request_id = %result.request_id, error = %e, "webhook not delivered");
        }
    });
}

async fn deliver(url: &str, result: &RelayResult) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut pause = FIRST_PAUSE;
    let mut last = String::new();
    for attempt in 1..=TRIES {
        match client.post(url).json(result).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("status {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        if attempt < TRIES {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Err(last)
}

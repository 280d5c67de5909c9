//! Webhook deliveries: each finished scan with a `webhook_url` gets one delivery, queued in
//! the same transaction that stores the result, so a crash between the two cannot lose it.
//! Each POST carries
//!
//! - `Bidkey-Delivery-Id`: the same on every retry of one delivery: receivers keep the ids
//!   they processed and ignore repeats (a crash after the receiver's 2xx and before the
//!   gateway marked it delivered sends it again);
//! - `Bidkey-Timestamp`: unix seconds of this attempt;
//! - `Bidkey-Signature`: `v1=` hex HMAC-SHA256 under the app's webhook secret of
//!   `timestamp "." delivery-id "." body`.
//!
//! Failed attempts (no answer, non-2xx) are retried with exponential backoff.

use crate::Gateway;
use crate::store::{Delivery, unix_ms, unix_now};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

pub const DELIVERY_HEADER: &str = "bidkey-delivery-id";
pub const TIMESTAMP_HEADER: &str = "bidkey-timestamp";
pub const SIGNATURE_HEADER: &str = "bidkey-signature";

/// `v1=` hex HMAC-SHA256(secret, `timestamp.delivery_id.body`).
pub fn signature(secret: &[u8], timestamp: i64, delivery_id: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(delivery_id.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a delivery as a receiver does: the signature, and a timestamp within
/// `tolerance_secs` of `now`. Constant time in the signature.
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    delivery_id: &str,
    body: &[u8],
    presented: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    use subtle::ConstantTimeEq;
    let expected = signature(secret, timestamp, delivery_id, body);
    (now - timestamp).abs() <= tolerance_secs
        && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

fn backoff(g: &Gateway, attempts: u32) -> Duration {
    let p = g.webhook;
    p.first_delay
        .saturating_mul(1u32 << attempts.min(20))
        .min(p.max_delay)
}

async fn attempt(g: &Gateway, d: &Delivery) -> Result<(), String> {
    let secret = g.store.webhook_secret(&d.app).map_err(|e| e.to_string())?;
    let ts = unix_now();
    let resp = g
        .http
        .post(&d.url)
        .header("content-type", "application/json")
        .header(DELIVERY_HEADER, &d.id)
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, signature(&secret, ts, &d.id, &d.body))
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered HTTP {}", resp.status().as_u16()))
    }
}

/// Deliver what is due, then sleep until the next is due or a new one is queued.
pub async fn run(g: Arc<Gateway>) {
    loop {
        // A claim outlives one POST (its timeout) with room to record the outcome.
        let lease_ms = (g.webhook.timeout + Duration::from_secs(30)).as_millis() as i64;
        let due = match g
            .store
            .due_deliveries(unix_ms(), g.webhook.max_attempts, lease_ms)
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read webhook deliveries");
                Vec::new()
            }
        };
        for d in due {
            let r = match attempt(&g, &d).await {
                Ok(()) => g.store.delivered(&d.id),
                Err(why) => {
                    tracing::warn!(delivery = %d.id, attempt = d.attempts + 1, %why, "webhook delivery failed");
                    let next = unix_ms() + backoff(&g, d.attempts).as_millis() as i64;
                    g.store.delivery_failed(&d.id, next, &why)
                }
            };
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot record a webhook delivery");
            }
        }
        let mut wait = match g.store.next_delivery_at(g.webhook.max_attempts) {
            Ok(Some(at)) => Duration::from_millis((at - unix_ms()).clamp(0, 60_000) as u64),
            _ => Duration::from_secs(60),
        };
        // Other nodes queue deliveries this one hears nothing of: look again each second.
        if g.store.is_shared() {
            wait = wait.min(Duration::from_secs(1));
        }
        tokio::select! {
            _ = g.deliveries.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_secret_time_id_and_body() {
        let s = signature(b"k", 100, "d1", b"{}");
        assert!(s.starts_with("v1=") && s.len() == 3 + 64);
        assert!(verify(b"k", 100, "d1", b"{}", &s, 150, 300));
        assert!(!verify(b"other", 100, "d1", b"{}", &s, 150, 300));
        assert!(!verify(b"k", 101, "d1", b"{}", &s, 150, 300));
        assert!(!verify(b"k", 100, "d2", b"{}", &s, 150, 300));
        assert!(!verify(b"k", 100, "d1", b"{ }", &s, 150, 300));
        // A replay long after.
        assert!(!verify(b"k", 100, "d1", b"{}", &s, 1000, 300));
    }
}

//! Small shared helpers: ids, time, masking of personal data for logs and display.

use crate::error::{Result, ServerError};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A random 128-bit id in hex.
pub fn new_id() -> Result<String> {
    let bytes = bidkey_crypto::rng::bytes::<16>().map_err(ServerError::Crypto)?;
    Ok(hex::encode(bytes))
}

/// A random secret token (256 bits, hex).
pub fn new_token() -> Result<String> {
    let bytes = bidkey_crypto::rng::bytes::<32>().map_err(ServerError::Crypto)?;
    Ok(hex::encode(bytes))
}

/// Hash of a token or code for storage; the clear value is never stored.
pub fn hash_secret(s: &str) -> String {
    hex::encode(bidkey_crypto::sm3::sm3(s.as_bytes()))
}

/// Wall-clock time, with an offset tests can move forward (expiry of codes, payments,
/// certificates) without sleeping, and which a test can stop ([`Clock::freeze`]).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// The wall-clock second the clock was stopped at; 0 while it runs.
    frozen_at: Arc<AtomicI64>,
}

impl Clock {
    /// Unix seconds.
    pub fn now(&self) -> i64 {
        let frozen = self.frozen_at.load(Ordering::Relaxed);
        let base = if frozen != 0 { frozen } else { wall_clock() };
        base + self.offset.load(Ordering::Relaxed)
    }

    /// Stop the clock where it is (tests only): from then on time moves only by
    /// [`Clock::advance`], so a burst a test makes cannot straddle the boundary of a
    /// fixed-window rate limit, and nothing a test checks depends on how long it ran.
    pub fn freeze(&self) {
        let _ =
            self.frozen_at
                .compare_exchange(0, wall_clock(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Stop the clock so that it reads `unix` (tests only): two server processes in one
    /// test frozen at the same moment agree on every rate-limit window.
    pub fn freeze_at(&self, unix: i64) {
        let offset = self.offset.load(Ordering::Relaxed);
        self.frozen_at.store(unix - offset, Ordering::Relaxed);
    }

    /// Move time forward by `secs` (tests and demos only).
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// How far [`Clock::advance`] moved this clock (a test restarting a server carries it
    /// over, as real time carries on across a real restart).
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `13800138000` → `138****8000`.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "***".to_owned()
    }
}

/// Mainland mobile numbers: 11 digits starting with 1[3-9].
pub fn valid_phone(phone: &str) -> bool {
    let b = phone.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert!(valid_phone("13800138000"));
        assert!(!valid_phone("12800138000"));
        assert!(!valid_phone("1380013800"));
        assert!(!valid_phone("1380013800a"));
        assert_eq!(mask_phone("13800138000"), "138****8000");
    }

    #[test]
    fn clock_advances() {
        let c = Clock::default();
        let t = c.now();
        c.advance(600);
        assert!(c.now() >= t + 600);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let c = Clock::default();
        c.freeze();
        let t = c.now();
        let shared = c.clone();
        shared.freeze();
        assert_eq!(shared.now(), t, "freezing again keeps the moment");
        c.advance(60);
        assert_eq!(shared.now(), t + 60);
        let other = Clock::default();
        other.advance(5);
        other.freeze_at(c.now());
        assert_eq!(other.now(), c.now());
    }
}

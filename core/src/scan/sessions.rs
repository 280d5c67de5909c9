//! Session and auto-confirm state, without I/O: the sessions this phone opened with
//! platforms (who opened each, its reply key, until when) and the unmasked signing shares
//! auto-confirm holds for some of them. Time comes in as `now`, so every rule here is tested
//! without a clock.

use super::request::PlatformBinding;
use crate::error::{CoreError, Result};
use bidkey_crypto::cosign::DeviceShare;
use bidkey_protocol::ErrorCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// A session this phone opened.
pub struct OpenSession {
    /// The signing certificate that answers it.
    pub serial: String,
    /// The platform and certificate that opened it (ADR 0016).
    pub opened_by: PlatformBinding,
    /// The session's reply key, derived from the QR code's `k` that opened it
    /// (`scan::session_reply_key`): every reply inside the session is MACed under it, so the
    /// relay cannot forge one. None if that QR code carried no `k`.
    pub reply_key: Option<Zeroizing<[u8; 32]>>,
    pub expires_at: i64,
    /// Whether the platform allows auto-confirm in it.
    pub auto_allowed: bool,
}

impl std::fmt::Debug for OpenSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the reply key.
        f.debug_struct("OpenSession")
            .field("serial", &self.serial)
            .field("opened_by", &self.opened_by)
            .field("expires_at", &self.expires_at)
            .field("auto_allowed", &self.auto_allowed)
            .finish_non_exhaustive()
    }
}

struct AutoConfirm {
    serial: String,
    share: Arc<DeviceShare>,
    expires_at: i64,
}

/// The sessions and auto-confirm shares of one running core.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, OpenSession>>,
    /// session id → (signing serial, unmasked share): dropped (and zeroized with the last
    /// `Arc`) when the session ends, the switch goes off, or its time is up.
    auto: Mutex<HashMap<String, AutoConfirm>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions { .. }")
    }
}

/// When an auto-confirm share is dropped: at the session's end, but no later than `max`
/// seconds from `now` (an unmasked share is the PIN's worth of power held in memory).
pub fn auto_confirm_until(session_expires_at: i64, now: i64, max: i64) -> i64 {
    session_expires_at.min(now.saturating_add(max))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps behind; keep using them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sessions {
    /// Remember a session this phone just opened.
    pub fn open(&self, session_id: &str, session: OpenSession) {
        lock(&self.open).insert(session_id.to_owned(), session);
    }

    /// Who opened `session_id` and its reply key, if this phone opened it in this run.
    pub fn opened(
        &self,
        session_id: &str,
    ) -> (Option<PlatformBinding>, Option<Zeroizing<[u8; 32]>>) {
        lock(&self.open)
            .get(session_id)
            .map(|s| (Some(s.opened_by.clone()), s.reply_key.clone()))
            .unwrap_or_default()
    }

    /// The certificate and end of a live session that may have auto-confirm turned on:
    /// refused when the session is unknown or over, or the platform does not allow it.
    pub fn may_auto_confirm(&self, session_id: &str, now: i64) -> Result<(String, i64)> {
        let open = lock(&self.open);
        let s = open
            .get(session_id)
            .filter(|s| s.expires_at > now)
            .ok_or_else(|| {
                CoreError::from(bidkey_protocol::ErrorBody::new(ErrorCode::SessionNotFound))
            })?;
        if !s.auto_allowed {
            return Err(CoreError::InvalidInput {
                field: "auto_confirm",
            });
        }
        Ok((s.serial.clone(), s.expires_at))
    }

    /// Hold `share` of `serial` for `session_id` until the session ends, at most `max`
    /// seconds from `now`.
    pub fn start_auto(
        &self,
        session_id: &str,
        serial: &str,
        share: Arc<DeviceShare>,
        session_expires_at: i64,
        now: i64,
        max: i64,
    ) {
        lock(&self.auto).insert(
            session_id.to_owned(),
            AutoConfirm {
                serial: serial.to_owned(),
                share,
                expires_at: auto_confirm_until(session_expires_at, now, max),
            },
        );
    }

    /// The share auto-confirm holds for `session_id`, if still in time; shares whose time is
    /// up are dropped first.
    pub fn auto_share(&self, session_id: &str, now: i64) -> Option<(String, Arc<DeviceShare>)> {
        let mut auto = lock(&self.auto);
        auto.retain(|_, a| a.expires_at > now);
        auto.get(session_id)
            .map(|a| (a.serial.clone(), a.share.clone()))
    }

    /// Whether auto-confirm is on for `session_id` (as the session list shows it).
    pub fn is_auto(&self, session_id: &str) -> bool {
        lock(&self.auto).contains_key(session_id)
    }

    /// Turn auto-confirm off: the share is dropped.
    pub fn stop_auto(&self, session_id: &str) {
        lock(&self.auto).remove(session_id);
    }

    /// The session ended: forget it and its share.
    pub fn end(&self, session_id: &str) {
        lock(&self.auto).remove(session_id);
        lock(&self.open).remove(session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_confirm_is_capped_by_the_phone() {
        let now = 1_000_000;
        // A ten-hour session holds the share two hours.
        assert_eq!(auto_confirm_until(now + 36_000, now, 7_200), now + 7_200);
        // A shorter session ends first.
        assert_eq!(auto_confirm_until(now + 600, now, 7_200), now + 600);
        assert_eq!(auto_confirm_until(now + 600, now, 0), now);
        assert_eq!(auto_confirm_until(i64::MAX, now, i64::MAX), i64::MAX);
    }

    fn binding(platform: &str) -> PlatformBinding {
        PlatformBinding {
            platform_id: platform.into(),
            origin: format!("https://{platform}.example"),
            cert_sm3: [1; 32],
        }
    }

    fn session(expires_at: i64, auto_allowed: bool) -> OpenSession {
        OpenSession {
            serial: "S1".into(),
            opened_by: binding("p1"),
            reply_key: Some(Zeroizing::new([9; 32])),
            expires_at,
            auto_allowed,
        }
    }

    fn share() -> Arc<DeviceShare> {
        Arc::new(DeviceShare::from_bytes(&[3u8; 32]).expect("share"))
    }

    #[test]
    fn auto_confirm_needs_a_live_session_whose_platform_allows_it() {
        let s = Sessions::default();
        let unknown = s.may_auto_confirm("s1", 0).expect_err("unknown");
        assert_eq!(unknown.code(), Some(ErrorCode::SessionNotFound));
        s.open("s1", session(1_000, true));
        s.open("s2", session(1_000, false));
        assert_eq!(
            s.may_auto_confirm("s1", 999).expect("ok"),
            ("S1".into(), 1_000)
        );
        assert_eq!(
            s.may_auto_confirm("s2", 0),
            Err(CoreError::InvalidInput {
                field: "auto_confirm"
            })
        );
        let over = s.may_auto_confirm("s1", 1_000).expect_err("over");
        assert_eq!(over.code(), Some(ErrorCode::SessionNotFound));
        let (by, key) = s.opened("s1");
        assert_eq!(by, Some(binding("p1")));
        assert_eq!(key.as_deref(), Some(&[9u8; 32]));
        assert_eq!(s.opened("nope"), (None, None));
    }

    #[test]
    fn a_held_share_goes_when_its_time_is_up_the_switch_is_off_or_the_session_ends() {
        let s = Sessions::default();
        s.open("s1", session(10_000, true));
        // Capped at 100 s from now, though the session runs longer.
        s.start_auto("s1", "S1", share(), 10_000, 0, 100);
        assert!(s.is_auto("s1"));
        let (serial, held) = s.auto_share("s1", 99).expect("held");
        assert_eq!(serial, "S1");
        assert_eq!(*held.to_bytes(), [3u8; 32]);
        assert!(s.auto_share("s1", 100).is_none(), "time is up");
        assert!(!s.is_auto("s1"), "and it was dropped");

        s.start_auto("s1", "S1", share(), 10_000, 0, 100);
        s.stop_auto("s1");
        assert!(s.auto_share("s1", 1).is_none(), "switched off");

        s.start_auto("s1", "S1", share(), 10_000, 0, 100);
        s.end("s1");
        assert!(s.auto_share("s1", 1).is_none(), "session ended");
        assert_eq!(s.opened("s1"), (None, None));
    }

    #[test]
    fn one_sessions_share_never_answers_another() {
        let s = Sessions::default();
        s.open("s1", session(10_000, true));
        s.start_auto("s1", "S1", share(), 10_000, 0, 7_200);
        assert!(s.auto_share("s2", 1).is_none());
    }
}

//! What the wallet keeps, row by row: the [`WalletStore`] trait, with the SQLite store of the
//! phones and the CLI ([`super::sqlite::SqliteStore`]) and an in-memory one for unit tests
//! ([`super::memory::MemoryStore`]). Rows hold secrets only sealed: sealing, PIN masking and
//! biometric re-sealing are [`super::Wallet`]'s, above any store, so both stores run the same
//! code for them.

use super::{PendingEnrollment, StoredCert, StoredShare};
use crate::error::Result;

/// The login as stored: the token sealed by the device keystore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub account_id: String,
    pub device_id: String,
    pub token_sealed: Vec<u8>,
    pub expires_at: i64,
    pub account_json: String,
}

/// A key share as stored: `sealed` is `seal_keystore(d1 + m(PIN))` under the user-presence
/// key when `with_user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub meta: StoredShare,
    pub salt: Vec<u8>,
    pub sealed: Vec<u8>,
    pub with_user: bool,
    pub created_at: i64,
}

/// A new sealing of a stored share (PIN change, biometric setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseal {
    pub key_id: String,
    pub salt: Vec<u8>,
    pub sealed: Vec<u8>,
    pub with_user: bool,
}

/// The wallet's storage. Every method is one atomic change; where several rows must change
/// together (re-sealing shares, forgetting an enrolment with its share) it is one method.
pub trait WalletStore: Send + Sync + std::fmt::Debug {
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> Result<()>;
    fn delete_meta(&self, key: &str) -> Result<()>;

    fn put_session(&self, row: &SessionRow) -> Result<()>;
    fn session(&self) -> Result<Option<SessionRow>>;
    fn clear_session(&self) -> Result<()>;
    /// Replace the stored account of the login, if there is one.
    fn update_account_json(&self, json: &str) -> Result<()>;

    /// Insert a certificate, or update the status, time and enterprise of a known serial.
    fn put_cert(&self, cert: &StoredCert, now: i64) -> Result<()>;
    fn set_cert_status(&self, serial: &str, status: &str, now: i64) -> Result<()>;
    /// Every certificate, latest expiry first, then by serial.
    fn certs(&self) -> Result<Vec<StoredCert>>;

    fn log(&self, now: i64, message: &str) -> Result<()>;
    /// Drop the cache and the log.
    fn clear_cache(&self) -> Result<()>;
    fn cache_put(&self, key: &str, value: &str, now: i64) -> Result<()>;
    fn cache_get(&self, key: &str) -> Result<Option<String>>;

    /// Insert a share, or replace everything but its creation time.
    fn put_share(&self, row: &ShareRow) -> Result<()>;
    fn share(&self, key_id: &str) -> Result<Option<ShareRow>>;
    /// Every share, oldest first, then by key id.
    fn shares(&self) -> Result<Vec<ShareRow>>;
    /// Apply every re-sealing, and set meta `biometric` to `setting` when given, all or
    /// nothing: a share gone since it was read fails the whole change.
    fn reseal_shares(&self, reseals: &[Reseal], setting: Option<(&str, &str)>) -> Result<()>;
    /// Store the share kept under `from` as `meta` too, sealed exactly as it is; `false` when
    /// there is no share `from`.
    fn copy_share(&self, from: &str, meta: &StoredShare, now: i64) -> Result<bool>;
    fn delete_share(&self, key_id: &str) -> Result<()>;
    fn delete_shares_of_pair(&self, pair_id: &str) -> Result<()>;

    /// Record an enrolment (a known id is left as it is).
    fn put_pending_enrollment(&self, p: &PendingEnrollment) -> Result<()>;
    /// The newest unfinished enrolment of `application_id`.
    fn pending_enrollment_for(&self, application_id: &str) -> Result<Option<PendingEnrollment>>;
    /// Every unfinished enrolment, oldest first.
    fn pending_enrollments(&self) -> Result<Vec<PendingEnrollment>>;
    /// Forget an enrolment and its pending share together.
    fn delete_pending_enrollment(&self, id: &str) -> Result<()>;
    /// Drop pending shares no enrolment refers to (a crash between the two writes).
    fn drop_orphan_pending_shares(&self) -> Result<()>;
}

//! The wallet: rows in a [`WalletStore`] (a SQLite database in a directory the shell gives;
//! in memory for unit tests) and the sealing of what is secret in them.
//!
//! It holds the login, the device's key shares, certificates, pending operations, a cache
//! and a local log. Secrets are sealed by the [`DeviceKeystore`]; device key shares are also
//! masked by a PIN-derived key with no redundancy ([`bidkey_crypto::pin`]), so nothing in the
//! wallet can confirm a guessed PIN.

mod enrollments;
pub mod memory;
mod shares;
pub mod sqlite;
pub mod store;

pub use enrollments::{PendingEnrollment, pending_share_key_id};
pub use memory::MemoryStore;
pub use shares::{StoredShare, check_pin};
pub use sqlite::SqliteStore;
pub use store::WalletStore;

use crate::error::{Result, StorageError};
use crate::keystore::DeviceKeystore;
use std::path::Path;
use std::sync::Arc;
use store::SessionRow;

const SEAL_ALIAS: &str = "bidkey-wallet";
/// The keystore key that needs the person (fingerprint or face) for each use.
const USER_SEAL_ALIAS: &str = "bidkey-wallet-user";

/// The logged-in account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub account_id: String,
    pub device_id: String,
    pub token: String,
    pub expires_at: i64,
    pub account_json: String,
}

/// A certificate row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCert {
    pub serial: String,
    pub pair_id: String,
    pub usage: String,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub subject: String,
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub status: String,
}

/// The wallet: a [`WalletStore`] (SQLite on phones, in memory in unit tests) and the device
/// keystore that seals what is secret in it.
#[derive(Clone)]
pub struct Wallet {
    store: Arc<dyn WalletStore>,
    keystore: Arc<dyn DeviceKeystore>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// Open (creating and migrating) the SQLite wallet in `dir`.
    pub fn open(dir: &Path, keystore: Arc<dyn DeviceKeystore>) -> Result<Wallet> {
        Ok(Self::over(Arc::new(SqliteStore::open(dir)?), keystore))
    }

    /// The wallet over `store` (an in-memory one in unit tests).
    pub fn over(store: Arc<dyn WalletStore>, keystore: Arc<dyn DeviceKeystore>) -> Wallet {
        Wallet { store, keystore }
    }

    pub(crate) fn store(&self) -> &dyn WalletStore {
        &*self.store
    }

    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.keystore.seal(SEAL_ALIAS, plaintext)
    }

    pub(crate) fn open_sealed(&self, sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.keystore.open(SEAL_ALIAS, sealed)
    }

    /// Seal a key share: with the user-presence key when biometric confirmation is on.
    pub(crate) async fn seal_share(&self, plaintext: &[u8], with_user: bool) -> Result<Vec<u8>> {
        if with_user {
            self.keystore
                .seal_with_user(USER_SEAL_ALIAS, plaintext)
                .await
        } else {
            self.seal(plaintext)
        }
    }

    /// Open a sealed key share; one sealed with the user-presence key asks the person.
    pub(crate) async fn open_share(
        &self,
        sealed: &[u8],
        with_user: bool,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        if with_user {
            self.keystore.open_with_user(USER_SEAL_ALIAS, sealed).await
        } else {
            self.open_sealed(sealed)
        }
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.store.meta(key)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.store.set_meta(key, value)
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.store.delete_meta(key)
    }

    pub fn save_session(&self, s: &StoredSession) -> Result<()> {
        let token_sealed = self.seal(s.token.as_bytes())?;
        self.store.put_session(&SessionRow {
            account_id: s.account_id.clone(),
            device_id: s.device_id.clone(),
            token_sealed,
            expires_at: s.expires_at,
            account_json: s.account_json.clone(),
        })
    }

    pub fn session(&self) -> Result<Option<StoredSession>> {
        let Some(row) = self.store.session()? else {
            return Ok(None);
        };
        let token = String::from_utf8(self.open_sealed(&row.token_sealed)?.to_vec())
            .map_err(|_| StorageError::Damaged("login token"))?;
        Ok(Some(StoredSession {
            account_id: row.account_id,
            device_id: row.device_id,
            token,
            expires_at: row.expires_at,
            account_json: row.account_json,
        }))
    }

    pub fn clear_session(&self) -> Result<()> {
        self.store.clear_session()
    }

    pub fn update_account_json(&self, json: &str) -> Result<()> {
        self.store.update_account_json(json)
    }

    pub fn put_cert(&self, cert: &StoredCert, now: i64) -> Result<()> {
        self.store.put_cert(cert, now)
    }

    pub fn set_cert_status(&self, serial: &str, status: &str, now: i64) -> Result<()> {
        self.store.set_cert_status(serial, status, now)
    }

    pub fn certs(&self) -> Result<Vec<StoredCert>> {
        self.store.certs()
    }

    /// Record a line in the local log (never secrets).
    pub fn log(&self, now: i64, message: &str) -> Result<()> {
        self.store.log(now, message)
    }

    /// Clear the cache and the log; keys, certificates and the login stay.
    pub fn clear_cache(&self) -> Result<()> {
        self.store.clear_cache()
    }

    pub fn cache_put(&self, key: &str, value: &str, now: i64) -> Result<()> {
        self.store.cache_put(key, value, now)
    }

    pub fn cache_get(&self, key: &str) -> Result<Option<String>> {
        self.store.cache_get(key)
    }
}

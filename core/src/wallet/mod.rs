//! The wallet: a SQLite database (rusqlite, bundled) in a directory the shell gives.
//!
//! It holds the login, the device's key shares, certificates, pending operations, a cache
//! and a local log. Secrets are sealed by the [`DeviceKeystore`]; device key shares are also
//! masked by a PIN-derived key with no redundancy ([`bidkey_crypto::pin`]), so nothing in the
//! wallet can confirm a guessed PIN.

mod enrollments;
mod shares;

pub use enrollments::PendingEnrollment;
pub use shares::{StoredShare, check_pin};

use crate::error::{Result, StorageError};
use crate::keystore::DeviceKeystore;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const SCHEMA_VERSION: i64 = 3;
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

/// The wallet database.
#[derive(Clone)]
pub struct Wallet {
    conn: Arc<Mutex<Connection>>,
    keystore: Arc<dyn DeviceKeystore>,
    dir: PathBuf,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// Open (creating and migrating) the wallet in `dir`.
    pub fn open(dir: &Path, keystore: Arc<dyn DeviceKeystore>) -> Result<Wallet> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir.display(), e))?;
        let conn = Connection::open(dir.join("wallet.sqlite3"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::NewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            }
            .into());
        }
        if version < 1 {
            conn.execute_batch(include_str!("schema.sql"))?;
        }
        if version < 2 {
            conn.execute_batch(include_str!("schema_v2.sql"))?;
        }
        if version < 3 {
            conn.execute_batch(include_str!("schema_v3.sql"))?;
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        }
        Ok(Wallet {
            conn: Arc::new(Mutex::new(conn)),
            keystore,
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut guard = self.conn.lock().map_err(|_| StorageError::Poisoned)?;
        Ok(f(&mut guard)?)
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
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
        })
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM meta WHERE key = ?1", [key])
                .map(|_| ())
        })
    }

    pub fn save_session(&self, s: &StoredSession) -> Result<()> {
        let sealed = self.seal(s.token.as_bytes())?;
        self.with(|c| {
            c.execute(
                "INSERT INTO session (id, account_id, device_id, token_sealed, expires_at, account_json) VALUES (1, ?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(id) DO UPDATE SET account_id = excluded.account_id, device_id = excluded.device_id, \
                 token_sealed = excluded.token_sealed, expires_at = excluded.expires_at, account_json = excluded.account_json",
                params![s.account_id, s.device_id, sealed, s.expires_at, s.account_json],
            )
            .map(|_| ())
        })
    }

    pub fn session(&self) -> Result<Option<StoredSession>> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT account_id, device_id, token_sealed, expires_at, account_json FROM session WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
        })?;
        let Some((account_id, device_id, sealed, expires_at, account_json)) = row else {
            return Ok(None);
        };
        let token = String::from_utf8(self.open_sealed(&sealed)?.to_vec())
            .map_err(|_| StorageError::Damaged("login token"))?;
        Ok(Some(StoredSession {
            account_id,
            device_id,
            token,
            expires_at,
            account_json,
        }))
    }

    pub fn clear_session(&self) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM session", []).map(|_| ()))
    }

    pub fn update_account_json(&self, json: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE session SET account_json = ?1 WHERE id = 1", [json])
                .map(|_| ())
        })
    }

    pub fn put_cert(&self, cert: &StoredCert, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO certificates (serial, pair_id, usage, enterprise_id, enterprise_name, subject, der, not_before, not_after, status, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(serial) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, enterprise_id = COALESCE(excluded.enterprise_id, certificates.enterprise_id), enterprise_name = excluded.enterprise_name",
                params![
                    cert.serial, cert.pair_id, cert.usage, cert.enterprise_id, cert.enterprise_name,
                    cert.subject, cert.der, cert.not_before, cert.not_after, cert.status, now
                ],
            )
            .map(|_| ())
        })
    }

    pub fn set_cert_status(&self, serial: &str, status: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE certificates SET status = ?1, updated_at = ?2 WHERE serial = ?3",
                params![status, now, serial],
            )
            .map(|_| ())
        })
    }

    pub fn certs(&self) -> Result<Vec<StoredCert>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT serial, pair_id, usage, enterprise_id, enterprise_name, subject, der, not_before, not_after, status \
                 FROM certificates ORDER BY not_after DESC, serial",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StoredCert {
                    serial: r.get(0)?,
                    pair_id: r.get(1)?,
                    usage: r.get(2)?,
                    enterprise_id: r.get(3)?,
                    enterprise_name: r.get(4)?,
                    subject: r.get(5)?,
                    der: r.get(6)?,
                    not_before: r.get(7)?,
                    not_after: r.get(8)?,
                    status: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Record a line in the local log (never secrets).
    pub fn log(&self, now: i64, message: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO log (at, message) VALUES (?1, ?2)",
                params![now, message],
            )
            .map(|_| ())
        })
    }

    /// Clear the cache and the log; keys, certificates and the login stay.
    pub fn clear_cache(&self) -> Result<()> {
        self.with(|c| c.execute_batch("DELETE FROM cache; DELETE FROM log;"))
    }

    pub fn cache_put(&self, key: &str, value: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO cache (key, value, fetched_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at",
                params![key, value, now],
            )
            .map(|_| ())
        })
    }

    pub fn cache_get(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM cache WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }
}

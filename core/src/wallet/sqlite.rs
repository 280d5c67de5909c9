//! The SQLite [`WalletStore`] (rusqlite, bundled): a file in the directory the shell gives.

use super::store::{Reseal, SessionRow, ShareRow, WalletStore};
use super::{PendingEnrollment, StoredCert, StoredShare, pending_share_key_id};
use crate::error::{CoreError, Result, StorageError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SCHEMA_VERSION: i64 = 3;

/// The wallet database.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating and migrating) the wallet database in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().map_err(|_| StorageError::Poisoned)?;
        Ok(f(&mut guard)?)
    }
}

const CERT_COLUMNS: &str = "serial, pair_id, usage, enterprise_id, enterprise_name, subject, der, not_before, not_after, status";
const SHARE_COLUMNS: &str =
    "key_id, pair_id, usage, public_key, salt, share_sealed, sealed_with_user, created_at";
const ENROLLMENT_COLUMNS: &str = "id, application_id, public_key, csr_der, created_at";

fn cert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCert> {
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
}

fn share_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShareRow> {
    Ok(ShareRow {
        meta: StoredShare {
            key_id: r.get(0)?,
            pair_id: r.get(1)?,
            usage: r.get(2)?,
            public_key: r.get(3)?,
        },
        salt: r.get(4)?,
        sealed: r.get(5)?,
        with_user: r.get(6)?,
        created_at: r.get(7)?,
    })
}

fn enrollment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingEnrollment> {
    Ok(PendingEnrollment {
        id: r.get(0)?,
        application_id: r.get(1)?,
        public_key: r.get(2)?,
        csr_der: r.get(3)?,
        created_at: r.get(4)?,
    })
}

impl WalletStore for SqliteStore {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
        })
    }

    fn delete_meta(&self, key: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM meta WHERE key = ?1", [key])
                .map(|_| ())
        })
    }

    fn put_session(&self, s: &SessionRow) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO session (id, account_id, device_id, token_sealed, expires_at, account_json) VALUES (1, ?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(id) DO UPDATE SET account_id = excluded.account_id, device_id = excluded.device_id, \
                 token_sealed = excluded.token_sealed, expires_at = excluded.expires_at, account_json = excluded.account_json",
                params![s.account_id, s.device_id, s.token_sealed, s.expires_at, s.account_json],
            )
            .map(|_| ())
        })
    }

    fn session(&self) -> Result<Option<SessionRow>> {
        self.with(|c| {
            c.query_row(
                "SELECT account_id, device_id, token_sealed, expires_at, account_json FROM session WHERE id = 1",
                [],
                |r| {
                    Ok(SessionRow {
                        account_id: r.get(0)?,
                        device_id: r.get(1)?,
                        token_sealed: r.get(2)?,
                        expires_at: r.get(3)?,
                        account_json: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    fn clear_session(&self) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM session", []).map(|_| ()))
    }

    fn update_account_json(&self, json: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE session SET account_json = ?1 WHERE id = 1", [json])
                .map(|_| ())
        })
    }

    fn put_cert(&self, cert: &StoredCert, now: i64) -> Result<()> {
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

    fn set_cert_status(&self, serial: &str, status: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE certificates SET status = ?1, updated_at = ?2 WHERE serial = ?3",
                params![status, now, serial],
            )
            .map(|_| ())
        })
    }

    fn certs(&self) -> Result<Vec<StoredCert>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CERT_COLUMNS} FROM certificates ORDER BY not_after DESC, serial"
            ))?;
            let rows = stmt.query_map([], cert_row)?;
            rows.collect()
        })
    }

    fn log(&self, now: i64, message: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO log (at, message) VALUES (?1, ?2)",
                params![now, message],
            )
            .map(|_| ())
        })
    }

    fn clear_cache(&self) -> Result<()> {
        self.with(|c| c.execute_batch("DELETE FROM cache; DELETE FROM log;"))
    }

    fn cache_put(&self, key: &str, value: &str, now: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO cache (key, value, fetched_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at",
                params![key, value, now],
            )
            .map(|_| ())
        })
    }

    fn cache_get(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM cache WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn put_share(&self, row: &ShareRow) -> Result<()> {
        let m = &row.meta;
        self.with(|c| {
            c.execute(
                "INSERT INTO key_shares (key_id, pair_id, usage, public_key, salt, share_sealed, created_at, sealed_with_user) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT(key_id) DO UPDATE SET pair_id = excluded.pair_id, usage = excluded.usage, \
                 public_key = excluded.public_key, salt = excluded.salt, share_sealed = excluded.share_sealed, \
                 sealed_with_user = excluded.sealed_with_user",
                params![m.key_id, m.pair_id, m.usage, m.public_key, row.salt, row.sealed, row.created_at, row.with_user],
            )
            .map(|_| ())
        })
    }

    fn share(&self, key_id: &str) -> Result<Option<ShareRow>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {SHARE_COLUMNS} FROM key_shares WHERE key_id = ?1"),
                [key_id],
                share_row,
            )
            .optional()
        })
    }

    fn shares(&self) -> Result<Vec<ShareRow>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SHARE_COLUMNS} FROM key_shares ORDER BY created_at, key_id"
            ))?;
            let rows = stmt.query_map([], share_row)?;
            rows.collect()
        })
    }

    fn reseal_shares(&self, reseals: &[Reseal], setting: Option<(&str, &str)>) -> Result<()> {
        let mut gone = None;
        let done = self.with(|c| {
            let tx = c.transaction()?;
            for r in reseals {
                let n = tx.execute(
                    "UPDATE key_shares SET salt = ?1, share_sealed = ?2, sealed_with_user = ?3 WHERE key_id = ?4",
                    params![r.salt, r.sealed, r.with_user, r.key_id],
                )?;
                if n != 1 {
                    // Gone since it was read: change nothing (the transaction rolls back).
                    gone = Some(r.key_id.clone());
                    return Ok(false);
                }
            }
            if let Some((key, value)) = setting {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
            }
            tx.commit().map(|_| true)
        })?;
        match (done, gone) {
            (false, Some(key_id)) => {
                Err(CoreError::NotFound(format!("key {key_id} on this phone")))
            }
            _ => Ok(()),
        }
    }

    fn copy_share(&self, from: &str, meta: &StoredShare, now: i64) -> Result<bool> {
        let n = self.with(|c| {
            c.execute(
                "INSERT INTO key_shares (key_id, pair_id, usage, public_key, salt, share_sealed, created_at, sealed_with_user) \
                 SELECT ?1, ?2, ?3, ?4, salt, share_sealed, ?5, sealed_with_user FROM key_shares WHERE key_id = ?6 \
                 ON CONFLICT(key_id) DO UPDATE SET pair_id = excluded.pair_id, usage = excluded.usage, \
                 public_key = excluded.public_key, salt = excluded.salt, share_sealed = excluded.share_sealed, \
                 sealed_with_user = excluded.sealed_with_user",
                params![meta.key_id, meta.pair_id, meta.usage, meta.public_key, now, from],
            )
        })?;
        Ok(n == 1)
    }

    fn delete_share(&self, key_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM key_shares WHERE key_id = ?1", [key_id])
                .map(|_| ())
        })
    }

    fn delete_shares_of_pair(&self, pair_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM key_shares WHERE pair_id = ?1", [pair_id])
                .map(|_| ())
        })
    }

    fn put_pending_enrollment(&self, p: &PendingEnrollment) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO enrollments (id, application_id, public_key, csr_der, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(id) DO NOTHING",
                params![p.id, p.application_id, p.public_key, p.csr_der, p.created_at],
            )
            .map(|_| ())
        })
    }

    fn pending_enrollment_for(&self, application_id: &str) -> Result<Option<PendingEnrollment>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE application_id = ?1 ORDER BY created_at DESC, id LIMIT 1"
                ),
                [application_id],
                enrollment_row,
            )
            .optional()
        })
    }

    fn pending_enrollments(&self) -> Result<Vec<PendingEnrollment>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENROLLMENT_COLUMNS} FROM enrollments ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], enrollment_row)?;
            rows.collect()
        })
    }

    fn delete_pending_enrollment(&self, id: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM key_shares WHERE key_id = ?1",
                [pending_share_key_id(id)],
            )?;
            tx.execute("DELETE FROM enrollments WHERE id = ?1", [id])?;
            tx.commit()
        })
    }

    fn drop_orphan_pending_shares(&self) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM key_shares WHERE key_id LIKE 'pending-%' \
                 AND substr(key_id, 9) NOT IN (SELECT id FROM enrollments)",
                [],
            )
            .map(|_| ())
        })
    }
}

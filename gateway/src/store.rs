//! The gateway's own store: embedded SQLite in its data directory (ADR 0023).
//!
//! What it keeps: API keys (only a hash of each secret), each app's webhook secret, the
//! pending scans with their secrets and the finished results, and webhook deliveries. Every
//! secret is sealed at rest with SM4-GCM under the store key (`store.key`, 0600, beside the
//! database), the row's table and id as associated data, so a copied database alone opens
//! nothing and a sealed value moved to another row does not open either.

use crate::error::{GatewayError, Result};
use bidkey_crypto::aead::{self, AeadAlgorithm};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    app TEXT PRIMARY KEY,
    webhook_secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps(app),
    hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS scans (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    pending BLOB NOT NULL,
    extra BLOB,
    webhook_url TEXT,
    expires_at INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    result BLOB,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    scan_id TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_ms INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT
);
";

/// Prefix of every API key; the id follows, then `.` and the secret.
pub const KEY_PREFIX: &str = "bgw_";

/// The store.
pub struct Store {
    conn: Mutex<Connection>,
    key: Zeroizing<[u8; 16]>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub app: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A new API key: the token is shown once.
#[derive(Debug)]
pub struct NewApiKey {
    pub id: String,
    pub app: String,
    pub token: Zeroizing<String>,
    /// The app's webhook secret (hex), set when the app's first key is made.
    pub webhook_secret: Zeroizing<String>,
}

/// A scan row.
#[derive(Debug)]
pub struct ScanRow {
    pub id: String,
    pub app: String,
    pub kind: String,
    pub pending: Zeroizing<Vec<u8>>,
    pub extra: Option<Zeroizing<Vec<u8>>>,
    pub webhook_url: Option<String>,
    pub expires_at: i64,
    pub done: bool,
    pub result: Option<Zeroizing<Vec<u8>>>,
}

/// A webhook delivery waiting to be made.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub scan_id: String,
    pub app: String,
    pub url: String,
    pub body: Vec<u8>,
    pub attempts: u32,
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn random_hex<const N: usize>() -> Result<String> {
    bidkey_crypto::rng::bytes::<N>()
        .map(hex::encode)
        .map_err(|e| GatewayError::Internal(format!("RNG: {e}")))
}

/// SM3 of an API key's secret. Secrets are 32 random bytes, so a fast hash suffices: there
/// is nothing to guess that a slow hash would protect.
fn key_hash(secret: &str) -> [u8; 32] {
    bidkey_crypto::sm3::sm3(secret.as_bytes())
}

fn load_or_make_key(path: &Path) -> Result<Zeroizing<[u8; 16]>> {
    let mut key = Zeroizing::new([0u8; 16]);
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| GatewayError::Internal("store key is not hex".into()))?;
            hex::decode_to_slice(text.trim(), &mut *key)
                .map_err(|_| GatewayError::Internal("store key is not 32 hex digits".into()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            *key = bidkey_crypto::rng::bytes::<16>()
                .map_err(|e| GatewayError::Internal(format!("RNG: {e}")))?;
            let text = Zeroizing::new(hex::encode(*key));
            write_private(path, text.as_bytes())?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(key)
}

/// Create a file only its owner reads.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let key = load_or_make_key(&dir.join("store.key"))?;
        let conn = Connection::open(dir.join("gateway.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            key,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic mid-statement leaves SQLite consistent (each write is one statement or
        // one transaction), so the lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn seal(&self, table: &str, id: &str, plain: &[u8]) -> Result<Vec<u8>> {
        aead::seal(
            AeadAlgorithm::Sm4Gcm,
            &*self.key,
            format!("{table}:{id}").as_bytes(),
            plain,
        )
        .map_err(|e| GatewayError::Internal(format!("seal: {e}")))
    }

    fn open_sealed(&self, table: &str, id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        aead::open(
            AeadAlgorithm::Sm4Gcm,
            &*self.key,
            format!("{table}:{id}").as_bytes(),
            sealed,
        )
        .map_err(|_| GatewayError::Internal(format!("{table} row {id} does not open")))
    }

    // ---- API keys and apps ----

    /// A new key for `app` (created with a fresh webhook secret if new).
    pub fn create_api_key(&self, app: &str) -> Result<NewApiKey> {
        if app.is_empty()
            || app.len() > 64
            || !app
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(GatewayError::BadRequest(
                "app name: 1-64 of A-Z a-z 0-9 - _".into(),
            ));
        }
        let id = random_hex::<8>()?;
        let secret = Zeroizing::new(random_hex::<32>()?);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let existing: Option<Vec<u8>> = tx
            .query_row(
                "SELECT webhook_secret FROM apps WHERE app = ?1",
                [app],
                |r| r.get(0),
            )
            .optional()?;
        let webhook_secret = match existing {
            Some(sealed) => {
                let plain = self.open_sealed("apps", app, &sealed)?;
                Zeroizing::new(String::from_utf8_lossy(&plain).into_owned())
            }
            None => {
                let s = Zeroizing::new(random_hex::<32>()?);
                tx.execute(
                    "INSERT INTO apps (app, webhook_secret, created_at) VALUES (?1, ?2, ?3)",
                    params![app, self.seal("apps", app, s.as_bytes())?, unix_now()],
                )?;
                s
            }
        };
        tx.execute(
            "INSERT INTO api_keys (id, app, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, app, key_hash(&secret).to_vec(), unix_now()],
        )?;
        tx.commit()?;
        Ok(NewApiKey {
            token: Zeroizing::new(format!("{KEY_PREFIX}{id}.{}", *secret)),
            id,
            app: app.to_owned(),
            webhook_secret,
        })
    }

    pub fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, app, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ApiKeyInfo {
                id: r.get(0)?,
                app: r.get(1)?,
                created_at: r.get(2)?,
                revoked_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Revoke a key; false if there is no such live key.
    pub fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, unix_now()],
        )?;
        Ok(n == 1)
    }

    /// The app a presented token belongs to, if it is a live key.
    pub fn check_api_key(&self, token: &str) -> Result<Option<String>> {
        let Some(rest) = token.strip_prefix(KEY_PREFIX) else {
            return Ok(None);
        };
        let Some((id, secret)) = rest.split_once('.') else {
            return Ok(None);
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row: Option<(String, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT app, hash FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(app, hash)| bool::from(hash.ct_eq(&key_hash(secret))).then_some(app)))
    }

    /// The app's webhook secret.
    pub fn webhook_secret(&self, app: &str) -> Result<Zeroizing<Vec<u8>>> {
        let sealed: Vec<u8> = self.conn().query_row(
            "SELECT webhook_secret FROM apps WHERE app = ?1",
            [app],
            |r| r.get(0),
        )?;
        self.open_sealed("apps", app, &sealed)
    }

    // ---- scans ----

    #[allow(clippy::too_many_arguments)]
    pub fn insert_scan(
        &self,
        id: &str,
        app: &str,
        kind: &str,
        pending: &[u8],
        extra: Option<&[u8]>,
        webhook_url: Option<&str>,
        expires_at: i64,
    ) -> Result<()> {
        let extra = extra.map(|e| self.seal("scan-extra", id, e)).transpose()?;
        self.conn().execute(
            "INSERT INTO scans (id, app, kind, pending, extra, webhook_url, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                app,
                kind,
                self.seal("scan", id, pending)?,
                extra,
                webhook_url,
                expires_at,
                unix_now()
            ],
        )?;
        Ok(())
    }

    fn scan_from_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<RawScan> {
        Ok(RawScan {
            id: r.get(0)?,
            app: r.get(1)?,
            kind: r.get(2)?,
            pending: r.get(3)?,
            extra: r.get(4)?,
            webhook_url: r.get(5)?,
            expires_at: r.get(6)?,
            done: r.get::<_, i64>(7)? != 0,
            result: r.get(8)?,
        })
    }

    fn unseal_scan(&self, raw: RawScan) -> Result<ScanRow> {
        Ok(ScanRow {
            pending: self.open_sealed("scan", &raw.id, &raw.pending)?,
            extra: raw
                .extra
                .map(|e| self.open_sealed("scan-extra", &raw.id, &e))
                .transpose()?,
            result: raw
                .result
                .map(|e| self.open_sealed("scan-result", &raw.id, &e))
                .transpose()?,
            id: raw.id,
            app: raw.app,
            kind: raw.kind,
            webhook_url: raw.webhook_url,
            expires_at: raw.expires_at,
            done: raw.done,
        })
    }

    const SCAN_COLUMNS: &'static str =
        "id, app, kind, pending, extra, webhook_url, expires_at, done, result";

    /// The scan `id` of `app` (another app's scan is not found).
    pub fn scan(&self, app: &str, id: &str) -> Result<Option<ScanRow>> {
        let raw = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {} FROM scans WHERE id = ?1 AND app = ?2",
                    Self::SCAN_COLUMNS
                ),
                params![id, app],
                |r| self.scan_from_row(r),
            )
            .optional()?;
        raw.map(|r| self.unseal_scan(r)).transpose()
    }

    /// Scans still waiting for their reply (resumed at start).
    pub fn unfinished_scans(&self) -> Result<Vec<ScanRow>> {
        let raws: Vec<RawScan> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT {} FROM scans WHERE done = 0 ORDER BY created_at",
                Self::SCAN_COLUMNS
            ))?;
            let rows = stmt.query_map([], |r| self.scan_from_row(r))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        raws.into_iter().map(|r| self.unseal_scan(r)).collect()
    }

    /// Record the scan's outcome and, when it has a webhook, its delivery, in one
    /// transaction: a finished scan always has its delivery queued.
    pub fn finish_scan(&self, id: &str, result: &[u8], delivery: Option<&Delivery>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE scans SET done = 1, result = ?2 WHERE id = ?1",
            params![id, self.seal("scan-result", id, result)?],
        )?;
        if let Some(d) = delivery {
            tx.execute(
                "INSERT OR IGNORE INTO deliveries (id, scan_id, app, url, body, next_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    d.id,
                    d.scan_id,
                    d.app,
                    d.url,
                    self.seal("delivery", &d.id, &d.body)?,
                    unix_ms()
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- webhook deliveries ----

    /// Deliveries due now, oldest first.
    pub fn due_deliveries(&self, now_ms: i64, max_attempts: u32) -> Result<Vec<Delivery>> {
        let raws: Vec<(String, String, String, String, Vec<u8>, u32)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT id, scan_id, app, url, body, attempts FROM deliveries
                 WHERE delivered_at IS NULL AND next_at_ms <= ?1 AND attempts < ?2
                 ORDER BY next_at_ms LIMIT 100",
            )?;
            let rows = stmt.query_map(params![now_ms, max_attempts], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        raws.into_iter()
            .map(|(id, scan_id, app, url, body, attempts)| {
                Ok(Delivery {
                    body: self.open_sealed("delivery", &id, &body)?.to_vec(),
                    id,
                    scan_id,
                    app,
                    url,
                    attempts,
                })
            })
            .collect()
    }

    /// When the next delivery falls due, if any is waiting.
    pub fn next_delivery_at(&self, max_attempts: u32) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_at_ms) FROM deliveries WHERE delivered_at IS NULL AND attempts < ?1",
            [max_attempts],
            |r| r.get(0),
        )?)
    }

    pub fn delivered(&self, id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE deliveries SET delivered_at = ?2, attempts = attempts + 1 WHERE id = ?1",
            params![id, unix_now()],
        )?;
        Ok(())
    }

    pub fn delivery_failed(&self, id: &str, next_at_ms: i64, error: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE deliveries SET attempts = attempts + 1, next_at_ms = ?2, last_error = ?3
             WHERE id = ?1",
            params![id, next_at_ms, error],
        )?;
        Ok(())
    }

    /// A delivery's attempts so far and whether one succeeded, by scan.
    pub fn delivery_state(&self, scan_id: &str) -> Result<Option<(String, u32, bool)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, attempts, delivered_at IS NOT NULL FROM deliveries WHERE scan_id = ?1",
                [scan_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// A liveness probe of the database.
    pub fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

struct RawScan {
    id: String,
    app: String,
    kind: String,
    pending: Vec<u8>,
    extra: Option<Vec<u8>>,
    webhook_url: Option<String>,
    expires_at: i64,
    done: bool,
    result: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_checked_and_revocable() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let a = store.create_api_key("erp").expect("key");
        let b = store.create_api_key("erp").expect("second key");
        assert_eq!(*a.webhook_secret, *b.webhook_secret, "one secret per app");
        assert_eq!(
            store.check_api_key(&a.token).expect("check").as_deref(),
            Some("erp")
        );
        // The database holds no token.
        let db = std::fs::read(dir.path().join("gateway.sqlite3")).expect("db");
        let secret = a.token.split('.').nth(1).expect("secret");
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));
        // A wrong secret under a real id, and garbage, are refused.
        let forged = format!("{KEY_PREFIX}{}.{}", a.id, "0".repeat(64));
        assert_eq!(store.check_api_key(&forged).expect("check"), None);
        assert_eq!(store.check_api_key("Bearer x").expect("check"), None);
        assert!(store.revoke_api_key(&a.id).expect("revoke"));
        assert!(!store.revoke_api_key(&a.id).expect("again"));
        assert_eq!(store.check_api_key(&a.token).expect("check"), None);
        assert!(store.check_api_key(&b.token).expect("check").is_some());
        assert_eq!(store.list_api_keys().expect("list").len(), 2);
        assert!(store.create_api_key("bad name").is_err());
    }

    #[test]
    fn scan_secrets_are_sealed_and_bound_to_their_row() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        store
            .insert_scan("s1", "erp", "login", b"SECRET-PENDING", None, None, 9)
            .expect("insert");
        let db = std::fs::read(dir.path().join("gateway.sqlite3")).expect("db");
        assert!(!db.windows(14).any(|w| w == b"SECRET-PENDING"));
        let row = store.scan("erp", "s1").expect("read").expect("row");
        assert_eq!(row.pending.as_slice(), b"SECRET-PENDING");
        assert!(store.scan("other-app", "s1").expect("read").is_none());
        // A sealed value moved to another row does not open.
        let conn = store.conn();
        conn.execute(
            "INSERT INTO scans (id, app, kind, pending, expires_at, created_at)
             SELECT 's2', app, kind, pending, expires_at, created_at FROM scans WHERE id = 's1'",
            [],
        )
        .expect("copy");
        drop(conn);
        assert!(store.scan("erp", "s2").is_err());
        // Reopened with the same key file, the row opens; with another key, it does not.
        drop(store);
        let again = Store::open(dir.path()).expect("reopen");
        assert!(again.scan("erp", "s1").expect("read").is_some());
        drop(again);
        std::fs::remove_file(dir.path().join("store.key")).expect("rm key");
        let other = Store::open(dir.path()).expect("new key");
        assert!(other.scan("erp", "s1").is_err());
    }
}

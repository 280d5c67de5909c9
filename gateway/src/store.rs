//! The gateway's own store: embedded SQLite in its data directory (ADR 0023), or one
//! PostgreSQL database shared by several gateway nodes serving one platform (ADR 0029).
//!
//! What it keeps: API keys (only a hash of each secret), each app's webhook secret, the
//! pending scans with their secrets and the finished results, and webhook deliveries. Every
//! secret is sealed at rest with SM4-GCM under the store key (`store.key`, 0600, beside the
//! database), the row's table and id as associated data, so a copied database alone opens
//! nothing and a sealed value moved to another row does not open either.

use crate::error::{GatewayError, Result};
use crate::pgconn::PgConn;
use bidkey_crypto::aead::{self, AeadAlgorithm};
use postgres::Row as PgRow;
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

/// The same tables in PostgreSQL (ADR 0029); `store_meta` holds a value sealed under the
/// store key, so a node started with another key refuses to start instead of failing on
/// every row.
const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS store_meta (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS apps (
    app TEXT PRIMARY KEY,
    webhook_secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps(app),
    hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS scans (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    pending BYTEA NOT NULL,
    extra BYTEA,
    webhook_url TEXT,
    expires_at BIGINT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    result BYTEA,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_unfinished ON scans (created_at) WHERE NOT done;
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    scan_id TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    url TEXT NOT NULL,
    body BYTEA NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT
);
";

/// Where the store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `gateway.sqlite3` in the data directory (one node).
    Sqlite,
    /// A PostgreSQL URL (`postgres://…`), shared by several nodes.
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite => f.write_str("Sqlite"),
            StoreLocation::Postgres(_) => f.write_str("Postgres(…)"),
        }
    }
}

impl StoreLocation {
    /// `sqlite` (or nothing) for the embedded store; `postgres://…` or `postgresql://…`.
    pub fn parse(s: &str) -> std::result::Result<StoreLocation, String> {
        if s.is_empty() || s == "sqlite" {
            Ok(StoreLocation::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StoreLocation::Postgres(s.to_owned()))
        } else {
            Err("--store: `sqlite` or a postgres:// URL".into())
        }
    }
}

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres(PgConn),
}

/// Prefix of every API key; the id follows, then `.` and the secret.
pub const KEY_PREFIX: &str = "bgw_";

/// The store.
pub struct Store {
    backend: Backend,
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
    /// Open (or create) the embedded store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_at(dir, &StoreLocation::Sqlite)
    }

    /// Open the store at `location`; the store key is `store.key` in `dir` either way (every
    /// node of a shared store holds a copy of the same key file).
    pub fn open_at(dir: &Path, location: &StoreLocation) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let key = load_or_make_key(&dir.join("store.key"))?;
        let backend = match location {
            StoreLocation::Sqlite => {
                let conn = Connection::open(dir.join("gateway.sqlite3"))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn.execute_batch(SCHEMA)?;
                Backend::Sqlite(Mutex::new(conn))
            }
            StoreLocation::Postgres(url) => Backend::Postgres(PgConn::connect(url)?),
        };
        let store = Store { backend, key };
        if let Backend::Postgres(pg) = &store.backend {
            let check = store.seal("store_meta", "key-check", b"bidkey-gateway")?;
            let found = pg.run(move |c| {
                let mut tx = c.transaction()?;
                // Nodes starting together create the tables one at a time.
                tx.execute("SELECT pg_advisory_xact_lock(7206151, 29)", &[])?;
                tx.batch_execute(PG_SCHEMA)?;
                tx.execute(
                    "INSERT INTO store_meta (name, value) VALUES ('key-check', $1)
                     ON CONFLICT (name) DO NOTHING",
                    &[&check],
                )?;
                let v: Vec<u8> = tx
                    .query_one("SELECT value FROM store_meta WHERE name = 'key-check'", &[])?
                    .get(0);
                tx.commit()?;
                Ok(v)
            })?;
            store
                .open_sealed("store_meta", "key-check", &found)
                .map_err(|_| {
                    GatewayError::Internal(
                        "store.key differs from the key the shared store was made with".into(),
                    )
                })?;
        }
        Ok(store)
    }

    /// Whether other nodes share this store (then the long-polls and the webhook worker
    /// also watch the store, not only this process's own scans).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match &self.backend {
            // A panic mid-statement leaves SQLite consistent (each write is one statement or
            // one transaction), so the lock is still usable.
            Backend::Sqlite(c) => c.lock().unwrap_or_else(|p| p.into_inner()),
            Backend::Postgres(_) => unreachable!("SQLite connection of a PostgreSQL store"),
        }
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
        let fresh = Zeroizing::new(random_hex::<32>()?);
        let fresh_sealed = self.seal("apps", app, fresh.as_bytes())?;
        let hash = key_hash(&secret).to_vec();
        let sealed = match &self.backend {
            Backend::Sqlite(_) => {
                let mut conn = self.conn();
                let tx = conn.transaction()?;
                tx.execute(
                    "INSERT OR IGNORE INTO apps (app, webhook_secret, created_at)
                     VALUES (?1, ?2, ?3)",
                    params![app, fresh_sealed, unix_now()],
                )?;
                let sealed: Vec<u8> = tx.query_row(
                    "SELECT webhook_secret FROM apps WHERE app = ?1",
                    [app],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "INSERT INTO api_keys (id, app, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, app, hash, unix_now()],
                )?;
                tx.commit()?;
                sealed
            }
            Backend::Postgres(pg) => {
                let (id, app) = (id.clone(), app.to_owned());
                pg.run(move |c| {
                    let mut tx = c.transaction()?;
                    // Two nodes making the app's first keys at once keep one secret.
                    tx.execute(
                        "INSERT INTO apps (app, webhook_secret, created_at) VALUES ($1, $2, $3)
                         ON CONFLICT (app) DO NOTHING",
                        &[&app, &fresh_sealed, &unix_now()],
                    )?;
                    let sealed: Vec<u8> = tx
                        .query_one("SELECT webhook_secret FROM apps WHERE app = $1", &[&app])?
                        .get(0);
                    tx.execute(
                        "INSERT INTO api_keys (id, app, hash, created_at) VALUES ($1, $2, $3, $4)",
                        &[&id, &app, &hash, &unix_now()],
                    )?;
                    tx.commit()?;
                    Ok(sealed)
                })?
            }
        };
        let plain = self.open_sealed("apps", app, &sealed)?;
        Ok(NewApiKey {
            token: Zeroizing::new(format!("{KEY_PREFIX}{id}.{}", *secret)),
            id,
            app: app.to_owned(),
            webhook_secret: Zeroizing::new(String::from_utf8_lossy(&plain).into_owned()),
        })
    }

    pub fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        const SQL: &str =
            "SELECT id, app, created_at, revoked_at FROM api_keys ORDER BY created_at, id";
        match &self.backend {
            Backend::Sqlite(_) => {
                let conn = self.conn();
                let mut stmt = conn.prepare(SQL)?;
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
            Backend::Postgres(pg) => pg.run(|c| {
                Ok(c.query(SQL, &[])?
                    .iter()
                    .map(|r| ApiKeyInfo {
                        id: r.get(0),
                        app: r.get(1),
                        created_at: r.get(2),
                        revoked_at: r.get(3),
                    })
                    .collect())
            }),
        }
    }

    /// Revoke a key; false if there is no such live key.
    pub fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let n = match &self.backend {
            Backend::Sqlite(_) => self.conn().execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, unix_now()],
            )? as u64,
            Backend::Postgres(pg) => {
                let id = id.to_owned();
                pg.run(move |c| {
                    c.execute(
                        "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                        &[&id, &unix_now()],
                    )
                })?
            }
        };
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
        let row: Option<(String, Vec<u8>)> = match &self.backend {
            Backend::Sqlite(_) => self
                .conn()
                .query_row(
                    "SELECT app, hash FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            Backend::Postgres(pg) => {
                let id = id.to_owned();
                pg.run(move |c| {
                    Ok(c.query_opt(
                        "SELECT app, hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
                        &[&id],
                    )?
                    .map(|r| (r.get(0), r.get(1))))
                })?
            }
        };
        Ok(row.and_then(|(app, hash)| bool::from(hash.ct_eq(&key_hash(secret))).then_some(app)))
    }

    /// The app's webhook secret.
    pub fn webhook_secret(&self, app: &str) -> Result<Zeroizing<Vec<u8>>> {
        let sealed: Vec<u8> = match &self.backend {
            Backend::Sqlite(_) => self.conn().query_row(
                "SELECT webhook_secret FROM apps WHERE app = ?1",
                [app],
                |r| r.get(0),
            )?,
            Backend::Postgres(pg) => {
                let app = app.to_owned();
                pg.run(move |c| {
                    Ok(
                        c.query_one("SELECT webhook_secret FROM apps WHERE app = $1", &[&app])?
                            .get(0),
                    )
                })?
            }
        };
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
        let pending = self.seal("scan", id, pending)?;
        match &self.backend {
            Backend::Sqlite(_) => {
                self.conn().execute(
                    "INSERT INTO scans (id, app, kind, pending, extra, webhook_url, expires_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![id, app, kind, pending, extra, webhook_url, expires_at, unix_now()],
                )?;
            }
            Backend::Postgres(pg) => {
                let (id, app, kind) = (id.to_owned(), app.to_owned(), kind.to_owned());
                let webhook_url = webhook_url.map(str::to_owned);
                pg.run(move |c| {
                    c.execute(
                        "INSERT INTO scans (id, app, kind, pending, extra, webhook_url, expires_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[&id, &app, &kind, &pending, &extra, &webhook_url, &expires_at, &unix_now()],
                    )
                })?;
            }
        }
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

    fn scan_from_pg(r: &PgRow) -> RawScan {
        RawScan {
            id: r.get(0),
            app: r.get(1),
            kind: r.get(2),
            pending: r.get(3),
            extra: r.get(4),
            webhook_url: r.get(5),
            expires_at: r.get(6),
            done: r.get(7),
            result: r.get(8),
        }
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
        let raw = match &self.backend {
            Backend::Sqlite(_) => self
                .conn()
                .query_row(
                    &format!(
                        "SELECT {} FROM scans WHERE id = ?1 AND app = ?2",
                        Self::SCAN_COLUMNS
                    ),
                    params![id, app],
                    |r| self.scan_from_row(r),
                )
                .optional()?,
            Backend::Postgres(pg) => {
                let (id, app) = (id.to_owned(), app.to_owned());
                pg.run(move |c| {
                    Ok(c.query_opt(
                        &format!(
                            "SELECT {} FROM scans WHERE id = $1 AND app = $2",
                            Self::SCAN_COLUMNS
                        ),
                        &[&id, &app],
                    )?
                    .map(|r| Self::scan_from_pg(&r)))
                })?
            }
        };
        raw.map(|r| self.unseal_scan(r)).transpose()
    }

    /// Scans still waiting for their reply (resumed at start).
    pub fn unfinished_scans(&self) -> Result<Vec<ScanRow>> {
        let raws: Vec<RawScan> = match &self.backend {
            Backend::Sqlite(_) => {
                let conn = self.conn();
                let mut stmt = conn.prepare(&format!(
                    "SELECT {} FROM scans WHERE done = 0 ORDER BY created_at",
                    Self::SCAN_COLUMNS
                ))?;
                let rows = stmt.query_map([], |r| self.scan_from_row(r))?;
                rows.collect::<rusqlite::Result<_>>()?
            }
            Backend::Postgres(pg) => pg.run(|c| {
                Ok(c.query(
                    &format!(
                        "SELECT {} FROM scans WHERE NOT done ORDER BY created_at",
                        Self::SCAN_COLUMNS
                    ),
                    &[],
                )?
                .iter()
                .map(Self::scan_from_pg)
                .collect())
            })?,
        };
        raws.into_iter().map(|r| self.unseal_scan(r)).collect()
    }

    /// Record the scan's outcome and, when it has a webhook, its delivery, in one
    /// transaction: a finished scan always has its delivery queued. Only the first finish
    /// counts (two nodes that both carried a scan record one outcome, one delivery); true
    /// if this call was it.
    pub fn finish_scan(
        &self,
        id: &str,
        result: &[u8],
        delivery: Option<&Delivery>,
    ) -> Result<bool> {
        let result = self.seal("scan-result", id, result)?;
        let delivery = delivery
            .map(|d| -> Result<_> {
                Ok((
                    d.id.clone(),
                    d.scan_id.clone(),
                    d.app.clone(),
                    d.url.clone(),
                    self.seal("delivery", &d.id, &d.body)?,
                ))
            })
            .transpose()?;
        match &self.backend {
            Backend::Sqlite(_) => {
                let mut conn = self.conn();
                let tx = conn.transaction()?;
                let n = tx.execute(
                    "UPDATE scans SET done = 1, result = ?2 WHERE id = ?1 AND done = 0",
                    params![id, result],
                )?;
                if n == 1
                    && let Some((did, scan_id, app, url, body)) = delivery
                {
                    tx.execute(
                        "INSERT OR IGNORE INTO deliveries (id, scan_id, app, url, body, next_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![did, scan_id, app, url, body, unix_ms()],
                    )?;
                }
                tx.commit()?;
                Ok(n == 1)
            }
            Backend::Postgres(pg) => {
                let id = id.to_owned();
                pg.run(move |c| {
                    let mut tx = c.transaction()?;
                    let n = tx.execute(
                        "UPDATE scans SET done = TRUE, result = $2 WHERE id = $1 AND NOT done",
                        &[&id, &result],
                    )?;
                    if n == 1
                        && let Some((did, scan_id, app, url, body)) = delivery
                    {
                        tx.execute(
                            "INSERT INTO deliveries (id, scan_id, app, url, body, next_at_ms)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                            &[&did, &scan_id, &app, &url, &body, &unix_ms()],
                        )?;
                    }
                    tx.commit()?;
                    Ok(n == 1)
                })
            }
        }
    }

    // ---- webhook deliveries ----

    /// Claim the deliveries due now, oldest first. On a shared store each is claimed for
    /// `lease_ms` (its due time moves that far ahead, under `FOR UPDATE SKIP LOCKED`), so
    /// no other node takes it while this one posts it; a node that dies mid-delivery leaves
    /// it to be taken again when the lease ends. The lease is longer than one POST may take.
    /// One node alone (SQLite) has one worker, so nothing is claimed and a restart retries
    /// at once.
    pub fn due_deliveries(
        &self,
        now_ms: i64,
        max_attempts: u32,
        lease_ms: i64,
    ) -> Result<Vec<Delivery>> {
        type RawDelivery = (String, String, String, String, Vec<u8>, i64);
        let raws: Vec<RawDelivery> = match &self.backend {
            Backend::Sqlite(_) => {
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
            }
            Backend::Postgres(pg) => pg.run(move |c| {
                Ok(c.query(
                    "UPDATE deliveries SET next_at_ms = $3 WHERE id IN (
                         SELECT id FROM deliveries
                         WHERE delivered_at IS NULL AND next_at_ms <= $1 AND attempts < $2
                         ORDER BY next_at_ms LIMIT 100
                         FOR UPDATE SKIP LOCKED)
                     RETURNING id, scan_id, app, url, body, attempts",
                    &[&now_ms, &i64::from(max_attempts), &(now_ms + lease_ms)],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                .collect())
            })?,
        };
        raws.into_iter()
            .map(|(id, scan_id, app, url, body, attempts)| {
                Ok(Delivery {
                    body: self.open_sealed("delivery", &id, &body)?.to_vec(),
                    id,
                    scan_id,
                    app,
                    url,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// When the next delivery falls due, if any is waiting.
    pub fn next_delivery_at(&self, max_attempts: u32) -> Result<Option<i64>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(self.conn().query_row(
                "SELECT MIN(next_at_ms) FROM deliveries WHERE delivered_at IS NULL AND attempts < ?1",
                [max_attempts],
                |r| r.get(0),
            )?),
            Backend::Postgres(pg) => pg.run(move |c| {
                Ok(c.query_one(
                    "SELECT MIN(next_at_ms) FROM deliveries WHERE delivered_at IS NULL AND attempts < $1",
                    &[&i64::from(max_attempts)],
                )?
                .get(0))
            }),
        }
    }

    pub fn delivered(&self, id: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.conn().execute(
                    "UPDATE deliveries SET delivered_at = ?2, attempts = attempts + 1 WHERE id = ?1",
                    params![id, unix_now()],
                )?;
            }
            Backend::Postgres(pg) => {
                let id = id.to_owned();
                pg.run(move |c| {
                    c.execute(
                        "UPDATE deliveries SET delivered_at = $2, attempts = attempts + 1 WHERE id = $1",
                        &[&id, &unix_now()],
                    )
                })?;
            }
        }
        Ok(())
    }

    pub fn delivery_failed(&self, id: &str, next_at_ms: i64, error: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.conn().execute(
                    "UPDATE deliveries SET attempts = attempts + 1, next_at_ms = ?2, last_error = ?3
                     WHERE id = ?1",
                    params![id, next_at_ms, error],
                )?;
            }
            Backend::Postgres(pg) => {
                let (id, error) = (id.to_owned(), error.to_owned());
                pg.run(move |c| {
                    c.execute(
                        "UPDATE deliveries SET attempts = attempts + 1, next_at_ms = $2, last_error = $3
                         WHERE id = $1",
                        &[&id, &next_at_ms, &error],
                    )
                })?;
            }
        }
        Ok(())
    }

    /// A delivery's attempts so far and whether one succeeded, by scan.
    pub fn delivery_state(&self, scan_id: &str) -> Result<Option<(String, u32, bool)>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(self
                .conn()
                .query_row(
                    "SELECT id, attempts, delivered_at IS NOT NULL FROM deliveries WHERE scan_id = ?1",
                    [scan_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?),
            Backend::Postgres(pg) => {
                let scan_id = scan_id.to_owned();
                pg.run(move |c| {
                    Ok(c.query_opt(
                        "SELECT id, attempts, delivered_at IS NOT NULL FROM deliveries WHERE scan_id = $1",
                        &[&scan_id],
                    )?
                    .map(|r| {
                        let attempts: i64 = r.get(1);
                        (r.get(0), u32::try_from(attempts).unwrap_or(u32::MAX), r.get(2))
                    }))
                })
            }
        }
    }

    /// A liveness probe of the database.
    pub fn ping(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
            }
            Backend::Postgres(pg) => {
                pg.run(|c| c.simple_query("SELECT 1"))?;
            }
        }
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

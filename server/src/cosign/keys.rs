//! The co-signing service's key store: one row per server share (`cosign_keys`), sealed with
//! the master key under its row id, and the checks that decide whether a share may be used.

use crate::ca::keys::{Sealed, Sealer};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_crypto::cosign::ServerShare;
use bidkey_crypto::sm2::Sm2PublicKey;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::CertUsage;

/// A stored server share and what it belongs to.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub pair_id: String,
    pub usage: CertUsage,
    pub public_key: Vec<u8>,
    pub share_sealed: Vec<u8>,
    pub cert_serial: String,
    pub account_id: String,
    pub device_id: Option<String>,
}

const KEY_COLUMNS: &str = "k.id, k.pair_id, k.usage, k.public_key, k.share_sealed, k.cert_serial, p.account_id, p.device_id";

fn key_from_row(r: &crate::db::Row) -> Result<KeyRow> {
    Ok(KeyRow {
        id: r.text(0)?,
        pair_id: r.text(1)?,
        usage: CertUsage::parse(&r.text(2)?)
            .ok_or_else(|| ServerError::Internal("bad key usage".into()))?,
        public_key: r.bytes(3)?,
        share_sealed: r.bytes(4)?,
        cert_serial: r.opt_text(5)?.unwrap_or_default(),
        account_id: r.text(6)?,
        device_id: r.opt_text(7)?,
    })
}

/// The key for the certificate `serial` held by `account_id` on `device_id`: the one of
/// `pair_id` when the phone names the pair its share belongs to (a key delivered again with
/// each new pair has a server share per pair), else the one of a pair in force, newest first
/// (a new pair made in the same second as the one it replaces still wins).
pub fn find_for_device(
    tx: &mut dyn Tx,
    serial: &str,
    pair_id: Option<&str>,
    account_id: &str,
    device_id: &str,
) -> Result<KeyRow> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM cosign_keys k JOIN cert_pairs p ON p.id = k.pair_id \
         WHERE k.cert_serial = $1 AND p.account_id = $2 AND p.device_id = $3 \
         AND ($4 = '' OR k.pair_id = $4) \
         ORDER BY CASE WHEN p.status IN ('valid', 'suspended') THEN 0 ELSE 1 END, \
         k.created_at DESC, k.id LIMIT 1"
    );
    let row = tx
        .query_opt(
            &sql,
            &params![
                serial.trim().to_ascii_uppercase(),
                account_id,
                device_id,
                pair_id.unwrap_or_default()
            ],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    key_from_row(&row)
}

/// A key by id.
pub fn get(tx: &mut dyn Tx, id: &str) -> Result<KeyRow> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM cosign_keys k JOIN cert_pairs p ON p.id = k.pair_id WHERE k.id = $1"
    );
    let row = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    key_from_row(&row)
}

/// Store a server share for `pair_id` under the id its sealing was made for.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    tx: &mut dyn Tx,
    now: i64,
    id: &str,
    pair_id: &str,
    usage: CertUsage,
    public_key: &Sm2PublicKey,
    share_sealed: &[u8],
    cert_serial: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO cosign_keys (id, pair_id, usage, public_key, share_sealed, failed_pins, locked, created_at, cert_serial, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7, $6)",
        &params![
            id,
            pair_id,
            usage.as_str(),
            public_key.to_sec1(),
            share_sealed,
            now,
            cert_serial
        ],
    )?;
    Ok(())
}

/// Unsealed server shares kept in memory (ADR 0031): without it every co-decryption and
/// co-signature unsealed its share and rebuilt it, an inversion and a scalar multiplication
/// (`P = d2⁻¹·P1 − G`) to check it against the stored public key. An entry is keyed by the
/// row id and the SM3 of the sealed bytes and remembers the public key it was checked
/// against, so a row whose share or public key changes is unsealed and checked afresh. The
/// cache decides nothing: every request still passes every check of the database (pair in
/// force, session, PIN count) before a share is used. Shares zeroize when dropped. The
/// process already holds the sealing key, so a reader of its memory gains nothing new.
pub struct ShareCache {
    shares: std::sync::Mutex<std::collections::HashMap<CacheKey, Cached>>,
}

type CacheKey = (String, [u8; 32]);

struct Cached {
    public_key: Vec<u8>,
    share: std::sync::Arc<ServerShare>,
}

/// At most this many shares in memory; when full the cache starts again (no order to keep).
const CACHE_MAX: usize = 200_000;

impl std::fmt::Debug for ShareCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShareCache({} shares)", self.len())
    }
}

impl Default for ShareCache {
    fn default() -> Self {
        ShareCache {
            shares: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl ShareCache {
    /// The share of `key`, unsealed and checked once.
    pub fn share(&self, cosign: &Sealer, key: &KeyRow) -> Result<std::sync::Arc<ServerShare>> {
        let tag = (key.id.clone(), bidkey_crypto::sm3::sm3(&key.share_sealed));
        {
            let map = self.shares.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = map.get(&tag)
                && c.public_key == key.public_key
            {
                return Ok(c.share.clone());
            }
        }
        let fresh = std::sync::Arc::new(share(cosign, key)?);
        let mut map = self.shares.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(
            tag,
            Cached {
                public_key: key.public_key.clone(),
                share: fresh.clone(),
            },
        );
        Ok(fresh)
    }

    pub fn len(&self) -> usize {
        self.shares.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Unseal a server share.
pub fn share(cosign: &Sealer, key: &KeyRow) -> Result<ServerShare> {
    let bytes = cosign.open(Sealed::CosignShare, &key.id, &key.share_sealed)?;
    let share = ServerShare::from_bytes(&bytes)?;
    if share.public_key().to_sec1() != key.public_key {
        return Err(ServerError::Internal(format!(
            "cosign key {} does not match its public key",
            key.id
        )));
    }
    Ok(share)
}

/// Whether the pair may be used: its signing certificate (and the pair) must be in force.
/// Revoked (or replaced) beats suspended beats expired. With `allow_suspended`, a suspended
/// pair passes (only for the holder's own revocation).
/// How long after a pair is created its signing key may open key-delivery envelopes.
pub const KEY_DELIVERY_WINDOW: i64 = 24 * 3600;

/// A signing key co-decrypts only the envelopes of its own enrolment: within
/// [`KEY_DELIVERY_WINDOW`] of the pair's creation.
pub fn check_in_key_delivery(tx: &mut dyn Tx, pair_id: &str, now: i64) -> Result<()> {
    let created = tx
        .query_opt(
            "SELECT created_at FROM cert_pairs WHERE id = $1",
            &params![pair_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?
        .i64(0)?;
    if now < created + KEY_DELIVERY_WINDOW {
        Ok(())
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

pub fn check_usable(tx: &mut dyn Tx, pair_id: &str, now: i64, allow_suspended: bool) -> Result<()> {
    let row = tx
        .query_opt(
            "SELECT p.status, c.status, c.not_after FROM cert_pairs p \
             LEFT JOIN certificates c ON c.pair_id = p.id AND c.usage = 'signing' WHERE p.id = $1",
            &params![pair_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    let pair = row.text(0)?;
    let cert = row.opt_text(1)?;
    let not_after = row.opt_i64(2)?;
    if matches!(pair.as_str(), "revoked" | "superseded") || cert.as_deref() == Some("revoked") {
        return Err(ErrorCode::CertificateRevoked.into());
    }
    let suspended = pair == "suspended" || cert.as_deref() == Some("suspended");
    if suspended && !allow_suspended {
        return Err(ErrorCode::CertificateSuspended.into());
    }
    match not_after {
        None => Err(ErrorCode::CertificateNotFound.into()),
        Some(t) if t <= now => Err(ErrorCode::CertificateExpired.into()),
        Some(_) if pair == "valid" || suspended => Ok(()),
        Some(_) => Err(ErrorCode::InvalidState.into()),
    }
}

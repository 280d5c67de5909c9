//! Idempotency keys for creating operations that are not applications (applications keep
//! theirs in `applications.idempotency_key`). The first answer is stored as JSON under
//! `(scope, account, key)` in the same transaction as the change, and a retry with the same
//! key gets that answer back instead of a second change.

use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_protocol::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The longest idempotency key (a UUID, 36 characters, fits with room).
pub const MAX_KEY_LEN: usize = 100;

/// Keys are 1..=100 printable ASCII characters (`!`..=`~`; a space is not one), for every
/// creating operation: the applications' keys and those kept here.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ErrorCode::InvalidIdempotencyKey.into());
    }
    Ok(())
}

fn full_key(scope: &str, account: &str, key: &str) -> String {
    format!("{scope}:{account}:{key}")
}

/// The answer stored under this key, if any.
pub fn lookup<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    scope: &str,
    account: &str,
    key: &str,
) -> Result<Option<T>> {
    check_key(key)?;
    let row = tx.query_opt(
        "SELECT response FROM idempotency WHERE key = $1",
        &params![full_key(scope, account, key)],
    )?;
    match row {
        None => Ok(None),
        Some(r) => serde_json::from_str(&r.text(0)?)
            .map(Some)
            .map_err(|e| ServerError::Internal(format!("stored idempotent answer: {e}"))),
    }
}

/// Keep `answer` under this key.
pub fn store<T: Serialize>(
    tx: &mut dyn Tx,
    now: i64,
    scope: &str,
    account: &str,
    key: &str,
    answer: &T,
) -> Result<()> {
    check_key(key)?;
    let json = serde_json::to_string(answer).map_err(|e| ServerError::Internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO idempotency (key, account_id, response, created_at) VALUES ($1, $2, $3, $4)",
        &params![full_key(scope, account, key), account, json, now],
    )?;
    Ok(())
}

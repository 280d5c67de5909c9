//! Counting wrong PINs. The counter belongs to a certificate pair (all its keys are unlocked
//! by the same PIN on the phone), so a thief gets [`MAX_FAILED`] guesses in total, not per
//! key. A failure is a `BadProof` from `server_sign`/`server_decrypt` or a final signature
//! that fails `server_check_final`.
//!
//! Every attempt is counted as a failure when it begins ([`begin_attempt`]), before its proof
//! is checked outside the transaction, and no attempt begins once [`MAX_FAILED`] are counted;
//! so attempts sent at once cannot outrun the lock, and a server that stops mid-check has
//! counted the attempt. Success resets the counter ([`record_success`]); a wrong proof
//! leaves it counted ([`attempt_failed`]), the fifth in a row locks the pair until the holder
//! unlocks it (real-name again + SMS); a malformed request takes its count back
//! ([`attempt_void`]).

use crate::audit::{self, Event};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_protocol::ErrorCode;

/// Wrong PINs in a row that lock the key.
pub const MAX_FAILED: i64 = 5;

/// `(failed_pins, locked)` of a pair.
pub fn state(tx: &mut dyn Tx, pair_id: &str) -> Result<(i64, bool)> {
    let row = tx.query_opt(
        "SELECT COALESCE(MAX(failed_pins), 0), COALESCE(MAX(locked), 0) FROM cosign_keys WHERE pair_id = $1",
        &params![pair_id],
    )?;
    match row {
        Some(r) => Ok((r.i64(0)?, r.i64(1)? != 0)),
        None => Ok((0, false)),
    }
}

/// Tries left before the lock.
pub fn tries_left(failed: i64) -> u32 {
    u32::try_from((MAX_FAILED - failed).max(0)).unwrap_or(0)
}

/// Refuse when the pair is locked.
pub fn check_not_locked(tx: &mut dyn Tx, pair_id: &str) -> Result<()> {
    if state(tx, pair_id)?.1 {
        Err(ErrorCode::KeyLocked.into())
    } else {
        Ok(())
    }
}

/// Begin an attempt: refused when the pair is locked or as many attempts as the lock
/// allows are already counted; otherwise counted as failed until proven right.
pub fn begin_attempt(tx: &mut dyn Tx, now: i64, pair_id: &str) -> Result<()> {
    let (failed, locked) = state(tx, pair_id)?;
    if locked || failed >= MAX_FAILED {
        return Err(ErrorCode::KeyLocked.into());
    }
    tx.execute(
        "UPDATE cosign_keys SET failed_pins = failed_pins + 1, updated_at = $1 WHERE pair_id = $2",
        &params![now, pair_id],
    )?;
    Ok(())
}

/// A begun attempt had a malformed request: no verdict on the PIN, so it is not counted.
pub fn attempt_void(tx: &mut dyn Tx, now: i64, pair_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE cosign_keys SET failed_pins = failed_pins - 1, updated_at = $1 WHERE pair_id = $2 AND failed_pins > 0",
        &params![now, pair_id],
    )?;
    Ok(())
}

/// A begun attempt's proof failed: it stays counted; lock at [`MAX_FAILED`] in a row.
/// Returns the error to answer with.
pub fn attempt_failed(
    tx: &mut dyn Tx,
    now: i64,
    pair_id: &str,
    actor: &str,
    what: &str,
) -> Result<ServerError> {
    let (failed, _) = state(tx, pair_id)?;
    let locked = failed >= MAX_FAILED;
    if locked {
        tx.execute(
            "UPDATE cosign_keys SET locked = 1, updated_at = $1 WHERE pair_id = $2",
            &params![now, pair_id],
        )?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "pin.failed",
            target: Some(pair_id),
            detail: Some(format!("{what}; {failed} in a row")),
            ..Default::default()
        },
    )?;
    if locked {
        audit::record(
            tx,
            now,
            Event {
                actor: "system",
                action: "key.locked",
                target: Some(pair_id),
                detail: Some(format!("{failed} wrong PINs")),
                ..Default::default()
            },
        )?;
        Ok(ErrorCode::KeyLocked.into())
    } else {
        Ok(ServerError::WrongPin {
            tries_left: tries_left(failed),
        })
    }
}

/// A correct PIN: the count starts again.
pub fn record_success(tx: &mut dyn Tx, now: i64, pair_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE cosign_keys SET failed_pins = 0, updated_at = $1 WHERE pair_id = $2 AND failed_pins <> 0",
        &params![now, pair_id],
    )?;
    Ok(())
}

/// Unlock (解锁) after the holder proved who they are again.
pub fn unlock(tx: &mut dyn Tx, now: i64, pair_id: &str, actor: &str) -> Result<()> {
    let (failed, locked) = state(tx, pair_id)?;
    tx.execute(
        "UPDATE cosign_keys SET failed_pins = 0, locked = 0, updated_at = $1 WHERE pair_id = $2",
        &params![now, pair_id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "key.unlocked",
            target: Some(pair_id),
            detail: Some(format!("was locked: {locked}, failed: {failed}")),
            ..Default::default()
        },
    )
}

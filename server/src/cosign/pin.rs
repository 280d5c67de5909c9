//! Counting wrong PINs. The counter belongs to the holder: one account, for one enterprise or
//! for the person's own certificates (ADR 0011). The phone keeps every pair of a holder under
//! the wallet's PIN, so a thief gets [`MAX_FAILED`] guesses at that PIN in total, not per key
//! and not per pair; and a pair issued to the same holder (renewal, recovery) inherits the
//! count and the lock. A failure is a `BadProof` from `server_sign`/`server_decrypt` or a
//! final signature that fails `server_check_final`.
//!
//! An attempt is judged first (the proof checked, with the same work whether it is right or
//! wrong) and then, in one transaction, counted and decided (ADR 0034, amending ADR 0004):
//! only when the holder was below [`MAX_FAILED`] before it ([`below_limit`]) and it won its
//! session does its verdict reach the caller. A right PIN resets the count ([`reset`]); a
//! wrong one, or one that lost its session to another attempt, is counted
//! ([`count_failure`]), and the fifth in a row locks the holder's keys until the holder
//! unlocks them (real-name again + SMS, [`unlock`], at most [`UNLOCKS_PER_WINDOW`] in
//! [`UNLOCK_WINDOW`]). So attempts sent at once cannot get more than [`MAX_FAILED`]
//! verdicts per lock, and a malformed request, no verdict on the PIN, counts nothing.
//!
//! The functions take a pair id (what the co-signing service has in hand) and count on the
//! pair's holder, or the holder itself ([`holder_of`]).

use crate::audit::{self, Event};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::util::new_id;
use bidkey_protocol::ErrorCode;

/// Wrong PINs in a row that lock the key.
pub const MAX_FAILED: i64 = 5;

/// Unlocks one holder may make in any [`UNLOCK_WINDOW`].
pub const UNLOCKS_PER_WINDOW: i64 = 3;

/// The sliding window unlocks are counted in: 30 days.
pub const UNLOCK_WINDOW: i64 = 30 * 86_400;

/// The most wrong PINs a thief who can pass every unlock gets in any [`UNLOCK_WINDOW`]:
/// the guesses before the first lock, and [`MAX_FAILED`] again after each unlock.
pub const MAX_WRONG_PINS_PER_WINDOW: i64 = MAX_FAILED * (UNLOCKS_PER_WINDOW + 1);

/// The key of a holder: `account_id:enterprise_id` (empty after the colon for a person's own
/// certificates).
pub fn holder_key(account_id: &str, enterprise_id: Option<&str>) -> String {
    format!("{account_id}:{}", enterprise_id.unwrap_or_default())
}

/// The holder of a pair.
pub fn holder_of(tx: &mut dyn Tx, pair_id: &str) -> Result<String> {
    let row = tx
        .query_opt(
            "SELECT account_id, enterprise_id FROM cert_pairs WHERE id = $1",
            &params![pair_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    Ok(holder_key(&row.text(0)?, row.opt_text(1)?.as_deref()))
}

/// `(failed_pins, locked)` of a holder.
fn holder_state(tx: &mut dyn Tx, holder: &str) -> Result<(i64, bool)> {
    let row = tx.query_opt(
        "SELECT failed_pins, locked FROM pin_holders WHERE holder = $1",
        &params![holder],
    )?;
    match row {
        Some(r) => Ok((r.i64(0)?, r.i64(1)? != 0)),
        None => Ok((0, false)),
    }
}

/// The holder of a pair and its `(failed_pins, locked)`, in one query (a round trip less
/// than [`holder_of`] then [`holder_state`] on the co-signing routes).
pub fn holder_and_state(tx: &mut dyn Tx, pair_id: &str) -> Result<(String, i64, bool)> {
    let row = tx
        .query_opt(
            "SELECT p.account_id, p.enterprise_id, h.failed_pins, h.locked FROM cert_pairs p \
             LEFT JOIN pin_holders h ON h.holder = p.account_id || ':' || COALESCE(p.enterprise_id, '') \
             WHERE p.id = $1",
            &params![pair_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    let holder = holder_key(&row.text(0)?, row.opt_text(1)?.as_deref());
    let failed = row.opt_i64(2)?.unwrap_or(0);
    let locked = row.opt_i64(3)?.unwrap_or(0) != 0;
    Ok((holder, failed, locked))
}

/// `(failed_pins, locked)` of the holder of a pair.
pub fn state(tx: &mut dyn Tx, pair_id: &str) -> Result<(i64, bool)> {
    holder_and_state(tx, pair_id).map(|(_, failed, locked)| (failed, locked))
}

/// Tries left before the lock.
pub fn tries_left(failed: i64) -> u32 {
    u32::try_from((MAX_FAILED - failed).max(0)).unwrap_or(0)
}

/// Refuse when the pair's holder is locked.
pub fn check_not_locked(tx: &mut dyn Tx, pair_id: &str) -> Result<()> {
    if state(tx, pair_id)?.1 {
        Err(ErrorCode::KeyLocked.into())
    } else {
        Ok(())
    }
}

/// Refuse when a holder (account, enterprise) is locked: a new pair for a locked holder
/// (recovery, renewal) is not enrolled until the holder unlocks, for it would be locked too
/// and could not open the keys delivered to it.
pub fn check_holder_not_locked(
    tx: &mut dyn Tx,
    account_id: &str,
    enterprise_id: Option<&str>,
) -> Result<()> {
    if holder_state(tx, &holder_key(account_id, enterprise_id))?.1 {
        Err(ErrorCode::KeyLocked.into())
    } else {
        Ok(())
    }
}

/// The limit as it stands before an attempt is counted: refused (`key_locked`) when the
/// holder is locked or [`MAX_FAILED`] are counted; otherwise the failures counted so far.
pub fn below_limit(tx: &mut dyn Tx, holder: &str) -> Result<i64> {
    let (failed, locked) = holder_state(tx, holder)?;
    limit_check(failed, locked)
}

/// [`below_limit`] on a state already read ([`holder_and_state`]).
pub fn limit_check(failed: i64, locked: bool) -> Result<i64> {
    if locked || failed >= MAX_FAILED {
        Err(ErrorCode::KeyLocked.into())
    } else {
        Ok(failed)
    }
}

/// Count one failed attempt of `holder`, who had `failed_before` (read by [`below_limit`] in
/// the same transaction): a wrong PIN, or an attempt that lost its session to another. The
/// [`MAX_FAILED`]th in a row locks the holder. Returns the error to answer with, which
/// depends only on the count, never on what the attempt's guess was.
pub fn count_failure(
    tx: &mut dyn Tx,
    now: i64,
    holder: &str,
    failed_before: i64,
    pair_id: &str,
    actor: &str,
    what: &str,
) -> Result<ServerError> {
    let failed = failed_before + 1;
    let locked = failed >= MAX_FAILED;
    tx.execute(
        "INSERT INTO pin_holders (holder, failed_pins, locked, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (holder) DO UPDATE SET failed_pins = $2, locked = $3, updated_at = $4",
        &params![holder, failed, i64::from(locked), now],
    )?;
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

/// A correct PIN: the count of `holder`, who had `failed_before`, starts again.
pub fn reset(tx: &mut dyn Tx, now: i64, holder: &str, failed_before: i64) -> Result<()> {
    if failed_before != 0 {
        tx.execute(
            "UPDATE pin_holders SET failed_pins = 0, updated_at = $1 WHERE holder = $2",
            &params![now, holder],
        )?;
    }
    Ok(())
}

/// When the holder of `pair_id` may unlock next: `None` now, else the server time at which
/// the oldest unlock of the window leaves it.
pub fn next_unlock_at(tx: &mut dyn Tx, now: i64, pair_id: &str) -> Result<Option<i64>> {
    let holder = holder_of(tx, pair_id)?;
    let rows = tx.query(
        "SELECT at FROM pin_unlocks WHERE holder = $1 AND at > $2 ORDER BY at",
        &params![holder, now - UNLOCK_WINDOW],
    )?;
    let recent = rows
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<Vec<_>, _>>()?;
    let over = recent.len() as i64 - UNLOCKS_PER_WINDOW;
    Ok(if over < 0 {
        None
    } else {
        // The unlock that must leave the window before another fits.
        recent
            .get(usize::try_from(over).unwrap_or(0))
            .map(|at| at + UNLOCK_WINDOW)
    })
}

/// Refuse an unlock the holder may not make: nothing is locked (an unlock would only reset
/// the count and give more guesses), or the unlocks of the window are used up (typed, with
/// the time of the next one).
pub fn check_unlock_allowed(tx: &mut dyn Tx, now: i64, pair_id: &str) -> Result<()> {
    if !state(tx, pair_id)?.1 {
        return Err(ErrorCode::InvalidState.into());
    }
    match next_unlock_at(tx, now, pair_id)? {
        None => Ok(()),
        Some(at) => Err(ServerError::NotBefore {
            code: ErrorCode::UnlockLimited,
            at,
        }),
    }
}

/// Unlock (解锁) after the holder proved who they are again; counted against the window.
pub fn unlock(tx: &mut dyn Tx, now: i64, pair_id: &str, actor: &str) -> Result<()> {
    check_unlock_allowed(tx, now, pair_id)?;
    let holder = holder_of(tx, pair_id)?;
    let (failed, locked) = holder_state(tx, &holder)?;
    tx.execute(
        "UPDATE pin_holders SET failed_pins = 0, locked = 0, updated_at = $1 WHERE holder = $2",
        &params![now, holder.as_str()],
    )?;
    tx.execute(
        "INSERT INTO pin_unlocks (id, holder, at) VALUES ($1, $2, $3)",
        &params![new_id()?, holder.as_str(), now],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_first_lock_and_one_more_per_unlock() {
        assert_eq!(MAX_WRONG_PINS_PER_WINDOW, 20);
        assert_eq!(holder_key("a", None), "a:");
        assert_eq!(holder_key("a", Some("e")), "a:e");
    }
}

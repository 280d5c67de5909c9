//! State changes of a certificate pair, each inside the caller's transaction and audited:
//! suspension on a loss report (挂失, CRL reason certificateHold) and its undo (解挂),
//! revocation (注销 by the holder, or replacement by a new pair).

use crate::audit::{self, Event};
use crate::db::Tx;
use crate::error::Result;
use crate::params;
use bidkey_protocol::ErrorCode;

/// RFC 5280 reason codes used here.
pub const KEY_COMPROMISE: i64 = 1;
pub const AFFILIATION_CHANGED: i64 = 3;
pub const SUPERSEDED: i64 = 4;
pub const CESSATION_OF_OPERATION: i64 = 5;
pub const CERTIFICATE_HOLD: i64 = 6;

/// Suspend a pair in force; returns the serials put on hold.
pub fn suspend(tx: &mut dyn Tx, now: i64, pair_id: &str, actor: &str) -> Result<Vec<String>> {
    let n = tx.execute(
        "UPDATE cert_pairs SET status = 'suspended', updated_at = $1 WHERE id = $2 AND status = 'valid'",
        &params![now, pair_id],
    )?;
    if n != 1 {
        return Err(ErrorCode::InvalidState.into());
    }
    let serials = serials_in(tx, pair_id, "valid")?;
    tx.execute(
        "UPDATE certificates SET status = 'suspended', revoked_at = $1, revoke_reason = $2 WHERE pair_id = $3 AND status = 'valid'",
        &params![now, CERTIFICATE_HOLD, pair_id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "cert.suspended",
            target: Some(pair_id),
            detail: Some(serials.join(",")),
            ..Default::default()
        },
    )?;
    Ok(serials)
}

/// Lift a suspension; returns the serials back in force.
pub fn unsuspend(tx: &mut dyn Tx, now: i64, pair_id: &str, actor: &str) -> Result<Vec<String>> {
    let n = tx.execute(
        "UPDATE cert_pairs SET status = 'valid', updated_at = $1 WHERE id = $2 AND status = 'suspended'",
        &params![now, pair_id],
    )?;
    if n != 1 {
        return Err(ErrorCode::InvalidState.into());
    }
    let serials = serials_in(tx, pair_id, "suspended")?;
    tx.execute(
        "UPDATE certificates SET status = 'valid', revoked_at = NULL, revoke_reason = NULL WHERE pair_id = $1 AND status = 'suspended'",
        &params![pair_id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "cert.unsuspended",
            target: Some(pair_id),
            detail: Some(serials.join(",")),
            ..Default::default()
        },
    )?;
    Ok(serials)
}

/// Revoke every certificate of a pair still in force or on hold, and end the pair
/// (`revoked`, or `superseded` when a new pair replaces it). Returns the serials revoked.
pub fn revoke(
    tx: &mut dyn Tx,
    now: i64,
    pair_id: &str,
    reason: i64,
    superseded: bool,
    actor: &str,
) -> Result<Vec<String>> {
    let status = if superseded { "superseded" } else { "revoked" };
    let n = tx.execute(
        "UPDATE cert_pairs SET status = $1, updated_at = $2 WHERE id = $3 AND status IN ('valid', 'suspended')",
        &params![status, now, pair_id],
    )?;
    if n != 1 {
        return Err(ErrorCode::InvalidState.into());
    }
    let mut serials = serials_in(tx, pair_id, "valid")?;
    serials.extend(serials_in(tx, pair_id, "suspended")?);
    tx.execute(
        "UPDATE certificates SET status = 'revoked', revoked_at = $1, revoke_reason = $2 \
         WHERE pair_id = $3 AND status IN ('valid', 'suspended')",
        &params![now, reason, pair_id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: if superseded {
                "cert.superseded"
            } else {
                "cert.revoked"
            },
            target: Some(pair_id),
            detail: Some(format!(
                "reason {}: {}",
                crate::ca::crl::reason_name(reason),
                serials.join(",")
            )),
            ..Default::default()
        },
    )?;
    Ok(serials)
}

fn serials_in(tx: &mut dyn Tx, pair_id: &str, status: &str) -> Result<Vec<String>> {
    tx.query(
        "SELECT serial FROM certificates WHERE pair_id = $1 AND status = $2 ORDER BY serial",
        &params![pair_id, status],
    )?
    .iter()
    .map(|r| Ok(r.text(0)?))
    .collect()
}

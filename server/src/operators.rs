//! Operator tokens (ADR 0020): named, expiring, stored as hashes. `bidkey-server operator
//! token --name alice --valid 8h` makes one; the operator listener's routes take it as a
//! bearer token, and every operator action records the name in the audit log.

use crate::audit::{self, Event};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::util::{hash_secret, new_token};
use bidkey_protocol::ErrorCode;

/// The longest a token may live: operators renew it per shift, not per year.
pub const MAX_VALID: i64 = 90 * 86_400;
/// The token sandbox mode makes at each start for the tests and the demo (kept in
/// `operator.token` in the data directory, sandbox mode only).
pub const SANDBOX_NAME: &str = "sandbox";
pub const SANDBOX_VALID: i64 = 10 * 365 * 86_400;

/// A checked operator name: what the audit log shows after `operator:`.
pub fn check_name(name: &str) -> std::result::Result<&str, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err("the operator's name must be 1 to 64 characters".into());
    }
    if n.chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == ':')
    {
        return Err(format!(
            "operator name {n:?}: no spaces, control characters or ':' (it is written into the audit log as operator:NAME)"
        ));
    }
    Ok(n)
}

/// `8h`, `30m`, `1d`, `3600s` (or bare seconds) → seconds, at most [`MAX_VALID`].
pub fn parse_validity(text: &str) -> std::result::Result<i64, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("--valid {text:?}: a number and a unit, like 8h, 30m or 1d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("--valid {text:?}: the unit is s, m, h or d")),
    };
    if !(60..=MAX_VALID).contains(&secs) {
        return Err(format!(
            "--valid {text:?}: between 1 minute and {} days",
            MAX_VALID / 86_400
        ));
    }
    Ok(secs)
}

/// Make a token for `name`, valid `valid` seconds from `now`; only its hash is stored.
pub fn mint(tx: &mut dyn Tx, now: i64, name: &str, valid: i64, by: &str) -> Result<String> {
    let name = check_name(name).map_err(ServerError::Internal)?;
    let token = new_token()?;
    tx.execute(
        "INSERT INTO operator_tokens (token_hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        &params![hash_secret(&token), name, now, now + valid],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: by,
            action: "operator.token_issued",
            target: Some(name),
            detail: Some(format!("valid until {}", now + valid)),
            ..Default::default()
        },
    )?;
    Ok(token)
}

/// Revoke every token of `name`; how many were live.
pub fn revoke(tx: &mut dyn Tx, now: i64, name: &str, by: &str) -> Result<u64> {
    let n = tx.execute(
        "UPDATE operator_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL AND expires_at > $1",
        &params![now, name],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: by,
            action: "operator.tokens_revoked",
            target: Some(name),
            detail: Some(format!("{n} live")),
            ..Default::default()
        },
    )?;
    Ok(n)
}

/// The operator a bearer token names: unknown and revoked tokens (a user's login token
/// among them) are `forbidden`, expired ones `token_expired` (the operator makes a new one).
pub fn lookup(tx: &mut dyn Tx, token: &str, now: i64) -> Result<String> {
    let row = tx
        .query_opt(
            "SELECT name, expires_at, revoked_at FROM operator_tokens WHERE token_hash = $1",
            &params![hash_secret(token)],
        )?
        .ok_or(ServerError::Api(ErrorCode::Forbidden))?;
    if row.opt_i64(2)?.is_some() {
        return Err(ErrorCode::Forbidden.into());
    }
    if row.i64(1)? <= now {
        return Err(ErrorCode::TokenExpired.into());
    }
    Ok(row.text(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_and_names() {
        assert_eq!(parse_validity("8h"), Ok(8 * 3600));
        assert_eq!(parse_validity("30m"), Ok(1800));
        assert_eq!(parse_validity("1d"), Ok(86_400));
        assert_eq!(parse_validity("600"), Ok(600));
        for bad in ["", "h", "8w", "10s", "91d", "-1h"] {
            assert!(parse_validity(bad).is_err(), "{bad}");
        }
        assert_eq!(check_name(" alice "), Ok("alice"));
        assert_eq!(check_name("张三"), Ok("张三"));
        for bad in ["", "a b", "a:b", "x\u{7}y"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}

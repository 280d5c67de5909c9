//! The audit log: every security-relevant event, who, what, when, from where. Entries are
//! written in the same transaction as the change they describe.

use crate::db::Tx;
use crate::error::Result;
use crate::params;
use crate::util::new_id;

/// One event. `detail` must not hold secrets (no PINs, codes, keys or full ID numbers).
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<String>,
}

pub fn record(tx: &mut dyn Tx, now: i64, e: Event<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO audit_log (id, at, actor, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![new_id()?, now, e.actor, e.action, e.target, e.ip, e.detail],
    )?;
    Ok(())
}

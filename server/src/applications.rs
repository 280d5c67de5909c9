//! Applications (申请): the state machine every certificate-bearing request goes through,
//! shared by the enterprise, RA and CA modules.
//!
//! ```text
//! join:   pending_admin ─admin approves→ pending_review
//! claim, join, personal, change_info, renew, reapply, recover:
//!         pending_review ─RA approves→ awaiting_payment (fee > 0) or paid (fee 0)
//!         awaiting_payment ─paid→ paid ─certificates issued→ issued
//!         any open state ─RA/admin rejects (reason)→ rejected;  applicant cancels → closed
//! ```

use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use crate::util::new_id;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{ApplicationKind, Status};

/// An application row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: String,
    pub kind: ApplicationKind,
    pub account_id: String,
    pub enterprise_id: Option<String>,
    pub status: Status,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub order_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, kind, account_id, enterprise_id, status, reason, detail, order_id, created_at, updated_at";

fn from_row(r: &Row) -> Result<Application> {
    let bad = |what: &str| ServerError::Internal(format!("bad application {what}"));
    Ok(Application {
        id: r.text(0)?,
        kind: ApplicationKind::parse(&r.text(1)?).ok_or_else(|| bad("kind"))?,
        account_id: r.text(2)?,
        enterprise_id: r.opt_text(3)?,
        status: Status::parse(&r.text(4)?).ok_or_else(|| bad("status"))?,
        reason: r.opt_text(5)?,
        detail: r.opt_text(6)?,
        order_id: r.opt_text(7)?,
        created_at: r.i64(8)?,
        updated_at: r.i64(9)?,
    })
}

/// What a new application asks for.
#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    pub kind: ApplicationKind,
    pub account_id: &'a str,
    pub enterprise_id: Option<&'a str>,
    pub status: Status,
    pub detail: Option<String>,
    /// The client's idempotency key: the same key returns the same application.
    pub idempotency_key: Option<&'a str>,
}

/// Create an application, or return the one already made under the same idempotency key.
pub fn create(tx: &mut dyn Tx, now: i64, new: NewApplication<'_>) -> Result<Application> {
    if let Some(key) = new.idempotency_key {
        let sql = format!("SELECT {COLUMNS} FROM applications WHERE idempotency_key = $1");
        if let Some(r) = tx.query_opt(&sql, &params![key])? {
            let existing = from_row(&r)?;
            if existing.account_id != new.account_id {
                return Err(ErrorCode::Conflict.into());
            }
            return Ok(existing);
        }
    }
    let id = new_id()?;
    tx.execute(
        "INSERT INTO applications (id, kind, account_id, enterprise_id, status, detail, idempotency_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        &params![
            id.as_str(),
            new.kind.as_str(),
            new.account_id,
            new.enterprise_id,
            new.status.as_str(),
            new.detail,
            new.idempotency_key,
            now
        ],
    )?;
    get(tx, &id)
}

/// Load an application.
pub fn get(tx: &mut dyn Tx, id: &str) -> Result<Application> {
    let sql = format!("SELECT {COLUMNS} FROM applications WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::ApplicationNotFound))?;
    from_row(&r)
}

/// The applications of an account, newest first.
pub fn list_for_account(tx: &mut dyn Tx, account_id: &str) -> Result<Vec<Application>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM applications WHERE account_id = $1 ORDER BY created_at DESC, id"
    );
    tx.query(&sql, &params![account_id])?
        .iter()
        .map(from_row)
        .collect()
}

/// Applications in a status, oldest first (the review queue).
pub fn list_in_status(tx: &mut dyn Tx, status: Status) -> Result<Vec<Application>> {
    let sql =
        format!("SELECT {COLUMNS} FROM applications WHERE status = $1 ORDER BY created_at, id");
    tx.query(&sql, &params![status.as_str()])?
        .iter()
        .map(from_row)
        .collect()
}

/// Move `app` from `from` to `to`; refused if it is no longer in `from` (a concurrent
/// change won), so transitions never skip a step.
pub fn transition(
    tx: &mut dyn Tx,
    now: i64,
    id: &str,
    from: Status,
    to: Status,
    reason: Option<&str>,
) -> Result<()> {
    let n = tx.execute(
        "UPDATE applications SET status = $1, reason = COALESCE($2, reason), updated_at = $3 WHERE id = $4 AND status = $5",
        &params![to.as_str(), reason, now, id, from.as_str()],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(ErrorCode::InvalidState.into())
    }
}

/// Link the order that pays for an application.
pub fn set_order(tx: &mut dyn Tx, id: &str, order_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE applications SET order_id = $1 WHERE id = $2",
        &params![order_id, id],
    )?;
    Ok(())
}

/// Leave a message for an account (shown in the app's message list).
pub fn notify(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    application_id: Option<&str>,
    text_zh: &str,
    text_en: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO messages (id, account_id, application_id, text_zh, text_en, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &params![new_id()?, account_id, application_id, text_zh, text_en, now],
    )?;
    Ok(())
}

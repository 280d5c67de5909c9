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
use crate::idempotency::check_key;
use crate::params;
use crate::util::new_id;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{ApplicationKind, Status};

/// Applications one account may have open (not yet issued, rejected or closed) at once. A
/// person needs one per certificate in progress: a personal one, and one per enterprise
/// being claimed or joined, renewed or recovered; ten leaves room for that and bounds what
/// one account can make the RA review and the database keep (a claim carries up to
/// several megabytes of materials).
pub const MAX_OPEN_PER_ACCOUNT: i64 = 10;

/// The statuses of an application still in progress.
const OPEN_STATUSES: &str = "('pending_admin', 'pending_review', 'awaiting_payment', 'paid')";

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
    /// Server time before which the application may not enrol (a recovery's cooling-off).
    pub not_before: Option<i64>,
}

const COLUMNS: &str = "id, kind, account_id, enterprise_id, status, reason, detail, order_id, created_at, updated_at, not_before";

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
        not_before: r.opt_i64(10)?,
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
    /// The client's idempotency key (as sent): the same key from the same account for the
    /// same kind returns the same application.
    pub idempotency_key: Option<&'a str>,
}

/// How a client's idempotency key is stored: checked (1..=100 printable ASCII), and scoped
/// to the account and the kind of application, so one account's key never answers for
/// another's and one kind of request never returns another kind's application.
fn scoped_key(kind: ApplicationKind, account_id: &str, key: &str) -> Result<String> {
    check_key(key)?;
    Ok(format!("{}:{account_id}:{key}", kind.as_str()))
}

/// The application `account_id` already made for `kind` under the idempotency key `key`.
pub fn by_key(
    tx: &mut dyn Tx,
    kind: ApplicationKind,
    account_id: &str,
    key: &str,
) -> Result<Option<Application>> {
    let scoped = scoped_key(kind, account_id, key)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM applications WHERE idempotency_key = $1 AND account_id = $2"
    );
    tx.query_opt(&sql, &params![scoped, account_id])?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// How many applications `account_id` has open.
pub fn open_count(tx: &mut dyn Tx, account_id: &str) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM applications WHERE account_id = $1 AND status IN {OPEN_STATUSES}"
    );
    Ok(tx
        .query_opt(&sql, &params![account_id])?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0))
}

/// Create an application, or return the one this account already made under the same
/// idempotency key. Refused with `too_many_open_applications` when the account already has
/// [`MAX_OPEN_PER_ACCOUNT`] open.
pub fn create(tx: &mut dyn Tx, now: i64, new: NewApplication<'_>) -> Result<Application> {
    let scoped = match new.idempotency_key {
        Some(key) => {
            if let Some(existing) = by_key(tx, new.kind, new.account_id, key)? {
                return Ok(existing);
            }
            Some(scoped_key(new.kind, new.account_id, key)?)
        }
        None => None,
    };
    if open_count(tx, new.account_id)? >= MAX_OPEN_PER_ACCOUNT {
        return Err(ErrorCode::TooManyOpenApplications.into());
    }
    insert_scoped(tx, now, &new, scoped)
}

/// Create an application the server makes on the account's behalf (a member's share of a
/// change of information): idempotent by key like [`create`], but not counted against the
/// account's open limit, which guards against the account's own requests.
pub fn insert(tx: &mut dyn Tx, now: i64, new: NewApplication<'_>) -> Result<Application> {
    let scoped = match new.idempotency_key {
        Some(key) => {
            if let Some(existing) = by_key(tx, new.kind, new.account_id, key)? {
                return Ok(existing);
            }
            Some(scoped_key(new.kind, new.account_id, key)?)
        }
        None => None,
    };
    insert_scoped(tx, now, &new, scoped)
}

fn insert_scoped(
    tx: &mut dyn Tx,
    now: i64,
    new: &NewApplication<'_>,
    scoped: Option<String>,
) -> Result<Application> {
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
            new.detail.as_deref(),
            scoped,
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

/// Hold an application until `not_before` (server time) and keep what the reviewer is shown.
pub fn hold(tx: &mut dyn Tx, id: &str, not_before: i64, detail: &str) -> Result<()> {
    tx.execute(
        "UPDATE applications SET not_before = $1, detail = $2 WHERE id = $3",
        &params![not_before, detail, id],
    )?;
    Ok(())
}

/// Close an application still in progress (the applicant, or the account's other device,
/// cancels it); refused once it is issued, rejected or closed.
pub fn close_open(tx: &mut dyn Tx, now: i64, id: &str, reason: &str) -> Result<()> {
    let sql = format!(
        "UPDATE applications SET status = 'closed', reason = $1, updated_at = $2 WHERE id = $3 AND status IN {OPEN_STATUSES}"
    );
    if tx.execute(&sql, &params![reason, now, id])? == 1 {
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

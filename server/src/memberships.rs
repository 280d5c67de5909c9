//! Who belongs to which enterprise, and as what. One admin per enterprise, always (a
//! partial unique index backs this up); staff any number.

use crate::applications::Application;
use crate::db::{DbError, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use crate::util::new_id;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::ApplicationKind;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// The caller's live role in an enterprise, if any.
pub fn role_of(tx: &mut dyn Tx, enterprise_id: &str, account_id: &str) -> Result<Option<Role>> {
    let row = tx.query_opt(
        "SELECT role FROM memberships WHERE enterprise_id = $1 AND account_id = $2 AND status = 'active'",
        &params![enterprise_id, account_id],
    )?;
    Ok(row
        .map(|r| r.text(0))
        .transpose()?
        .as_deref()
        .and_then(Role::parse))
}

/// The enterprise's admin, if any.
pub fn admin_of(tx: &mut dyn Tx, enterprise_id: &str) -> Result<Option<String>> {
    let row = tx.query_opt(
        "SELECT account_id FROM memberships WHERE enterprise_id = $1 AND role = 'admin' AND status = 'active'",
        &params![enterprise_id],
    )?;
    Ok(row.map(|r| r.text(0)).transpose()?)
}

/// Refuse unless `account_id` is the enterprise's admin.
pub fn require_admin(tx: &mut dyn Tx, enterprise_id: &str, account_id: &str) -> Result<()> {
    match role_of(tx, enterprise_id, account_id)? {
        Some(Role::Admin) => Ok(()),
        Some(Role::Staff) => Err(ErrorCode::NotAdmin.into()),
        None => Err(ErrorCode::NotMember.into()),
    }
}

/// Refuse unless `account_id` is a live member.
pub fn require_member(tx: &mut dyn Tx, enterprise_id: &str, account_id: &str) -> Result<Role> {
    role_of(tx, enterprise_id, account_id)?.ok_or(ServerError::Api(ErrorCode::NotMember))
}

/// Add a live member. A second admin or a second live membership is refused.
pub fn add(
    tx: &mut dyn Tx,
    now: i64,
    enterprise_id: &str,
    account_id: &str,
    role: Role,
) -> Result<()> {
    if role_of(tx, enterprise_id, account_id)?.is_some() {
        return Err(ErrorCode::AlreadyMember.into());
    }
    if role == Role::Admin && admin_of(tx, enterprise_id)?.is_some() {
        return Err(ErrorCode::AdminExists.into());
    }
    let r = tx.execute(
        "INSERT INTO memberships (id, enterprise_id, account_id, role, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)",
        &params![new_id()?, enterprise_id, account_id, role.as_str(), now],
    );
    match r {
        Ok(_) => {}
        // Lost a race with a concurrent claim: the index kept the invariant.
        Err(DbError::Conflict(_)) => return Err(ErrorCode::AdminExists.into()),
        Err(e) => return Err(e.into()),
    }
    if role == Role::Admin {
        tx.execute(
            "UPDATE enterprises SET status = 'claimed', updated_at = $1 WHERE id = $2",
            &params![now, enterprise_id],
        )?;
    }
    Ok(())
}

/// What an application's issued certificates mean for membership: a claim makes the
/// applicant the admin, a join makes them staff. Called by the CA in the transaction that
/// issues the certificates.
pub fn apply_issued(tx: &mut dyn Tx, now: i64, app: &Application) -> Result<()> {
    let Some(enterprise_id) = app.enterprise_id.as_deref() else {
        return Ok(());
    };
    let role = match app.kind {
        ApplicationKind::Claim => Role::Admin,
        ApplicationKind::Join => Role::Staff,
        _ => return Ok(()),
    };
    match role_of(tx, enterprise_id, &app.account_id)? {
        // Already a member (e.g. verified by micro-payment before buying certificates).
        Some(Role::Admin) => Ok(()),
        Some(Role::Staff) if role == Role::Staff => Ok(()),
        Some(Role::Staff) => Err(ErrorCode::AdminExists.into()),
        None => add(tx, now, enterprise_id, &app.account_id, role),
    }
}

//! Enterprises (企业): search, claim (认领企业), micro-payment verification (对公打款), join
//! (加入企业) and the admin's staff management (人员管理).
//!
//! An enterprise becomes known to Bidkey when someone applies for it (claim or
//! micro-payment) with its name and USCC; it is `claimed` once it has an admin. Every
//! enterprise-scoped endpoint checks the caller's live membership of *that* enterprise, so
//! one enterprise's admin can never act on another's data.

pub mod admin;
pub mod change;
pub mod claim;
pub mod join;
pub mod micropay;
pub mod search;

use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::memberships::Role;
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{self, delete, post};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises as wire;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/enterprises/search", routing::get(search::search))
        .route("/v1/enterprises/mine", routing::get(admin::mine))
        .route(
            "/v1/enterprises/claims",
            post(claim::claim).layer(DefaultBodyLimit::max(claim::MAX_BODY)),
        )
        .route(
            "/v1/enterprises/micropayments",
            post(micropay::request).get(micropay::list),
        )
        .route(
            "/v1/enterprises/micropayments/{id}",
            routing::get(micropay::status),
        )
        .route("/v1/enterprises/{eid}", routing::get(admin::info))
        .route(
            "/v1/enterprises/{eid}/join-requests",
            post(join::request).get(join::pending),
        )
        .route(
            "/v1/enterprises/{eid}/join-requests/{app_id}",
            post(join::decide),
        )
        .route(
            "/v1/enterprises/{eid}/members",
            routing::get(admin::members).post(admin::invite),
        )
        .route(
            "/v1/enterprises/{eid}/members/{account_id}",
            delete(admin::remove),
        )
        .route(
            "/v1/enterprises/{eid}/transfer-admin",
            post(admin::transfer),
        )
        .route(
            "/v1/enterprises/{eid}/change-info",
            post(admin::change_info).layer(DefaultBodyLimit::max(claim::MAX_BODY)),
        )
        .route("/v1/messages", routing::get(admin::messages))
        .route("/v1/messages/{id}/read", post(admin::mark_read))
}

/// The client's address for the audit log.
pub(crate) fn ip_of(addr: &SocketAddr) -> String {
    addr.ip().to_string()
}

/// An enterprise row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enterprise {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub legal_rep: Option<String>,
    pub claimed: bool,
}

const COLUMNS: &str = "id, uscc, name, legal_rep, status";

fn from_row(r: &Row) -> Result<Enterprise> {
    Ok(Enterprise {
        id: r.text(0)?,
        uscc: r.text(1)?,
        name: r.text(2)?,
        legal_rep: r.opt_text(3)?,
        claimed: r.text(4)? == "claimed",
    })
}

/// Load an enterprise.
pub fn get(tx: &mut dyn Tx, id: &str) -> Result<Enterprise> {
    let sql = format!("SELECT {COLUMNS} FROM enterprises WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    from_row(&r)
}

/// Find an enterprise by USCC.
pub fn by_uscc(tx: &mut dyn Tx, uscc: &str) -> Result<Option<Enterprise>> {
    let sql = format!("SELECT {COLUMNS} FROM enterprises WHERE uscc = $1");
    tx.query_opt(&sql, &params![uscc])?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Enterprises whose name contains `part`, at most `limit`, by name.
pub fn by_name(tx: &mut dyn Tx, part: &str, limit: i64) -> Result<Vec<Enterprise>> {
    // LIKE with an escape character so `%` and `_` in the query are taken literally.
    let escaped: String = part
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM enterprises WHERE LOWER(name) LIKE LOWER($1) ESCAPE '\\' ORDER BY name, id LIMIT $2"
    );
    tx.query(&sql, &params![format!("%{escaped}%"), limit])?
        .iter()
        .map(from_row)
        .collect()
}

/// The enterprise with this USCC, registering it under `name` if nobody applied before. An
/// existing record keeps its name (the reviewer sees the name each applicant gave).
pub fn find_or_register(tx: &mut dyn Tx, now: i64, uscc: &str, name: &str) -> Result<Enterprise> {
    if let Some(e) = by_uscc(tx, uscc)? {
        return Ok(e);
    }
    let id = new_id()?;
    tx.execute(
        "INSERT INTO enterprises (id, uscc, name, status, created_at, updated_at) VALUES ($1, $2, $3, 'registered', $4, $4)",
        &params![id.as_str(), uscc, name, now],
    )?;
    get(tx, &id)
}

/// Trim, upper-case and check a USCC (GB 32100 check character).
pub fn normalize_uscc(s: &str) -> Result<String> {
    let u = s.trim().to_ascii_uppercase();
    bidkey_crypto::x509::name::validate_uscc(&u)
        .map_err(|_| ServerError::Api(ErrorCode::InvalidUscc))?;
    Ok(u)
}

/// A person's or an enterprise's name: trimmed, 2..=100 characters, no control characters.
pub fn check_name(s: &str) -> Result<String> {
    let n = s.trim();
    let len = n.chars().count();
    if !(2..=100).contains(&len) || n.chars().any(char::is_control) {
        return Err(ErrorCode::BadRequest.into());
    }
    Ok(n.to_owned())
}

/// Refuse unless the account has passed real-name verification.
pub fn require_realname(tx: &mut dyn Tx, account_id: &str) -> Result<String> {
    let row = tx
        .query_opt(
            "SELECT real_name, realname_at FROM accounts WHERE id = $1",
            &params![account_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
    match (row.opt_text(0)?, row.opt_i64(1)?) {
        (Some(name), Some(_)) => Ok(name),
        _ => Err(ErrorCode::RealNameRequired.into()),
    }
}

pub(crate) fn wire_role(r: Role) -> wire::Role {
    match r {
        Role::Admin => wire::Role::Admin,
        Role::Staff => wire::Role::Staff,
    }
}

/// Refuse when the account already has an open claim or join for this enterprise.
pub(crate) fn refuse_open_application(
    tx: &mut dyn Tx,
    enterprise_id: &str,
    account_id: &str,
) -> Result<()> {
    let open = tx.query_opt(
        "SELECT COUNT(*) FROM applications WHERE enterprise_id = $1 AND account_id = $2 \
         AND kind IN ('claim', 'join') AND status IN ('pending_admin', 'pending_review', 'awaiting_payment', 'paid')",
        &params![enterprise_id, account_id],
    )?;
    if open.map(|r| r.i64(0)).transpose()?.unwrap_or(0) > 0 {
        return Err(ErrorCode::Conflict.into());
    }
    Ok(())
}

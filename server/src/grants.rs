//! Grants (授权管理): the admin allows a member's enterprise certificate (a staff member's or
//! their own) to be used on a trading platform; listed by platform or by person; revoked
//! one by one, or all at once when the member is removed.
//!
//! `GET /v1/grants/check` lets a trading platform (or the SDK on its behalf) ask whether a
//! person may act for an enterprise on it, named either by account and enterprise or by the
//! serial of the certificate a signature was made with. It answers only yes/no, the grant id and whether
//! a valid enterprise certificate exists, and only to the platform named in the query,
//! authenticated by a signature with its Bidkey platform certificate over the time and the
//! query (`x-bidkey-time`, `x-bidkey-signature`; ADR 0015); rate-limited per address.

use crate::applications;
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::cosign::confirm::Confirmation;
use crate::db::{DbError, Row, Tx};
use crate::enterprises::ip_of;
use crate::error::{Result, ServerError};
use crate::memberships::{self, Role};
use crate::params;
use crate::platforms::get_platform;
use crate::ratelimit;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::AdminAction;
use bidkey_protocol::platforms::{BidRecipient, Grant, GrantCheck, GrantRequest};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/enterprises/{eid}/grants", get(list).post(grant))
        .route("/v1/enterprises/{eid}/grants/{gid}", delete(revoke))
        .route("/v1/grants/check", get(check))
        .route("/v1/enterprises/{eid}/bid-recipients", get(bid_recipients))
}

#[derive(Debug, Deserialize)]
pub struct RecipientsQuery {
    pub platform_id: String,
}

/// The encryption certificates a member's bid for `platform_id` is encrypted to: every
/// active member with a live grant for the platform and a valid, unexpired enterprise
/// certificate pair (issue 17, ADR 0026). Any member may ask: the bidder encrypts to its
/// colleagues, so that the bid opens even when the uploader is absent at the opening.
pub fn list_bid_recipients(
    tx: &mut dyn Tx,
    account_id: &str,
    enterprise_id: &str,
    platform_id: &str,
    now: i64,
) -> Result<Vec<BidRecipient>> {
    memberships::require_member(tx, enterprise_id, account_id)?;
    get_platform(tx, platform_id)?;
    let rows = tx.query(
        "SELECT g.account_id, a.real_name, c.serial, c.der, c.not_after FROM grants g \
         JOIN memberships m ON m.enterprise_id = g.enterprise_id AND m.account_id = g.account_id AND m.status = 'active' \
         JOIN accounts a ON a.id = g.account_id \
         JOIN cert_pairs p ON p.account_id = g.account_id AND p.enterprise_id = g.enterprise_id AND p.status = 'valid' \
         JOIN certificates c ON c.pair_id = p.id AND c.usage = 'encryption' AND c.status = 'valid' \
         WHERE g.enterprise_id = $1 AND g.platform_id = $2 AND g.revoked_at IS NULL AND c.not_after > $3 \
         ORDER BY g.created_at, c.serial",
        &params![enterprise_id, platform_id, now],
    )?;
    rows.iter()
        .map(|r| {
            Ok(BidRecipient {
                account_id: r.text(0)?,
                real_name: r.opt_text(1)?,
                serial: r.text(2)?,
                cert_der: r.bytes(3)?,
                not_after: r.i64(4)?,
            })
        })
        .collect()
}

async fn bid_recipients(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
    Query(q): Query<RecipientsQuery>,
) -> Result<Json<Vec<BidRecipient>>> {
    let now = st.clock.now();
    let out = st
        .db
        .read(move |tx| list_bid_recipients(tx, &user.account_id, &eid, &q.platform_id, now))
        .await?;
    Ok(Json(out))
}

const COLUMNS: &str = "g.id, g.enterprise_id, g.account_id, a.real_name, g.platform_id, p.name, \
     g.granted_by, g.created_at, g.revoked_at";
const FROM: &str =
    "FROM grants g JOIN accounts a ON a.id = g.account_id JOIN platforms p ON p.id = g.platform_id";

fn from_row(r: &Row) -> Result<Grant> {
    Ok(Grant {
        id: r.text(0)?,
        enterprise_id: r.text(1)?,
        account_id: r.text(2)?,
        real_name: r.opt_text(3)?,
        platform_id: r.text(4)?,
        platform_name: r.text(5)?,
        granted_by: r.text(6)?,
        created_at: r.i64(7)?,
        revoked_at: r.opt_i64(8)?,
    })
}

fn get_grant(tx: &mut dyn Tx, id: &str) -> Result<Grant> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE g.id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::GrantNotFound))?;
    from_row(&r)
}

fn live_grant(
    tx: &mut dyn Tx,
    enterprise_id: &str,
    account_id: &str,
    platform_id: &str,
) -> Result<Option<Grant>> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE g.enterprise_id = $1 AND g.account_id = $2 AND g.platform_id = $3 AND g.revoked_at IS NULL"
    );
    tx.query_opt(&sql, &params![enterprise_id, account_id, platform_id])?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Grant a member's enterprise certificate for a platform; granting again returns the live
/// grant.
pub fn create(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    req: &GrantRequest,
) -> Result<Grant> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    memberships::require_member(tx, enterprise_id, &req.account_id)?;
    let platform = get_platform(tx, &req.platform_id)?;
    if let Some(g) = live_grant(tx, enterprise_id, &req.account_id, &platform.id)? {
        return Ok(g);
    }
    let id = new_id()?;
    let r = tx.execute(
        "INSERT INTO grants (id, enterprise_id, account_id, platform_id, granted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &params![id.as_str(), enterprise_id, req.account_id.as_str(), platform.id.as_str(), admin_id, now],
    );
    match r {
        Ok(_) => {}
        Err(DbError::Conflict(_)) => return Err(ErrorCode::Conflict.into()),
        Err(e) => return Err(e.into()),
    }
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "grant.created",
            target: Some(&id),
            ip: Some(ip),
            detail: Some(format!(
                "{enterprise_id} {} {}",
                req.account_id, platform.id
            )),
        },
    )?;
    if req.account_id != admin_id {
        applications::notify(
            tx,
            now,
            &req.account_id,
            None,
            &format!("管理员已授权您在“{}”使用企业证书。", platform.name),
            &format!(
                "The administrator allowed your enterprise certificate on {}.",
                platform.name
            ),
        )?;
    }
    get_grant(tx, &id)
}

/// Revoke a grant of this enterprise.
pub fn revoke_grant(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    grant_id: &str,
) -> Result<Grant> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let g = get_grant(tx, grant_id)?;
    if g.enterprise_id != enterprise_id {
        return Err(ErrorCode::GrantNotFound.into());
    }
    if g.revoked_at.is_none() {
        tx.execute(
            "UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            &params![now, grant_id],
        )?;
        audit::record(
            tx,
            now,
            Event {
                actor: admin_id,
                action: "grant.revoked",
                target: Some(grant_id),
                ip: Some(ip),
                detail: Some(enterprise_id.to_owned()),
            },
        )?;
    }
    get_grant(tx, grant_id)
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    pub platform_id: Option<String>,
    pub account_id: Option<String>,
    /// Also revoked grants (历史授权记录).
    #[serde(default)]
    pub include_revoked: bool,
}

/// Grants of an enterprise by platform and/or person. The admin sees all; staff only their
/// own.
pub fn list_grants(
    tx: &mut dyn Tx,
    caller: &str,
    enterprise_id: &str,
    filter: &Filter,
) -> Result<Vec<Grant>> {
    let role = memberships::require_member(tx, enterprise_id, caller)?;
    let person = match (role, filter.account_id.as_deref()) {
        (Role::Admin, p) => p,
        (Role::Staff, None) => Some(caller),
        (Role::Staff, Some(p)) if p == caller => Some(p),
        (Role::Staff, Some(_)) => return Err(ErrorCode::NotAdmin.into()),
    };
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE g.enterprise_id = $1 \
         AND ($2 = '' OR g.platform_id = $2) AND ($3 = '' OR g.account_id = $3) \
         AND ($4 = 1 OR g.revoked_at IS NULL) ORDER BY g.created_at DESC, g.id"
    );
    tx.query(
        &sql,
        &params![
            enterprise_id,
            filter.platform_id.as_deref().unwrap_or(""),
            person.unwrap_or(""),
            i64::from(filter.include_revoked)
        ],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Whether `account_id` may use its certificate of `enterprise_id` on `platform_id`.
pub fn check_grant(
    tx: &mut dyn Tx,
    now: i64,
    platform_id: &str,
    account_id: &str,
    enterprise_id: &str,
) -> Result<GrantCheck> {
    let member = memberships::role_of(tx, enterprise_id, account_id)?.is_some();
    let grant = if member {
        live_grant(tx, enterprise_id, account_id, platform_id)?
    } else {
        None
    };
    let valid = tx.query_opt(
        "SELECT COUNT(*) FROM certificates c JOIN cert_pairs p ON p.id = c.pair_id \
         WHERE p.account_id = $1 AND p.enterprise_id = $2 AND p.status = 'valid' \
         AND c.status = 'valid' AND c.not_before <= $3 AND $3 < c.not_after",
        &params![account_id, enterprise_id, now],
    )?;
    let certificate_valid = member && valid.map(|r| r.i64(0)).transpose()?.unwrap_or(0) > 0;
    Ok(GrantCheck {
        granted: grant.is_some(),
        grant_id: grant.as_ref().map(|g| g.id.clone()),
        since: grant.map(|g| g.created_at),
        certificate_valid,
    })
}

/// Granting needs the admin's PIN (ADR 0018).
async fn grant(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path(eid): Path<String>,
    Json(req): Json<GrantRequest>,
) -> Result<Json<Grant>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            let g = create(tx, now, &user.account_id, &ip, &eid, &req)?;
            // Spent last, in the same transaction: without it nothing is kept.
            confirmation.spend(
                tx,
                now,
                &AdminAction::AddGrant {
                    enterprise_id: eid.clone(),
                    account_id: req.account_id.clone(),
                    platform_id: req.platform_id.clone(),
                },
            )?;
            Ok::<_, ServerError>(g)
        })
        .await?;
    Ok(Json(out))
}

async fn list(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Grant>>> {
    let out = st
        .db
        .read(move |tx| list_grants(tx, &user.account_id, &eid, &filter))
        .await?;
    Ok(Json(out))
}

/// Revoking a grant needs the admin's PIN (ADR 0018).
async fn revoke(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path((eid, gid)): Path<(String, String)>,
) -> Result<Json<Grant>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            let g = revoke_grant(tx, now, &user.account_id, &ip, &eid, &gid)?;
            confirmation.spend(
                tx,
                now,
                &AdminAction::RevokeGrant {
                    enterprise_id: eid.clone(),
                    grant_id: gid.clone(),
                },
            )?;
            Ok::<_, ServerError>(g)
        })
        .await?;
    Ok(Json(out))
}

/// Either `account_id` + `enterprise_id` or `serial` (the certificate a signature was made
/// with, as a platform sees it).
#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    platform_id: String,
    account_id: Option<String>,
    enterprise_id: Option<String>,
    serial: Option<String>,
}

/// Whether the caller is logged in as the account the query names.
async fn own_account_asks(
    st: &AppState,
    headers: &HeaderMap,
    account_id: Option<&str>,
    now: i64,
) -> Result<bool> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let (Some(token), Some(account)) = (token, account_id) else {
        return Ok(false);
    };
    let user = st
        .db
        .read(move |tx| crate::auth::lookup_token(tx, &token, now))
        .await?;
    Ok(user.account_id == account)
}

/// How far the platform's clock may be from ours when it signs a check.
const CHECK_SKEW_SECS: i64 = 60;

/// The caller is the platform `platform_id`: its registered Bidkey certificate (chain to our
/// CA, in its validity) verifies the signature over the time and the query, and the time is
/// within a minute of ours. Anyone else, another platform included, is refused.
pub(crate) async fn authenticate_platform(
    st: &AppState,
    headers: &HeaderMap,
    query: &str,
    platform_id: &str,
    now: i64,
) -> Result<()> {
    use bidkey_protocol::platforms::{
        GRANT_CHECK_SIGNATURE_HEADER, GRANT_CHECK_TIME_HEADER, grant_check_message,
    };
    let unauthorized = || ServerError::Api(ErrorCode::Unauthorized);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let time: i64 = header(GRANT_CHECK_TIME_HEADER)
        .and_then(|t| t.parse().ok())
        .ok_or_else(unauthorized)?;
    let signature = header(GRANT_CHECK_SIGNATURE_HEADER)
        .filter(|h| h.len() <= 512)
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(unauthorized)?;
    // abs_diff: a stated time at either end of i64 must not overflow.
    if time.abs_diff(now) > CHECK_SKEW_SECS.unsigned_abs() {
        return Err(unauthorized());
    }
    let pid = platform_id.to_owned();
    let platform = st
        .db
        .read(move |tx| crate::relay::requests::registered_platform(tx, &pid))
        .await?;
    let cert_der = platform.cert_der.ok_or_else(unauthorized)?;
    let message = grant_check_message(time, query);
    let state = st.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        use bidkey_crypto::x509::{Cert, RequiredUsage, verify_chain_without_revocation};
        let cert = Cert::from_der(&cert_der).map_err(|_| unauthorized())?;
        let at = u64::try_from(now).map_err(|_| unauthorized())?;
        let ca = &state.secrets.ca;
        verify_chain_without_revocation(
            &cert,
            std::slice::from_ref(ca.issuing()),
            std::slice::from_ref(ca.root()),
            at,
            // The platform-request EKU: a bidder's signing certificate cannot pass.
            RequiredUsage::PlatformRequest,
        )
        .map_err(|_| unauthorized())?;
        bidkey_crypto::scan::verify_platform_signature(cert.public_key(), &message, &signature)
            .map_err(|_| unauthorized())
    })
    .await
    .map_err(|e| ServerError::Internal(format!("grant check: {e}")))?
}

/// Whether the holder of the enterprise certificate `serial` may use it on `platform_id`.
/// `certificate_valid` speaks of this certificate (valid, its pair valid, in its validity
/// period); an unknown or personal certificate is simply not granted.
pub fn check_grant_by_serial(
    tx: &mut dyn Tx,
    now: i64,
    platform_id: &str,
    serial: &str,
) -> Result<GrantCheck> {
    let serial = serial.trim().to_ascii_uppercase();
    let row = tx.query_opt(
        "SELECT p.account_id, p.enterprise_id, \
         CASE WHEN c.status = 'valid' AND p.status = 'valid' AND c.not_before <= $2 AND $2 < c.not_after \
         THEN 1 ELSE 0 END \
         FROM certificates c JOIN cert_pairs p ON p.id = c.pair_id WHERE c.serial = $1",
        &params![serial.as_str(), now],
    )?;
    let not_granted = GrantCheck {
        granted: false,
        grant_id: None,
        since: None,
        certificate_valid: false,
    };
    let Some(row) = row else {
        return Ok(not_granted);
    };
    let account_id = row.text(0)?;
    let Some(enterprise_id) = row.opt_text(1)? else {
        return Ok(not_granted);
    };
    let this_cert_valid = row.i64(2)? == 1;
    let mut out = check_grant(tx, now, platform_id, &account_id, &enterprise_id)?;
    out.certificate_valid = out.certificate_valid && this_cert_valid;
    Ok(out)
}

async fn check(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<CheckQuery>,
) -> Result<Json<GrantCheck>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let ip2 = ip.clone();
    st.db
        .write(move |tx| ratelimit::hit(tx, &format!("grant-check:{ip2}"), now, 60, 600))
        .await?;
    // A holder's phone may ask about its own account (before it uses an enterprise key on
    // a platform); everyone else must be the platform named.
    let own = own_account_asks(&st, &headers, q.account_id.as_deref(), now).await?;
    if !own {
        authenticate_platform(
            &st,
            &headers,
            raw.as_deref().unwrap_or_default(),
            &q.platform_id,
            now,
        )
        .await?;
    }
    if q.serial
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(ErrorCode::BadRequest.into());
    }
    let out = st
        .db
        .write(
            move |tx| match (&q.serial, &q.account_id, &q.enterprise_id) {
                (Some(serial), None, None) => {
                    check_grant_by_serial(tx, now, &q.platform_id, serial)
                }
                (None, Some(account), Some(enterprise)) => {
                    check_grant(tx, now, &q.platform_id, account, enterprise)
                }
                _ => Err(ErrorCode::BadRequest.into()),
            },
        )
        .await?;
    Ok(Json(out))
}

//! 对公打款认证: the applicant gives the last six digits of the corporate account; the
//! server assigns an exact small amount (1..=99 fen, unique among live requests for the
//! same account tail, which a partial unique index enforces), a reference for the remark
//! (附言) and a 48-hour window. When a bank statement line with the same account tail and
//! amount (and reference, when the line has one) arrives within the window
//! ([`crate::bank`]), the applicant becomes the admin, or staff when an admin exists.
//!
//! Requests expire lazily: on every new request, status poll and statement import.

use super::{check_name, find_or_register, ip_of, normalize_uscc, wire_role};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::{DbError, Row, Tx};
use crate::error::{Result, ServerError};
use crate::idempotency;
use crate::memberships;
use crate::params;
use crate::ratelimit;
use crate::state::AppState;
use crate::util::new_id;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::{Micropayment, MicropaymentRequest, MicropaymentStatus};
use std::net::SocketAddr;

/// How long a request waits for its transfer.
pub const TTL: i64 = 48 * 3600;
/// The account to transfer to (the sandbox's; a deployment sets its own here).
pub const PAYEE_NAME: &str = "Bidkey 标证通对公账户（沙箱）";
pub const PAYEE_ACCOUNT: &str = "6222000000000000888";
/// Requests per account and day.
const MAX_PER_DAY: i64 = 10;
const REFERENCE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

const COLUMNS: &str = "m.id, m.account_id, m.enterprise_id, e.name, m.account_last6, m.amount_fen, \
     m.reference, m.status, m.created_at, m.expires_at, m.matched_at";

/// A request row with its owner.
pub(crate) struct Request {
    pub owner: String,
    pub wire: Micropayment,
}

fn from_row(r: &Row) -> Result<Request> {
    let status = match r.text(7)?.as_str() {
        "pending" => MicropaymentStatus::Pending,
        "matched" => MicropaymentStatus::Matched,
        "expired" => MicropaymentStatus::Expired,
        other => {
            return Err(ServerError::Internal(format!(
                "micropayment status {other}"
            )));
        }
    };
    Ok(Request {
        owner: r.text(1)?,
        wire: Micropayment {
            id: r.text(0)?,
            enterprise_id: r.text(2)?,
            enterprise_name: r.text(3)?,
            account_last6: r.text(4)?,
            amount_fen: r.i64(5)?,
            reference: r.text(6)?,
            payee_name: PAYEE_NAME.to_owned(),
            payee_account: PAYEE_ACCOUNT.to_owned(),
            status,
            role: None,
            created_at: r.i64(8)?,
            expires_at: r.i64(9)?,
            matched_at: r.opt_i64(10)?,
        },
    })
}

/// Load a request, with the role its match granted.
pub(crate) fn load(tx: &mut dyn Tx, id: &str) -> Result<Request> {
    let sql = format!(
        "SELECT {COLUMNS} FROM micropayments m JOIN enterprises e ON e.id = m.enterprise_id WHERE m.id = $1"
    );
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let mut row = from_row(&r)?;
    if row.wire.status == MicropaymentStatus::Matched {
        row.wire.role =
            memberships::role_of(tx, &row.wire.enterprise_id, &row.owner)?.map(wire_role);
    }
    Ok(row)
}

/// Expire every pending request whose window has closed.
pub fn expire_stale(tx: &mut dyn Tx, now: i64) -> Result<u64> {
    Ok(tx.execute(
        "UPDATE micropayments SET status = 'expired' WHERE status = 'pending' AND expires_at <= $1",
        &params![now],
    )?)
}

fn random_u32() -> Result<u32> {
    Ok(u32::from_le_bytes(bidkey_crypto::rng::bytes::<4>()?))
}

fn new_reference() -> Result<String> {
    let bytes = bidkey_crypto::rng::bytes::<8>()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(REFERENCE_ALPHABET[usize::from(*b) % REFERENCE_ALPHABET.len()]))
        .collect())
}

/// Six ASCII digits.
pub fn check_last6(s: &str) -> Result<String> {
    let t = s.trim();
    if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) {
        Ok(t.to_owned())
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

/// Create a request (see the module documentation). A newer request of the same account
/// for the same enterprise replaces a pending older one.
pub fn create(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    ip: &str,
    req: &MicropaymentRequest,
) -> Result<Micropayment> {
    if let Some(prev) =
        idempotency::lookup::<Micropayment>(tx, "micropay", account_id, &req.idempotency_key)?
    {
        return Ok(load(tx, &prev.id)?.wire);
    }
    super::require_realname(tx, account_id)?;
    let uscc = normalize_uscc(&req.uscc)?;
    let name = check_name(&req.name)?;
    let last6 = check_last6(&req.account_last6)?;
    ratelimit::hit(
        tx,
        &format!("micropay:{account_id}"),
        now,
        86_400,
        MAX_PER_DAY,
    )?;
    let e = find_or_register(tx, now, &uscc, &name)?;
    if memberships::role_of(tx, &e.id, account_id)?.is_some() {
        return Err(ErrorCode::AlreadyMember.into());
    }
    expire_stale(tx, now)?;
    tx.execute(
        "UPDATE micropayments SET status = 'expired' WHERE status = 'pending' AND account_id = $1 AND enterprise_id = $2",
        &params![account_id, e.id.as_str()],
    )?;
    let used: Vec<i64> = tx
        .query(
            "SELECT amount_fen FROM micropayments WHERE account_last6 = $1 AND status = 'pending'",
            &params![last6.as_str()],
        )?
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<_, DbError>>()?;
    let free: Vec<i64> = (1..=99).filter(|a| !used.contains(a)).collect();
    if free.is_empty() {
        return Err(ServerError::RateLimited { retry_after: 3600 });
    }
    let amount = free[random_u32()? as usize % free.len()];
    let id = new_id()?;
    let r = tx.execute(
        "INSERT INTO micropayments (id, account_id, enterprise_id, account_last6, amount_fen, reference, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
        &params![
            id.as_str(),
            account_id,
            e.id.as_str(),
            last6.as_str(),
            amount,
            new_reference()?,
            now,
            now + TTL
        ],
    );
    match r {
        Ok(_) => {}
        // A concurrent request took the same amount; the client retries.
        Err(DbError::Conflict(_)) => return Err(ErrorCode::Conflict.into()),
        Err(e) => return Err(e.into()),
    }
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "micropayment.requested",
            target: Some(&id),
            ip: Some(ip),
            detail: Some(e.id.clone()),
        },
    )?;
    let out = load(tx, &id)?.wire;
    idempotency::store(tx, now, "micropay", account_id, &req.idempotency_key, &out)?;
    Ok(out)
}

/// The caller's request, expiring it first if its window has closed. An expired request is
/// answered with `micropayment_expired`.
pub fn poll(tx: &mut dyn Tx, now: i64, account_id: &str, id: &str) -> Result<Micropayment> {
    let row = load(tx, id)?;
    if row.owner != account_id {
        return Err(ErrorCode::NotFound.into());
    }
    if row.wire.status == MicropaymentStatus::Pending && row.wire.expires_at <= now {
        expire_stale(tx, now)?;
        return Ok(Micropayment {
            status: MicropaymentStatus::Expired,
            ..row.wire
        });
    }
    Ok(row.wire)
}

pub async fn request(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Json(req): Json<MicropaymentRequest>,
) -> Result<Json<Micropayment>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| create(tx, now, &user.account_id, &ip, &req))
        .await?;
    Ok(Json(out))
}

pub async fn status(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Micropayment>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| poll(tx, now, &user.account_id, &id))
        .await?;
    if out.status == MicropaymentStatus::Expired {
        return Err(ErrorCode::MicropaymentExpired.into());
    }
    Ok(Json(out))
}

pub async fn list(State(st): State<AppState>, user: AuthUser) -> Result<Json<Vec<Micropayment>>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            expire_stale(tx, now)?;
            let ids = tx.query(
                "SELECT id FROM micropayments WHERE account_id = $1 ORDER BY created_at DESC, id",
                &params![user.account_id.as_str()],
            )?;
            ids.iter()
                .map(|r| Ok(load(tx, &r.text(0)?)?.wire))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(out))
}

//! Sessions (会话): opened when a phone approves a platform's `session` request; inside one
//! the platform sends further requests without a QR code, which wait in the phone's inbox.
//! A session belongs to one account and one platform and ends when the phone ends it or at
//! its expiry.

use crate::audit::{self, Event};
use crate::db::{DbError, Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::{
    InboxItem, MAX_SESSION_SECS, ScanSession, SessionGrant, SignedScanRequest, is_request_id,
};

/// A session row.
#[derive(Debug, Clone)]
pub struct Live {
    pub account_id: String,
    pub platform_id: String,
}

/// A session that has neither ended nor expired.
pub fn live(tx: &mut dyn Tx, sid: &str, now: i64) -> Result<Live> {
    let r = tx
        .query_opt(
            "SELECT account_id, platform_id FROM scan_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2",
            &params![sid, now],
        )?
        .ok_or(ServerError::Api(ErrorCode::SessionNotFound))?;
    Ok(Live {
        account_id: r.text(0)?,
        platform_id: r.text(1)?,
    })
}

/// Who holds a session, live or not.
pub fn owner(tx: &mut dyn Tx, sid: &str) -> Result<String> {
    let r = tx
        .query_opt(
            "SELECT account_id FROM scan_sessions WHERE id = $1",
            &params![sid],
        )?
        .ok_or(ServerError::Api(ErrorCode::SessionNotFound))?;
    Ok(r.text(0)?)
}

/// Open the session the phone granted: its id is the phone's (32 hex, unused), its life no
/// longer than the phone asked, the request's `ttl_secs` or [`MAX_SESSION_SECS`];
/// auto-confirm only where the platform allowed it.
#[allow(clippy::too_many_arguments)]
pub fn open(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    platform_id: &str,
    request_id: &str,
    grant: &SessionGrant,
    ttl_secs: u64,
    auto_confirm_allowed: bool,
) -> Result<()> {
    if !is_request_id(&grant.session_id) {
        return Err(ErrorCode::BadRequest.into());
    }
    let cap = i64::try_from(ttl_secs.min(MAX_SESSION_SECS)).unwrap_or(0);
    let expires_at = grant.expires_at.min(now + cap);
    if expires_at <= now {
        return Err(ErrorCode::BadRequest.into());
    }
    let auto = grant.auto_confirm && auto_confirm_allowed;
    let r = tx.execute(
        "INSERT INTO scan_sessions (id, account_id, platform_id, request_id, created_at, expires_at, auto_confirm) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![grant.session_id.as_str(), account_id, platform_id, request_id, now, expires_at, auto],
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
            actor: account_id,
            action: "scan.session_opened",
            target: Some(&grant.session_id),
            detail: Some(platform_id.to_owned()),
            ..Default::default()
        },
    )
}

const COLUMNS: &str =
    "s.id, s.platform_id, p.name, p.origin, s.created_at, s.expires_at, s.auto_confirm, s.ended_at";

fn from_row(r: &Row) -> Result<ScanSession> {
    Ok(ScanSession {
        session_id: r.text(0)?,
        platform_id: r.text(1)?,
        platform_name: r.text(2)?,
        origin: r.text(3)?,
        created_at: r.i64(4)?,
        expires_at: r.i64(5)?,
        auto_confirm: r.bool(6)?,
        ended_at: r.opt_i64(7)?,
    })
}

/// The account's sessions, newest first.
pub fn list(tx: &mut dyn Tx, account_id: &str) -> Result<Vec<ScanSession>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM scan_sessions s JOIN platforms p ON p.id = s.platform_id WHERE s.account_id = $1 ORDER BY s.created_at DESC, s.id"
    );
    tx.query(&sql, &params![account_id])?
        .iter()
        .map(from_row)
        .collect()
}

/// End one of the account's sessions; ending it again returns it unchanged.
pub fn end(tx: &mut dyn Tx, now: i64, account_id: &str, sid: &str) -> Result<ScanSession> {
    let sql = format!(
        "SELECT {COLUMNS} FROM scan_sessions s JOIN platforms p ON p.id = s.platform_id WHERE s.id = $1 AND s.account_id = $2"
    );
    let r = tx
        .query_opt(&sql, &params![sid, account_id])?
        .ok_or(ServerError::Api(ErrorCode::SessionNotFound))?;
    let mut s = from_row(&r)?;
    if s.ended_at.is_none() {
        tx.execute(
            "UPDATE scan_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
            &params![now, sid],
        )?;
        s.ended_at = Some(now);
        audit::record(
            tx,
            now,
            Event {
                actor: account_id,
                action: "scan.session_ended",
                target: Some(sid),
                ..Default::default()
            },
        )?;
    }
    Ok(s)
}

/// Unanswered, unexpired requests in the account's live sessions, oldest first.
pub fn inbox(tx: &mut dyn Tx, now: i64, account_id: &str) -> Result<Vec<InboxItem>> {
    let rows = tx.query(
        "SELECT r.id, r.session_id, r.request FROM scan_requests r JOIN scan_sessions s ON s.id = r.session_id \
         WHERE s.account_id = $1 AND s.ended_at IS NULL AND s.expires_at > $2 \
         AND r.status <> 'answered' AND r.expires_at > $2 ORDER BY r.created_at, r.id",
        &params![account_id, now],
    )?;
    rows.iter()
        .map(|r| {
            let request: SignedScanRequest = serde_json::from_str(&r.text(2)?)
                .map_err(|e| ServerError::Internal(format!("stored request: {e}")))?;
            Ok(InboxItem {
                request_id: r.text(0)?,
                session_id: r.text(1)?,
                request,
            })
        })
        .collect()
}

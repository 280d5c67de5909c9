//! Scan requests at the relay: the checks a platform's signed request must pass before it
//! is stored, the phone's fetch (rotating code, freshness, claim) and reply, and the
//! platform's view of the result. Plain synchronous functions over one transaction, except
//! the certificate and signature checks, which need no database.

use crate::audit::{self, Event};
use crate::ca::keys::CaKeys;
use crate::db::{DbError, Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use crate::relay::sessions;
use bidkey_crypto::scan::{check_rotating_code, verify_platform_signature};
use bidkey_crypto::x509::{Cert, RequiredUsage, verify_chain_without_revocation};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::{
    MAX_TTL_SECS, NewRelayRequest, QR_MAX_AGE_SECS, QR_MAX_EARLY_SECS, RelayCreated, RelayResult,
    RelayStatus, ReplyOutcome, ReplyUpload, SCAN_VERSION, ScanAction, ScanKind, ScanRequestBody,
    SealedReply, SignedScanRequest, is_request_id, request_message,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// QR and poll secrets are 32 random bytes.
const SECRET_LEN: usize = 32;
const MAX_WEBHOOK_URL: usize = 500;
const MAX_BODY: usize = bidkey_protocol::scan::MAX_REQUEST_BODY;
const MAX_SEALED: usize = bidkey_protocol::scan::MAX_SEALED_REPLY;
/// How far ahead of ours a platform's clock may be when it dates a request.
const CLOCK_SKEW_SECS: i64 = 60;
/// How long a request is kept after it was made.
const RETAIN_SECS: i64 = 24 * 3600;

/// `hex(SM3(poll secret))`: what the relay keeps instead of the secret.
pub fn poll_hash(secret: &[u8]) -> String {
    hex::encode(bidkey_crypto::sm3::sm3(secret))
}

/// Where a new request may go: with a QR code, or inside session `sid`.
#[derive(Debug, Clone, Copy)]
pub enum Channel<'a> {
    Qr,
    Session(&'a str),
}

/// Check everything about a new request that needs neither the database nor the CA: sizes,
/// the body's form, version, times and the action's limits. Returns the parsed body.
pub fn check_form(
    new: &NewRelayRequest,
    channel: Channel<'_>,
    now: i64,
    private_webhooks: bool,
) -> Result<ScanRequestBody> {
    let bad = || ServerError::Api(ErrorCode::BadRequest);
    if new.poll_secret.len() != SECRET_LEN || new.request.body.len() > MAX_BODY {
        return Err(bad());
    }
    match (channel, &new.qr_secret) {
        (Channel::Qr, Some(s)) if s.len() == SECRET_LEN => {}
        (Channel::Session(_), None) => {}
        _ => return Err(bad()),
    }
    let body: ScanRequestBody = serde_json::from_slice(&new.request.body).map_err(|_| bad())?;
    // The webhook is the one the platform signed: an unsigned or different outer URL is
    // refused rather than trusted.
    if new.webhook_url.is_some() && new.webhook_url != body.webhook_url {
        return Err(bad());
    }
    if let Some(url) = &body.webhook_url {
        check_webhook_url(url, private_webhooks)?;
    }
    if body.v != SCAN_VERSION || !is_request_id(&body.request_id) {
        return Err(bad());
    }
    if body.nonce.len() != 32 || body.reply_key.public_key.len() != 65 {
        return Err(bad());
    }
    match (channel, body.session_id.as_deref()) {
        (Channel::Qr, None) => {}
        (Channel::Session(sid), Some(s)) if s == sid => {
            if body.action.kind() == ScanKind::Session {
                return Err(bad());
            }
        }
        _ => return Err(bad()),
    }
    if body.created_at > now + CLOCK_SKEW_SECS
        || body.expires_at <= body.created_at
        || body.expires_at - body.created_at > MAX_TTL_SECS
    {
        return Err(bad());
    }
    if body.expires_at <= now {
        return Err(ErrorCode::ScanExpired.into());
    }
    check_action(&body.action)?;
    Ok(body)
}

/// `https://` to a public host, with no spaces, control characters or user info: the
/// platform's own endpoint, never a loopback or private address the relay could be made to
/// call inside its own network. `private` (development only) also allows `http://` and such
/// hosts. Host names are judged by their form; one that resolves to a private address is
/// not caught here (the deployment's egress rules must hold that line).
fn check_webhook_url(url: &str, private: bool) -> Result<()> {
    let bad = || ServerError::Api(ErrorCode::BadRequest);
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => r,
        (None, Some(r)) if private => r,
        _ => return Err(bad()),
    };
    if url.len() > MAX_WEBHOOK_URL || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(bad());
    }
    if !private && !public_host(host) {
        return Err(bad());
    }
    Ok(())
}

/// Whether `host` (a name or an IP literal) may be called from the relay in production.
fn public_host(host: &str) -> bool {
    use std::net::IpAddr;
    let lower = host.to_ascii_lowercase();
    let name = lower.trim_end_matches('.');
    if let Ok(ip) = name.parse::<IpAddr>() {
        return public_ip(ip);
    }
    // A name whose last label starts with a digit (`2130706433`, `0x7f.1`, `127.1`) is an
    // address some resolvers accept, never a public name (top-level domains are letters);
    // local names are refused too.
    let numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().next().is_some_and(|b| b.is_ascii_digit()));
    !(numeric
        || !name.contains('.')
        || name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
        || name.ends_with(".internal"))
}

fn public_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The same limits the phone applies (`ScanAction::within_limits`, ADR 0016).
fn check_action(action: &ScanAction) -> Result<()> {
    if action.within_limits() {
        Ok(())
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

/// The registered platform as the relay knows it.
#[derive(Debug, Clone)]
pub struct RegisteredPlatform {
    pub origin: String,
    pub cert_der: Option<Vec<u8>>,
}

pub fn registered_platform(tx: &mut dyn Tx, id: &str) -> Result<RegisteredPlatform> {
    let r = tx
        .query_opt(
            "SELECT origin, cert_der FROM platforms WHERE id = $1",
            &params![id],
        )?
        .ok_or(ServerError::Api(ErrorCode::PlatformNotFound))?;
    Ok(RegisteredPlatform {
        origin: r.text(0)?,
        cert_der: r.opt_bytes(1)?,
    })
}

/// Platform certificates whose chain to our CA has been verified in this process, by SM3
/// fingerprint, with the window in which the whole chain is valid: a platform posts every
/// request with the same certificate, and its chain need not be verified again each time.
#[derive(Debug, Clone, Default)]
pub struct VerifiedChains(Arc<Mutex<HashMap<[u8; 32], Window>>>);

/// Seconds from, until (inclusive) in which a verified chain is valid.
type Window = (u64, u64);

/// Certificates remembered at most; a platform renews its certificate yearly.
const MAX_VERIFIED_CHAINS: usize = 4096;

impl VerifiedChains {
    /// Whether `cert`'s chain was verified and is valid at `at`.
    fn holds(&self, fingerprint: &[u8; 32], at: u64) -> bool {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(fingerprint)
            .is_some_and(|(from, until)| (*from..=*until).contains(&at))
    }

    fn remember(&self, fingerprint: [u8; 32], window: Window) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_VERIFIED_CHAINS {
            known.clear();
        }
        known.insert(fingerprint, window);
    }
}

/// The platform's certificate is the one our CA issued to it and valid now, it names the
/// registered origin, and the request's signature verifies with its key.
pub fn check_platform(
    ca: &CaKeys,
    verified: &VerifiedChains,
    platform: &RegisteredPlatform,
    body: &ScanRequestBody,
    signed: &SignedScanRequest,
    now: i64,
) -> Result<()> {
    let invalid = || ServerError::Api(ErrorCode::PlatformCertificateInvalid);
    let issued = platform.cert_der.as_deref().ok_or_else(invalid)?;
    if !bool::from(issued.ct_eq(&signed.platform_cert)) {
        return Err(invalid());
    }
    let cert = Cert::from_der(&signed.platform_cert).map_err(|_| invalid())?;
    let at = u64::try_from(now).map_err(|_| invalid())?;
    let fingerprint = cert.fingerprint_sm3();
    if !verified.holds(&fingerprint, at) {
        let (issuing, root) = (ca.issuing(), ca.root());
        verify_chain_without_revocation(
            &cert,
            std::slice::from_ref(issuing),
            std::slice::from_ref(root),
            at,
            RequiredUsage::PlatformRequest,
        )
        .map_err(|_| invalid())?;
        let from = [&cert, issuing, root]
            .map(Cert::not_before)
            .into_iter()
            .max();
        let until = [&cert, issuing, root]
            .map(Cert::not_after)
            .into_iter()
            .min();
        if let (Some(from), Some(until)) = (from, until) {
            verified.remember(fingerprint, (from, until));
        }
    }
    let cn = cert.subject_common_name().map_err(|_| invalid())?;
    if cn.as_deref() != Some(body.origin.as_str()) || body.origin != platform.origin {
        return Err(ErrorCode::ScanForeignOrigin.into());
    }
    verify_platform_signature(
        cert.public_key(),
        &request_message(&signed.body),
        &signed.signature,
    )
    .map_err(|_| ServerError::Api(ErrorCode::ScanSignatureInvalid))
}

/// Store a checked request. For a session request the session must be live and the
/// platform's own.
pub fn insert(
    tx: &mut dyn Tx,
    now: i64,
    body: &ScanRequestBody,
    new: &NewRelayRequest,
) -> Result<RelayCreated> {
    if let Some(sid) = &body.session_id {
        let s = sessions::live(tx, sid, now)?;
        if s.platform_id != body.platform_id {
            return Err(ErrorCode::SessionNotFound.into());
        }
    }
    let request = serde_json::to_string(&new.request)
        .map_err(|e| ServerError::Internal(format!("request json: {e}")))?;
    let r = tx.execute(
        "INSERT INTO scan_requests (id, platform_id, kind, session_id, request, qr_secret, poll_hash, webhook_url, created_at, expires_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')",
        &params![
            body.request_id.as_str(),
            body.platform_id.as_str(),
            body.action.kind().as_str(),
            body.session_id.as_deref(),
            request,
            new.qr_secret.clone(),
            poll_hash(&new.poll_secret),
            new.webhook_url.as_deref(),
            now,
            body.expires_at,
        ],
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
            actor: &body.platform_id,
            action: "scan.requested",
            target: Some(&body.request_id),
            detail: Some(body.action.kind().as_str().to_owned()),
            ..Default::default()
        },
    )?;
    Ok(RelayCreated {
        request_id: body.request_id.clone(),
        created_at: now,
        expires_at: body.expires_at,
    })
}

/// When each platform's old requests were last deleted by this process.
#[derive(Debug, Clone, Default)]
pub struct Sweeps(Arc<Mutex<HashMap<String, i64>>>);

/// A platform's old requests are deleted at most this often (seconds).
const SWEEP_EVERY: i64 = 60;

impl Sweeps {
    /// Whether `platform_id` is due a sweep at `now`; if so, it counts as swept.
    fn due(&self, platform_id: &str, now: i64) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match last.get(platform_id) {
            Some(t) if now - t < SWEEP_EVERY => false,
            _ => {
                last.insert(platform_id.to_owned(), now);
                true
            }
        }
    }
}

/// Keep a day of a platform's requests (for its late polls and for support); older ones are
/// long expired and go. Done after a new request at most once a minute per platform, in a
/// transaction of its own: a range delete inside every insert made a platform's concurrent
/// requests conflict on PostgreSQL. A failure only postpones the cleanup.
pub async fn forget_old(db: &crate::db::Db, sweeps: &Sweeps, platform_id: String, now: i64) {
    if !sweeps.due(&platform_id, now) {
        return;
    }
    let done = db
        .write(move |tx| {
            tx.execute(
                "DELETE FROM scan_requests WHERE platform_id = $1 AND created_at < $2",
                &params![platform_id.as_str(), now - RETAIN_SECS],
            )
        })
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "relay: old requests not deleted this time");
    }
}

/// A stored request.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub platform_id: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub request: String,
    pub qr_secret: Option<Vec<u8>>,
    pub poll_hash: String,
    pub webhook_url: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub status: String,
    pub outcome: Option<String>,
    pub claimed_by: Option<String>,
    pub sealed: Option<String>,
}

const COLUMNS: &str = "id, platform_id, kind, session_id, request, qr_secret, poll_hash, \
     webhook_url, created_at, expires_at, status, outcome, claimed_by, sealed";

fn from_row(r: &Row) -> Result<Stored> {
    Ok(Stored {
        id: r.text(0)?,
        platform_id: r.text(1)?,
        kind: r.text(2)?,
        session_id: r.opt_text(3)?,
        request: r.text(4)?,
        qr_secret: r.opt_bytes(5)?,
        poll_hash: r.text(6)?,
        webhook_url: r.opt_text(7)?,
        created_at: r.i64(8)?,
        expires_at: r.i64(9)?,
        status: r.text(10)?,
        outcome: r.opt_text(11)?,
        claimed_by: r.opt_text(12)?,
        sealed: r.opt_text(13)?,
    })
}

pub fn load(tx: &mut dyn Tx, id: &str) -> Result<Stored> {
    if !is_request_id(id) {
        return Err(ErrorCode::ScanNotFound.into());
    }
    let sql = format!("SELECT {COLUMNS} FROM scan_requests WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::ScanNotFound))?;
    from_row(&r)
}

fn signed_request(s: &Stored) -> Result<SignedScanRequest> {
    serde_json::from_str(&s.request)
        .map_err(|e| ServerError::Internal(format!("stored request: {e}")))
}

/// A QR frame as the phone read it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub t: u64,
    pub code: String,
}

/// Whether frame second `t` may be shown `elapsed` seconds after the request was created.
pub fn frame_is_fresh(elapsed: i64, t: u64) -> bool {
    let t = i128::from(t);
    let elapsed = i128::from(elapsed);
    elapsed - i128::from(QR_MAX_AGE_SECS) <= t && t <= elapsed + i128::from(QR_MAX_EARLY_SECS)
}

/// The phone fetches a request. With a QR frame: the code must be right for its `t`, the
/// first fetch claims the request and needs a fresh frame; the claimer may fetch again
/// (resuming after a crash) until it answers. Without a frame: a session request, for the
/// session's owner. Returns the request and its kind.
pub fn fetch(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    id: &str,
    frame: Option<&Frame>,
) -> Result<(SignedScanRequest, String)> {
    let s = load(tx, id)?;
    if s.status == "answered" {
        return Err(if s.claimed_by.as_deref() == Some(account_id) {
            ErrorCode::ScanAnswered.into()
        } else {
            ErrorCode::ScanUsed.into()
        });
    }
    if now >= s.expires_at {
        return Err(ErrorCode::ScanExpired.into());
    }
    let Some(secret) = &s.qr_secret else {
        // A session request: no QR code; only the session's owner sees it.
        let sid = s
            .session_id
            .as_deref()
            .ok_or(ServerError::Api(ErrorCode::ScanNotFound))?;
        let session =
            sessions::live(tx, sid, now).map_err(|_| ServerError::Api(ErrorCode::ScanNotFound))?;
        if frame.is_some() || session.account_id != account_id {
            return Err(ErrorCode::ScanNotFound.into());
        }
        return Ok((signed_request(&s)?, s.kind.clone()));
    };
    let frame = frame.ok_or(ServerError::Api(ErrorCode::BadRequest))?;
    if !check_rotating_code(secret, frame.t, &frame.code) {
        return Err(ErrorCode::ScanNotFound.into());
    }
    match s.claimed_by.as_deref() {
        Some(who) if who == account_id => return Ok((signed_request(&s)?, s.kind.clone())),
        Some(_) => return Err(ErrorCode::ScanUsed.into()),
        None => {}
    }
    if !frame_is_fresh(now - s.created_at, frame.t) {
        return Err(ErrorCode::ScanCodeStale.into());
    }
    let n = tx.execute(
        "UPDATE scan_requests SET status = 'scanned', claimed_by = $1, claimed_at = $2 WHERE id = $3 AND status = 'pending' AND claimed_by IS NULL",
        &params![account_id, now, id],
    )?;
    if n != 1 {
        return Err(ErrorCode::ScanUsed.into());
    }
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "scan.claimed",
            target: Some(id),
            ..Default::default()
        },
    )?;
    Ok((signed_request(&s)?, s.kind.clone()))
}

/// What a stored reply changed, for the handler to announce after the commit.
#[derive(Debug, Clone)]
pub struct Answered {
    pub result: RelayResult,
    pub webhook_url: Option<String>,
    /// The account whose inbox changed (a session request was answered).
    pub inbox_account: Option<String>,
}

fn check_sealed(s: &SealedReply) -> Result<()> {
    let ok = matches!(s.ephemeral.len(), 65)
        && s.nonce.len() == 12
        && !s.ciphertext.is_empty()
        && s.ciphertext.len() <= MAX_SEALED;
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

fn outcome_str(o: ReplyOutcome) -> &'static str {
    match o {
        ReplyOutcome::Approved => "approved",
        ReplyOutcome::Rejected => "rejected",
    }
}

fn outcome_of(s: &str) -> Option<ReplyOutcome> {
    match s {
        "approved" => Some(ReplyOutcome::Approved),
        "rejected" => Some(ReplyOutcome::Rejected),
        _ => None,
    }
}

/// The phone answers, once. For a QR request only the claimer may; for a session request
/// the session's owner. An approved `session` request with a grant opens the session.
pub fn reply(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    id: &str,
    up: &ReplyUpload,
) -> Result<Answered> {
    check_sealed(&up.sealed)?;
    let s = load(tx, id)?;
    let mut inbox_account = None;
    match (&s.qr_secret, s.claimed_by.as_deref()) {
        (Some(_), Some(who)) if who == account_id => {}
        (Some(_), Some(_)) => return Err(ErrorCode::ScanUsed.into()),
        (Some(_), None) => return Err(ErrorCode::ScanNotFound.into()),
        (None, _) => {
            let sid = s
                .session_id
                .as_deref()
                .ok_or(ServerError::Api(ErrorCode::ScanNotFound))?;
            let owner = sessions::owner(tx, sid)?;
            if owner != account_id {
                return Err(ErrorCode::ScanNotFound.into());
            }
            inbox_account = Some(owner);
        }
    }
    if s.status == "answered" {
        return Err(ErrorCode::ScanAnswered.into());
    }
    if now >= s.expires_at {
        return Err(ErrorCode::ScanExpired.into());
    }
    if s.qr_secret.is_none() {
        // Ended or expired sessions take no more answers.
        let sid = s.session_id.as_deref().unwrap_or_default();
        sessions::live(tx, sid, now)?;
    }
    let request = signed_request(&s)?;
    let body: ScanRequestBody = serde_json::from_slice(&request.body)
        .map_err(|e| ServerError::Internal(format!("stored body: {e}")))?;
    match (&body.action, up.outcome, &up.session) {
        (
            ScanAction::Session {
                ttl_secs,
                auto_confirm_allowed,
                ..
            },
            ReplyOutcome::Approved,
            Some(grant),
        ) => {
            sessions::open(
                tx,
                now,
                account_id,
                &s.platform_id,
                &s.id,
                grant,
                *ttl_secs,
                *auto_confirm_allowed,
            )?;
        }
        (ScanAction::Session { .. }, ReplyOutcome::Approved, None) => {
            return Err(ErrorCode::BadRequest.into());
        }
        (_, _, Some(_)) => return Err(ErrorCode::BadRequest.into()),
        (_, _, None) => {}
    }
    let sealed = serde_json::to_string(&up.sealed)
        .map_err(|e| ServerError::Internal(format!("sealed json: {e}")))?;
    let n = tx.execute(
        "UPDATE scan_requests SET status = 'answered', outcome = $1, sealed = $2, answered_at = $3, claimed_by = $4, claimed_at = COALESCE(claimed_at, $3) \
         WHERE id = $5 AND status <> 'answered'",
        &params![outcome_str(up.outcome), sealed, now, account_id, id],
    )?;
    if n != 1 {
        return Err(ErrorCode::ScanAnswered.into());
    }
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "scan.answered",
            target: Some(id),
            detail: Some(format!("{} {}", s.kind, outcome_str(up.outcome))),
            ..Default::default()
        },
    )?;
    Ok(Answered {
        result: RelayResult {
            request_id: s.id.clone(),
            status: RelayStatus::Answered,
            outcome: Some(up.outcome),
            sealed: Some(up.sealed.clone()),
            expires_at: s.expires_at,
        },
        webhook_url: s.webhook_url.clone(),
        inbox_account,
    })
}

/// Where a request stands, for the platform holding its poll secret.
pub fn result(tx: &mut dyn Tx, now: i64, id: &str, poll_secret: &[u8]) -> Result<RelayResult> {
    let s = load(tx, id)?;
    let given = poll_hash(poll_secret);
    if !bool::from(given.as_bytes().ct_eq(s.poll_hash.as_bytes())) {
        return Err(ErrorCode::Forbidden.into());
    }
    view(&s, now)
}

fn view(s: &Stored, now: i64) -> Result<RelayResult> {
    let status = match s.status.as_str() {
        "answered" => RelayStatus::Answered,
        _ if now >= s.expires_at => RelayStatus::Expired,
        "scanned" => RelayStatus::Scanned,
        _ => RelayStatus::Pending,
    };
    let sealed = match (&s.sealed, status) {
        (Some(j), RelayStatus::Answered) => Some(
            serde_json::from_str(j)
                .map_err(|e| ServerError::Internal(format!("stored reply: {e}")))?,
        ),
        _ => None,
    };
    Ok(RelayResult {
        request_id: s.id.clone(),
        status,
        outcome: s.outcome.as_deref().and_then(outcome_of),
        sealed,
        expires_at: s.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_chain_holds_only_inside_its_window() {
        let v = VerifiedChains::default();
        let fp = [7u8; 32];
        assert!(!v.holds(&fp, 100));
        v.remember(fp, (100, 200));
        assert!(v.holds(&fp, 100) && v.holds(&fp, 200));
        assert!(!v.holds(&fp, 99), "not yet valid");
        assert!(!v.holds(&fp, 201), "expired");
        assert!(!v.holds(&[8u8; 32], 150), "another certificate");
    }

    #[test]
    fn each_platform_is_swept_at_most_once_a_minute() {
        let s = Sweeps::default();
        assert!(s.due("p1", 1_000));
        assert!(!s.due("p1", 1_059));
        assert!(s.due("p2", 1_059), "platforms are swept apart");
        assert!(s.due("p1", 1_060));
    }

    #[test]
    fn frames_have_a_ten_second_window() {
        assert!(frame_is_fresh(0, 0));
        assert!(frame_is_fresh(0, 2));
        assert!(!frame_is_fresh(0, 3));
        assert!(frame_is_fresh(15, 5));
        assert!(!frame_is_fresh(15, 4));
        assert!(frame_is_fresh(15, 17));
        assert!(!frame_is_fresh(15, 18));
        assert!(!frame_is_fresh(15, u64::MAX));
    }

    #[test]
    fn webhook_urls_are_https_to_public_hosts() {
        assert!(check_webhook_url("https://ggzy.example/hook", false).is_ok());
        assert!(check_webhook_url("https://ggzy.example:8443/hook?x=1", false).is_ok());
        assert!(check_webhook_url("https://203.0.114.7/hook", false).is_ok());
        for refused in [
            "http://ggzy.example/hook",
            "http://127.0.0.1:9/x",
            "https://127.0.0.1:9/x",
            "https://localhost/x",
            "https://a.localhost/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://intranet/x",
            "https://user@ggzy.example/x",
            "https://evil.example@127.0.0.1/x",
            "ftp://x/",
            "https://",
            "https:///x",
            "https://a b",
        ] {
            assert!(check_webhook_url(refused, false).is_err(), "{refused}");
        }
        // Development: the test's own receiver on loopback over HTTP.
        assert!(check_webhook_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_webhook_url("ftp://x/", true).is_err());
    }
}

//! The scan relay (`docs/scan-protocol.md`): trading platforms post signed requests, phones
//! fetch them by QR code (or from their inbox inside a session) and post sealed replies,
//! platforms long-poll for the result or receive it by webhook. The relay checks who may
//! do what; it cannot read a reply or forge a request.
//!
//! - [`requests`]: checks, fetch and claim, reply, result;
//! - [`sessions`]: sessions and the phone's inbox;
//! - [`notify`]: wake-ups for long polls, and [`feed`]: the same between server processes
//!   on one PostgreSQL (`LISTEN`/`NOTIFY`), with a database re-read as the safety net;
//! - [`webhook`]: delivery of results to the platform.

pub mod feed;
pub mod notify;
pub mod requests;
pub mod sessions;
pub mod webhook;

use crate::auth::{AuthUser, Bearer};
use crate::error::{Outcome, Result, ServerError};
use crate::ratelimit;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::{CosignPurpose, OpenSession};
use bidkey_protocol::scan::{
    FetchedScanRequest, InboxItem, MAX_WAIT_SECS, NewRelayRequest, POLL_HEADER, RelayCreated,
    RelayResult, RelayStatus, ReplyUpload, ScanKind, ScanSession,
};
use notify::{inbox_key, request_key};
use requests::{Channel, Frame};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// Fetches and replies a phone may make per minute.
const PHONE_PER_MINUTE: i64 = 120;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/relay/requests", post(create))
        .route("/v1/relay/requests/{id}", get(fetch))
        .route("/v1/relay/requests/{id}/reply", post(reply))
        .route("/v1/relay/requests/{id}/result", get(result))
        .route("/v1/relay/sessions", get(list_sessions))
        .route("/v1/relay/sessions/{sid}", delete(end_session))
        .route("/v1/relay/sessions/{sid}/requests", post(create_in_session))
        .route("/v1/relay/inbox", get(inbox))
}

/// Check and store a request; the certificate and signature checks run before the write.
async fn accept(
    st: &AppState,
    mut new: NewRelayRequest,
    channel: Channel<'_>,
) -> Result<RelayCreated> {
    let now = st.clock.now();
    let per_minute = st.limits.relay_requests_per_platform_per_minute;
    let body = requests::check_form(&new, channel, now, st.limits.webhooks_to_private_addresses)?;
    // Only the signed URL is used (check_form refused an unsigned or different one).
    new.webhook_url = body.webhook_url.clone();
    // Signature (and first-time chain) checks are elliptic-curve work: off the async workers,
    // in the same job on a database thread as the read of the platform (one hand-off to
    // another thread instead of two; a read holds no lock).
    let state = st.clone();
    let checked = std::sync::Arc::new((body, new));
    let job = checked.clone();
    let session = match channel {
        Channel::Session(sid) => Some(sid.to_owned()),
        Channel::Qr => None,
    };
    let inbox = st
        .db
        .read(move |tx| {
            let (body, new) = &*job;
            let platform = requests::registered_platform(tx, &body.platform_id)?;
            requests::check_platform(
                &state.secrets.ca,
                &state.platform_chains,
                &platform,
                body,
                &new.request,
                now,
            )?;
            // A session request goes to the session's phone: its owner, read here too.
            session
                .as_deref()
                .map(|sid| sessions::owner(tx, sid))
                .transpose()
        })
        .await?;
    // The job's handle may outlive its answer by a moment: then this copies.
    let (body, new) = std::sync::Arc::unwrap_or_clone(checked);
    ratelimit::hit_alone(
        &st.db,
        format!("relay-platform:{}", body.platform_id),
        now,
        60,
        per_minute,
    )
    .await?;
    let pid = body.platform_id.clone();
    let created = st
        .db
        .write(move |tx| requests::insert(tx, now, &body, &new))
        .await?;
    requests::forget_old(&st.db, &st.relay_sweeps, pid, now).await;
    if let Some(account) = inbox {
        st.relay.notify(&inbox_key(&account));
    }
    Ok(created)
}

/// `POST /v1/relay/requests`: a request shown as a QR code.
async fn create(
    State(st): State<AppState>,
    Json(new): Json<NewRelayRequest>,
) -> Result<Json<RelayCreated>> {
    Ok(Json(accept(&st, new, Channel::Qr).await?))
}

/// `POST /v1/relay/sessions/{sid}/requests`: a request inside a live session.
async fn create_in_session(
    State(st): State<AppState>,
    Path(sid): Path<String>,
    Json(new): Json<NewRelayRequest>,
) -> Result<Json<RelayCreated>> {
    Ok(Json(accept(&st, new, Channel::Session(&sid)).await?))
}

#[derive(Debug, Deserialize)]
pub struct FrameQuery {
    t: Option<u64>,
    code: Option<String>,
    /// The phone's encryption key (certificate serial and pair): for a decrypt request the
    /// fetch also opens its co-decryption session (ADR 0031).
    cosign_serial: Option<String>,
    cosign_pair: Option<String>,
}

/// `GET /v1/relay/requests/{id}?t=&code=[&cosign_serial=&cosign_pair=]`: the phone fetches
/// (and claims) a request; for a decrypt request, with the phone's encryption key named, the
/// same transaction opens its co-decryption session (ADR 0031). A session that cannot be
/// opened (key not usable, locked, limited) is left out: the phone then opens one itself and
/// is told why there.
async fn fetch(
    State(st): State<AppState>,
    token: Bearer,
    Path(id): Path<String>,
    Query(q): Query<FrameQuery>,
) -> Result<Json<FetchedScanRequest>> {
    let frame = match (q.t, q.code) {
        (Some(t), Some(code)) => Some(Frame { t, code }),
        (None, None) => None,
        _ => return Err(ErrorCode::BadRequest.into()),
    };
    let open = match (q.cosign_serial, q.cosign_pair) {
        (Some(serial), pair) => Some(OpenSession {
            serial,
            purpose: CosignPurpose::Decrypt,
            pair_id: pair,
            confirm: None,
        }),
        (None, None) => None,
        (None, Some(_)) => return Err(ErrorCode::BadRequest.into()),
    };
    let now = st.clock.now();
    let rid = id.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<FetchedScanRequest> {
            // The token is looked up here rather than in a transaction of its own.
            let user = token.lookup(tx, now)?;
            let account = user.account_id;
            // A refused fetch (wrong code, stale frame) still counts: the hit commits.
            ratelimit::hit(
                tx,
                &format!("relay-phone:{account}"),
                now,
                60,
                PHONE_PER_MINUTE,
            )?;
            let (request, kind) = match requests::fetch(tx, now, &account, &rid, frame.as_ref()) {
                Err(ServerError::Api(code)) => return Ok(Err(code.into())),
                other => other?,
            };
            let cosign_session = match (&open, &user.device_id) {
                (Some(req), Some(device)) if kind == ScanKind::Decrypt.as_str() => {
                    // A refusal leaves the session out; a database error fails the fetch
                    // (and is retried as any other).
                    match crate::cosign::open_in(tx, now, &account, device, req) {
                        Ok(s) => Some(s),
                        Err(ServerError::Api(_) | ServerError::RateLimited { .. }) => None,
                        Err(e) => return Err(e),
                    }
                }
                _ => None,
            };
            Ok(Ok(FetchedScanRequest {
                request,
                cosign_session,
            }))
        })
        .await??;
    st.relay.notify(&request_key(&id));
    Ok(Json(out))
}

/// `POST /v1/relay/requests/{id}/reply`: the phone's sealed answer.
async fn reply(
    State(st): State<AppState>,
    token: Bearer,
    Path(id): Path<String>,
    Json(up): Json<ReplyUpload>,
) -> Result<Json<RelayResult>> {
    let now = st.clock.now();
    let rid = id.clone();
    let answered = st
        .db
        .write(move |tx| {
            // The token is looked up here rather than in a transaction of its own.
            let account = token.lookup(tx, now)?.account_id;
            ratelimit::hit(
                tx,
                &format!("relay-phone:{account}"),
                now,
                60,
                PHONE_PER_MINUTE,
            )?;
            requests::reply(tx, now, &account, &rid, &up)
        })
        .await?;
    st.relay.notify(&request_key(&id));
    if let Some(account) = &answered.inbox_account {
        st.relay.notify(&inbox_key(account));
    }
    if let Some(url) = answered.webhook_url.clone() {
        webhook::spawn(url, answered.result.clone());
    }
    Ok(Json(answered.result))
}

#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    wait: Option<u64>,
}

fn deadline(wait: Option<u64>) -> Instant {
    Instant::now() + Duration::from_secs(wait.unwrap_or(0).min(MAX_WAIT_SECS))
}

/// `GET /v1/relay/requests/{id}/result?wait=N`: the platform long-polls; answers when the
/// status differs from what it was at the start, or at the deadline.
async fn result(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> Result<Json<RelayResult>> {
    let secret = headers
        .get(POLL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v.trim()).ok())
        .ok_or(ServerError::Api(ErrorCode::Unauthorized))?;
    let until = deadline(q.wait);
    let read = |st: AppState, id: String, secret: Vec<u8>| async move {
        let now = st.clock.now();
        st.db
            .read(move |tx| requests::result(tx, now, &id, &secret))
            .await
    };
    let first = read(st.clone(), id.clone(), secret.clone()).await?;
    let start = first.status;
    if matches!(start, RelayStatus::Answered | RelayStatus::Expired) {
        // Nothing more can happen to it.
        return Ok(Json(first));
    }
    // Expiry is a change no one announces: wake up for it.
    let left = u64::try_from(first.expires_at - st.clock.now()).unwrap_or(0);
    let until = until.min(Instant::now() + Duration::from_secs(left + 1));
    let changed = st
        .relay
        .wait_for(&request_key(&id), until, || {
            let (st, id, secret) = (st.clone(), id.clone(), secret.clone());
            async move {
                let r = read(st, id, secret).await?;
                Ok::<_, ServerError>((r.status != start).then_some(r))
            }
        })
        .await?;
    Ok(Json(match changed {
        Some(r) => r,
        None => read(st.clone(), id, secret).await?,
    }))
}

/// `GET /v1/relay/inbox?wait=N`: session requests waiting for this phone.
async fn inbox(
    State(st): State<AppState>,
    user: AuthUser,
    Query(q): Query<WaitQuery>,
) -> Result<Json<Vec<InboxItem>>> {
    let until = deadline(q.wait);
    let account = user.account_id;
    let found = st
        .relay
        .wait_for(&inbox_key(&account), until, || {
            let (st, account) = (st.clone(), account.clone());
            async move {
                let now = st.clock.now();
                let items = st
                    .db
                    .read(move |tx| sessions::inbox(tx, now, &account))
                    .await?;
                Ok::<_, ServerError>((!items.is_empty()).then_some(items))
            }
        })
        .await?;
    Ok(Json(found.unwrap_or_default()))
}

/// `GET /v1/relay/sessions`
async fn list_sessions(
    State(st): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<ScanSession>>> {
    let out = st
        .db
        .read(move |tx| sessions::list(tx, &user.account_id))
        .await?;
    Ok(Json(out))
}

/// `DELETE /v1/relay/sessions/{sid}`
async fn end_session(
    State(st): State<AppState>,
    user: AuthUser,
    Path(sid): Path<String>,
) -> Result<Json<ScanSession>> {
    let now = st.clock.now();
    let account = user.account_id.clone();
    let out = st
        .db
        .write(move |tx| sessions::end(tx, now, &account, &sid))
        .await?;
    st.relay.notify(&inbox_key(&user.account_id));
    Ok(Json(out))
}

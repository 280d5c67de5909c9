//! Pre-authorised bid opening (预授权开标, issue 17 §4, ADR 0027): before the opening the
//! bidder's phone, after co-decrypting its bid's file key with the PIN, splits it as
//! `K = K1 ⊕ K2`, seals K1 to the platform's certificate and deposits both here, bound to
//! one file (its header's binding hash), one tender, one platform and an opening time. The
//! server releases them to that platform only, at or after `opening_at` by its own clock,
//! once per call and audited; the bidder sees the record and may withdraw until the
//! opening. The server alone holds K2 and a ciphertext of K1 it cannot open; the platform
//! alone holds nothing before the release.

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use crate::platforms::get_platform;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::platforms::{
    NewPreauth, Preauth, PreauthRelease, PreauthShares, PreauthState, ReleasedShare,
};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/preauth", get(list).post(deposit))
        .route("/v1/preauth/{id}", delete(withdraw))
        .route("/v1/preauth/release", get(release))
        .route("/v1/preauth/release-shares", get(release_shares))
        .route("/v1/preauth/state", get(state))
}

const COLUMNS: &str = "id, platform_id, tender_id, binding_hash, file_name, opening_at, created_at, withdrawn_at, released_at, share_of";
/// At most this many live pre-authorisations per account (a bidder has few bids open).
const MAX_LIVE: i64 = 200;

fn from_row(r: &Row) -> Result<Preauth> {
    Ok(Preauth {
        id: r.text(0)?,
        platform_id: r.text(1)?,
        tender_id: r.text(2)?,
        binding_hash: r.text(3)?,
        file_name: r.text(4)?,
        opening_at: r.i64(5)?,
        created_at: r.i64(6)?,
        withdrawn_at: r.opt_i64(7)?,
        released_at: r.opt_i64(8)?,
        share_of: r.opt_text(9)?,
    })
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn is_serial(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_new(p: &NewPreauth, now: i64) -> Result<()> {
    let short = |s: &str| !s.is_empty() && s.len() <= 256;
    if !is_hash(&p.binding_hash)
        || !short(&p.tender_id)
        || !short(&p.file_name)
        || !short(&p.platform_id)
        || p.k2.len() != 16
        || p.k1_sealed.is_empty()
        || p.k1_sealed.len() > 512
    {
        return Err(ErrorCode::BadRequest.into());
    }
    // A share names its holder and comes with the file's k (2..=32, the format's limit); the
    // whole key comes alone.
    match &p.share_of {
        Some(serial) if !is_serial(serial) || !(2..=32).contains(&p.threshold) => {
            return Err(ErrorCode::BadRequest.into());
        }
        None if p.threshold != 1 => return Err(ErrorCode::BadRequest.into()),
        _ => {}
    }
    // Only before the opening: afterwards the bidder scans.
    if p.opening_at <= now {
        return Err(ErrorCode::InvalidState.into());
    }
    Ok(())
}

fn get_preauth(tx: &mut dyn Tx, id: &str) -> Result<Preauth> {
    let sql = format!("SELECT {COLUMNS} FROM preauths WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    from_row(&r)
}

/// `POST /v1/preauth`: deposit for one file.
async fn deposit(
    State(st): State<AppState>,
    user: AuthUser,
    Json(p): Json<NewPreauth>,
) -> Result<Json<Preauth>> {
    let now = st.clock.now();
    check_new(&p, now)?;
    // K2 at rest is sealed under a key from the CA key file (not in the database), bound to
    // its row: a database reader does not get it.
    let id = new_id()?;
    let k2_sealed = st
        .secrets
        .ca
        .seal(crate::ca::keys::Sealed::PreauthK2, &id, &p.k2)?;
    let out = st
        .db
        .write(move |tx| {
            let platform = get_platform(tx, &p.platform_id)?;
            if !platform.has_certificate {
                return Err(ErrorCode::InvalidState.into());
            }
            // A share is deposited by its holder only: another member naming someone
            // else's certificate could only spoil the opening, but is refused all the same.
            if let Some(serial) = &p.share_of {
                let own = tx.query_opt(
                    "SELECT 1 FROM certificates c JOIN cert_pairs p ON c.pair_id = p.id \
                     WHERE c.serial = $1 AND c.usage = 'encryption' AND c.status = 'valid' AND p.account_id = $2",
                    &params![serial.as_str(), &user.account_id],
                )?;
                if own.is_none() {
                    return Err(ErrorCode::Forbidden.into());
                }
            }
            let live = tx
                .query_opt(
                    "SELECT COUNT(*) FROM preauths WHERE account_id = $1 AND withdrawn_at IS NULL AND released_at IS NULL",
                    &params![&user.account_id],
                )?
                .map(|r| r.i64(0))
                .transpose()?
                .unwrap_or(0);
            if live >= MAX_LIVE {
                return Err(ErrorCode::TooManyRequests.into());
            }
            tx.execute(
                "INSERT INTO preauths (id, account_id, platform_id, tender_id, binding_hash, file_name, opening_at, k1_sealed, k2, created_at, share_of, threshold) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &params![
                    id.as_str(),
                    &user.account_id,
                    &p.platform_id,
                    &p.tender_id,
                    &p.binding_hash,
                    &p.file_name,
                    p.opening_at,
                    p.k1_sealed.clone(),
                    k2_sealed.clone(),
                    now,
                    p.share_of.clone(),
                    i64::from(p.threshold)
                ],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "preauth.deposited",
                    target: Some(&id),
                    ip: None,
                        detail: Some(format!(
                        "platform {} tender {} file {} opening_at {}{}",
                        p.platform_id,
                        p.tender_id,
                        p.binding_hash,
                        p.opening_at,
                        p.share_of
                            .as_deref()
                            .map(|s| format!(" share of {s} ({}-of-n)", p.threshold))
                            .unwrap_or_default()
                    )),
                },
            )?;
            get_preauth(tx, &id)
        })
        .await?;
    Ok(Json(out))
}

/// `GET /v1/preauth`: the caller's pre-authorisations, newest first, with what happened to
/// each (released when, withdrawn when).
async fn list(State(st): State<AppState>, user: AuthUser) -> Result<Json<Vec<Preauth>>> {
    let out = st
        .db
        .read(move |tx| {
            let sql = format!(
                "SELECT {COLUMNS} FROM preauths WHERE account_id = $1 ORDER BY created_at DESC, id"
            );
            tx.query(&sql, &params![&user.account_id])?
                .iter()
                .map(from_row)
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(out))
}

/// `DELETE /v1/preauth/{id}`: withdraw (K2 wiped) until the opening time or the release.
async fn withdraw(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Preauth>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let owner = tx
                .query_opt(
                    "SELECT account_id FROM preauths WHERE id = $1",
                    &params![id.as_str()],
                )?
                .map(|r| r.text(0))
                .transpose()?;
            if owner.as_deref() != Some(user.account_id.as_str()) {
                return Err(ErrorCode::NotFound.into());
            }
            let p = get_preauth(tx, &id)?;
            if p.withdrawn_at.is_some() || p.released_at.is_some() || now >= p.opening_at {
                return Err(ErrorCode::InvalidState.into());
            }
            tx.execute(
                "UPDATE preauths SET withdrawn_at = $1, k2 = NULL WHERE id = $2 AND withdrawn_at IS NULL",
                &params![now, id.as_str()],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "preauth.withdrawn",
                    target: Some(&id),
                    ip: None,
                    detail: None,
                },
            )?;
            get_preauth(tx, &id)
        })
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
struct ReleaseQuery {
    platform_id: String,
    binding_hash: String,
}

/// What every platform route here checks first: a well-formed binding hash, and a request
/// signed by the platform it names (as for a grant check). The server's time.
async fn platform_asking(
    st: &AppState,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    q: &ReleaseQuery,
) -> Result<i64> {
    let now = st.clock.now();
    if !is_hash(&q.binding_hash) {
        return Err(ErrorCode::BadRequest.into());
    }
    crate::grants::authenticate_platform(
        st,
        headers,
        raw_query.unwrap_or_default(),
        &q.platform_id,
        now,
    )
    .await?;
    Ok(now)
}

/// Hand one deposit's K2 to the platform: unsealed, its first release time kept, and the
/// release written to the audit log the bidder sees.
fn release_k2(
    tx: &mut dyn Tx,
    secrets: &crate::state::Secrets,
    now: i64,
    platform_id: &str,
    id: &str,
    k2_sealed: Option<Vec<u8>>,
    detail: String,
) -> Result<Vec<u8>> {
    let k2_sealed = k2_sealed.ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    let k2 = secrets
        .ca
        .open(crate::ca::keys::Sealed::PreauthK2, id, &k2_sealed)?
        .to_vec();
    tx.execute(
        "UPDATE preauths SET released_at = $1 WHERE id = $2 AND released_at IS NULL",
        &params![now, id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: platform_id,
            action: "preauth.released",
            target: Some(id),
            ip: None,
            detail: Some(detail),
        },
    )?;
    Ok(k2)
}

/// `GET /v1/preauth/release`: only the platform named (signed with its certificate's key,
/// as for a grant check), only for a file deposited for it, only at or after the opening
/// time by this server's clock, never once withdrawn.
async fn release(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<ReleaseQuery>,
) -> Result<Json<PreauthRelease>> {
    let now = platform_asking(&st, &headers, raw.as_deref(), &q).await?;
    let secrets = st.secrets.clone();
    let out = st
        .db
        .write(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT id, tender_id, opening_at, k1_sealed, k2, withdrawn_at, account_id FROM preauths \
                     WHERE platform_id = $1 AND binding_hash = $2 AND share_of IS NULL \
                     ORDER BY CASE WHEN withdrawn_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id LIMIT 1",
                    &params![&q.platform_id, &q.binding_hash],
                )?
                .ok_or(ServerError::Api(ErrorCode::NotFound))?;
            let id = r.text(0)?;
            let opening_at = r.i64(2)?;
            if r.opt_i64(5)?.is_some() {
                return Err(ErrorCode::InvalidState.into());
            }
            if now < opening_at {
                return Err(ErrorCode::TooEarly.into());
            }
            let detail = format!("to platform {} for bidder {}", q.platform_id, r.text(6)?);
            let k2 = release_k2(tx, &secrets, now, &q.platform_id, &id, r.opt_bytes(4)?, detail)?;
            Ok::<_, ServerError>(PreauthRelease {
                id,
                tender_id: r.text(1)?,
                opening_at,
                k1_sealed: r.bytes(3)?,
                k2,
            })
        })
        .await?;
    Ok(Json(out))
}

/// `GET /v1/preauth/release-shares`: a k-of-n file's pre-authorised shares, to the platform
/// named only, at or after the opening time by this server's clock, and only all at once
/// once k distinct share holders have live, due deposits: one share is useless to the
/// platform, so it is not handed out (the holder may still scan at the opening). With
/// fewer, the answer says how many are ready and releases nothing.
async fn release_shares(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<ReleaseQuery>,
) -> Result<Json<PreauthShares>> {
    let now = platform_asking(&st, &headers, raw.as_deref(), &q).await?;
    let secrets = st.secrets.clone();
    let out = st
        .db
        .write(move |tx| {
            // Newest first, so the first row per holder is their current deposit.
            let rows = tx.query(
                "SELECT id, tender_id, opening_at, k1_sealed, k2, withdrawn_at, account_id, share_of, threshold FROM preauths \
                 WHERE platform_id = $1 AND binding_hash = $2 AND share_of IS NOT NULL \
                 ORDER BY created_at DESC, id",
                &params![&q.platform_id, &q.binding_hash],
            )?;
            if rows.is_empty() {
                return Err(ErrorCode::NotFound.into());
            }
            let mut live = Vec::new();
            let mut holders: Vec<String> = Vec::new();
            for r in &rows {
                let holder = r.text(7)?;
                if r.opt_i64(5)?.is_some() || holders.contains(&holder) {
                    continue;
                }
                holders.push(holder);
                live.push(r);
            }
            if live.is_empty() {
                return Err(ErrorCode::InvalidState.into());
            }
            let due: Vec<_> = live
                .iter()
                .filter(|r| r.i64(2).is_ok_and(|t| t <= now))
                .collect();
            if due.is_empty() {
                return Err(ErrorCode::TooEarly.into());
            }
            let mut threshold = 1i64;
            for r in &live {
                threshold = threshold.max(r.i64(8)?);
            }
            let threshold = u8::try_from(threshold).map_err(|_| ServerError::Api(ErrorCode::Internal))?;
            let ready = u8::try_from(due.len()).unwrap_or(u8::MAX);
            let mut opening_at = 0;
            for r in &due {
                opening_at = opening_at.max(r.i64(2)?);
            }
            let mut out = PreauthShares {
                tender_id: due[0].text(1)?,
                opening_at,
                threshold,
                ready,
                shares: Vec::new(),
            };
            if ready < threshold {
                return Ok(out);
            }
            for r in due {
                let id = r.text(0)?;
                let detail = format!(
                    "share of {} ({}-of-n) to platform {} for bidder {}",
                    r.text(7)?,
                    threshold,
                    q.platform_id,
                    r.text(6)?
                );
                let k2 =
                    release_k2(tx, &secrets, now, &q.platform_id, &id, r.opt_bytes(4)?, detail)?;
                out.shares.push(ReleasedShare {
                    id,
                    recipient_serial: r.text(7)?,
                    k1_sealed: r.bytes(3)?,
                    k2,
                });
            }
            Ok::<_, ServerError>(out)
        })
        .await?;
    Ok(Json(out))
}

/// `GET /v1/preauth/state`: for the opening hall, signed by the platform named; counts and
/// times only, never key material, at any time.
async fn state(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<ReleaseQuery>,
) -> Result<Json<PreauthState>> {
    platform_asking(&st, &headers, raw.as_deref(), &q).await?;
    let out = st
        .db
        .read(move |tx| {
            let rows = tx.query(
                "SELECT withdrawn_at, opening_at, released_at, share_of, threshold FROM preauths \
                 WHERE platform_id = $1 AND binding_hash = $2 ORDER BY created_at DESC, id",
                &params![&q.platform_id, &q.binding_hash],
            )?;
            let mut out = PreauthState {
                live: 0,
                withdrawn: 0,
                threshold: 1,
                opening_at: None,
                released_at: None,
            };
            let mut holders: Vec<Option<String>> = Vec::new();
            for r in &rows {
                if let Some(t) = r.opt_i64(2)? {
                    out.released_at = Some(out.released_at.map_or(t, |o: i64| o.min(t)));
                }
                let holder = r.opt_text(3)?;
                if r.opt_i64(0)?.is_some() {
                    out.withdrawn += 1;
                    continue;
                }
                // A holder's newest live deposit counts once.
                if holders.contains(&holder) {
                    continue;
                }
                holders.push(holder);
                out.live += 1;
                out.threshold = out
                    .threshold
                    .max(u8::try_from(r.i64(4)?).unwrap_or(u8::MAX));
                let at = r.i64(1)?;
                out.opening_at = Some(out.opening_at.map_or(at, |o: i64| o.min(at)));
            }
            Ok::<_, ServerError>(out)
        })
        .await?;
    Ok(Json(out))
}

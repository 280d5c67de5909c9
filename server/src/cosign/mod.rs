//! The co-signing service: the server half of two-party SM2 (`bidkey_crypto::hazmat`,
//! `docs/two-party-sm2.md`), only for an authenticated device of the certificate's holder
//! and only while the certificate is in force.
//!
//! Every operation starts with a session whose 32 random bytes are the hazmat session id; a
//! session is accepted once (`open → answered → done`, or `failed`). Wrong PINs are counted
//! per certificate pair ([`pin`]).

pub mod keys;
pub mod pin;

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::{Row, Tx};
use crate::error::{Outcome, Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bidkey_crypto::hazmat;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2PublicKey, Sm2Signature, message_digest};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::CertUsage;
use bidkey_protocol::cosign::{self as wire, CosignPurpose};

/// Sessions live five minutes.
pub const SESSION_TTL: i64 = 300;
const SESSION_ID_LEN: usize = 32;
/// PIN attempts (sign and decrypt requests) per pair: per minute and per hour.
const PIN_PER_MINUTE: i64 = 20;
const PIN_PER_HOUR: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cosign/sessions", post(open_session))
        .route("/v1/cosign/sign", post(sign))
        .route("/v1/cosign/sign/finish", post(sign_finish))
        .route("/v1/cosign/decrypt", post(decrypt))
}

/// The message a holder co-signs to revoke (注销) a certificate with the PIN.
pub fn revoke_challenge(serial: &str, session_hex: &str) -> Vec<u8> {
    format!("bidkey-revoke-v1:{serial}:{session_hex}").into_bytes()
}

#[derive(Debug, Clone)]
struct SessionRow {
    id: String,
    key_id: String,
    account_id: String,
    device_id: String,
    purpose: CosignPurpose,
    digest: Option<Vec<u8>>,
    status: String,
    expires_at: i64,
}

fn session_from_row(r: &Row) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.text(0)?,
        key_id: r.text(1)?,
        account_id: r.text(2)?,
        device_id: r.text(3)?,
        purpose: CosignPurpose::parse(&r.text(4)?)
            .ok_or_else(|| ServerError::Internal("bad cosign purpose".into()))?,
        digest: r.opt_bytes(5)?,
        status: r.text(6)?,
        expires_at: r.i64(7)?,
    })
}

/// The hex row id of a session id from the wire.
pub fn session_hex(session_id: &[u8]) -> Result<String> {
    if session_id.len() != SESSION_ID_LEN {
        return Err(ErrorCode::BadRequest.into());
    }
    Ok(hex::encode(session_id))
}

/// Load the caller's session in `status`; anything else (someone else's, used, expired) is
/// `InvalidState` without saying which.
fn session_in(
    tx: &mut dyn Tx,
    id: &str,
    account_id: &str,
    device_id: &str,
    status: &str,
    now: i64,
) -> Result<SessionRow> {
    let row = tx.query_opt(
        "SELECT id, key_id, account_id, device_id, purpose, digest, status, expires_at FROM cosign_sessions WHERE id = $1",
        &params![id],
    )?;
    let s = row
        .as_ref()
        .map(session_from_row)
        .transpose()?
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    if s.account_id != account_id
        || s.device_id != device_id
        || s.status != status
        || s.expires_at <= now
    {
        return Err(ErrorCode::InvalidState.into());
    }
    Ok(s)
}

fn set_status(tx: &mut dyn Tx, id: &str, from: &str, to: &str) -> Result<()> {
    let n = tx.execute(
        "UPDATE cosign_sessions SET status = $1 WHERE id = $2 AND status = $3",
        &params![to, id, from],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(ErrorCode::InvalidState.into())
    }
}

fn device_of(user: &AuthUser) -> Result<String> {
    user.device_id
        .clone()
        .ok_or(ServerError::Api(ErrorCode::Forbidden))
}

fn pin_limits(tx: &mut dyn Tx, pair_id: &str, now: i64) -> Result<()> {
    ratelimit::hit(tx, &format!("pin1m:{pair_id}"), now, 60, PIN_PER_MINUTE)?;
    ratelimit::hit(tx, &format!("pin1h:{pair_id}"), now, 3600, PIN_PER_HOUR)
}

/// `POST /v1/cosign/sessions`
async fn open_session(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::OpenSession>,
) -> Result<Json<wire::Session>> {
    let device = device_of(&user)?;
    let now = st.clock.now();
    let sid = bidkey_crypto::rng::bytes::<SESSION_ID_LEN>()?;
    let sid_hex = hex::encode(sid);
    let session = st
        .db
        .write(move |tx| {
            ratelimit::hit(tx, &format!("cosign-open:{}", user.account_id), now, 60, 120)?;
            let key = keys::find_for_device(tx, &req.serial, &user.account_id, &device)?;
            let signing = key.usage == CertUsage::Signing;
            if matches!(req.purpose, CosignPurpose::Sign | CosignPurpose::Revoke) && !signing {
                return Err(ErrorCode::BadRequest.into());
            }
            keys::check_usable(tx, &key.pair_id, now, req.purpose == CosignPurpose::Revoke)?;
            pin::check_not_locked(tx, &key.pair_id)?;
            let (challenge, digest) = if req.purpose == CosignPurpose::Revoke {
                let challenge = revoke_challenge(&key.cert_serial, &sid_hex);
                let public = Sm2PublicKey::from_sec1(&key.public_key)?;
                let e = message_digest(&public, DEFAULT_ID, &challenge)?;
                (Some(challenge), Some(e.to_vec()))
            } else {
                (None, None)
            };
            tx.execute(
                "INSERT INTO cosign_sessions (id, key_id, account_id, device_id, purpose, challenge, digest, status, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)",
                &params![
                    sid_hex.as_str(),
                    key.id.as_str(),
                    &user.account_id,
                    device.as_str(),
                    req.purpose.as_str(),
                    challenge.clone(),
                    digest,
                    now,
                    now + SESSION_TTL
                ],
            )?;
            Ok::<_, ServerError>(wire::Session {
                session_id: sid.to_vec(),
                challenge,
                expires_at: now + SESSION_TTL,
            })
        })
        .await?;
    Ok(Json(session))
}

/// `POST /v1/cosign/sign`: check the PIN proof, answer the server's half.
async fn sign(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::SignRequest>,
) -> Result<Json<wire::SignResponse>> {
    let device = device_of(&user)?;
    let sid_hex = session_hex(&req.session_id)?;
    let now = st.clock.now();
    let secrets = st.secrets.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<Vec<u8>> {
            let s = session_in(tx, &sid_hex, &user.account_id, &device, "open", now)?;
            if s.purpose == CosignPurpose::Decrypt {
                return Err(ErrorCode::InvalidState.into());
            }
            let key = keys::get(tx, &s.key_id)?;
            keys::check_usable(tx, &key.pair_id, now, s.purpose == CosignPurpose::Revoke)?;
            pin::check_not_locked(tx, &key.pair_id)?;
            pin_limits(tx, &key.pair_id, now)?;
            // From here on the session is spent, whatever happens.
            set_status(tx, &s.id, "open", "failed")?;
            let Ok(request) = hazmat::SignRequest::from_bytes(&req.request) else {
                return Ok(Err(ServerError::Api(ErrorCode::BadRequest)));
            };
            if s.digest.as_deref().is_some_and(|d| d != request.digest()) {
                return Ok(Err(ServerError::Api(ErrorCode::BadRequest)));
            }
            let share = keys::share(&secrets.ca, &key)?;
            match hazmat::server_sign(&share, &request, &req.session_id) {
                Ok(response) => {
                    tx.execute(
                        "UPDATE cosign_sessions SET status = 'answered', digest = $1 WHERE id = $2",
                        &params![request.digest().to_vec(), s.id.as_str()],
                    )?;
                    pin::record_success(tx, now, &key.pair_id)?;
                    Ok(Ok(response.to_bytes().to_vec()))
                }
                Err(bidkey_crypto::Error::BadProof) => Ok(Err(pin::record_failure(
                    tx,
                    now,
                    &key.pair_id,
                    &user.account_id,
                    "sign proof",
                )?)),
                Err(_) => Ok(Err(ServerError::Api(ErrorCode::BadRequest))),
            }
        })
        .await?;
    Ok(Json(wire::SignResponse { response: out? }))
}

/// `POST /v1/cosign/sign/finish`: the device's signature must verify; only then is it
/// released. A failure counts like a wrong PIN.
async fn sign_finish(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::SignFinish>,
) -> Result<Json<wire::SignDone>> {
    let device = device_of(&user)?;
    let sid_hex = session_hex(&req.session_id)?;
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| -> Outcome<wire::SignDone> {
            let s = session_in(tx, &sid_hex, &user.account_id, &device, "answered", now)?;
            let key = keys::get(tx, &s.key_id)?;
            set_status(tx, &s.id, "answered", "failed")?;
            let public = Sm2PublicKey::from_sec1(&key.public_key)?;
            let digest: Option<[u8; 32]> = s.digest.as_deref().and_then(|d| d.try_into().ok());
            let Some(digest) = digest else {
                return Err(ServerError::Internal("session without digest".into()));
            };
            let sig = if req.signature.len() == 64 {
                Sm2Signature::from_raw(&req.signature)
            } else {
                Sm2Signature::from_der(&req.signature)
            };
            let checked = sig
                .and_then(|sig| hazmat::server_check_final(&public, &digest, &sig).map(|()| sig));
            match checked {
                Ok(sig) => {
                    set_status(tx, &s.id, "failed", "done")?;
                    audit::record(
                        tx,
                        now,
                        Event {
                            actor: &user.account_id,
                            action: if s.purpose == CosignPurpose::Revoke {
                                "cosign.signed_revocation"
                            } else {
                                "cosign.signed"
                            },
                            target: Some(&key.cert_serial),
                            ..Default::default()
                        },
                    )?;
                    Ok(Ok(wire::SignDone {
                        serial: key.cert_serial.clone(),
                        signature: sig.to_der(),
                    }))
                }
                Err(_) => Ok(Err(pin::record_failure(
                    tx,
                    now,
                    &key.pair_id,
                    &user.account_id,
                    "final signature",
                )?)),
            }
        })
        .await?;
    Ok(Json(out?))
}

/// `POST /v1/cosign/decrypt`: check the PIN proof, answer `T2 = d2⁻¹·T1` (blinded).
async fn decrypt(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::DecryptRequest>,
) -> Result<Json<wire::DecryptResponse>> {
    let device = device_of(&user)?;
    let sid_hex = session_hex(&req.session_id)?;
    let now = st.clock.now();
    let secrets = st.secrets.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<Vec<u8>> {
            let s = session_in(tx, &sid_hex, &user.account_id, &device, "open", now)?;
            if s.purpose != CosignPurpose::Decrypt {
                return Err(ErrorCode::InvalidState.into());
            }
            let key = keys::get(tx, &s.key_id)?;
            keys::check_usable(tx, &key.pair_id, now, false)?;
            pin::check_not_locked(tx, &key.pair_id)?;
            pin_limits(tx, &key.pair_id, now)?;
            set_status(tx, &s.id, "open", "failed")?;
            let Ok(request) = hazmat::DecryptRequest::from_bytes(&req.request) else {
                return Ok(Err(ServerError::Api(ErrorCode::BadRequest)));
            };
            let share = keys::share(&secrets.ca, &key)?;
            match hazmat::server_decrypt(&share, &request, &req.session_id) {
                Ok(response) => {
                    set_status(tx, &s.id, "failed", "done")?;
                    pin::record_success(tx, now, &key.pair_id)?;
                    Ok(Ok(response.to_bytes().to_vec()))
                }
                Err(bidkey_crypto::Error::BadProof) => Ok(Err(pin::record_failure(
                    tx,
                    now,
                    &key.pair_id,
                    &user.account_id,
                    "decrypt proof",
                )?)),
                Err(_) => Ok(Err(ServerError::Api(ErrorCode::BadRequest))),
            }
        })
        .await?;
    Ok(Json(wire::DecryptResponse { response: out? }))
}

/// Spend a finished `revoke` session of the caller: the PIN proof for 注销. Returns the key
/// it was made with.
pub fn take_revoke_proof(
    tx: &mut dyn Tx,
    session_id: &[u8],
    account_id: &str,
    device_id: &str,
    now: i64,
) -> Result<keys::KeyRow> {
    let id = session_hex(session_id)?;
    let s = session_in(tx, &id, account_id, device_id, "done", now)?;
    if s.purpose != CosignPurpose::Revoke {
        return Err(ErrorCode::InvalidProof.into());
    }
    set_status(tx, &s.id, "done", "consumed")?;
    keys::get(tx, &s.key_id)
}

//! The co-signing service: the server half of two-party SM2 (`bidkey_crypto::cosign`,
//! `docs/two-party-sm2.md`), only for an authenticated device of the certificate's holder
//! and only while the certificate is in force.
//!
//! Every operation starts with a session whose 32 random bytes are the two-party session id; a
//! session is accepted once (`open → answered → done`, or `failed`). Wrong PINs are counted
//! per certificate pair ([`pin`]).

pub mod confirm;
pub mod keys;
pub mod pin;

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bidkey_crypto::cosign::{self, ServerCosigner};
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
    let session = st
        .db
        .write(move |tx| open_in(tx, now, &user.account_id, &device, &req))
        .await?;
    Ok(Json(session))
}

/// Open a session inside the caller's transaction: `POST /v1/cosign/sessions`, and the relay's
/// fetch of a decrypt request, which opens the phone's co-decryption session with it (one
/// round trip and one transaction less per co-decryption, ADR 0031). Every check is the
/// same either way.
pub fn open_in(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    device: &str,
    req: &wire::OpenSession,
) -> Result<wire::Session> {
    let sid = bidkey_crypto::rng::bytes::<SESSION_ID_LEN>()?;
    let sid_hex = hex::encode(sid);
    ratelimit::hit(tx, &format!("cosign-open:{account_id}"), now, 60, 120)?;
    let key = keys::find_for_device(tx, &req.serial, req.pair_id.as_deref(), account_id, device)?;
    // Each key does its one job: signing keys sign (and, during enrolment, open the
    // envelopes that deliver the escrowed encryption keys); encryption keys decrypt.
    let signing = key.usage == CertUsage::Signing;
    let fits = match req.purpose {
        CosignPurpose::Sign
        | CosignPurpose::Revoke
        | CosignPurpose::Confirm
        | CosignPurpose::KeyDelivery => signing,
        CosignPurpose::Decrypt => !signing,
    };
    if !fits {
        return Err(ErrorCode::BadRequest.into());
    }
    if req.purpose == CosignPurpose::KeyDelivery {
        keys::check_in_key_delivery(tx, &key.pair_id, now)?;
    }
    keys::check_usable(tx, &key.pair_id, now, req.purpose == CosignPurpose::Revoke)?;
    pin::check_not_locked(tx, &key.pair_id)?;
    // Revoke and confirm sign a challenge of the server's; only confirm names an admin
    // action (ADR 0018).
    let challenge =
        match (req.purpose, &req.confirm) {
            (CosignPurpose::Revoke, None) => Some(revoke_challenge(&key.cert_serial, &sid_hex)),
            (CosignPurpose::Confirm, Some(action)) => Some(
                bidkey_protocol::cosign::confirm_challenge(&key.cert_serial, &sid_hex, action),
            ),
            (CosignPurpose::Confirm, None) | (_, Some(_)) => {
                return Err(ErrorCode::BadRequest.into());
            }
            _ => None,
        };
    let digest = match &challenge {
        Some(c) => {
            let public = Sm2PublicKey::from_sec1(&key.public_key)?;
            Some(message_digest(&public, DEFAULT_ID, c)?.to_vec())
        }
        None => None,
    };
    tx.execute(
        "INSERT INTO cosign_sessions (id, key_id, account_id, device_id, purpose, challenge, digest, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)",
        &params![
            sid_hex.as_str(),
            key.id.as_str(),
            account_id,
            device,
            req.purpose.as_str(),
            challenge.clone(),
            digest,
            now,
            now + SESSION_TTL
        ],
    )?;
    Ok(wire::Session {
        session_id: sid.to_vec(),
        challenge,
        expires_at: now + SESSION_TTL,
        server_time: now,
    })
}

/// What the server's half of a step decided about the phone's PIN.
enum Verdict<T> {
    /// The proof (or final signature) verified: the answer.
    Right(T),
    /// It did not: a wrong PIN (or a forged or replayed request).
    Wrong,
    /// The request could not be judged (malformed): no verdict on the PIN.
    Malformed,
}

impl<T> Verdict<T> {
    fn of(r: std::result::Result<T, bidkey_crypto::Error>) -> Verdict<T> {
        match r {
            Ok(v) => Verdict::Right(v),
            Err(bidkey_crypto::Error::BadProof) => Verdict::Wrong,
            Err(_) => Verdict::Malformed,
        }
    }
}

/// Take the caller's session in `from` for one PIN attempt with its key: every check, the
/// session spent, and the attempt counted as failed until its proof verifies (as a smart
/// card lowers its retry counter before it compares a PIN). The proof is then checked
/// outside the transaction, so the elliptic-curve work holds no database lock, and
/// attempts in flight at once can still not exceed the lock.
async fn begin_attempt(
    st: &AppState,
    user: &AuthUser,
    sid_hex: &str,
    from: &'static str,
    accept: fn(CosignPurpose) -> bool,
) -> Result<(SessionRow, keys::KeyRow)> {
    let device = device_of(user)?;
    let now = st.clock.now();
    let (account, sid) = (user.account_id.clone(), sid_hex.to_owned());
    st.db
        .write(move |tx| {
            let s = session_in(tx, &sid, &account, &device, from, now)?;
            if !accept(s.purpose) {
                return Err(ErrorCode::InvalidState.into());
            }
            let key = keys::get(tx, &s.key_id)?;
            keys::check_usable(tx, &key.pair_id, now, s.purpose == CosignPurpose::Revoke)?;
            pin::begin_attempt(tx, now, &key.pair_id)?;
            // The rate of PIN attempts: a signature's finish is the same attempt as its
            // first step.
            if from == "open" {
                pin_limits(tx, &key.pair_id, now)?;
            }
            // From here on the session is spent, whatever happens.
            set_status(tx, &s.id, from, "failed")?;
            Ok((s, key))
        })
        .await
}

/// Settle an attempt that did not verify: a wrong PIN stays counted (and may lock the
/// pair); a malformed request is no verdict, so its count is taken back.
async fn settle_unverified<T>(
    st: &AppState,
    user: &AuthUser,
    key: &keys::KeyRow,
    verdict: Verdict<T>,
    what: &'static str,
) -> Result<ServerError> {
    let now = st.clock.now();
    let (pair, account) = (key.pair_id.clone(), user.account_id.clone());
    let wrong = matches!(verdict, Verdict::Wrong);
    st.db
        .write(move |tx| {
            if wrong {
                pin::attempt_failed(tx, now, &pair, &account, what)
            } else {
                pin::attempt_void(tx, now, &pair)?;
                Ok(ErrorCode::BadRequest.into())
            }
        })
        .await
}

/// Judge a begun attempt with `check`, elliptic-curve work, off the async workers. A fault
/// of the server while checking is no verdict on the PIN: the attempt is taken back.
async fn judge<T: Send + 'static>(
    st: &AppState,
    user: &AuthUser,
    key: &keys::KeyRow,
    check: impl FnOnce() -> Result<Verdict<T>> + Send + 'static,
) -> Result<Verdict<T>> {
    let judged = tokio::task::spawn_blocking(check)
        .await
        .map_err(|e| ServerError::Internal(format!("cosign task: {e}")))
        .and_then(|r| r);
    if judged.is_err() {
        let _ = settle_unverified(st, user, key, Verdict::<T>::Malformed, "").await;
    }
    judged
}

/// `POST /v1/cosign/sign`: check the PIN proof, answer the server's half.
async fn sign(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::SignRequest>,
) -> Result<Json<wire::SignResponse>> {
    let sid_hex = session_hex(&req.session_id)?;
    let (s, key) = begin_attempt(&st, &user, &sid_hex, "open", |p| {
        matches!(
            p,
            CosignPurpose::Sign | CosignPurpose::Revoke | CosignPurpose::Confirm
        )
    })
    .await?;
    let (secrets, k) = (st.secrets.clone(), key.clone());
    let verdict = judge(&st, &user, &key, move || {
        let share = secrets.cosign_shares.share(&secrets.cosign, &k)?;
        let Ok(request) = cosign::SignRequest::from_bytes(&req.request) else {
            return Ok(Verdict::Malformed);
        };
        if s.digest.as_deref().is_some_and(|d| d != request.digest()) {
            return Ok(Verdict::Malformed);
        }
        let digest = request.digest().to_vec();
        Ok(Verdict::of(
            ServerCosigner::new(&share)
                .sign(&request, &req.session_id)
                .map(|r| (r.to_bytes().to_vec(), digest)),
        ))
    })
    .await?;
    let Verdict::Right((response, digest)) = verdict else {
        return Err(settle_unverified(&st, &user, &key, verdict, "sign proof").await?);
    };
    let now = st.clock.now();
    let pair = key.pair_id.clone();
    st.db
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE cosign_sessions SET status = 'answered', digest = $1 WHERE id = $2 AND status = 'failed'",
                &params![digest.clone(), sid_hex.as_str()],
            )?;
            if n != 1 {
                return Err(ServerError::Api(ErrorCode::InvalidState));
            }
            pin::record_success(tx, now, &pair)
        })
        .await?;
    Ok(Json(wire::SignResponse { response }))
}

/// `POST /v1/cosign/sign/finish`: the device's signature must verify; only then is it
/// released. A failure counts like a wrong PIN.
async fn sign_finish(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::SignFinish>,
) -> Result<Json<wire::SignDone>> {
    let sid_hex = session_hex(&req.session_id)?;
    let (s, key) = begin_attempt(&st, &user, &sid_hex, "answered", |_| true).await?;
    let public_key = key.public_key.clone();
    let verdict = judge(&st, &user, &key, move || {
        let public = Sm2PublicKey::from_sec1(&public_key)?;
        let digest: Option<[u8; 32]> = s.digest.as_deref().and_then(|d| d.try_into().ok());
        let Some(digest) = digest else {
            return Err(ServerError::Internal("session without digest".into()));
        };
        let sig = if req.signature.len() == 64 {
            Sm2Signature::from_raw(&req.signature)
        } else {
            Sm2Signature::from_der(&req.signature)
        };
        // Any signature that does not verify counts against the PIN, malformed ones too.
        Ok(
            match sig
                .and_then(|sig| cosign::check_final_signature(&public, &digest, &sig).map(|()| sig))
            {
                Ok(sig) => Verdict::Right((sig, s.purpose)),
                Err(_) => Verdict::Wrong,
            },
        )
    })
    .await?;
    let Verdict::Right((sig, purpose)) = verdict else {
        return Err(settle_unverified(&st, &user, &key, verdict, "final signature").await?);
    };
    let now = st.clock.now();
    let account = user.account_id.clone();
    let (pair, serial) = (key.pair_id.clone(), key.cert_serial.clone());
    st.db
        .write(move |tx| {
            set_status(tx, &sid_hex, "failed", "done")?;
            pin::record_success(tx, now, &pair)?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &account,
                    action: match purpose {
                        CosignPurpose::Revoke => "cosign.signed_revocation",
                        CosignPurpose::Confirm => "cosign.signed_confirmation",
                        _ => "cosign.signed",
                    },
                    target: Some(&serial),
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(Json(wire::SignDone {
        serial: key.cert_serial,
        signature: sig.to_der(),
    }))
}

/// `POST /v1/cosign/decrypt`: check the PIN proof, answer `T2 = d2⁻¹·T1` (blinded).
async fn decrypt(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<wire::DecryptRequest>,
) -> Result<Json<wire::DecryptResponse>> {
    let sid_hex = session_hex(&req.session_id)?;
    let (_, key) = begin_attempt(&st, &user, &sid_hex, "open", |p| {
        matches!(p, CosignPurpose::Decrypt | CosignPurpose::KeyDelivery)
    })
    .await?;
    let (secrets, k) = (st.secrets.clone(), key.clone());
    let verdict = judge(&st, &user, &key, move || {
        let share = secrets.cosign_shares.share(&secrets.cosign, &k)?;
        let Ok(request) = cosign::DecryptRequest::from_bytes(&req.request) else {
            return Ok(Verdict::Malformed);
        };
        Ok(Verdict::of(
            ServerCosigner::new(&share)
                .decrypt(&request, &req.session_id)
                .map(|r| r.to_bytes().to_vec()),
        ))
    })
    .await?;
    let Verdict::Right(response) = verdict else {
        return Err(settle_unverified(&st, &user, &key, verdict, "decrypt proof").await?);
    };
    let now = st.clock.now();
    let pair = key.pair_id.clone();
    st.db
        .write(move |tx| {
            set_status(tx, &sid_hex, "failed", "done")?;
            pin::record_success(tx, now, &pair)
        })
        .await?;
    Ok(Json(wire::DecryptResponse { response }))
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

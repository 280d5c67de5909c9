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
use crate::auth::{AuthUser, Bearer};
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
    /// A judgement made with the same work either way (`judge_sign`, `judge_decrypt`).
    fn of(r: std::result::Result<Option<T>, bidkey_crypto::Error>) -> Verdict<T> {
        match r {
            Ok(Some(v)) => Verdict::Right(v),
            Ok(None) => Verdict::Wrong,
            Err(_) => Verdict::Malformed,
        }
    }
}

/// What one PIN attempt read before it was judged and counted.
#[derive(Clone)]
struct Attempt {
    user: AuthUser,
    session: SessionRow,
    key: keys::KeyRow,
    /// The holder whose count it goes to (`pin::holder_and_state`).
    holder: String,
}

/// Read what a PIN attempt needs, in one read transaction: the caller (its token looked up
/// here, not in a transaction of its own), its session in `from`, the session's key, the
/// pair in force, and the holder not locked (a locked holder is refused before anything is
/// judged, as before). Nothing is written: the attempt is counted in [`settle`].
fn load(
    tx: &mut dyn Tx,
    now: i64,
    token: &Bearer,
    sid_hex: &str,
    from: &str,
    accept: fn(CosignPurpose) -> bool,
) -> Result<Attempt> {
    let user = token.lookup(tx, now)?;
    let device = device_of(&user)?;
    let session = session_in(tx, sid_hex, &user.account_id, &device, from, now)?;
    if !accept(session.purpose) {
        return Err(ErrorCode::InvalidState.into());
    }
    let key = keys::get(tx, &session.key_id)?;
    keys::check_usable(
        tx,
        &key.pair_id,
        now,
        session.purpose == CosignPurpose::Revoke,
    )?;
    let (holder, failed, locked) = pin::holder_and_state(tx, &key.pair_id)?;
    pin::limit_check(failed, locked)?;
    Ok(Attempt {
        user,
        session,
        key,
        holder,
    })
}

/// The one write of a judged attempt (ADR 0034, amending ADR 0004): count it and decide, in
/// one transaction, whether its verdict reaches the caller.
///
/// - The holder at the limit before this attempt (locked, or as many failures counted as
///   the lock allows): `key_locked`, nothing changes, whatever the verdict.
/// - Too many attempts this minute or hour (for a first step, `from = "open"`): refused,
///   nothing changes.
/// - Otherwise the session is taken by compare-and-set on its status: `release` for a
///   right verdict (`from` → `done` or `answered`; also its own effects), `from` →
///   `failed` for a wrong one. A right verdict whose session was taken resets the count:
///   `Ok(None)`, the answer may leave. A wrong one, and an attempt that lost its session to
///   another attempt (right or wrong: the two are answered alike), is counted: `Ok(Some(e))`
///   with `e` the `wrong_pin` or `key_locked` the count gives, to commit and then answer.
///
/// So no more verdicts reach callers per lock than [`pin::MAX_FAILED`], however many
/// attempts are judged at once, and an attempt refused here tells nothing about its guess:
/// the judgement did the same work whatever it found (`judge_decrypt`, `judge_sign`).
fn settle(
    tx: &mut dyn Tx,
    now: i64,
    a: &Attempt,
    from: &str,
    right: bool,
    release: &dyn Fn(&mut dyn Tx, &Attempt) -> Result<u64>,
    what: &str,
) -> Result<Option<ServerError>> {
    let failed = pin::below_limit(tx, &a.holder)?;
    // The rate of PIN attempts: a signature's finish is the same attempt as its first step.
    if from == "open" {
        pin_limits(tx, &a.key.pair_id, now)?;
    }
    let won = if right {
        release(tx, a)?
    } else {
        tx.execute(
            "UPDATE cosign_sessions SET status = 'failed' WHERE id = $1 AND status = $2",
            &params![a.session.id.as_str(), from],
        )?
    } == 1;
    if right && won {
        pin::reset(tx, now, &a.holder, failed)?;
        return Ok(None);
    }
    let what = if won {
        what.to_owned()
    } else {
        format!("{what}, session taken by another attempt")
    };
    pin::count_failure(
        tx,
        now,
        &a.holder,
        failed,
        &a.key.pair_id,
        &a.user.account_id,
        &what,
    )
    .map(Some)
}

/// Run one PIN attempt: [`load`] and `judge` in one job on a database thread (the judgement
/// is elliptic-curve work over the cached share and the request, done with the same work
/// whatever it finds, while only a read transaction is open: no lock is held), then
/// [`settle`] in one write transaction. A malformed request is no verdict on the PIN: it is
/// refused with nothing written. Returns the answer only when `settle` released it.
#[allow(clippy::too_many_arguments)]
async fn attempt<T: Clone + Send + 'static>(
    st: &AppState,
    token: Bearer,
    sid_hex: String,
    from: &'static str,
    accept: fn(CosignPurpose) -> bool,
    judge: impl Fn(&Attempt) -> Result<Verdict<T>> + Send + 'static,
    release: impl Fn(&mut dyn Tx, &Attempt, &T) -> Result<u64> + Send + 'static,
    what: &'static str,
) -> Result<(Attempt, T)> {
    let now = st.clock.now();
    let sid = sid_hex.clone();
    let (a, verdict) = st
        .db
        .read(move |tx| {
            let a = load(tx, now, &token, &sid, from, accept)?;
            let verdict = judge(&a)?;
            Ok::<_, ServerError>((a, verdict))
        })
        .await?;
    let answer = match verdict {
        Verdict::Right(answer) => Some(answer),
        Verdict::Wrong => None,
        Verdict::Malformed => return Err(ErrorCode::BadRequest.into()),
    };
    let now = st.clock.now();
    let (a2, answer2) = (a.clone(), answer.clone());
    let refused = st
        .db
        .write(move |tx| {
            let rel = |tx: &mut dyn Tx, a: &Attempt| match &answer2 {
                Some(answer) => release(tx, a, answer),
                None => Ok(0),
            };
            settle(tx, now, &a2, from, answer2.is_some(), &rel, what)
        })
        .await?;
    match (refused, answer) {
        (None, Some(answer)) => Ok((a, answer)),
        (Some(e), _) => Err(e),
        (None, None) => Err(ServerError::Internal(
            "attempt released without answer".into(),
        )),
    }
}

/// `POST /v1/cosign/sign`: check the PIN proof, answer the server's half.
async fn sign(
    State(st): State<AppState>,
    token: Bearer,
    Json(req): Json<wire::SignRequest>,
) -> Result<Json<wire::SignResponse>> {
    let sid_hex = session_hex(&req.session_id)?;
    let secrets = st.secrets.clone();
    let (_, (response, _)) = attempt(
        &st,
        token,
        sid_hex,
        "open",
        |p| {
            matches!(
                p,
                CosignPurpose::Sign | CosignPurpose::Revoke | CosignPurpose::Confirm
            )
        },
        move |a| {
            let share = secrets.cosign_shares.share(&secrets.cosign, &a.key)?;
            let Ok(request) = cosign::SignRequest::from_bytes(&req.request) else {
                return Ok(Verdict::Malformed);
            };
            if a
                .session
                .digest
                .as_deref()
                .is_some_and(|d| d != request.digest())
            {
                return Ok(Verdict::Malformed);
            }
            let digest = request.digest().to_vec();
            Ok(Verdict::of(
                ServerCosigner::new(&share)
                    .judge_sign(&request, &req.session_id)
                    .map(|r| r.map(|r| (r.to_bytes().to_vec(), digest))),
            ))
        },
        |tx, a, (_, digest)| {
            Ok(tx.execute(
                "UPDATE cosign_sessions SET status = 'answered', digest = $1 WHERE id = $2 AND status = 'open'",
                &params![digest.clone(), a.session.id.as_str()],
            )?)
        },
        "sign proof",
    )
    .await?;
    Ok(Json(wire::SignResponse { response }))
}

/// `POST /v1/cosign/sign/finish`: the device's signature must verify; only then is it
/// released. A failure counts like a wrong PIN.
async fn sign_finish(
    State(st): State<AppState>,
    token: Bearer,
    Json(req): Json<wire::SignFinish>,
) -> Result<Json<wire::SignDone>> {
    let sid_hex = session_hex(&req.session_id)?;
    let now = st.clock.now();
    let (a, sig) = attempt(
        &st,
        token,
        sid_hex,
        "answered",
        |_| true,
        move |a| {
            let public = Sm2PublicKey::from_sec1(&a.key.public_key)?;
            let digest: Option<[u8; 32]> =
                a.session.digest.as_deref().and_then(|d| d.try_into().ok());
            let Some(digest) = digest else {
                return Err(ServerError::Internal("session without digest".into()));
            };
            let sig = if req.signature.len() == 64 {
                Sm2Signature::from_raw(&req.signature)
            } else {
                Sm2Signature::from_der(&req.signature)
            };
            // Any signature that does not verify counts against the PIN, malformed ones
            // too. Verifying is the same work whether it holds or not, and there is
            // nothing more to compute for the answer (it is the signature).
            Ok(
                match sig.and_then(|sig| {
                    cosign::check_final_signature(&public, &digest, &sig).map(|()| sig)
                }) {
                    Ok(sig) => Verdict::Right(sig),
                    Err(_) => Verdict::Wrong,
                },
            )
        },
        move |tx, a, _| {
            let n = tx.execute(
                "UPDATE cosign_sessions SET status = 'done' WHERE id = $1 AND status = 'answered'",
                &params![a.session.id.as_str()],
            )?;
            if n == 1 {
                audit::record(
                    tx,
                    now,
                    Event {
                        actor: &a.user.account_id,
                        action: match a.session.purpose {
                            CosignPurpose::Revoke => "cosign.signed_revocation",
                            CosignPurpose::Confirm => "cosign.signed_confirmation",
                            _ => "cosign.signed",
                        },
                        target: Some(&a.key.cert_serial),
                        ..Default::default()
                    },
                )?;
            }
            Ok(n)
        },
        "final signature",
    )
    .await?;
    Ok(Json(wire::SignDone {
        serial: a.key.cert_serial,
        signature: sig.to_der(),
    }))
}

/// `POST /v1/cosign/decrypt`: check the PIN proof, answer `T2 = d2⁻¹·T1` (blinded).
async fn decrypt(
    State(st): State<AppState>,
    token: Bearer,
    Json(req): Json<wire::DecryptRequest>,
) -> Result<Json<wire::DecryptResponse>> {
    let sid_hex = session_hex(&req.session_id)?;
    let secrets = st.secrets.clone();
    let (_, response) = attempt(
        &st,
        token,
        sid_hex,
        "open",
        |p| matches!(p, CosignPurpose::Decrypt | CosignPurpose::KeyDelivery),
        move |a| {
            let share = secrets.cosign_shares.share(&secrets.cosign, &a.key)?;
            let Ok(request) = cosign::DecryptRequest::from_bytes(&req.request) else {
                return Ok(Verdict::Malformed);
            };
            Ok(Verdict::of(
                ServerCosigner::new(&share)
                    .judge_decrypt(&request, &req.session_id)
                    .map(|r| r.map(|r| r.to_bytes().to_vec())),
            ))
        },
        |tx, a, _| {
            Ok(tx.execute(
                "UPDATE cosign_sessions SET status = 'done' WHERE id = $1 AND status = 'open'",
                &params![a.session.id.as_str()],
            )?)
        },
        "decrypt proof",
    )
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

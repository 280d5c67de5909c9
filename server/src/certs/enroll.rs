//! Enrolment: a paid application becomes a certificate pair.
//!
//! ```text
//! POST /v1/applications/{id}/enroll/start  → enrollment id, keygen session id, subject
//! POST /v1/enrollments/{id}/keygen         DeviceKeygenMsg → ServerKeygenMsg, CSR sign session
//! POST /v1/enrollments/{id}/csr/sign       SignRequest over the CSR digest → SignResponse
//! POST /v1/enrollments/{id}/finish         co-signed CSR → certificates, delivered keys
//! POST /v1/enrollments/{id}/confirm        (the phone stored everything) → pairs replaced
//! ```
//! Each step moves the enrolment one status forward (`keygen → csr → signed → issued`) and
//! accepts its session once; a failed step ends the enrolment (`failed`) and the phone
//! starts again. Nothing is issued before `finish`, which does everything in one
//! transaction; a retried `finish` returns the stored result, whenever it comes, so a phone
//! that lost the answer (or crashed) resumes from its saved share. The holder's previous
//! pairs end only at `confirm`, once the phone holds the new pair and every delivered key
//! (ADR 0005); recovery, whose old pair is on a lost phone, ends it at `finish`.

use super::store;
use crate::applications::{self, Application};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::ca::issue::{self, BACKDATE, CERT_DAYS, DAY, Holder};
use crate::ca::keys::Sealed;
use crate::cosign::keys as cosign_keys;
use crate::db::Tx;
use crate::error::{Outcome, Result, ServerError};
use crate::kmc;
use crate::memberships;
use crate::orders;
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::Json;
use axum::extract::{Path, State};
use bidkey_crypto::cosign::{self, DeviceKeygenMsg, ServerCosigner, ServerShare};
use bidkey_crypto::sm2::Sm2PublicKey;
use bidkey_crypto::x509::{Cert, CertProfile, Csr, CsrDraft, Name};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::{
    B64, CertUsage, CsrSignRequest, CsrSignResponse, DeliveredKey, EnrollConfirmation,
    EnrollFinishRequest, EnrollResult, EnrollStart, KeygenRequest, KeygenResponse,
};
use bidkey_protocol::orders::{ApplicationKind, Status};
use der::{Decode, Encode};

/// An enrolment must finish within 30 minutes.
pub const ENROLL_TTL: i64 = 1800;

#[derive(Debug, Clone)]
struct EnrollRow {
    id: String,
    application_id: String,
    status: String,
    keygen_session: String,
    sign_session: Option<String>,
    subject_der: Vec<u8>,
    public_key: Option<Vec<u8>>,
    share_sealed: Option<Vec<u8>>,
    result: Option<String>,
    expires_at: i64,
    device_id: String,
}

/// Load the caller's enrolment.
fn enrollment(tx: &mut dyn Tx, id: &str, account_id: &str, device_id: &str) -> Result<EnrollRow> {
    let r = tx
        .query_opt(
            "SELECT id, application_id, status, keygen_session, sign_session, subject_der, public_key, \
             share_sealed, result, expires_at, account_id, device_id FROM enrollments WHERE id = $1",
            &params![id],
        )?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    if r.text(10)? != account_id || r.text(11)? != device_id {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(EnrollRow {
        id: r.text(0)?,
        application_id: r.text(1)?,
        status: r.text(2)?,
        keygen_session: r.text(3)?,
        sign_session: r.opt_text(4)?,
        subject_der: r.bytes(5)?,
        public_key: r.opt_bytes(6)?,
        share_sealed: r.opt_bytes(7)?,
        result: r.opt_text(8)?,
        expires_at: r.i64(9)?,
        device_id: r.text(11)?,
    })
}

/// Refuse unless the enrolment is in `status` and not expired.
fn require(row: &EnrollRow, status: &str, now: i64) -> Result<()> {
    if row.status != status || row.expires_at <= now {
        return Err(ErrorCode::InvalidState.into());
    }
    Ok(())
}

/// Move the enrolment from `from` to `to`, once.
fn advance(tx: &mut dyn Tx, now: i64, id: &str, from: &str, to: &str) -> Result<()> {
    let n = tx.execute(
        "UPDATE enrollments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        &params![to, now, id, from],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(ErrorCode::InvalidState.into())
    }
}

fn sid(hex_id: &str) -> Result<Vec<u8>> {
    hex::decode(hex_id).map_err(|_| ServerError::Internal("bad session id".into()))
}

fn device_of(user: &AuthUser) -> Result<String> {
    user.device_id
        .clone()
        .ok_or(ServerError::Api(ErrorCode::Forbidden))
}

/// The applications the CA issues certificates for.
fn issues_certificates(kind: ApplicationKind) -> bool {
    !matches!(kind, ApplicationKind::Micropayment)
}

/// `POST /v1/applications/{id}/enroll/start`
pub async fn start(
    State(st): State<AppState>,
    user: AuthUser,
    Path(app_id): Path<String>,
) -> Result<Json<EnrollStart>> {
    let device = device_of(&user)?;
    let now = st.clock.now();
    let session = bidkey_crypto::rng::bytes::<32>()?;
    let out = st
        .db
        .write(move |tx| {
            let app = applications::get(tx, &app_id)?;
            if app.account_id != user.account_id {
                return Err(ErrorCode::ApplicationNotFound.into());
            }
            match app.status {
                Status::Paid => {}
                Status::AwaitingPayment => return Err(ErrorCode::PaymentRequired.into()),
                _ => return Err(ErrorCode::InvalidState.into()),
            }
            if !issues_certificates(app.kind) {
                return Err(ErrorCode::InvalidState.into());
            }
            let real_named = tx
                .query_opt(
                    "SELECT real_name FROM accounts WHERE id = $1",
                    &params![&user.account_id],
                )?
                .map(|r| r.opt_text(0))
                .transpose()?
                .flatten()
                .is_some();
            if !real_named {
                return Err(ErrorCode::RealNameRequired.into());
            }
            // A holder locked by wrong PINs stays locked through recovery and renewal: unlock
            // first (ADR 0011).
            crate::cosign::pin::check_holder_not_locked(
                tx,
                &app.account_id,
                app.enterprise_id.as_deref(),
            )?;
            let holder = Holder {
                account_id: app.account_id.clone(),
                enterprise_id: app.enterprise_id.clone(),
            };
            if app.kind == ApplicationKind::Recover && store::live_pairs_of(tx, &holder)?.is_empty()
            {
                return Err(ErrorCode::CertificateNotFound.into());
            }
            let subject = issue::subject_for_application(tx, &holder, &app)?
                .to_der()
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            let id = new_id()?;
            tx.execute(
                "INSERT INTO enrollments (id, application_id, account_id, device_id, status, keygen_session, subject_der, created_at, updated_at, expires_at) \
                 VALUES ($1, $2, $3, $4, 'keygen', $5, $6, $7, $7, $8)",
                &params![
                    id.as_str(),
                    app.id.as_str(),
                    &user.account_id,
                    device.as_str(),
                    hex::encode(session),
                    subject.clone(),
                    now,
                    now + ENROLL_TTL
                ],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "enroll.started",
                    target: Some(&app.id),
                    detail: Some(format!("{} enrollment {id}", app.kind.as_str())),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServerError>(EnrollStart {
                enrollment_id: id,
                keygen_session: session.to_vec(),
                subject_der: subject,
                expires_at: now + ENROLL_TTL,
            })
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/enrollments/{id}/keygen`: the server half of two-party key generation.
pub async fn keygen(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<KeygenRequest>,
) -> Result<Json<KeygenResponse>> {
    let device = device_of(&user)?;
    let now = st.clock.now();
    let secrets = st.secrets.clone();
    let sign_session = bidkey_crypto::rng::bytes::<32>()?;
    let out = st
        .db
        .write(move |tx| -> Outcome<KeygenResponse> {
            let row = enrollment(tx, &id, &user.account_id, &device)?;
            require(&row, "keygen", now)?;
            advance(tx, now, &row.id, "keygen", "failed")?;
            let Ok(msg) = DeviceKeygenMsg::from_bytes(&req.device_msg) else {
                return Ok(Err(ServerError::Api(ErrorCode::BadRequest)));
            };
            let (share, reply) = match cosign::server_keygen(&msg, &sid(&row.keygen_session)?)
            {
                Ok(x) => x,
                Err(_) => return Ok(Err(ServerError::Api(ErrorCode::InvalidProof))),
            };
            let sealed = secrets
                .cosign
                .seal(Sealed::Enrollment, &row.id, &share.to_bytes()?)?;
            tx.execute(
                "UPDATE enrollments SET status = 'csr', share_sealed = $1, public_key = $2, sign_session = $3, updated_at = $4 \
                 WHERE id = $5 AND status = 'failed'",
                &params![
                    sealed,
                    share.public_key().to_sec1(),
                    hex::encode(sign_session),
                    now,
                    row.id.as_str()
                ],
            )?;
            Ok(Ok(KeygenResponse {
                server_msg: reply.to_bytes().to_vec(),
                csr_sign_session: sign_session.to_vec(),
            }))
        })
        .await?;
    Ok(Json(out?))
}

/// The CSR the new key may sign: the subject the CA chose and the joint key; its digest is
/// the only one the pending key co-signs.
fn csr_draft(row: &EnrollRow) -> Result<(CsrDraft, Sm2PublicKey)> {
    let public = Sm2PublicKey::from_sec1(
        row.public_key
            .as_deref()
            .ok_or(ServerError::Api(ErrorCode::InvalidState))?,
    )?;
    let subject =
        Name::from_der(&row.subject_der).map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok((CsrDraft::new(subject, &public.to_spki_der()?)?, public))
}

fn pending_share(st: &AppState, row: &EnrollRow) -> Result<ServerShare> {
    let sealed = row
        .share_sealed
        .as_deref()
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    let bytes = st
        .secrets
        .cosign
        .open(Sealed::Enrollment, &row.id, sealed)?;
    Ok(ServerShare::from_bytes(&bytes)?)
}

/// `POST /v1/enrollments/{id}/csr/sign`: co-sign the CSR, and nothing else.
pub async fn csr_sign(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<CsrSignRequest>,
) -> Result<Json<CsrSignResponse>> {
    let device = device_of(&user)?;
    let now = st.clock.now();
    let st2 = st.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<Vec<u8>> {
            let row = enrollment(tx, &id, &user.account_id, &device)?;
            require(&row, "csr", now)?;
            advance(tx, now, &row.id, "csr", "failed")?;
            let Ok(request) = cosign::SignRequest::from_bytes(&req.request) else {
                return Ok(Err(ServerError::Api(ErrorCode::BadRequest)));
            };
            let (draft, _) = csr_draft(&row)?;
            if request.digest() != &draft.sm2_digest()? {
                return Ok(Err(ServerError::Api(ErrorCode::InvalidCsr)));
            }
            let share = pending_share(&st2, &row)?;
            let session = sid(row.sign_session.as_deref().unwrap_or_default())?;
            match ServerCosigner::new(&share).sign(&request, &session) {
                Ok(response) => {
                    advance(tx, now, &row.id, "failed", "signed")?;
                    Ok(Ok(response.to_bytes().to_vec()))
                }
                Err(_) => Ok(Err(ServerError::Api(ErrorCode::InvalidProof))),
            }
        })
        .await?;
    Ok(Json(CsrSignResponse { response: out? }))
}

/// What `finish` reads before it computes.
#[derive(Debug)]
struct FinishInput {
    row: EnrollRow,
    app: Application,
    holder: Holder,
    /// `(not_after of the signing certificate, serial of the encryption certificate)` of the
    /// holder's pairs in force or suspended.
    live: Vec<(i64, Option<String>)>,
    escrowed: Vec<kmc::Escrowed>,
}

enum Loaded {
    Done(String),
    Todo(Box<FinishInput>),
}

/// Everything `finish` writes, computed before the transaction.
#[derive(Debug)]
struct Issuance {
    pair_id: String,
    signing: Cert,
    signing_key_id: String,
    signing_share_sealed: Vec<u8>,
    public: Sm2PublicKey,
    /// A new encryption key and its certificate; `None` on recovery (the current one stays).
    new_key: Option<(kmc::NewKey, Cert)>,
    /// The current encryption certificate's serial.
    encryption_serial: String,
    deliveries: Vec<(kmc::Delivery, String)>,
    result: EnrollResult,
    result_json: String,
}

/// `POST /v1/enrollments/{id}/finish`: verify the CSR, issue both certificates, deliver the
/// encryption keys, close the application — in one transaction.
pub async fn finish(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<EnrollFinishRequest>,
) -> Result<Json<EnrollResult>> {
    if req.csr_der.len() > 8192 {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let device = device_of(&user)?;
    let now = st.clock.now();
    let (account, dev) = (user.account_id.clone(), device.clone());
    let loaded = st
        .db
        .read(move |tx| load_finish(tx, &id, &account, &dev, now))
        .await?;
    let input = match loaded {
        Loaded::Done(json) => return parse_result(&json).map(Json),
        Loaded::Todo(input) => input,
    };
    let issuance = compute(&st, &input, &req.csr_der, now)?;
    let actor = user.account_id.clone();
    let result = st
        .db
        .write(move |tx| write_finish(tx, now, &input, &issuance, &actor))
        .await?;
    Ok(Json(result))
}

fn parse_result(json: &str) -> Result<EnrollResult> {
    serde_json::from_str(json).map_err(|e| ServerError::Internal(e.to_string()))
}

fn load_finish(
    tx: &mut dyn Tx,
    id: &str,
    account_id: &str,
    device_id: &str,
    now: i64,
) -> Result<Loaded> {
    let row = enrollment(tx, id, account_id, device_id)?;
    if row.status == "issued" {
        let json = row
            .result
            .clone()
            .ok_or_else(|| ServerError::Internal("issued enrollment without result".into()))?;
        return Ok(Loaded::Done(json));
    }
    require(&row, "signed", now)?;
    let app = applications::get(tx, &row.application_id)?;
    if app.status != Status::Paid {
        return Err(ErrorCode::InvalidState.into());
    }
    let holder = Holder {
        account_id: app.account_id.clone(),
        enterprise_id: app.enterprise_id.clone(),
    };
    let mut live = Vec::new();
    for p in store::live_pairs_of(tx, &holder)? {
        let signing = store::cert_of(tx, &p.id, CertUsage::Signing)?;
        let enc = store::cert_of(tx, &p.id, CertUsage::Encryption)?;
        if let Some(s) = signing {
            live.push((s.not_after, enc.map(|c| c.serial)));
        }
    }
    let escrowed = kmc::escrowed_of(tx, &holder)?;
    Ok(Loaded::Todo(Box::new(FinishInput {
        row,
        app,
        holder,
        live,
        escrowed,
    })))
}

/// Validity of the new pair: a renewal continues from the old expiry, a recovery keeps it,
/// everything else gets a year from now.
fn validity(kind: ApplicationKind, now: i64, live: &[(i64, Option<String>)]) -> Result<(i64, i64)> {
    let old_end = live.iter().map(|(t, _)| *t).max();
    let not_after = match kind {
        ApplicationKind::Renew => old_end.unwrap_or(now).max(now) + CERT_DAYS * DAY,
        ApplicationKind::Recover => match old_end {
            Some(t) if t > now => t,
            _ => return Err(ErrorCode::CertificateExpired.into()),
        },
        _ => now + CERT_DAYS * DAY,
    };
    Ok((now - BACKDATE, not_after))
}

fn compute(st: &AppState, input: &FinishInput, csr_der: &[u8], now: i64) -> Result<Issuance> {
    let ca = &st.secrets.ca;
    let (_, public) = csr_draft(&input.row)?;
    let invalid = |_| ServerError::Api(ErrorCode::InvalidCsr);
    let csr = Csr::from_der(csr_der).map_err(invalid)?;
    csr.verify_self_signature().map_err(invalid)?;
    if csr.sm2_public_key().map_err(invalid)? != public {
        return Err(ErrorCode::InvalidCsr.into());
    }
    let subject_der = csr
        .subject()
        .to_der()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    if subject_der != input.row.subject_der {
        return Err(ErrorCode::InvalidCsr.into());
    }
    let subject = csr.subject().clone();
    let (not_before, not_after) = validity(input.app.kind, now, &input.live)?;
    let signing = issue::issue(
        ca,
        CertProfile::Signing,
        &subject,
        public.to_spki_der()?,
        not_before,
        not_after,
    )?;
    // The signing key's server share moves from the enrolment to the co-signing service.
    let signing_key_id = new_id()?;
    let share = pending_share(st, &input.row)?;
    let signing_share_sealed =
        st.secrets
            .cosign
            .seal(Sealed::CosignShare, &signing_key_id, &share.to_bytes()?)?;

    let mut deliveries = Vec::new();
    let mut delivered = Vec::new();
    let (new_key, encryption_serial, encryption_der) = if input.app.kind == ApplicationKind::Recover
    {
        let serial = input
            .live
            .iter()
            .find_map(|(_, enc)| enc.clone())
            .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
        let der = input
            .escrowed
            .iter()
            .find(|e| e.cert_serial.as_deref() == Some(serial.as_str()))
            .and_then(|e| e.cert_der.clone())
            .ok_or_else(|| ServerError::Internal("current key not in escrow".into()))?;
        (None, serial, der)
    } else {
        let key = kmc::make_key(&st.secrets.kmc)?;
        let cert = issue::issue(
            ca,
            CertProfile::Encryption {
                key_agreement: false,
            },
            &subject,
            key.key.public_key().to_spki_der()?,
            not_before,
            not_after,
        )?;
        let d = kmc::deliver(&st.secrets.cosign, &key.key, &public)?;
        delivered.push(DeliveredKey {
            serial: cert.serial_hex(),
            cert_der: cert.to_der().to_vec(),
            envelope: d.envelope.clone(),
            current: true,
        });
        deliveries.push((d, cert.serial_hex()));
        let (serial, der) = (cert.serial_hex(), cert.to_der().to_vec());
        (Some((key, cert)), serial, der)
    };
    for e in &input.escrowed {
        let (Some(serial), Some(der)) = (&e.cert_serial, &e.cert_der) else {
            continue;
        };
        let key = kmc::open(&st.secrets.kmc, e)?;
        let d = kmc::deliver(&st.secrets.cosign, &key, &public)?;
        delivered.push(DeliveredKey {
            serial: serial.clone(),
            cert_der: der.clone(),
            envelope: d.envelope.clone(),
            current: *serial == encryption_serial,
        });
        deliveries.push((d, serial.clone()));
    }
    let pair_id = new_id()?;
    let result = EnrollResult {
        application_id: input.app.id.clone(),
        pair_id: pair_id.clone(),
        signing_serial: signing.serial_hex(),
        signing_cert: signing.to_der().to_vec(),
        encryption_serial: encryption_serial.clone(),
        encryption_cert: encryption_der,
        chain: vec![
            B64(ca.issuing().to_der().to_vec()),
            B64(ca.root().to_der().to_vec()),
        ],
        delivered_keys: delivered,
    };
    let result_json =
        serde_json::to_string(&result).map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(Issuance {
        pair_id,
        signing,
        signing_key_id,
        signing_share_sealed,
        public,
        new_key,
        encryption_serial,
        deliveries,
        result,
        result_json,
    })
}

fn write_finish(
    tx: &mut dyn Tx,
    now: i64,
    input: &FinishInput,
    iss: &Issuance,
    actor: &str,
) -> Result<EnrollResult> {
    let row = &input.row;
    // The pending share moved to `cosign_keys` (sealed there under its own id); a repeated
    // `finish` answers from `result`, so the enrolment's copy is wiped here.
    let n = tx.execute(
        "UPDATE enrollments SET status = 'issued', result = $1, pair_id = $2, share_sealed = NULL, updated_at = $3 \
         WHERE id = $4 AND status = 'signed'",
        &params![iss.result_json.as_str(), iss.pair_id.as_str(), now, row.id.as_str()],
    )?;
    if n != 1 {
        // A concurrent finish won: answer what it stored.
        let stored = tx
            .query_opt(
                "SELECT status, result FROM enrollments WHERE id = $1",
                &params![row.id.as_str()],
            )?
            .ok_or(ServerError::Api(ErrorCode::NotFound))?;
        return match (stored.text(0)?.as_str(), stored.opt_text(1)?) {
            ("issued", Some(json)) => parse_result(&json),
            _ => Err(ErrorCode::InvalidState.into()),
        };
    }
    let app = applications::get(tx, &row.application_id)?;
    applications::transition(tx, now, &app.id, Status::Paid, Status::Issued, None)?;
    if let Some(order_id) = &app.order_id {
        orders::mark_issued(tx, now, order_id)?;
    }
    memberships::apply_issued(tx, now, &app)?;

    let old = store::live_pairs_of(tx, &input.holder)?;
    store::insert_pair(
        tx,
        now,
        &iss.pair_id,
        &input.holder,
        &row.device_id,
        &app.id,
    )?;
    store::insert_cert(tx, now, &iss.pair_id, CertUsage::Signing, &iss.signing)?;
    match &iss.new_key {
        Some((key, cert)) => {
            store::insert_cert(tx, now, &iss.pair_id, CertUsage::Encryption, cert)?;
            kmc::store(tx, now, &input.holder, key, &cert.serial_hex())?;
        }
        None => {
            // Recovery: the same encryption certificate (same key) joins the new pair.
            // A suspension (loss report) of the old pair does not follow it.
            tx.execute(
                "UPDATE certificates SET pair_id = $1, status = 'valid', revoked_at = NULL, revoke_reason = NULL \
                 WHERE serial = $2 AND status IN ('valid', 'suspended')",
                &params![iss.pair_id.as_str(), iss.encryption_serial.as_str()],
            )?;
        }
    }
    if app.kind == ApplicationKind::Recover {
        // The old pair's signing key is on a lost phone: it ends now (key compromise). The
        // new phone holds none of its keys, so nothing it needs goes with it.
        for p in &old {
            super::lifecycle::revoke(
                tx,
                now,
                &p.id,
                super::lifecycle::KEY_COMPROMISE,
                true,
                "system",
            )?;
        }
    } else {
        // The old pairs stay in force until the phone confirms it holds the new one
        // (ADR 0005): a crash before then leaves the holder a usable pair.
        let ids: Vec<&str> = old.iter().map(|p| p.id.as_str()).collect();
        let json = serde_json::to_string(&ids).map_err(|e| ServerError::Internal(e.to_string()))?;
        tx.execute(
            "UPDATE enrollments SET supersedes = $1 WHERE id = $2",
            &params![json, row.id.as_str()],
        )?;
    }
    cosign_keys::insert(
        tx,
        now,
        &iss.signing_key_id,
        &iss.pair_id,
        CertUsage::Signing,
        &iss.public,
        &iss.signing_share_sealed,
        &iss.signing.serial_hex(),
    )?;
    for (d, serial) in &iss.deliveries {
        cosign_keys::insert(
            tx,
            now,
            &d.cosign_key_id,
            &iss.pair_id,
            CertUsage::Encryption,
            &d.public_key,
            &d.share_sealed,
            serial,
        )?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "cert.issued",
            target: Some(&iss.pair_id),
            detail: Some(format!(
                "{} application {}: signing {}, encryption {}, {} key(s) delivered",
                app.kind.as_str(),
                app.id,
                iss.signing.serial_hex(),
                iss.encryption_serial,
                iss.deliveries.len()
            )),
            ..Default::default()
        },
    )?;
    if iss.new_key.is_some() {
        audit::record(
            tx,
            now,
            Event {
                actor: "kmc",
                action: "kmc.escrowed",
                target: Some(&iss.encryption_serial),
                ..Default::default()
            },
        )?;
    }
    applications::notify(
        tx,
        now,
        &app.account_id,
        Some(&app.id),
        "您的证书已签发。",
        "Your certificates have been issued.",
    )?;
    Ok(iss.result.clone())
}

/// `POST /v1/enrollments/{id}/confirm`: the phone holds the new pair and every delivered
/// key; the pairs this enrolment replaces end now (superseded, or affiliation changed for a
/// change of information). Answered the same when repeated.
pub async fn confirm(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<EnrollConfirmation>> {
    let device = device_of(&user)?;
    let now = st.clock.now();
    let out =
        st.db
            .write(move |tx| {
                let row = enrollment(tx, &id, &user.account_id, &device)?;
                if row.status != "issued" {
                    return Err(ErrorCode::InvalidState.into());
                }
                let r = tx
                    .query_opt(
                        "SELECT pair_id, supersedes, confirmation FROM enrollments WHERE id = $1",
                        &params![row.id.as_str()],
                    )?
                    .ok_or(ServerError::Api(ErrorCode::NotFound))?;
                if let Some(json) = r.opt_text(2)? {
                    return serde_json::from_str(&json)
                        .map_err(|e| ServerError::Internal(e.to_string()));
                }
                let pair_id = r.opt_text(0)?.ok_or_else(|| {
                    ServerError::Internal("issued enrollment without pair".into())
                })?;
                let supersedes: Vec<String> = match r.opt_text(1)? {
                    Some(json) => serde_json::from_str(&json)
                        .map_err(|e| ServerError::Internal(e.to_string()))?,
                    None => Vec::new(),
                };
                let app = applications::get(tx, &row.application_id)?;
                let reason = if app.kind == ApplicationKind::ChangeInfo {
                    super::lifecycle::AFFILIATION_CHANGED
                } else {
                    super::lifecycle::SUPERSEDED
                };
                let live = |status: &str| matches!(status, "valid" | "suspended");
                let mut confirmation = EnrollConfirmation {
                    pair_id: pair_id.clone(),
                    superseded_pair_ids: Vec::new(),
                    revoked_serials: Vec::new(),
                };
                // Only a new pair still in force replaces anything (its holder may have revoked
                // it meanwhile).
                if live(&store::pair(tx, &pair_id)?.status) {
                    for old in &supersedes {
                        if live(&store::pair(tx, old)?.status) {
                            let serials =
                                super::lifecycle::revoke(tx, now, old, reason, true, "system")?;
                            confirmation.superseded_pair_ids.push(old.clone());
                            confirmation.revoked_serials.extend(serials);
                        }
                    }
                }
                let json = serde_json::to_string(&confirmation)
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                tx.execute(
                    "UPDATE enrollments SET confirmed_at = $1, confirmation = $2, updated_at = $1 \
                 WHERE id = $3 AND confirmation IS NULL",
                    &params![now, json, row.id.as_str()],
                )?;
                audit::record(
                    tx,
                    now,
                    Event {
                        actor: &user.account_id,
                        action: "enroll.confirmed",
                        target: Some(&pair_id),
                        detail: Some(format!(
                            "enrollment {}; superseded {}",
                            row.id,
                            confirmation.superseded_pair_ids.join(",")
                        )),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ServerError>(confirmation)
            })
            .await?;
    Ok(Json(out))
}

//! Holders' certificates: enrolment ([`enroll`]), the certificate list, and the lifecycle
//! requests of 证书管理 — renew (续期), re-apply (重新申请), recover to a new phone (证书找回),
//! revoke with the PIN (注销), loss report (挂失) and its undo (解挂), unlock (解锁).

pub mod enroll;
pub mod identity;
pub mod lifecycle;
pub mod store;

use crate::accounts::{self, codes};
use crate::applications::{self, NewApplication};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::ca::issue::{DAY, Holder};
use crate::cosign::{self, keys as cosign_keys, pin};
use crate::db::Tx;
use crate::error::{Outcome, Result, ServerError};
use crate::kmc;
use crate::orders;
use crate::params;
use crate::ratelimit;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_protocol::certs::*;
use bidkey_protocol::orders::{self as wire_orders, ApplicationKind, Status};
use std::net::SocketAddr;

/// Renewal opens 30 days before expiry.
pub const RENEW_WINDOW: i64 = 30 * DAY;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/applications/personal", post(apply_personal))
        .route("/v1/applications/{id}/enroll/start", post(enroll::start))
        .route("/v1/enrollments/{id}/keygen", post(enroll::keygen))
        .route("/v1/enrollments/{id}/csr/sign", post(enroll::csr_sign))
        .route("/v1/enrollments/{id}/finish", post(enroll::finish))
        .route("/v1/enrollments/{id}/confirm", post(enroll::confirm))
        .route("/v1/certs", get(list))
        .route("/v1/certs/recover", post(recover))
        .route("/v1/certs/recover/{id}/cancel", post(cancel_recovery))
        .route("/v1/certs/loss-report", post(loss_report))
        .route("/v1/certs/{serial}/renew", post(renew))
        .route("/v1/certs/{serial}/reapply", post(reapply))
        .route("/v1/certs/{serial}/revoke", post(revoke))
        .route(
            "/v1/certs/{serial}/undo-loss-report",
            post(undo_loss_report),
        )
        .route("/v1/certs/{serial}/unlock", post(unlock))
}

/// Where a pair stands now.
fn pair_state(pair: &store::PairRow, certs: &[store::CertRow], now: i64) -> (PairState, i64) {
    let signing = certs.iter().find(|c| c.usage == CertUsage::Signing);
    let not_after = signing.map_or(0, |c| c.not_after);
    let state = if matches!(pair.status.as_str(), "revoked" | "superseded")
        || signing.is_none_or(|c| c.status == "revoked")
    {
        PairState::Revoked
    } else if not_after <= now {
        PairState::Expired
    } else if pair.status == "suspended" {
        PairState::Suspended
    } else if not_after - now <= RENEW_WINDOW {
        PairState::Expiring
    } else {
        PairState::InForce
    };
    (state, not_after)
}

fn cert_info(c: &store::CertRow) -> CertInfo {
    CertInfo {
        serial: c.serial.clone(),
        usage: c.usage,
        subject: c.subject.clone(),
        not_before: c.not_before,
        not_after: c.not_after,
        status: match c.status.as_str() {
            "revoked" => RevocationStatus::Revoked,
            "suspended" => RevocationStatus::Suspended,
            _ => RevocationStatus::Good,
        },
        der: c.der.clone(),
    }
}

fn pair_view(
    tx: &mut dyn Tx,
    pair: &store::PairRow,
    device_id: Option<&str>,
    now: i64,
) -> Result<CertPairView> {
    let certs = store::certs_of(tx, &pair.id)?;
    let (state, not_after) = pair_state(pair, &certs, now);
    let enterprise_name = match &pair.enterprise_id {
        Some(e) => tx
            .query_opt("SELECT name FROM enterprises WHERE id = $1", &params![e])?
            .map(|r| r.text(0))
            .transpose()?,
        None => None,
    };
    let (failed, locked) = pin::state(tx, &pair.id)?;
    let find = |u: CertUsage| certs.iter().find(|c| c.usage == u).map(cert_info);
    Ok(CertPairView {
        pair_id: pair.id.clone(),
        enterprise_id: pair.enterprise_id.clone(),
        enterprise_name,
        state,
        signing: find(CertUsage::Signing),
        encryption: find(CertUsage::Encryption),
        not_after,
        this_device: device_id.is_some() && pair.device_id.as_deref() == device_id,
        key_locked: locked,
        pin_tries_left: pin::tries_left(failed),
    })
}

/// `GET /v1/certs`: 生效中 / 即将过期 / 已失效.
async fn list(State(st): State<AppState>, user: AuthUser) -> Result<Json<CertList>> {
    let now = st.clock.now();
    let out = st
        .db
        .read(move |tx| {
            let mut out = CertList::default();
            for p in store::pairs_of_account(tx, &user.account_id)? {
                let v = pair_view(tx, &p, user.device_id.as_deref(), now)?;
                match v.state {
                    PairState::InForce | PairState::Suspended => out.in_force.push(v),
                    PairState::Expiring => {
                        out.expiring.push(v.clone());
                        out.in_force.push(v);
                    }
                    PairState::Expired | PairState::Revoked => out.invalid.push(v),
                }
            }
            Ok::<_, ServerError>(out)
        })
        .await?;
    Ok(Json(out))
}

/// Create an application for a holder, with its order when it needs no review.
fn new_application(
    tx: &mut dyn Tx,
    now: i64,
    kind: ApplicationKind,
    holder: &Holder,
    reviewed: bool,
    idempotency_key: Option<&str>,
) -> Result<wire_orders::Application> {
    let app = applications::create(
        tx,
        now,
        NewApplication {
            kind,
            account_id: &holder.account_id,
            enterprise_id: holder.enterprise_id.as_deref(),
            status: if reviewed {
                Status::PendingReview
            } else {
                Status::AwaitingPayment
            },
            detail: None,
            idempotency_key,
        },
    )?;
    if !reviewed && app.order_id.is_none() {
        let item = orders::fee_item(kind, holder.enterprise_id.is_some())
            .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
        let order = orders::create_for(tx, now, &app, item)?;
        if order.status == Status::Paid {
            applications::transition(
                tx,
                now,
                &app.id,
                Status::AwaitingPayment,
                Status::Paid,
                None,
            )?;
        }
        audit::record(
            tx,
            now,
            Event {
                actor: &holder.account_id,
                action: "application.created",
                target: Some(&app.id),
                detail: Some(kind.as_str().to_owned()),
                ..Default::default()
            },
        )?;
    }
    let app = applications::get(tx, &app.id)?;
    orders::view(tx, &app)
}

/// `POST /v1/applications/personal`: 申请个人证书, after real-name verification.
async fn apply_personal(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<PersonalApplicationRequest>,
) -> Result<Json<wire_orders::Application>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let real = tx
                .query_opt(
                    "SELECT real_name FROM accounts WHERE id = $1",
                    &params![&user.account_id],
                )?
                .map(|r| r.opt_text(0))
                .transpose()?
                .flatten();
            if real.is_none() {
                return Err(ErrorCode::RealNameRequired.into());
            }
            let holder = Holder {
                account_id: user.account_id.clone(),
                enterprise_id: None,
            };
            let app = new_application(
                tx,
                now,
                ApplicationKind::Personal,
                &holder,
                true,
                req.idempotency_key.as_deref(),
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "application.created",
                    target: Some(&app.id),
                    detail: Some("personal".into()),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServerError>(app)
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/certs/{serial}/renew` (续期): in the last 30 days of a pair in force.
async fn renew(
    State(st): State<AppState>,
    user: AuthUser,
    Path(serial): Path<String>,
    Json(req): Json<RenewRequest>,
) -> Result<Json<wire_orders::Application>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let pair = store::pair_of_serial(tx, &serial, &user.account_id)?;
            cosign_keys::check_usable(tx, &pair.id, now, false)?;
            let signing = store::cert_of(tx, &pair.id, CertUsage::Signing)?
                .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
            if signing.not_after - now > RENEW_WINDOW {
                return Err(ErrorCode::RenewalTooEarly.into());
            }
            new_application(
                tx,
                now,
                ApplicationKind::Renew,
                &pair.holder(),
                false,
                req.idempotency_key.as_deref(),
            )
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/certs/{serial}/reapply` (重新申请): after expiry, reviewed like a new one.
async fn reapply(
    State(st): State<AppState>,
    user: AuthUser,
    Path(serial): Path<String>,
    Json(req): Json<RenewRequest>,
) -> Result<Json<wire_orders::Application>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let pair = store::pair_of_serial(tx, &serial, &user.account_id)?;
            let certs = store::certs_of(tx, &pair.id)?;
            if pair_state(&pair, &certs, now).0 != PairState::Expired {
                return Err(ErrorCode::InvalidState.into());
            }
            new_application(
                tx,
                now,
                ApplicationKind::Reapply,
                &pair.holder(),
                true,
                req.idempotency_key.as_deref(),
            )
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/certs/recover` (证书找回): a logged-in new phone, the same person again (the
/// provider's verdict, the same ID number and the same name) and an SMS code. The
/// application goes to the RA's review with what the reviewer needs to see, and is held for
/// the operator's cooling-off period ([`crate::Limits::recovery_cooling_off`]) while the
/// account's other devices (a message) and its number (an SMS) are told and can cancel it
/// ([`cancel_recovery`]). Only then does it lead to a new signing key on this phone and the
/// escrowed encryption keys re-delivered; a holder locked by wrong PINs stays locked, for the
/// counter belongs to the holder, not the pair (ADR 0011).
async fn recover(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<RecoverRequest>,
) -> Result<Json<wire_orders::Application>> {
    let now = st.clock.now();
    let claimed = identity::claim(&st, &req.realname).await?;
    let cooling_off = st.limits.recovery_cooling_off;
    let sms = st.sms.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<wire_orders::Application> {
            if let Some(key) = req.idempotency_key.as_deref()
                && let Some(app) =
                    applications::by_key(tx, ApplicationKind::Recover, &user.account_id, key)?
            {
                return orders::view(tx, &app).map(Ok);
            }
            if let Err(e) = identity::check(
                tx,
                now,
                &user.account_id,
                &claimed,
                SmsPurpose::Recover,
                &req.code,
            )? {
                return Ok(Err(e));
            }
            let holder = Holder {
                account_id: user.account_id.clone(),
                enterprise_id: req.enterprise_id.clone(),
            };
            let live = store::live_pairs_of(tx, &holder)?;
            let Some(pair) = live.first() else {
                return Ok(Err(ErrorCode::CertificateNotFound.into()));
            };
            if let Err(e) = cosign_keys::check_usable(tx, &pair.id, now, true) {
                return Ok(Err(e));
            }
            let app = new_application(
                tx,
                now,
                ApplicationKind::Recover,
                &holder,
                true,
                req.idempotency_key.as_deref(),
            )?;
            let not_before = now + cooling_off;
            let materials = recovery_materials(tx, &user, &holder, pair, not_before)?;
            applications::hold(tx, &app.id, not_before, &materials)?;
            tell_of_recovery(tx, sms.as_ref(), now, &user.account_id, &app.id, not_before)?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "recovery.requested",
                    target: Some(&app.id),
                    detail: Some(format!(
                        "device {}; held until {not_before}",
                        user.device_id.as_deref().unwrap_or("-")
                    )),
                    ..Default::default()
                },
            )?;
            let app = applications::get(tx, &app.id)?;
            orders::view(tx, &app).map(Ok)
        })
        .await?;
    Ok(Json(out?))
}

/// What the RA reviewer of a recovery sees (JSON): the verified person (masked), the number,
/// the device asking and the devices the account already has, the pairs to be replaced and
/// whether the holder's key is locked, and the end of the cooling-off.
fn recovery_materials(
    tx: &mut dyn Tx,
    user: &AuthUser,
    holder: &Holder,
    pair: &store::PairRow,
    not_before: i64,
) -> Result<String> {
    let acc = accounts::account_info(tx, &user.account_id)?;
    let device = match user.device_id.as_deref() {
        Some(d) => tx
            .query_opt(
                "SELECT name, created_at FROM devices WHERE id = $1",
                &params![d],
            )?
            .map(|r| Ok::<_, ServerError>((r.text(0)?, r.i64(1)?)))
            .transpose()?,
        None => None,
    };
    let other_devices = tx
        .query_opt(
            "SELECT COUNT(*) FROM devices WHERE account_id = $1 AND revoked_at IS NULL AND id <> $2",
            &params![&user.account_id, user.device_id.as_deref().unwrap_or_default()],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    let serials: Vec<String> = store::certs_of(tx, &pair.id)?
        .into_iter()
        .map(|c| c.serial)
        .collect();
    let (failed, locked) = pin::state(tx, &pair.id)?;
    Ok(serde_json::json!({
        "real_name": acc.real_name,
        "id_number_masked": acc.id_number_masked,
        "realname_method": acc.realname_method.map(|m| m.as_str()),
        "phone_masked": acc.phone_masked,
        "enterprise_id": holder.enterprise_id,
        "requesting_device": {
            "id": user.device_id,
            "name": device.as_ref().map(|d| d.0.clone()),
            "first_seen": device.as_ref().map(|d| d.1),
        },
        "other_devices": other_devices,
        "replaces_pair": pair.id,
        "replaces_serials": serials,
        "key_locked": locked,
        "failed_pins": failed,
        "cooling_off_until": not_before,
    })
    .to_string())
}

/// Tell the account's devices (a message every logged-in device lists) and its phone number
/// (an SMS) that a recovery was asked for and how to cancel it.
fn tell_of_recovery(
    tx: &mut dyn Tx,
    sms: &dyn crate::sms::SmsProvider,
    now: i64,
    account_id: &str,
    app_id: &str,
    not_before: i64,
) -> Result<()> {
    let hours = (not_before - now).max(0) / 3600;
    applications::notify(
        tx,
        now,
        account_id,
        Some(app_id),
        &format!(
            "有新设备申请找回您的证书，{hours}小时后生效。如非本人操作，请在原设备上取消（申请号 {app_id}）并挂失证书。"
        ),
        &format!(
            "A new device asked to recover your certificates; it takes effect in {hours} h. If this was not you, cancel it on your old device (application {app_id}) and report the loss."
        ),
    )?;
    let phone = tx
        .query_opt(
            "SELECT phone FROM accounts WHERE id = $1",
            &params![account_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?
        .text(0)?;
    let msg = crate::sms::SmsMessage {
        phone,
        template: crate::sms::SmsTemplate::RecoveryStarted,
        params: vec![("hours", hours.to_string())],
        text: format!(
            "【Bidkey】有新设备申请找回您的证书，{hours}小时后生效。如非本人操作，请在原手机的Bidkey中取消并挂失。A new device asked to recover your Bidkey certificates; if this was not you, cancel it on your old phone."
        ),
    };
    sms.send(tx, now, &msg)
}

/// `POST /v1/certs/recover/{id}/cancel` (取消找回): any logged-in device of the account
/// (the old phone above all) ends a recovery that has not enrolled yet.
async fn cancel_recovery(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<wire_orders::Application>> {
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let app = applications::get(tx, &id)?;
            if app.account_id != user.account_id || app.kind != ApplicationKind::Recover {
                return Err(ErrorCode::ApplicationNotFound.into());
            }
            applications::close_open(tx, now, &app.id, "cancelled by the account holder")?;
            applications::notify(
                tx,
                now,
                &app.account_id,
                Some(&app.id),
                "证书找回申请已取消。",
                "The certificate recovery was cancelled.",
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "recovery.cancelled",
                    target: Some(&app.id),
                    detail: Some(format!(
                        "device {}",
                        user.device_id.as_deref().unwrap_or("-")
                    )),
                    ..Default::default()
                },
            )?;
            let app = applications::get(tx, &app.id)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/certs/{serial}/revoke` (注销): with the PIN, proven by a finished co-signature of
/// the revocation challenge. Irreversible; the holder's escrowed keys are withdrawn and the
/// server shares wiped ("无法解密原有文件").
async fn revoke(
    State(st): State<AppState>,
    user: AuthUser,
    Path(serial): Path<String>,
    Json(req): Json<RevokeRequest>,
) -> Result<Json<PairChange>> {
    let device = user
        .device_id
        .clone()
        .ok_or(ServerError::Api(ErrorCode::Forbidden))?;
    let now = st.clock.now();
    let out = st
        .db
        .write(move |tx| {
            let pair = store::pair_of_serial(tx, &serial, &user.account_id)?;
            let key =
                cosign::take_revoke_proof(tx, &req.session_id, &user.account_id, &device, now)?;
            if key.pair_id != pair.id {
                return Err(ErrorCode::InvalidProof.into());
            }
            let serials = lifecycle::revoke(
                tx,
                now,
                &pair.id,
                lifecycle::CESSATION_OF_OPERATION,
                false,
                &user.account_id,
            )?;
            let withdrawn = kmc::withdraw(tx, now, &pair.holder())?;
            tx.execute(
                "UPDATE cosign_keys SET share_sealed = $1, updated_at = $2 WHERE pair_id = $3",
                &params![Vec::<u8>::new(), now, pair.id.as_str()],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "kmc.withdrawn",
                    target: Some(&pair.id),
                    detail: Some(format!("{withdrawn} escrowed key(s)")),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServerError>(PairChange {
                pair_ids: vec![pair.id.clone()],
                serials,
                state: PairState::Revoked,
            })
        })
        .await?;
    Ok(Json(out))
}

/// `POST /v1/certs/loss-report` (挂失): by phone number and SMS code, without the phone's
/// login; suspends one pair or every pair in force of the account.
async fn loss_report(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LossReportRequest>,
) -> Result<Json<PairChange>> {
    let now = st.clock.now();
    let ip = addr.ip().to_string();
    let sms_key = st.secrets.sms_code_key.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<PairChange> {
            ratelimit::hit(tx, &format!("loss:ip:{ip}"), now, 3600, 30)?;
            if let Err(code) = codes::verify(
                tx,
                &sms_key,
                now,
                &req.phone,
                SmsPurpose::LossReport,
                &req.code,
            )? {
                return Ok(Err(ServerError::Api(code)));
            }
            let account = accounts::account_by_phone(tx, &req.phone)?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
            let pairs = match &req.serial {
                Some(serial) => vec![store::pair_of_serial(tx, serial, &account)?],
                None => store::pairs_of_account(tx, &account)?,
            };
            let mut change = PairChange {
                pair_ids: Vec::new(),
                serials: Vec::new(),
                state: PairState::Suspended,
            };
            for p in pairs.iter().filter(|p| p.status == "valid") {
                change
                    .serials
                    .extend(lifecycle::suspend(tx, now, &p.id, &account)?);
                change.pair_ids.push(p.id.clone());
            }
            if change.pair_ids.is_empty() {
                return Ok(Err(ErrorCode::InvalidState.into()));
            }
            Ok(Ok(change))
        })
        .await?;
    Ok(Json(out?))
}

/// `POST /v1/certs/{serial}/undo-loss-report` (解挂): logged in, with a fresh SMS code.
async fn undo_loss_report(
    State(st): State<AppState>,
    user: AuthUser,
    Path(serial): Path<String>,
    Json(req): Json<UndoLossRequest>,
) -> Result<Json<PairChange>> {
    let now = st.clock.now();
    let sms_key = st.secrets.sms_code_key.clone();
    let out = st
        .db
        .write(move |tx| -> Outcome<PairChange> {
            let phone = tx
                .query_opt(
                    "SELECT phone FROM accounts WHERE id = $1",
                    &params![&user.account_id],
                )?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?
                .text(0)?;
            if let Err(code) =
                codes::verify(tx, &sms_key, now, &phone, SmsPurpose::LossReport, &req.code)?
            {
                return Ok(Err(ServerError::Api(code)));
            }
            let pair = store::pair_of_serial(tx, &serial, &user.account_id)?;
            let serials = lifecycle::unsuspend(tx, now, &pair.id, &user.account_id)?;
            Ok(Ok(PairChange {
                pair_ids: vec![pair.id.clone()],
                serials,
                state: PairState::InForce,
            }))
        })
        .await?;
    Ok(Json(out?))
}

/// `POST /v1/certs/{serial}/unlock` (解锁): real-name again (the same person) and an SMS code
/// (purpose `unlock`) reset the holder's PIN counter; only a locked key, and at most
/// [`pin::UNLOCKS_PER_WINDOW`] times in [`pin::UNLOCK_WINDOW`] (`unlock_limited` with
/// `not_before` after that), so unlocks add a bounded number of guesses (ADR 0011).
async fn unlock(
    State(st): State<AppState>,
    user: AuthUser,
    Path(serial): Path<String>,
    Json(req): Json<IdentityCheck>,
) -> Result<Json<CertPairView>> {
    let now = st.clock.now();
    let claimed = identity::claim(&st, &req.realname).await?;
    let out = st
        .db
        .write(move |tx| -> Outcome<CertPairView> {
            // Refused before the identity check, so a refused unlock spends no code.
            let pair = store::pair_of_serial(tx, &serial, &user.account_id)?;
            pin::check_unlock_allowed(tx, now, &pair.id)?;
            if let Err(e) = identity::check(
                tx,
                now,
                &user.account_id,
                &claimed,
                SmsPurpose::Unlock,
                &req.code,
            )? {
                return Ok(Err(e));
            }
            pin::unlock(tx, now, &pair.id, &user.account_id)?;
            pair_view(tx, &pair, user.device_id.as_deref(), now).map(Ok)
        })
        .await?;
    Ok(Json(out?))
}

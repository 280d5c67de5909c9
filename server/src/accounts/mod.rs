//! Accounts: SMS codes, sign-up and login, passwords, tokens, phone change, real-name.

pub mod codes;
pub mod password;

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::realname::{Verdict, mask_id_number};
use crate::state::AppState;
use crate::util::{hash_secret, mask_phone, new_id, new_token, valid_phone};
use axum::extract::{ConnectInfo, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::*;
use std::net::SocketAddr;

/// Tokens live 30 days.
pub const TOKEN_TTL: i64 = 30 * 24 * 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sms/send", post(send_sms))
        .route("/v1/accounts/signup", post(signup))
        .route("/v1/accounts/reset-password", post(reset_password))
        .route("/v1/sessions/sms", post(login_sms))
        .route("/v1/sessions/password", post(login_password))
        .route("/v1/sessions/current", delete(logout))
        .route("/v1/me", get(me))
        .route("/v1/me/password", put(set_password))
        .route("/v1/me/phone", put(change_phone))
        .route("/v1/me/realname", post(realname))
}

fn ip_of(addr: &SocketAddr) -> String {
    addr.ip().to_string()
}

fn check_phone(phone: &str) -> Result<()> {
    if valid_phone(phone) {
        Ok(())
    } else {
        Err(ErrorCode::InvalidPhone.into())
    }
}

async fn send_sms(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<SendSmsRequest>,
) -> Result<Json<SendSmsResponse>> {
    check_phone(&req.phone)?;
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let sms = st.sms.clone();
    let per_ip = st.limits.sms_per_ip_per_hour;
    let sms_key = st.secrets.sms_code_key.clone();
    st.db
        .write(move |tx| {
            let exists = account_by_phone(tx, &req.phone)?.is_some();
            match req.purpose {
                SmsPurpose::Signup | SmsPurpose::ChangePhone if exists => {
                    return Err(ErrorCode::PhoneAlreadyRegistered.into());
                }
                SmsPurpose::ResetPassword
                | SmsPurpose::ChangePhoneOld
                | SmsPurpose::Unlock
                | SmsPurpose::Recover
                | SmsPurpose::LossReport
                    if !exists =>
                {
                    return Err(ErrorCode::AccountNotFound.into());
                }
                _ => {}
            }
            codes::issue(
                tx,
                &sms_key,
                sms.as_ref(),
                now,
                &req.phone,
                req.purpose,
                &ip,
                per_ip,
            )
        })
        .await?;
    Ok(Json(SendSmsResponse {
        expires_in: codes::CODE_TTL as u64,
        resend_after: codes::RESEND_AFTER as u64,
    }))
}

pub(crate) fn account_by_phone(tx: &mut dyn Tx, phone: &str) -> Result<Option<String>> {
    Ok(tx
        .query_opt("SELECT id FROM accounts WHERE phone = $1", &params![phone])?
        .map(|r| r.text(0))
        .transpose()?)
}

fn create_account(tx: &mut dyn Tx, now: i64, phone: &str, ip: &str) -> Result<String> {
    let id = new_id()?;
    tx.execute(
        "INSERT INTO accounts (id, phone, created_at) VALUES ($1, $2, $3)",
        &params![id.clone(), phone, now],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: &id,
            action: "account.created",
            target: Some(&id),
            ip: Some(ip),
            detail: Some(mask_phone(phone)),
        },
    )?;
    Ok(id)
}

/// Open a login for `account_id`: on the earlier device `resume` if it is one of this
/// account's devices and not revoked (its certificates stay bound to it), else on a new one.
fn open_session(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    device_name: Option<&str>,
    resume: Option<&str>,
    ip: &str,
) -> Result<Session> {
    let existing = match resume {
        Some(id) => tx
            .query_opt(
                "SELECT id FROM devices WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
                &params![id, account_id],
            )?
            .map(|r| r.text(0))
            .transpose()?,
        None => None,
    };
    let device_id = match existing {
        Some(id) => id,
        None => {
            let device_id = new_id()?;
            let name = device_name
                .unwrap_or("phone")
                .chars()
                .take(64)
                .collect::<String>();
            tx.execute(
                "INSERT INTO devices (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
                &params![device_id.clone(), account_id, name, now],
            )?;
            device_id
        }
    };
    let token = new_token()?;
    let expires_at = now + TOKEN_TTL;
    tx.execute(
        "INSERT INTO tokens (token_hash, account_id, device_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &params![hash_secret(&token), account_id, device_id.clone(), now, expires_at],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "session.opened",
            target: Some(&device_id),
            ip: Some(ip),
            detail: None,
        },
    )?;
    Ok(Session {
        token,
        expires_at,
        account: account_info(tx, account_id)?,
        device_id,
    })
}

pub(crate) fn account_info(tx: &mut dyn Tx, account_id: &str) -> Result<AccountInfo> {
    let row = tx
        .query_opt(
            "SELECT phone, password_hash, real_name, id_number_masked, realname_method FROM accounts WHERE id = $1",
            &params![account_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
    let method = match row.opt_text(4)?.as_deref() {
        Some("cfca") => Some(RealNameMethod::Cfca),
        Some("alipay") => Some(RealNameMethod::Alipay),
        Some("bankcard4") => Some(RealNameMethod::BankCard4),
        _ => None,
    };
    Ok(AccountInfo {
        id: account_id.to_owned(),
        phone_masked: mask_phone(&row.text(0)?),
        has_password: row.opt_text(1)?.is_some(),
        real_name: row.opt_text(2)?,
        id_number_masked: row.opt_text(3)?,
        realname_method: method,
    })
}

/// Sign-up: a new phone number proven by SMS.
async fn signup(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<SmsLoginRequest>,
) -> Result<Json<Session>> {
    sms_session(st, addr, req, SmsPurpose::Signup).await
}

/// Login by SMS code; like the app users know, a new number is registered on the way.
async fn login_sms(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<SmsLoginRequest>,
) -> Result<Json<Session>> {
    sms_session(st, addr, req, SmsPurpose::Login).await
}

/// A session proven by an SMS code. `Signup` refuses a registered number; `Login`
/// registers a new one. A wrong code is counted even though the request fails.
async fn sms_session(
    st: AppState,
    addr: SocketAddr,
    req: SmsLoginRequest,
    purpose: SmsPurpose,
) -> Result<Json<Session>> {
    check_phone(&req.phone)?;
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let sms_key = st.secrets.sms_code_key.clone();
    let out = st
        .db
        .write(move |tx| {
            if let Err(code) = codes::verify(tx, &sms_key, now, &req.phone, purpose, &req.code)? {
                return Ok(Err(code));
            }
            let id = match (account_by_phone(tx, &req.phone)?, purpose) {
                (Some(_), SmsPurpose::Signup) => {
                    return Err(ErrorCode::PhoneAlreadyRegistered.into());
                }
                (Some(id), _) => id,
                (None, _) => create_account(tx, now, &req.phone, &ip)?,
            };
            open_session(
                tx,
                now,
                &id,
                req.device_name.as_deref(),
                req.device_id.as_deref(),
                &ip,
            )
            .map(Ok)
        })
        .await?;
    out.map(Json).map_err(ServerError::Api)
}

async fn login_password(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<PasswordLoginRequest>,
) -> Result<Json<Session>> {
    check_phone(&req.phone)?;
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let (phone, ip2) = (req.phone.clone(), ip.clone());
    let found = st
        .db
        .write(move |tx| {
            ratelimit::hit(tx, &format!("login:phone:{phone}"), now, 900, 10)?;
            ratelimit::hit(tx, &format!("login:ip:{ip2}"), now, 900, 50)?;
            tx.query_opt(
                "SELECT id, password_hash FROM accounts WHERE phone = $1",
                &params![&phone],
            )?
            .map(|r| Ok::<_, ServerError>((r.text(0)?, r.opt_text(1)?)))
            .transpose()
        })
        .await?;
    let (id, stored) = match found {
        Some((id, Some(hash))) => (id, hash),
        _ => return Err(ErrorCode::WrongPassword.into()),
    };
    if !password::verify(req.password.clone(), stored).await? {
        let (id2, ip2) = (id.clone(), ip.clone());
        st.db
            .write(move |tx| {
                audit::record(
                    tx,
                    now,
                    Event {
                        actor: &id2,
                        action: "login.wrong_password",
                        target: Some(&id2),
                        ip: Some(&ip2),
                        detail: None,
                    },
                )
            })
            .await?;
        return Err(ErrorCode::WrongPassword.into());
    }
    let session = st
        .db
        .write(move |tx| {
            open_session(
                tx,
                now,
                &id,
                req.device_name.as_deref(),
                req.device_id.as_deref(),
                &ip,
            )
        })
        .await?;
    Ok(Json(session))
}

async fn logout(State(st): State<AppState>, user: AuthUser) -> Result<Json<serde_json::Value>> {
    let now = st.clock.now();
    st.db
        .write(move |tx| {
            tx.execute(
                "UPDATE tokens SET revoked = 1 WHERE token_hash = $1",
                &params![user.token_hash.clone()],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "session.closed",
                    target: user.device_id.as_deref(),
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn me(State(st): State<AppState>, user: AuthUser) -> Result<Json<AccountInfo>> {
    let info = st
        .db
        .read(move |tx| account_info(tx, &user.account_id))
        .await?;
    Ok(Json(info))
}

async fn set_password(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<SetPasswordRequest>,
) -> Result<Json<serde_json::Value>> {
    password::check_strength(&req.new_password)?;
    let now = st.clock.now();
    let id = user.account_id.clone();
    let stored = st
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT password_hash FROM accounts WHERE id = $1",
                    &params![id.clone()],
                )?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
            r.opt_text(0).map_err(ServerError::from)
        })
        .await?;
    if let Some(stored) = stored {
        let old = req.old_password.clone().unwrap_or_default();
        if !password::verify(old, stored).await? {
            return Err(ErrorCode::WrongPassword.into());
        }
    }
    let hash = password::hash(req.new_password).await?;
    st.db
        .write(move |tx| {
            tx.execute(
                "UPDATE accounts SET password_hash = $1 WHERE id = $2",
                &params![hash.clone(), user.account_id.clone()],
            )?;
            // Other logins end when the password changes; this one stays.
            tx.execute(
                "UPDATE tokens SET revoked = 1 WHERE account_id = $1 AND token_hash <> $2",
                &params![user.account_id.clone(), user.token_hash.clone()],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "password.changed",
                    target: Some(&user.account_id),
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn reset_password(
    State(st): State<AppState>,
    Json(req): Json<ResetPasswordRequest>,
) -> Result<Json<serde_json::Value>> {
    check_phone(&req.phone)?;
    password::check_strength(&req.new_password)?;
    let hash = password::hash(req.new_password.clone()).await?;
    let now = st.clock.now();
    let sms_key = st.secrets.sms_code_key.clone();
    let out = st
        .db
        .write(move |tx| {
            let checked = codes::verify(
                tx,
                &sms_key,
                now,
                &req.phone,
                SmsPurpose::ResetPassword,
                &req.code,
            )?;
            if let Err(code) = checked {
                return Ok::<_, ServerError>(Err(code));
            }
            let id = account_by_phone(tx, &req.phone)?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
            tx.execute(
                "UPDATE accounts SET password_hash = $1 WHERE id = $2",
                &params![hash.clone(), id.clone()],
            )?;
            tx.execute(
                "UPDATE tokens SET revoked = 1 WHERE account_id = $1",
                &params![id.clone()],
            )?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &id,
                    action: "password.reset",
                    target: Some(&id),
                    ..Default::default()
                },
            )?;
            Ok(Ok(()))
        })
        .await?;
    out.map_err(ServerError::Api)?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// `PUT /v1/me/phone`: a code to the new number, and proof from the holder of the account
/// beyond a login token: the password or a code sent to the current (old) number (ADR 0011).
/// Every other device's login ends; the old number is told.
async fn change_phone(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<ChangePhoneRequest>,
) -> Result<Json<AccountInfo>> {
    check_phone(&req.new_phone)?;
    let now = st.clock.now();
    if req.password.is_none() && req.old_code.is_none() {
        return Err(ErrorCode::PhoneChangeProofRequired.into());
    }
    let by_password = match req.password.clone() {
        Some(pw) => {
            let id = user.account_id.clone();
            let stored = st
                .db
                .write(move |tx| {
                    ratelimit::hit(tx, &format!("phone-change:{id}"), now, 900, 10)?;
                    let r = tx
                        .query_opt(
                            "SELECT password_hash FROM accounts WHERE id = $1",
                            &params![id.clone()],
                        )?
                        .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
                    r.opt_text(0).map_err(ServerError::from)
                })
                .await?;
            let Some(stored) = stored else {
                return Err(ErrorCode::WrongPassword.into());
            };
            if !password::verify(pw, stored).await? {
                return Err(ErrorCode::WrongPassword.into());
            }
            true
        }
        None => false,
    };
    let sms = st.sms.clone();
    let sms_key = st.secrets.sms_code_key.clone();
    let out = st
        .db
        .write(move |tx| {
            let old_phone = tx
                .query_opt(
                    "SELECT phone FROM accounts WHERE id = $1",
                    &params![user.account_id.clone()],
                )?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?
                .text(0)?;
            if !by_password {
                let old_code = req.old_code.clone().unwrap_or_default();
                let checked =
                    codes::verify(tx, &sms_key, now, &old_phone, SmsPurpose::ChangePhoneOld, &old_code)?;
                if let Err(code) = checked {
                    return Ok(Err(code));
                }
            }
            let checked =
                codes::verify(tx, &sms_key, now, &req.new_phone, SmsPurpose::ChangePhone, &req.code)?;
            if let Err(code) = checked {
                return Ok(Err(code));
            }
            if account_by_phone(tx, &req.new_phone)?.is_some() {
                return Err(ErrorCode::PhoneAlreadyRegistered.into());
            }
            tx.execute(
                "UPDATE accounts SET phone = $1 WHERE id = $2",
                &params![req.new_phone.clone(), user.account_id.clone()],
            )?;
            // Other logins end with the number they were opened under; this one stays.
            tx.execute(
                "UPDATE tokens SET revoked = 1 WHERE account_id = $1 AND token_hash <> $2",
                &params![user.account_id.clone(), user.token_hash.clone()],
            )?;
            let masked = mask_phone(&req.new_phone);
            let msg = crate::sms::SmsMessage {
                phone: old_phone.clone(),
                template: crate::sms::SmsTemplate::PhoneChanged,
                params: vec![("phone", masked.clone())],
                text: format!(
                    "【Bidkey】您账号的手机号已更换为{masked}。如非本人操作，请立即联系客服。The phone number of your Bidkey account was changed."
                ),
            };
            sms.send(tx, now, &msg)?;
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: "phone.changed",
                    target: Some(&user.account_id),
                    detail: Some(format!(
                        "{} -> {} by {}",
                        mask_phone(&old_phone),
                        mask_phone(&req.new_phone),
                        if by_password { "password" } else { "old number" }
                    )),
                    ..Default::default()
                },
            )?;
            account_info(tx, &user.account_id).map(Ok)
        })
        .await?;
    out.map(Json).map_err(ServerError::Api)
}

/// HMAC of an ID number under the server's PII key.
pub(crate) fn id_number_hash(st: &AppState, id_number: &str) -> String {
    let normalized = id_number.trim().to_ascii_uppercase();
    hex::encode(bidkey_crypto::sm3::hmac_sm3(
        st.secrets.pii_key.as_slice(),
        normalized.as_bytes(),
    ))
}

async fn realname(
    State(st): State<AppState>,
    user: AuthUser,
    Json(req): Json<RealNameRequest>,
) -> Result<Json<AccountInfo>> {
    let now = st.clock.now();
    let verdict = crate::realname::person(st.realname.clone(), req.clone()).await?;
    let id_hash = id_number_hash(&st, &req.id_number);
    let masked = mask_id_number(req.id_number.trim());
    let out = st
        .db
        .write(move |tx| {
            ratelimit::hit(tx, &format!("realname:{}", user.account_id), now, 86_400, 10)?;
            let existing = tx
                .query_opt(
                    "SELECT id_number_hash FROM accounts WHERE id = $1",
                    &params![user.account_id.clone()],
                )?
                .map(|r| r.opt_text(0))
                .transpose()?
                .flatten();
            let refused = match (&verdict, &existing) {
                (Verdict::Refused(field), _) => Some(field.to_string()),
                // Re-verification must be the same person as before.
                (Verdict::Verified, Some(prev)) if *prev != id_hash => Some("different_person".into()),
                _ => None,
            };
            audit::record(
                tx,
                now,
                Event {
                    actor: &user.account_id,
                    action: if refused.is_some() { "realname.refused" } else { "realname.verified" },
                    target: Some(&user.account_id),
                    detail: Some(format!("{} {}", req.method.as_str(), refused.as_deref().unwrap_or("ok"))),
                    ..Default::default()
                },
            )?;
            if refused.is_some() {
                return Ok(Err(ErrorCode::RealNameFailed));
            }
            tx.execute(
                "UPDATE accounts SET real_name = $1, id_number_hash = $2, id_number_masked = $3, realname_method = $4, realname_at = $5 WHERE id = $6",
                &params![req.name.trim(), id_hash.clone(), masked.clone(), req.method.as_str(), now, user.account_id.clone()],
            )?;
            account_info(tx, &user.account_id).map(Ok)
        })
        .await?;
    out.map(Json).map_err(ServerError::Api)
}

//! The admin's 人员管理: the member list, inviting staff, removing staff (and revoking their
//! enterprise certificates and grants), transferring the admin role (转授管理员) and
//! changing the enterprise's information (变更企业信息). Also what any member sees: their
//! enterprises and their messages.
//!
//! **Change of information**: `POST …/change-info` records a `change_info` application (in
//! `pending_review`, one open per enterprise) whose `detail` holds the old and new name /
//! legal representative and whose materials (the business licence change notice) go to the
//! RA reviewer. Approval creates the order (`enterprises::change::fee_item`); once paid,
//! `enterprises::change::on_paid` calls [`apply_change_info`] and re-issues every member's
//! certificates (ADR 0028). Old encryption keys stay escrowed in the KMC (`kmc_escrow`) and
//! come with every new pair, so files encrypted to the old certificates still open.

use super::{Enterprise, check_name, get as get_enterprise, ip_of, wire_role};
use crate::accounts::account_by_phone;
use crate::applications::{self, Application, NewApplication};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::cosign::confirm::Confirmation;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::idempotency::{self, check_key};
use crate::memberships::{self, Role};
use crate::orders;
use crate::params;
use crate::state::AppState;
use crate::util::{mask_phone, valid_phone};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::AdminAction;
use bidkey_protocol::enterprises::{
    ChangeInfoRequest, EnterpriseInfo, InviteRequest, Member, Message, Removed,
    TransferAdminRequest,
};
use bidkey_protocol::orders::{self as wire, ApplicationKind, Status};
use std::net::SocketAddr;

/// RFC 5280 CRLReason `affiliationChanged`: the holder left the enterprise.
pub const REASON_AFFILIATION_CHANGED: i64 = 3;

fn info_of(e: Enterprise, role: Role) -> EnterpriseInfo {
    EnterpriseInfo {
        id: e.id,
        uscc: e.uscc,
        name: e.name,
        legal_rep: e.legal_rep,
        claimed: e.claimed,
        my_role: wire_role(role),
    }
}

/// The live members of an enterprise, admin first.
pub fn list_members(tx: &mut dyn Tx, admin_id: &str, enterprise_id: &str) -> Result<Vec<Member>> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let rows = tx.query(
        "SELECT m.account_id, a.real_name, a.phone, m.role, m.created_at FROM memberships m \
         JOIN accounts a ON a.id = m.account_id WHERE m.enterprise_id = $1 AND m.status = 'active' \
         ORDER BY CASE WHEN m.role = 'admin' THEN 0 ELSE 1 END, m.created_at, m.account_id",
        &params![enterprise_id],
    )?;
    rows.iter()
        .map(|r| {
            let role = Role::parse(&r.text(3)?)
                .ok_or_else(|| ServerError::Internal("bad membership role".into()))?;
            Ok(Member {
                account_id: r.text(0)?,
                real_name: r.opt_text(1)?,
                phone_masked: mask_phone(&r.text(2)?),
                role: wire_role(role),
                since: r.i64(4)?,
            })
        })
        .collect()
}

/// Invite an existing real-named account by phone: a `join` application the admin has
/// already approved (`pending_review`).
pub fn invite_member(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    req: &InviteRequest,
) -> Result<Application> {
    check_key(&req.idempotency_key)?;
    let scope = format!("invite:{enterprise_id}");
    if let Some(app_id) = idempotency::lookup::<String>(tx, &scope, admin_id, &req.idempotency_key)?
    {
        return applications::get(tx, &app_id);
    }
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    if !valid_phone(&req.phone) {
        return Err(ErrorCode::InvalidPhone.into());
    }
    let invitee =
        account_by_phone(tx, &req.phone)?.ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
    super::require_realname(tx, &invitee)?;
    if memberships::role_of(tx, enterprise_id, &invitee)?.is_some() {
        return Err(ErrorCode::AlreadyMember.into());
    }
    super::refuse_open_application(tx, enterprise_id, &invitee)?;
    let e = get_enterprise(tx, enterprise_id)?;
    let app = applications::create(
        tx,
        now,
        NewApplication {
            kind: ApplicationKind::Join,
            account_id: &invitee,
            enterprise_id: Some(enterprise_id),
            status: Status::PendingReview,
            detail: Some(serde_json::json!({ "invited_by": admin_id }).to_string()),
            idempotency_key: None,
        },
    )?;
    idempotency::store(tx, now, &scope, admin_id, &req.idempotency_key, &app.id)?;
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "enterprise.member_invited",
            target: Some(&app.id),
            ip: Some(ip),
            detail: Some(format!("{enterprise_id} {}", mask_phone(&req.phone))),
        },
    )?;
    applications::notify(
        tx,
        now,
        &invitee,
        Some(&app.id),
        &format!("“{}”的管理员邀请您加入企业，等待CA审核。", e.name),
        &format!(
            "The administrator of {} invited you to join; it now awaits CA review.",
            e.name
        ),
    )?;
    Ok(app)
}

/// Remove a staff member: membership `removed`, their enterprise certificates and
/// certificate pairs revoked (reason affiliationChanged), their grants revoked; one
/// transaction. The CA part serves CRLs and status from these tables.
pub fn remove_member(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    account_id: &str,
) -> Result<Removed> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    match memberships::role_of(tx, enterprise_id, account_id)? {
        Some(Role::Staff) => {}
        // The admin leaves only after transferring the role.
        Some(Role::Admin) => return Err(ErrorCode::InvalidState.into()),
        None => return Err(ErrorCode::NotMember.into()),
    }
    tx.execute(
        "UPDATE memberships SET status = 'removed', updated_at = $1 WHERE enterprise_id = $2 AND account_id = $3 AND status = 'active'",
        &params![now, enterprise_id, account_id],
    )?;
    let certificates_revoked = tx.execute(
        "UPDATE certificates SET status = 'revoked', revoked_at = $1, revoke_reason = $2 \
         WHERE status IN ('valid', 'suspended') AND pair_id IN \
         (SELECT id FROM cert_pairs WHERE account_id = $3 AND enterprise_id = $4)",
        &params![now, REASON_AFFILIATION_CHANGED, account_id, enterprise_id],
    )?;
    tx.execute(
        "UPDATE cert_pairs SET status = 'revoked', updated_at = $1 \
         WHERE account_id = $2 AND enterprise_id = $3 AND status IN ('pending', 'valid', 'suspended')",
        &params![now, account_id, enterprise_id],
    )?;
    let grants_revoked = tx.execute(
        "UPDATE grants SET revoked_at = $1 WHERE enterprise_id = $2 AND account_id = $3 AND revoked_at IS NULL",
        &params![now, enterprise_id, account_id],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "enterprise.member_removed",
            target: Some(account_id),
            ip: Some(ip),
            detail: Some(format!(
                "{enterprise_id} certificates={certificates_revoked} grants={grants_revoked}"
            )),
        },
    )?;
    let e = get_enterprise(tx, enterprise_id)?;
    applications::notify(
        tx,
        now,
        account_id,
        None,
        &format!("您已被移出“{}”，您在该企业的证书与授权已注销。", e.name),
        &format!(
            "You were removed from {}; your certificates and grants there were revoked.",
            e.name
        ),
    )?;
    Ok(Removed {
        account_id: account_id.to_owned(),
        certificates_revoked,
        grants_revoked,
    })
}

/// 转授管理员: the admin becomes staff and the staff member becomes admin, in one
/// transaction, so there is exactly one admin before and after.
pub fn transfer_admin(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    to: &str,
) -> Result<()> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    if to == admin_id {
        return Err(ErrorCode::InvalidState.into());
    }
    if memberships::role_of(tx, enterprise_id, to)? != Some(Role::Staff) {
        return Err(ErrorCode::NotMember.into());
    }
    let set_role = |tx: &mut dyn Tx, account: &str, role: Role| -> Result<u64> {
        Ok(tx.execute(
            "UPDATE memberships SET role = $1, updated_at = $2 WHERE enterprise_id = $3 AND account_id = $4 AND status = 'active'",
            &params![role.as_str(), now, enterprise_id, account],
        )?)
    };
    // Demote first: the partial unique index allows one live admin at any moment.
    set_role(tx, admin_id, Role::Staff)?;
    if set_role(tx, to, Role::Admin)? != 1 {
        return Err(ErrorCode::Conflict.into());
    }
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "enterprise.admin_transferred",
            target: Some(to),
            ip: Some(ip),
            detail: Some(enterprise_id.to_owned()),
        },
    )?;
    let e = get_enterprise(tx, enterprise_id)?;
    applications::notify(
        tx,
        now,
        to,
        None,
        &format!("您已成为“{}”的管理员。", e.name),
        &format!("You are now the administrator of {}.", e.name),
    )
}

/// Record a `change_info` application (see the module documentation).
pub fn request_change(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    req: &ChangeInfoRequest,
) -> Result<Application> {
    if let Some(app) = applications::by_key(
        tx,
        ApplicationKind::ChangeInfo,
        admin_id,
        &req.idempotency_key,
    )? {
        return Ok(app);
    }
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let new_name = req.name.as_deref().map(check_name).transpose()?;
    let new_rep = req.legal_rep.as_deref().map(check_name).transpose()?;
    let e = get_enterprise(tx, enterprise_id)?;
    let changes_name = new_name.as_ref().is_some_and(|n| *n != e.name);
    let changes_rep = new_rep.is_some() && new_rep != e.legal_rep;
    if !changes_name && !changes_rep {
        return Err(ErrorCode::BadRequest.into());
    }
    let open = tx.query_opt(
        "SELECT COUNT(*) FROM applications WHERE enterprise_id = $1 AND kind = 'change_info' \
         AND status IN ('pending_review', 'awaiting_payment')",
        &params![enterprise_id],
    )?;
    if open.map(|r| r.i64(0)).transpose()?.unwrap_or(0) > 0 {
        return Err(ErrorCode::Conflict.into());
    }
    if req.materials.len() > super::claim::MAX_FILES {
        return Err(ErrorCode::BadRequest.into());
    }
    for m in &req.materials {
        super::claim::check_material(m)?;
    }
    let detail = serde_json::json!({
        "old_name": e.name,
        "new_name": new_name.unwrap_or_else(|| e.name.clone()),
        "old_legal_rep": e.legal_rep,
        "new_legal_rep": new_rep.or_else(|| e.legal_rep.clone()),
    });
    let app = applications::create(
        tx,
        now,
        NewApplication {
            kind: ApplicationKind::ChangeInfo,
            account_id: admin_id,
            enterprise_id: Some(enterprise_id),
            status: Status::PendingReview,
            detail: Some(detail.to_string()),
            idempotency_key: Some(&req.idempotency_key),
        },
    )?;
    super::claim::store_materials(tx, now, &app.id, &req.materials)?;
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "enterprise.change_requested",
            target: Some(&app.id),
            ip: Some(ip),
            detail: Some(enterprise_id.to_owned()),
        },
    )?;
    Ok(app)
}

/// Apply a reviewed `change_info` application to the enterprise record. For the CA part,
/// in the transaction that re-issues the certificates.
pub fn apply_change_info(tx: &mut dyn Tx, now: i64, app: &Application) -> Result<()> {
    let (Some(enterprise_id), ApplicationKind::ChangeInfo) = (&app.enterprise_id, app.kind) else {
        return Err(ErrorCode::InvalidState.into());
    };
    let detail: serde_json::Value = app
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| ServerError::Internal("change_info without detail".into()))?;
    let name = detail["new_name"]
        .as_str()
        .ok_or_else(|| ServerError::Internal("change_info without new_name".into()))?;
    let rep = detail["new_legal_rep"].as_str();
    tx.execute(
        "UPDATE enterprises SET name = $1, legal_rep = $2, updated_at = $3 WHERE id = $4",
        &params![name, rep, now, enterprise_id.as_str()],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: "system",
            action: "enterprise.info_changed",
            target: Some(enterprise_id),
            detail: Some(app.id.clone()),
            ..Default::default()
        },
    )
}

pub async fn mine(State(st): State<AppState>, user: AuthUser) -> Result<Json<Vec<EnterpriseInfo>>> {
    let out = st
        .db
        .read(move |tx| {
            let rows = tx.query(
                "SELECT enterprise_id, role FROM memberships WHERE account_id = $1 AND status = 'active' ORDER BY created_at, enterprise_id",
                &params![user.account_id.as_str()],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let role = Role::parse(&r.text(1)?)
                    .ok_or_else(|| ServerError::Internal("bad membership role".into()))?;
                out.push(info_of(get_enterprise(tx, &r.text(0)?)?, role));
            }
            Ok::<_, ServerError>(out)
        })
        .await?;
    Ok(Json(out))
}

pub async fn info(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
) -> Result<Json<EnterpriseInfo>> {
    let out = st
        .db
        .read(move |tx| {
            let role = memberships::require_member(tx, &eid, &user.account_id)?;
            Ok::<_, ServerError>(info_of(get_enterprise(tx, &eid)?, role))
        })
        .await?;
    Ok(Json(out))
}

pub async fn members(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
) -> Result<Json<Vec<Member>>> {
    let out = st
        .db
        .read(move |tx| list_members(tx, &user.account_id, &eid))
        .await?;
    Ok(Json(out))
}

pub async fn invite(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path(eid): Path<String>,
    Json(req): Json<InviteRequest>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| {
            let app = invite_member(tx, now, &user.account_id, &ip, &eid, &req)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(out))
}

/// Removing staff needs the admin's PIN (ADR 0018).
pub async fn remove(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path((eid, account_id)): Path<(String, String)>,
) -> Result<Json<Removed>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            let removed = remove_member(tx, now, &user.account_id, &ip, &eid, &account_id)?;
            // Spent last, in the same transaction: without it nothing above is kept, and the
            // caller's other mistakes (not admin, not a member) are reported first.
            confirmation.spend(
                tx,
                now,
                &AdminAction::RemoveStaff {
                    enterprise_id: eid.clone(),
                    account_id: account_id.clone(),
                },
            )?;
            Ok::<_, ServerError>(removed)
        })
        .await?;
    Ok(Json(out))
}

/// 转授管理员 needs the admin's PIN (ADR 0018).
pub async fn transfer(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path(eid): Path<String>,
    Json(req): Json<TransferAdminRequest>,
) -> Result<Json<Vec<Member>>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            transfer_admin(tx, now, &user.account_id, &ip, &eid, &req.account_id)?;
            confirmation.spend(
                tx,
                now,
                &AdminAction::TransferAdmin {
                    enterprise_id: eid.clone(),
                    to_account_id: req.account_id.clone(),
                },
            )?;
            // The caller is staff now; answer with the list as the new admin sees it.
            list_members(tx, &req.account_id, &eid)
        })
        .await?;
    Ok(Json(out))
}

pub async fn change_info(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path(eid): Path<String>,
    Json(req): Json<ChangeInfoRequest>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| {
            let app = request_change(tx, now, &user.account_id, &ip, &eid, &req)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(out))
}

/// The account's messages, newest first (at most 200).
pub fn list_messages(tx: &mut dyn Tx, account_id: &str) -> Result<Vec<Message>> {
    let rows = tx.query(
        "SELECT id, application_id, text_zh, text_en, created_at, read_at FROM messages \
         WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200",
        &params![account_id],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Message {
                id: r.text(0)?,
                application_id: r.opt_text(1)?,
                text_zh: r.text(2)?,
                text_en: r.text(3)?,
                created_at: r.i64(4)?,
                read: r.opt_i64(5)?.is_some(),
            })
        })
        .collect()
}

pub async fn messages(State(st): State<AppState>, user: AuthUser) -> Result<Json<Vec<Message>>> {
    let out = st
        .db
        .read(move |tx| list_messages(tx, &user.account_id))
        .await?;
    Ok(Json(out))
}

pub async fn mark_read(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let now = st.clock.now();
    st.db
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE messages SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND account_id = $3",
                &params![now, id.as_str(), user.account_id.as_str()],
            )?;
            if n == 0 {
                return Err(ServerError::Api(ErrorCode::NotFound));
            }
            Ok(())
        })
        .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

//! 加入企业: a real-named person asks to join a claimed enterprise. The application waits in
//! `pending_admin` for the admin, then in `pending_review` for the RA, is paid, and the CA
//! part's issuance makes the applicant staff ([`crate::memberships::apply_issued`]).

use super::{get as get_enterprise, ip_of, refuse_open_application};
use crate::accounts::account_info;
use crate::applications::{self, Application, NewApplication};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::memberships;
use crate::orders;
use crate::params;
use crate::state::AppState;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::{JoinDecision, JoinRequest, JoinRequestView};
use bidkey_protocol::orders::{self as wire, ApplicationKind, Status};
use std::net::SocketAddr;

/// Ask to join `enterprise_id`.
pub fn submit(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    ip: &str,
    enterprise_id: &str,
    idempotency_key: &str,
) -> Result<Application> {
    if let Some(app) = applications::by_key(tx, ApplicationKind::Join, account_id, idempotency_key)?
    {
        return Ok(app);
    }
    let name = super::require_realname(tx, account_id)?;
    let e = get_enterprise(tx, enterprise_id)?;
    if !e.claimed {
        return Err(ErrorCode::EnterpriseNotClaimed.into());
    }
    if memberships::role_of(tx, &e.id, account_id)?.is_some() {
        return Err(ErrorCode::AlreadyMember.into());
    }
    refuse_open_application(tx, &e.id, account_id)?;
    let app = applications::create(
        tx,
        now,
        NewApplication {
            kind: ApplicationKind::Join,
            account_id,
            enterprise_id: Some(&e.id),
            status: Status::PendingAdmin,
            detail: Some(serde_json::json!({ "requested_by": "applicant" }).to_string()),
            idempotency_key: Some(idempotency_key),
        },
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "enterprise.join_requested",
            target: Some(&app.id),
            ip: Some(ip),
            detail: Some(e.id.clone()),
        },
    )?;
    if let Some(admin) = memberships::admin_of(tx, &e.id)? {
        applications::notify(
            tx,
            now,
            &admin,
            Some(&app.id),
            &format!("{name}申请加入“{}”，请审核。", e.name),
            &format!("{name} asks to join {}; please review.", e.name),
        )?;
    }
    Ok(app)
}

/// The admin's decision on a join request of this enterprise.
pub fn decide_request(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    app_id: &str,
    decision: &JoinDecision,
) -> Result<Application> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let app = applications::get(tx, app_id)?;
    if app.kind != ApplicationKind::Join || app.enterprise_id.as_deref() != Some(enterprise_id) {
        return Err(ErrorCode::ApplicationNotFound.into());
    }
    let e = get_enterprise(tx, enterprise_id)?;
    if decision.approve {
        applications::transition(
            tx,
            now,
            app_id,
            Status::PendingAdmin,
            Status::PendingReview,
            None,
        )?;
        applications::notify(
            tx,
            now,
            &app.account_id,
            Some(app_id),
            &format!("管理员已同意您加入“{}”，等待CA审核。", e.name),
            &format!(
                "The administrator of {} approved your request; it now awaits CA review.",
                e.name
            ),
        )?;
    } else {
        let reason = decision
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty() && r.chars().count() <= 200)
            .ok_or(ServerError::Api(ErrorCode::BadRequest))?;
        applications::transition(
            tx,
            now,
            app_id,
            Status::PendingAdmin,
            Status::Rejected,
            Some(reason),
        )?;
        applications::notify(
            tx,
            now,
            &app.account_id,
            Some(app_id),
            &format!("管理员驳回了您加入“{}”的申请：{reason}", e.name),
            &format!(
                "The administrator of {} rejected your request: {reason}",
                e.name
            ),
        )?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: if decision.approve {
                "enterprise.join_approved"
            } else {
                "enterprise.join_rejected"
            },
            target: Some(app_id),
            ip: Some(ip),
            detail: Some(enterprise_id.to_owned()),
        },
    )?;
    applications::get(tx, app_id)
}

/// Join requests waiting for this enterprise's admin.
pub fn pending_for(
    tx: &mut dyn Tx,
    admin_id: &str,
    enterprise_id: &str,
) -> Result<Vec<JoinRequestView>> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let ids = tx.query(
        "SELECT id FROM applications WHERE enterprise_id = $1 AND kind = 'join' AND status = 'pending_admin' ORDER BY created_at, id",
        &params![enterprise_id],
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for r in &ids {
        let app = applications::get(tx, &r.text(0)?)?;
        let info = account_info(tx, &app.account_id)?;
        out.push(JoinRequestView {
            application: orders::view(tx, &app)?,
            account_id: app.account_id.clone(),
            real_name: info.real_name,
            phone_masked: info.phone_masked,
        });
    }
    Ok(out)
}

pub async fn request(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path(eid): Path<String>,
    Json(req): Json<JoinRequest>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let view = st
        .db
        .write(move |tx| {
            let app = submit(tx, now, &user.account_id, &ip, &eid, &req.idempotency_key)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(view))
}

pub async fn pending(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
) -> Result<Json<Vec<JoinRequestView>>> {
    let out = st
        .db
        .read(move |tx| pending_for(tx, &user.account_id, &eid))
        .await?;
    Ok(Json(out))
}

pub async fn decide(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path((eid, app_id)): Path<(String, String)>,
    Json(decision): Json<JoinDecision>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let view = st
        .db
        .write(move |tx| {
            let app = decide_request(tx, now, &user.account_id, &ip, &eid, &app_id, &decision)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(view))
}

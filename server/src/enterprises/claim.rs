//! 认领企业: a real-named person applies to become an enterprise's admin, with materials
//! (营业执照, 授权书 ...) for the RA. The application goes to `pending_review`; the RA reviews
//! it through `POST /v1/operator/reviews/{id}`, the applicant pays, and the CA part issues
//! the certificates and calls [`crate::memberships::apply_issued`], which makes the
//! applicant the admin.

use super::{check_name, find_or_register, ip_of, normalize_uscc, refuse_open_application};
use crate::applications::{self, Application, NewApplication};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::Result;
use crate::memberships::{self, Role};
use crate::orders;
use crate::params;
use crate::realname::Verdict;
use crate::state::AppState;
use crate::util::new_id;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::{ClaimRequest, Material};
use bidkey_protocol::orders::{self as wire, ApplicationKind, Status};
use std::net::SocketAddr;

/// One material file at most 2 MiB.
pub const MAX_FILE: usize = 2 * 1024 * 1024;
/// At most five files per application.
pub const MAX_FILES: usize = 5;
/// The request body limit of the claim endpoint (base64 grows files by a third).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Check one material: a known type whose first bytes match it, within the size limit.
pub fn check_material(m: &Material) -> Result<()> {
    if m.data.len() > MAX_FILE {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let magic_ok = match m.content_type.as_str() {
        "image/png" => m.data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => m.data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "application/pdf" => m.data.starts_with(b"%PDF-"),
        _ => false,
    };
    let name_len = m.name.chars().count();
    if !magic_ok || name_len == 0 || name_len > 100 || m.name.chars().any(char::is_control) {
        return Err(ErrorCode::InvalidUpload.into());
    }
    Ok(())
}

/// Store an application's materials in `uploads`.
pub fn store_materials(
    tx: &mut dyn Tx,
    now: i64,
    application_id: &str,
    materials: &[Material],
) -> Result<()> {
    use sha2::Digest;
    for m in materials {
        let digest = hex::encode(sha2::Sha256::digest(&m.data));
        tx.execute(
            "INSERT INTO uploads (id, application_id, name, content_type, sha256, size, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &params![
                new_id()?,
                application_id,
                m.name.as_str(),
                m.content_type.as_str(),
                digest,
                m.data.len() as i64,
                m.data.as_slice(),
                now
            ],
        )?;
    }
    Ok(())
}

/// Submit a claim. See the module documentation.
pub fn submit(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    ip: &str,
    req: &ClaimRequest,
) -> Result<Application> {
    if let Some(app) =
        applications::by_key(tx, ApplicationKind::Claim, account_id, &req.idempotency_key)?
    {
        return Ok(app);
    }
    super::require_realname(tx, account_id)?;
    let uscc = normalize_uscc(&req.uscc)?;
    let name = check_name(&req.name)?;
    let legal_rep = req.legal_rep.as_deref().map(check_name).transpose()?;
    if req.materials.is_empty() || req.materials.len() > MAX_FILES {
        return Err(ErrorCode::InvalidUpload.into());
    }
    for m in &req.materials {
        check_material(m)?;
    }
    let e = find_or_register(tx, now, &uscc, &name)?;
    match memberships::role_of(tx, &e.id, account_id)? {
        // An admin verified by micro-payment claims to buy the enterprise certificates.
        Some(Role::Admin) => {}
        Some(Role::Staff) => return Err(ErrorCode::AlreadyMember.into()),
        None if e.claimed => return Err(ErrorCode::EnterpriseAlreadyClaimed.into()),
        None => {}
    }
    refuse_open_application(tx, &e.id, account_id)?;
    let detail = serde_json::json!({
        "uscc": uscc,
        "name": name,
        "legal_rep": legal_rep,
        "materials": req.materials.len(),
    });
    let app = applications::create(
        tx,
        now,
        NewApplication {
            kind: ApplicationKind::Claim,
            account_id,
            enterprise_id: Some(&e.id),
            status: Status::PendingReview,
            detail: Some(detail.to_string()),
            idempotency_key: Some(&req.idempotency_key),
        },
    )?;
    store_materials(tx, now, &app.id, &req.materials)?;
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "enterprise.claim_submitted",
            target: Some(&app.id),
            ip: Some(ip),
            detail: Some(format!("{} {}", e.id, req.materials.len())),
        },
    )?;
    applications::notify(
        tx,
        now,
        account_id,
        Some(&app.id),
        &format!("您认领“{}”的申请已提交，等待CA审核。", e.name),
        &format!("Your claim of {} was submitted for review.", e.name),
    )?;
    Ok(app)
}

pub async fn claim(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Json(req): Json<ClaimRequest>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    // The registry (企业信用信息) must know the enterprise under this code and name.
    let uscc = normalize_uscc(&req.uscc)?;
    let verdict =
        crate::realname::enterprise(st.realname.clone(), uscc, req.name.trim().to_owned()).await?;
    if let Verdict::Refused(_) = verdict {
        return Err(ErrorCode::RealNameFailed.into());
    }
    let view = st
        .db
        .write(move |tx| {
            let app = submit(tx, now, &user.account_id, &ip, &req)?;
            orders::view(tx, &app)
        })
        .await?;
    Ok(Json(view))
}

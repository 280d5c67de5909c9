//! Seals (印章管理): the admin uploads seal images (PNG only: signature, IHDR and IEND
//! checked, at most 512 KiB and 2000×2000 pixels), names and renames them, replaces the
//! image, deletes them; every member can list them and fetch the image to sign with.
//!
//! Each seal belongs to the enterprise. `cert_serial` (the enterprise signing certificate
//! the seal is bound to) is filled by the CA part when it issues or re-issues that
//! certificate; replacing the image keeps the binding. Deleting is soft (`deleted_at`), so
//! documents signed earlier can still be checked against the image that was used.
//!
//! Electronic seals (GB/T 38540; docs/electronic-seals.md): a seal has a type, a printed size
//! in millimetres and holders (members granted it). It is `pending` until the CA approves it
//! (`POST /v1/operator/seals/{id}/approve`); the seal maker ([`crate::seal_maker`]) then makes
//! the `SESeal` listing the holders' valid signing certificates. Any change to the seal makes
//! it `pending` again (a new `SESeal` with a new `esID` follows approval); the admin or the CA
//! may revoke it. `GET /v1/seals/usable?platform_id=` gives a person the approved seals they
//! hold, within validity, for an enterprise that granted them that platform, with the
//! `SESeal`; `GET /v1/seals/{es_id}/status` tells any verifier whether a seal is revoked.

use crate::audit::{self, Event};
use crate::auth::{AuthUser, Operator};
use crate::cosign::confirm::Confirmation;
use crate::db::{Row, Tx};
use crate::enterprises::ip_of;
use crate::error::{Result, ServerError};
use crate::idempotency;
use crate::memberships;
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::AdminAction;
use bidkey_protocol::platforms::{
    NewSeal, Seal, SealApproval, SealStatus, SealStatusReport, SealUpdate, UsableSealEntry,
};
use std::net::SocketAddr;

/// Largest seal image.
pub const MAX_IMAGE: usize = 512 * 1024;
/// Largest side in pixels.
pub const MAX_SIDE: u32 = 2000;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_IEND: &[u8] = b"\0\0\0\0IEND\xAE\x42\x60\x82";

/// The CA's seal routes: served only on the operator listener (ADR 0020).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/seals", get(pending_list))
        .route("/v1/operator/seals/{sid}/approve", post(approve))
        .route("/v1/operator/seals/{sid}/revoke", post(revoke_by_operator))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/enterprises/{eid}/seals", get(list).post(create))
        .route(
            "/v1/enterprises/{eid}/seals/{sid}",
            axum::routing::put(update).delete(remove),
        )
        .route("/v1/enterprises/{eid}/seals/{sid}/image", get(image))
        .route(
            "/v1/enterprises/{eid}/seals/{sid}/revoke",
            post(revoke_by_admin),
        )
        .route("/v1/seals/usable", get(usable))
        .route("/v1/seals/{es_id}/status", get(status))
}

/// The product identifier (`SES_Header.vid`) in every seal Bidkey makes.
pub const VID: &str = "Bidkey";
/// Longest validity the CA gives a seal.
pub const MAX_VALID_DAYS: u32 = 3650;

/// Check a PNG and return its width and height.
pub fn check_png(data: &[u8]) -> Result<(u32, u32)> {
    if data.len() > MAX_IMAGE {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let bad = || ServerError::Api(ErrorCode::InvalidImage);
    if !data.starts_with(PNG_SIGNATURE) || !data.ends_with(PNG_IEND) {
        return Err(bad());
    }
    // The first chunk must be IHDR, 13 bytes long.
    let ihdr = data.get(8..8 + 8 + 13).ok_or_else(bad)?;
    if ihdr[..4] != [0, 0, 0, 13] || &ihdr[4..8] != b"IHDR" {
        return Err(bad());
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (w, h) = (be(&ihdr[8..12]), be(&ihdr[12..16]));
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(bad());
    }
    Ok((w, h))
}

fn check_seal_name(s: &str) -> Result<String> {
    let n = s.trim();
    let len = n.chars().count();
    if len == 0 || len > 50 || n.chars().any(char::is_control) {
        return Err(ErrorCode::BadRequest.into());
    }
    Ok(n.to_owned())
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

const COLUMNS: &str = "id, enterprise_id, name, image, image_sha256, cert_serial, created_at, \
     updated_at, seal_type, width_mm, height_mm, status, es_id, valid_start, valid_end, revoked_at";

fn status_of(s: &str) -> Result<SealStatus> {
    match s {
        "pending" => Ok(SealStatus::Pending),
        "approved" => Ok(SealStatus::Approved),
        "revoked" => Ok(SealStatus::Revoked),
        _ => Err(ServerError::Internal(format!("seal status {s}"))),
    }
}

fn small(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn from_row(tx: &mut dyn Tx, r: &Row) -> Result<Seal> {
    let image = r.bytes(3)?;
    let (width, height) = check_png(&image).unwrap_or((0, 0));
    let id = r.text(0)?;
    let holders = tx
        .query(
            "SELECT account_id FROM seal_holders WHERE seal_id = $1 ORDER BY account_id",
            &params![id.as_str()],
        )?
        .iter()
        .map(|h| h.text(0))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Seal {
        id,
        seal_type: small(r.i64(8)?),
        width_mm: small(r.i64(9)?),
        height_mm: small(r.i64(10)?),
        holders,
        status: status_of(&r.text(11)?)?,
        es_id: r.opt_text(12)?,
        valid_start: r.opt_i64(13)?,
        valid_end: r.opt_i64(14)?,
        revoked_at: r.opt_i64(15)?,
        enterprise_id: r.text(1)?,
        name: r.text(2)?,
        width,
        height,
        size: image.len() as u64,
        image_sha256: r.text(4)?,
        cert_serial: r.opt_text(5)?,
        created_at: r.i64(6)?,
        updated_at: r.i64(7)?,
    })
}

/// A live seal of this enterprise.
fn get_seal(tx: &mut dyn Tx, enterprise_id: &str, id: &str) -> Result<Seal> {
    let sql = format!(
        "SELECT {COLUMNS} FROM seals WHERE id = $1 AND enterprise_id = $2 AND deleted_at IS NULL"
    );
    let r = tx
        .query_opt(&sql, &params![id, enterprise_id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    from_row(tx, &r)
}

fn audit_seal(
    tx: &mut dyn Tx,
    now: i64,
    actor: &str,
    ip: &str,
    action: &str,
    seal: &str,
    e: &str,
) -> Result<()> {
    audit::record(
        tx,
        now,
        Event {
            actor,
            action,
            target: Some(seal),
            ip: Some(ip),
            detail: Some(e.to_owned()),
        },
    )
}

/// Add a seal (admin).
pub fn add_seal(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    req: &NewSeal,
) -> Result<Seal> {
    let scope = format!("seal:{enterprise_id}");
    if let Some(id) = idempotency::lookup::<String>(tx, &scope, admin_id, &req.idempotency_key)? {
        return get_seal(tx, enterprise_id, &id);
    }
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let name = check_seal_name(&req.name)?;
    check_png(&req.image)?;
    check_shape(req.seal_type, req.width_mm, req.height_mm)?;
    let id = new_id()?;
    tx.execute(
        "INSERT INTO seals (id, enterprise_id, name, image, image_sha256, created_at, updated_at, \
         seal_type, width_mm, height_mm, status) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 'pending')",
        &params![
            id.as_str(),
            enterprise_id,
            name.as_str(),
            req.image.as_slice(),
            sha256_hex(&req.image),
            now,
            i64::from(req.seal_type),
            i64::from(req.width_mm),
            i64::from(req.height_mm)
        ],
    )?;
    set_holders(tx, enterprise_id, &id, &req.holders)?;
    idempotency::store(tx, now, &scope, admin_id, &req.idempotency_key, &id)?;
    audit_seal(tx, now, admin_id, ip, "seal.created", &id, enterprise_id)?;
    get_seal(tx, enterprise_id, &id)
}

/// Rename and/or replace the image (admin).
pub fn update_seal(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    seal_id: &str,
    req: &SealUpdate,
) -> Result<Seal> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let before = get_seal(tx, enterprise_id, seal_id)?;
    if req.name.is_none()
        && req.image.is_none()
        && req.seal_type.is_none()
        && req.width_mm.is_none()
        && req.height_mm.is_none()
        && req.holders.is_none()
    {
        return Err(ErrorCode::BadRequest.into());
    }
    if before.status == SealStatus::Revoked {
        return Err(ErrorCode::InvalidState.into());
    }
    let (t, w, h) = (
        req.seal_type.unwrap_or(before.seal_type),
        req.width_mm.unwrap_or(before.width_mm),
        req.height_mm.unwrap_or(before.height_mm),
    );
    check_shape(t, w, h)?;
    // Whatever changes, the SESeal no longer says what the seal is: approve again.
    tx.execute(
        "UPDATE seals SET seal_type = $1, width_mm = $2, height_mm = $3, status = 'pending', \
         eseal_der = NULL, updated_at = $4 WHERE id = $5",
        &params![i64::from(t), i64::from(w), i64::from(h), now, seal_id],
    )?;
    if let Some(holders) = &req.holders {
        set_holders(tx, enterprise_id, seal_id, holders)?;
    }
    if let Some(name) = &req.name {
        let name = check_seal_name(name)?;
        tx.execute(
            "UPDATE seals SET name = $1, updated_at = $2 WHERE id = $3",
            &params![name, now, seal_id],
        )?;
        audit_seal(
            tx,
            now,
            admin_id,
            ip,
            "seal.renamed",
            seal_id,
            enterprise_id,
        )?;
    }
    if let Some(image) = &req.image {
        check_png(image)?;
        tx.execute(
            "UPDATE seals SET image = $1, image_sha256 = $2, updated_at = $3 WHERE id = $4",
            &params![image.as_slice(), sha256_hex(image), now, seal_id],
        )?;
        audit_seal(
            tx,
            now,
            admin_id,
            ip,
            "seal.image_replaced",
            seal_id,
            enterprise_id,
        )?;
    }
    get_seal(tx, enterprise_id, seal_id)
}

/// Delete a seal (admin; soft).
pub fn delete_seal(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    seal_id: &str,
) -> Result<()> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    get_seal(tx, enterprise_id, seal_id)?;
    tx.execute(
        "UPDATE seals SET deleted_at = $1, updated_at = $1, \
         revoked_at = COALESCE(revoked_at, $1), status = 'revoked' WHERE id = $2",
        &params![now, seal_id],
    )?;
    audit_seal(
        tx,
        now,
        admin_id,
        ip,
        "seal.deleted",
        seal_id,
        enterprise_id,
    )
}

/// Seal type 1–99, size 10–100 mm.
fn check_shape(seal_type: u32, width_mm: u32, height_mm: u32) -> Result<()> {
    if !(1..=99).contains(&seal_type)
        || !(10..=100).contains(&width_mm)
        || !(10..=100).contains(&height_mm)
    {
        return Err(ErrorCode::BadRequest.into());
    }
    Ok(())
}

/// Replace a seal's holders; each must be a member of the enterprise.
fn set_holders(
    tx: &mut dyn Tx,
    enterprise_id: &str,
    seal_id: &str,
    holders: &[String],
) -> Result<()> {
    if holders.len() > 100 {
        return Err(ErrorCode::BadRequest.into());
    }
    for h in holders {
        memberships::require_member(tx, enterprise_id, h)
            .map_err(|_| ServerError::Api(ErrorCode::NotMember))?;
    }
    tx.execute(
        "DELETE FROM seal_holders WHERE seal_id = $1",
        &params![seal_id],
    )?;
    let mut seen: Vec<&str> = Vec::new();
    for h in holders {
        if !seen.contains(&h.as_str()) {
            seen.push(h);
            tx.execute(
                "INSERT INTO seal_holders (seal_id, account_id) VALUES ($1, $2)",
                &params![seal_id, h.as_str()],
            )?;
        }
    }
    Ok(())
}

/// The valid signing certificates (DER) `account_id` holds for `enterprise_id`.
fn signing_certs(
    tx: &mut dyn Tx,
    enterprise_id: &str,
    account_id: &str,
    now: i64,
) -> Result<Vec<Vec<u8>>> {
    tx.query(
        "SELECT c.der FROM certificates c JOIN cert_pairs p ON p.id = c.pair_id \
         WHERE p.account_id = $1 AND p.enterprise_id = $2 AND p.status = 'valid' \
         AND c.usage = 'signing' AND c.status = 'valid' AND c.not_after > $3 ORDER BY c.serial",
        &params![account_id, enterprise_id, now],
    )?
    .iter()
    .map(|r| Ok(r.bytes(0)?))
    .collect()
}

/// The CA approves a pending seal: the seal maker makes its `SESeal`, valid `valid_days` from
/// `now`, listing the holders' valid signing certificates.
pub fn approve_seal(
    tx: &mut dyn Tx,
    now: i64,
    maker: &crate::seal_maker::SealMaker,
    operator: &str,
    seal_id: &str,
    req: &SealApproval,
) -> Result<Seal> {
    if !(1..=MAX_VALID_DAYS).contains(&req.valid_days) {
        return Err(ErrorCode::BadRequest.into());
    }
    let eid = enterprise_of(tx, seal_id)?;
    let seal = get_seal(tx, &eid, seal_id)?;
    if seal.status != SealStatus::Pending {
        return Err(ErrorCode::InvalidState.into());
    }
    let mut certs = Vec::new();
    for h in &seal.holders {
        if memberships::require_member(tx, &eid, h).is_err() {
            continue;
        }
        for der in signing_certs(tx, &eid, h, now)? {
            certs.push(bidkey_crypto::x509::Cert::from_der(&der)?);
        }
    }
    if certs.is_empty() {
        // No holder has a valid signing certificate: a seal nobody may use is refused.
        return Err(ErrorCode::InvalidState.into());
    }
    let image = tx
        .query_opt("SELECT image FROM seals WHERE id = $1", &params![seal_id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?
        .bytes(0)?;
    let es_id = format!("BK{}", new_id()?.to_ascii_uppercase());
    let end = now + i64::from(req.valid_days) * 86_400;
    let to_u64 = |t: i64| u64::try_from(t).map_err(|_| ServerError::Internal("time".into()));
    let der = maker.make(&bidkey_crypto::ses::SealContent {
        es_id: es_id.clone(),
        vid: VID.into(),
        seal_type: seal.seal_type,
        name: seal.name.clone(),
        signer_certs: certs,
        create_date: to_u64(now)?,
        valid_start: to_u64(now)?,
        valid_end: to_u64(end)?,
        picture: bidkey_crypto::ses::SealPicture {
            kind: "PNG".into(),
            data: image,
            width_mm: seal.width_mm,
            height_mm: seal.height_mm,
        },
    })?;
    tx.execute(
        "UPDATE seals SET status = 'approved', es_id = $1, eseal_der = $2, valid_start = $3, \
         valid_end = $4, updated_at = $3 WHERE id = $5",
        &params![es_id.as_str(), der.as_slice(), now, end, seal_id],
    )?;
    audit_seal(tx, now, operator, "", "seal.approved", seal_id, &es_id)?;
    get_seal(tx, &eid, seal_id)
}

fn enterprise_of(tx: &mut dyn Tx, seal_id: &str) -> Result<String> {
    Ok(tx
        .query_opt(
            "SELECT enterprise_id FROM seals WHERE id = $1 AND deleted_at IS NULL",
            &params![seal_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?
        .text(0)?)
}

/// Revoke a seal (its admin, or the CA when `admin_id` is `None`; `actor` is who the audit
/// log names). Signatures made with it before stay checkable; verifiers see `revoked_at` in
/// its status.
pub fn revoke_seal(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: Option<&str>,
    actor: &str,
    ip: &str,
    enterprise_id: Option<&str>,
    seal_id: &str,
) -> Result<Seal> {
    let eid = enterprise_of(tx, seal_id)?;
    if let Some(admin) = admin_id {
        if enterprise_id != Some(eid.as_str()) {
            return Err(ErrorCode::NotFound.into());
        }
        memberships::require_admin(tx, &eid, admin)?;
    }
    let seal = get_seal(tx, &eid, seal_id)?;
    if seal.status == SealStatus::Revoked {
        return Ok(seal);
    }
    tx.execute(
        "UPDATE seals SET status = 'revoked', revoked_at = $1, updated_at = $1 WHERE id = $2",
        &params![now, seal_id],
    )?;
    audit_seal(tx, now, actor, ip, "seal.revoked", seal_id, &eid)?;
    get_seal(tx, &eid, seal_id)
}

/// Pending seals of every enterprise, for the CA.
pub fn pending_seals(tx: &mut dyn Tx) -> Result<Vec<Seal>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM seals WHERE status = 'pending' AND deleted_at IS NULL ORDER BY created_at, id"
    );
    let rows = tx.query(&sql, &[])?;
    rows.iter().map(|r| from_row(tx, r)).collect()
}

/// The seals `caller` may use on `platform_id` at `now`: approved, within validity, held by
/// the caller, of an enterprise the caller is a member of and that granted the caller that
/// platform.
pub fn usable_seals(
    tx: &mut dyn Tx,
    caller: &str,
    platform_id: &str,
    now: i64,
) -> Result<Vec<UsableSealEntry>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("s.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, s.eseal_der FROM seals s JOIN seal_holders h ON h.seal_id = s.id \
         JOIN grants g ON g.enterprise_id = s.enterprise_id AND g.account_id = h.account_id \
         WHERE h.account_id = $1 AND g.platform_id = $2 AND g.revoked_at IS NULL \
         AND s.status = 'approved' AND s.deleted_at IS NULL AND s.eseal_der IS NOT NULL \
         AND s.valid_start <= $3 AND s.valid_end >= $3 ORDER BY s.created_at, s.id"
    );
    let rows = tx.query(&sql, &params![caller, platform_id, now])?;
    let mut out = Vec::new();
    for r in &rows {
        let seal = from_row(tx, r)?;
        if memberships::require_member(tx, &seal.enterprise_id, caller).is_err() {
            continue;
        }
        out.push(UsableSealEntry {
            seal,
            eseal: r.bytes(16)?,
        });
    }
    Ok(out)
}

/// A seal's status by its `esID`, for any verifier.
pub fn seal_status(tx: &mut dyn Tx, es_id: &str) -> Result<SealStatusReport> {
    let r = tx
        .query_opt(
            "SELECT status, valid_start, valid_end, revoked_at FROM seals WHERE es_id = $1",
            &params![es_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    Ok(SealStatusReport {
        es_id: es_id.to_owned(),
        status: status_of(&r.text(0)?)?,
        valid_start: r.opt_i64(1)?.unwrap_or(0),
        valid_end: r.opt_i64(2)?.unwrap_or(0),
        revoked_at: r.opt_i64(3)?,
    })
}

/// Live seals, for members.
pub fn list_seals(tx: &mut dyn Tx, caller: &str, enterprise_id: &str) -> Result<Vec<Seal>> {
    memberships::require_member(tx, enterprise_id, caller)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM seals WHERE enterprise_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    let rows = tx.query(&sql, &params![enterprise_id])?;
    rows.iter().map(|r| from_row(tx, r)).collect()
}

async fn list(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
) -> Result<Json<Vec<Seal>>> {
    let out = st
        .db
        .read(move |tx| list_seals(tx, &user.account_id, &eid))
        .await?;
    Ok(Json(out))
}

/// The SM3 (hex) of a seal image, as a PIN confirmation names it (ADR 0018).
pub fn image_sm3(image: &[u8]) -> String {
    hex::encode(bidkey_crypto::sm3::sm3(image))
}

/// Adding a seal needs the admin's PIN, confirming this image (ADR 0018).
async fn create(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path(eid): Path<String>,
    Json(req): Json<NewSeal>,
) -> Result<Json<Seal>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            let seal = add_seal(tx, now, &user.account_id, &ip, &eid, &req)?;
            // Spent last, in the same transaction: without it nothing is kept.
            confirmation.spend(
                tx,
                now,
                &AdminAction::AddSeal {
                    enterprise_id: eid.clone(),
                    image_sm3: image_sm3(&req.image),
                },
            )?;
            Ok::<_, ServerError>(seal)
        })
        .await?;
    Ok(Json(out))
}

/// Replacing a seal's image needs the admin's PIN, confirming the new image (ADR 0018); a
/// rename alone does not.
async fn update(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    headers: HeaderMap,
    Path((eid, sid)): Path<(String, String)>,
    Json(req): Json<SealUpdate>,
) -> Result<Json<Seal>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let confirmation = Confirmation::of(&user, &headers);
    let out = st
        .db
        .write(move |tx| {
            let seal = update_seal(tx, now, &user.account_id, &ip, &eid, &sid, &req)?;
            if let Some(image) = &req.image {
                confirmation.spend(
                    tx,
                    now,
                    &AdminAction::ReplaceSeal {
                        enterprise_id: eid.clone(),
                        seal_id: sid.clone(),
                        image_sm3: image_sm3(image),
                    },
                )?;
            }
            Ok::<_, ServerError>(seal)
        })
        .await?;
    Ok(Json(out))
}

async fn remove(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path((eid, sid)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    st.db
        .write(move |tx| delete_seal(tx, now, &user.account_id, &ip, &eid, &sid))
        .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn image(
    State(st): State<AppState>,
    user: AuthUser,
    Path((eid, sid)): Path<(String, String)>,
) -> Result<impl IntoResponse> {
    let bytes = st
        .db
        .read(move |tx| {
            memberships::require_member(tx, &eid, &user.account_id)?;
            get_seal(tx, &eid, &sid)?;
            let r = tx
                .query_opt(
                    "SELECT image FROM seals WHERE id = $1",
                    &params![sid.as_str()],
                )?
                .ok_or(ServerError::Api(ErrorCode::NotFound))?;
            Ok::<_, ServerError>(r.bytes(0)?)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], bytes))
}

async fn revoke_by_admin(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path((eid, sid)): Path<(String, String)>,
) -> Result<Json<Seal>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| {
            revoke_seal(
                tx,
                now,
                Some(&user.account_id),
                &user.account_id,
                &ip,
                Some(&eid),
                &sid,
            )
        })
        .await?;
    Ok(Json(out))
}

async fn revoke_by_operator(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    op: Operator,
    Path(sid): Path<String>,
) -> Result<Json<Seal>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let actor = op.actor();
    let out = st
        .db
        .write(move |tx| revoke_seal(tx, now, None, &actor, &ip, None, &sid))
        .await?;
    Ok(Json(out))
}

async fn pending_list(State(st): State<AppState>, _op: Operator) -> Result<Json<Vec<Seal>>> {
    Ok(Json(st.db.read(pending_seals).await?))
}

async fn approve(
    State(st): State<AppState>,
    op: Operator,
    Path(sid): Path<String>,
    Json(req): Json<SealApproval>,
) -> Result<Json<Seal>> {
    let now = st.clock.now();
    let maker = st.seal_maker.clone();
    let actor = op.actor();
    let out = st
        .db
        .write(move |tx| approve_seal(tx, now, &maker, &actor, &sid, &req))
        .await?;
    Ok(Json(out))
}

#[derive(Debug, serde::Deserialize)]
struct UsableQuery {
    platform_id: String,
}

async fn usable(
    State(st): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsableQuery>,
) -> Result<Json<Vec<UsableSealEntry>>> {
    let now = st.clock.now();
    let out = st
        .db
        .read(move |tx| usable_seals(tx, &user.account_id, &q.platform_id, now))
        .await?;
    Ok(Json(out))
}

async fn status(
    State(st): State<AppState>,
    Path(es_id): Path<String>,
) -> Result<Json<SealStatusReport>> {
    if es_id.len() > 64
        || !es_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(Json(st.db.read(move |tx| seal_status(tx, &es_id)).await?))
}

//! Seals (印章管理): the admin uploads seal images (PNG only: signature, IHDR and IEND
//! checked, at most 512 KiB and 2000×2000 pixels), names and renames them, replaces the
//! image, deletes them; every member can list them and fetch the image to sign with.
//!
//! Each seal belongs to the enterprise. `cert_serial` (the enterprise signing certificate
//! the seal is bound to) is filled by the CA part when it issues or re-issues that
//! certificate; replacing the image keeps the binding. Deleting is soft (`deleted_at`), so
//! documents signed earlier can still be checked against the image that was used.

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::cosign::confirm::Confirmation;
use crate::db::{Row, Tx};
use crate::enterprises::ip_of;
use crate::error::{Result, ServerError};
use crate::idempotency;
use crate::memberships;
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::AdminAction;
use bidkey_protocol::platforms::{NewSeal, Seal, SealUpdate};
use std::net::SocketAddr;

/// Largest seal image.
pub const MAX_IMAGE: usize = 512 * 1024;
/// Largest side in pixels.
pub const MAX_SIDE: u32 = 2000;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_IEND: &[u8] = b"\0\0\0\0IEND\xAE\x42\x60\x82";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/enterprises/{eid}/seals", get(list).post(create))
        .route(
            "/v1/enterprises/{eid}/seals/{sid}",
            axum::routing::put(update).delete(remove),
        )
        .route("/v1/enterprises/{eid}/seals/{sid}/image", get(image))
}

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

const COLUMNS: &str =
    "id, enterprise_id, name, image, image_sha256, cert_serial, created_at, updated_at";

fn from_row(r: &Row) -> Result<Seal> {
    let image = r.bytes(3)?;
    let (width, height) = check_png(&image).unwrap_or((0, 0));
    Ok(Seal {
        id: r.text(0)?,
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
    from_row(&r)
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
    let id = new_id()?;
    tx.execute(
        "INSERT INTO seals (id, enterprise_id, name, image, image_sha256, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &params![id.as_str(), enterprise_id, name.as_str(), req.image.as_slice(), sha256_hex(&req.image), now],
    )?;
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
    get_seal(tx, enterprise_id, seal_id)?;
    if req.name.is_none() && req.image.is_none() {
        return Err(ErrorCode::BadRequest.into());
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
        "UPDATE seals SET deleted_at = $1, updated_at = $1 WHERE id = $2",
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

/// Live seals, for members.
pub fn list_seals(tx: &mut dyn Tx, caller: &str, enterprise_id: &str) -> Result<Vec<Seal>> {
    memberships::require_member(tx, enterprise_id, caller)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM seals WHERE enterprise_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    tx.query(&sql, &params![enterprise_id])?
        .iter()
        .map(from_row)
        .collect()
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

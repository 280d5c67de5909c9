//! Zones (专区): an enterprise bound to a trading platform, allowed only when the
//! platform's directory holds a unit with exactly the enterprise's name and USCC (企业名称与
//! 统一社会信用代码必须与业务系统保持一致). The admin binds and unbinds (the binding is the
//! enterprise's, not one person's); every member sees the list.

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::{Row, Tx};
use crate::enterprises::{self, ip_of};
use crate::error::{Result, ServerError};
use crate::memberships;
use crate::params;
use crate::platforms::get_platform;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{ConnectInfo, Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::platforms::{Zone, ZoneRequest};
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/enterprises/{eid}/zones", get(list).post(bind))
        .route("/v1/enterprises/{eid}/zones/{platform_id}", delete(unbind))
}

const SELECT: &str = "SELECT z.id, z.enterprise_id, z.platform_id, p.name, p.origin, z.created_at \
     FROM zones z JOIN platforms p ON p.id = z.platform_id";

fn from_row(r: &Row) -> Result<Zone> {
    Ok(Zone {
        id: r.text(0)?,
        enterprise_id: r.text(1)?,
        platform_id: r.text(2)?,
        platform_name: r.text(3)?,
        origin: r.text(4)?,
        created_at: r.i64(5)?,
    })
}

fn zone_of(tx: &mut dyn Tx, enterprise_id: &str, platform_id: &str) -> Result<Option<Zone>> {
    let sql = format!("{SELECT} WHERE z.enterprise_id = $1 AND z.platform_id = $2");
    tx.query_opt(&sql, &params![enterprise_id, platform_id])?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Bind; binding again returns the zone.
pub fn bind_zone(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    platform_id: &str,
) -> Result<Zone> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let platform = get_platform(tx, platform_id)?;
    if let Some(z) = zone_of(tx, enterprise_id, &platform.id)? {
        return Ok(z);
    }
    let e = enterprises::get(tx, enterprise_id)?;
    let listed = tx.query_opt(
        "SELECT name FROM platform_directory WHERE platform_id = $1 AND uscc = $2",
        &params![platform.id.as_str(), e.uscc.as_str()],
    )?;
    match listed.map(|r| r.text(0)).transpose()? {
        Some(name) if name == e.name => {}
        _ => return Err(ErrorCode::ZoneMismatch.into()),
    }
    let id = new_id()?;
    tx.execute(
        "INSERT INTO zones (id, enterprise_id, platform_id, created_at) VALUES ($1, $2, $3, $4)",
        &params![id.as_str(), enterprise_id, platform.id.as_str(), now],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "zone.bound",
            target: Some(&id),
            ip: Some(ip),
            detail: Some(format!("{enterprise_id} {}", platform.id)),
        },
    )?;
    zone_of(tx, enterprise_id, &platform.id)?
        .ok_or_else(|| ServerError::Internal("zone vanished".into()))
}

/// Unbind.
pub fn unbind_zone(
    tx: &mut dyn Tx,
    now: i64,
    admin_id: &str,
    ip: &str,
    enterprise_id: &str,
    platform_id: &str,
) -> Result<()> {
    memberships::require_admin(tx, enterprise_id, admin_id)?;
    let n = tx.execute(
        "DELETE FROM zones WHERE enterprise_id = $1 AND platform_id = $2",
        &params![enterprise_id, platform_id],
    )?;
    if n == 0 {
        return Err(ErrorCode::NotFound.into());
    }
    audit::record(
        tx,
        now,
        Event {
            actor: admin_id,
            action: "zone.unbound",
            target: Some(platform_id),
            ip: Some(ip),
            detail: Some(enterprise_id.to_owned()),
        },
    )
}

/// The enterprise's zones, for members.
pub fn list_zones(tx: &mut dyn Tx, caller: &str, enterprise_id: &str) -> Result<Vec<Zone>> {
    memberships::require_member(tx, enterprise_id, caller)?;
    let sql = format!("{SELECT} WHERE z.enterprise_id = $1 ORDER BY z.created_at, z.id");
    tx.query(&sql, &params![enterprise_id])?
        .iter()
        .map(from_row)
        .collect()
}

async fn list(
    State(st): State<AppState>,
    user: AuthUser,
    Path(eid): Path<String>,
) -> Result<Json<Vec<Zone>>> {
    let out = st
        .db
        .read(move |tx| list_zones(tx, &user.account_id, &eid))
        .await?;
    Ok(Json(out))
}

async fn bind(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path(eid): Path<String>,
    Json(req): Json<ZoneRequest>,
) -> Result<Json<Zone>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| bind_zone(tx, now, &user.account_id, &ip, &eid, &req.platform_id))
        .await?;
    Ok(Json(out))
}

async fn unbind(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    user: AuthUser,
    Path((eid, platform_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    st.db
        .write(move |tx| unbind_zone(tx, now, &user.account_id, &ip, &eid, &platform_id))
        .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

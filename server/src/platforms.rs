//! Trading platforms (交易平台): registered by the operator with a name, a web origin, a
//! region and a location; the app lists them nearest first (平台选择). Each platform's
//! directory of units (USCC + name) decides which enterprises may bind a zone there.
//!
//! The platform's own certificate (used later to authenticate it towards Bidkey and to sign
//! its QR requests) is issued by the CA part: `platforms.cert_der` stays NULL until then,
//! and `has_certificate` in the answers says whether it exists.

use crate::audit::{self, Event};
use crate::auth::Operator;
use crate::db::{Row, Tx};
use crate::enterprises::{check_name, ip_of, normalize_uscc};
use crate::error::{Result, ServerError};
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::platforms::{Directory, DirectoryLoaded, NewPlatform, Platform};
use serde::Deserialize;
use std::net::SocketAddr;

/// Directory uploads may be large (a city's bidders).
pub const DIRECTORY_BODY: usize = 32 * 1024 * 1024;
const MAX_DIRECTORY: usize = 200_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/platforms", get(list))
        .route("/v1/platforms/{id}", get(one))
        .route("/v1/platforms/{id}/certificate", get(certificate))
}

/// On the operator listener only (ADR 0020).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/platforms", post(register))
        .route(
            "/v1/operator/platforms/{id}/directory",
            put(load_directory).layer(DefaultBodyLimit::max(DIRECTORY_BODY)),
        )
}

/// `GET /v1/platforms/{id}/certificate`: the platform's Bidkey certificate, to which a
/// bidder's phone seals its half of a pre-authorised opening (ADR 0027). The phone checks
/// its chain to the Bidkey CA, the platform profile and that its CN is the registered origin.
async fn certificate(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<bidkey_protocol::certs::PlatformCert>> {
    let out = st
        .db
        .read(move |tx| {
            let p = crate::relay::requests::registered_platform(tx, &id)?;
            let der = p.cert_der.ok_or(crate::error::ServerError::Api(
                ErrorCode::CertificateNotFound,
            ))?;
            let cert = bidkey_crypto::x509::Cert::from_der(&der)?;
            Ok::<_, crate::error::ServerError>(bidkey_protocol::certs::PlatformCert {
                platform_id: id.clone(),
                serial: cert.serial_hex(),
                cert_pem: cert.to_pem()?,
                cert_der: der,
            })
        })
        .await?;
    Ok(Json(out))
}

const COLUMNS: &str =
    "id, name, origin, region, latitude_e6, longitude_e6, cert_der IS NOT NULL, created_at";

fn from_row(r: &Row) -> Result<Platform> {
    let deg = |v: Option<i64>| v.map(|x| x as f64 / 1e6);
    Ok(Platform {
        id: r.text(0)?,
        name: r.text(1)?,
        origin: r.text(2)?,
        region: r.opt_text(3)?,
        latitude: deg(r.opt_i64(4)?),
        longitude: deg(r.opt_i64(5)?),
        distance_km: None,
        has_certificate: r.bool(6)?,
        created_at: r.i64(7)?,
    })
}

/// Load a platform.
pub fn get_platform(tx: &mut dyn Tx, id: &str) -> Result<Platform> {
    let sql = format!("SELECT {COLUMNS} FROM platforms WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::PlatformNotFound))?;
    from_row(&r)
}

/// `scheme://host[:port]`, lower-cased, `http` or `https`, no path, query or user info.
pub fn normalize_origin(s: &str) -> Result<String> {
    let o = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or(ServerError::Api(ErrorCode::BadRequest))?;
    let ok = !rest.is_empty()
        && o.len() <= 200
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(o)
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

fn to_e6(v: f64, limit: f64) -> Result<i64> {
    if v.is_finite() && v.abs() <= limit {
        Ok((v * 1e6).round() as i64)
    } else {
        Err(ErrorCode::BadRequest.into())
    }
}

/// Register a platform; registering the same origin and name again returns it.
pub fn create(
    tx: &mut dyn Tx,
    now: i64,
    actor: &str,
    ip: &str,
    req: &NewPlatform,
) -> Result<Platform> {
    let name = check_name(&req.name)?;
    let origin = normalize_origin(&req.origin)?;
    let region = req
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(check_name)
        .transpose()?;
    let (lat, lon) = match (req.latitude, req.longitude) {
        (Some(a), Some(o)) => (Some(to_e6(a, 90.0)?), Some(to_e6(o, 180.0)?)),
        (None, None) => (None, None),
        _ => return Err(ErrorCode::BadRequest.into()),
    };
    let sql = format!("SELECT {COLUMNS} FROM platforms WHERE origin = $1");
    if let Some(r) = tx.query_opt(&sql, &params![origin.as_str()])? {
        let existing = from_row(&r)?;
        return if existing.name == name {
            Ok(existing)
        } else {
            Err(ErrorCode::Conflict.into())
        };
    }
    let id = new_id()?;
    tx.execute(
        "INSERT INTO platforms (id, name, origin, region, latitude_e6, longitude_e6, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![id.as_str(), name.as_str(), origin.as_str(), region, lat, lon, now],
    )?;
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "platform.registered",
            target: Some(&id),
            ip: Some(ip),
            detail: Some(origin),
        },
    )?;
    get_platform(tx, &id)
}

/// Replace a platform's directory with `entries` (all checked first).
pub fn replace_directory(
    tx: &mut dyn Tx,
    now: i64,
    actor: &str,
    ip: &str,
    platform_id: &str,
    entries: &[(String, String)],
) -> Result<u64> {
    get_platform(tx, platform_id)?;
    tx.execute(
        "DELETE FROM platform_directory WHERE platform_id = $1",
        &params![platform_id],
    )?;
    for (uscc, name) in entries {
        tx.execute(
            "INSERT INTO platform_directory (platform_id, uscc, name) VALUES ($1, $2, $3)",
            &params![platform_id, uscc.as_str(), name.as_str()],
        )?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor,
            action: "platform.directory_loaded",
            target: Some(platform_id),
            ip: Some(ip),
            detail: Some(format!("{} entries", entries.len())),
        },
    )?;
    Ok(entries.len() as u64)
}

/// Check directory entries: valid USCCs, names, no USCC twice.
pub fn check_directory(dir: &Directory) -> Result<Vec<(String, String)>> {
    if dir.entries.len() > MAX_DIRECTORY {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(dir.entries.len());
    for e in &dir.entries {
        let uscc = normalize_uscc(&e.uscc)?;
        let name = check_name(&e.name)?;
        if !seen.insert(uscc.clone()) {
            return Err(ErrorCode::BadRequest.into());
        }
        out.push((uscc, name));
    }
    Ok(out)
}

/// Great-circle distance in kilometres.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().atan2((1.0 - a).sqrt())
}

/// All platforms; nearest first when a location is given (those without one last).
pub fn list_platforms(tx: &mut dyn Tx, at: Option<(f64, f64)>) -> Result<Vec<Platform>> {
    let sql = format!("SELECT {COLUMNS} FROM platforms ORDER BY name, id");
    let mut out = tx
        .query(&sql, &[])?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    if let Some((lat, lon)) = at {
        for p in &mut out {
            if let (Some(a), Some(o)) = (p.latitude, p.longitude) {
                p.distance_km = Some(haversine_km(lat, lon, a, o));
            }
        }
        out.sort_by(|a, b| match (a.distance_km, b.distance_km) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    Ok(out)
}

async fn register(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    op: Operator,
    Json(req): Json<NewPlatform>,
) -> Result<Json<Platform>> {
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let out = st
        .db
        .write(move |tx| create(tx, now, &op.actor(), &ip, &req))
        .await?;
    Ok(Json(out))
}

async fn load_directory(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    op: Operator,
    Path(id): Path<String>,
    Json(dir): Json<Directory>,
) -> Result<Json<DirectoryLoaded>> {
    let entries = check_directory(&dir)?;
    let now = st.clock.now();
    let pid = id.clone();
    let ip = ip_of(&addr);
    let n = st
        .db
        .write(move |tx| replace_directory(tx, now, &op.actor(), &ip, &pid, &entries))
        .await?;
    Ok(Json(DirectoryLoaded {
        platform_id: id,
        entries: n,
    }))
}

#[derive(Debug, Deserialize)]
pub struct Near {
    lat: Option<f64>,
    lon: Option<f64>,
}

async fn list(State(st): State<AppState>, Query(near): Query<Near>) -> Result<Json<Vec<Platform>>> {
    let at = match (near.lat, near.lon) {
        (Some(a), Some(o)) if a.abs() <= 90.0 && o.abs() <= 180.0 => Some((a, o)),
        (None, None) => None,
        _ => return Err(ErrorCode::BadRequest.into()),
    };
    let out = st.db.read(move |tx| list_platforms(tx, at)).await?;
    Ok(Json(out))
}

async fn one(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Platform>> {
    let out = st.db.read(move |tx| get_platform(tx, &id)).await?;
    Ok(Json(out))
}

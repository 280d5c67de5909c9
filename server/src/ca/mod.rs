//! The certification authority: an SM2 root and an issuing CA (pathLen 0) whose keys live in
//! a passphrase-protected key file ([`keys`]); issuance ([`issue`]); CRLs and status
//! ([`crl`]). HTTP: the chain, the CRLs, and the operator's platform certificates.

pub mod crl;
pub mod issue;
pub mod keys;

use crate::audit::{self, Event};
use crate::auth::Operator;
use crate::error::{Result, ServerError};
use crate::params;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::{CaChain, CertStatus, PlatformCert, PlatformCertRequest};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ca/chain", get(chain))
        .route("/v1/ca/crl", get(issuing_crl))
        .route("/v1/ca/crl/root", get(root_crl))
        .route("/v1/certs/{serial}/status", get(cert_status))
}

/// On the operator listener only (ADR 0020).
pub fn operator_routes() -> Router<AppState> {
    Router::new().route(
        "/v1/operator/platforms/{id}/certificate",
        post(platform_certificate),
    )
}

async fn chain(State(st): State<AppState>) -> Result<Json<CaChain>> {
    let ca = &st.secrets.ca;
    Ok(Json(CaChain {
        root_der: ca.root().to_der().to_vec(),
        issuing_der: ca.issuing().to_der().to_vec(),
        root_pem: ca.root().to_pem()?,
        issuing_pem: ca.issuing().to_pem()?,
    }))
}

async fn serve_crl(st: AppState, which: crl::Which) -> Result<impl IntoResponse> {
    let now = st.clock.now();
    let fresh = st.db.read(move |tx| crl::cached(tx, which, now)).await?;
    let der = match fresh {
        Some(der) => der,
        None => {
            let secrets = st.secrets.clone();
            st.db
                .write(move |tx| crl::current(tx, &secrets.ca, which, now))
                .await?
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], der))
}

/// `GET /v1/ca/crl`: the issuing CA's CRL, DER.
async fn issuing_crl(State(st): State<AppState>) -> Result<impl IntoResponse> {
    serve_crl(st, crl::Which::Issuing).await
}

/// `GET /v1/ca/crl/root`: the root's CRL (ARL), DER; chain validation needs both.
async fn root_crl(State(st): State<AppState>) -> Result<impl IntoResponse> {
    serve_crl(st, crl::Which::Root).await
}

/// `GET /v1/certs/{serial}/status`: public, for trading platforms.
async fn cert_status(
    State(st): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Json<CertStatus>> {
    if serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ErrorCode::BadRequest.into());
    }
    let now = st.clock.now();
    let s = st.db.read(move |tx| crl::status(tx, &serial, now)).await?;
    Ok(Json(s))
}

/// `POST /v1/operator/platforms/{id}/certificate`: issue a registered platform's
/// certificate (SM2 or P-256) from its CSR and keep it in `platforms.cert_der`.
async fn platform_certificate(
    State(st): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Json(req): Json<PlatformCertRequest>,
) -> Result<Json<PlatformCert>> {
    let days = i64::from(req.days.unwrap_or(365));
    if !(1..=825).contains(&days) || req.csr_der.len() > 8192 {
        return Err(ErrorCode::BadRequest.into());
    }
    let now = st.clock.now();
    let id2 = id.clone();
    let (name, origin) = st
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT name, origin FROM platforms WHERE id = $1",
                    &params![id2.as_str()],
                )?
                .ok_or(ServerError::Api(ErrorCode::PlatformNotFound))?;
            Ok::<_, ServerError>((r.text(0)?, r.text(1)?))
        })
        .await?;
    let cert = issue::issue_platform(&st.secrets.ca, &req.csr_der, &name, &origin, now, days)?;
    let der = cert.to_der().to_vec();
    let serial = cert.serial_hex();
    let (id2, der2, serial2) = (id.clone(), der.clone(), serial.clone());
    let actor = op.actor();
    st.db
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE platforms SET cert_der = $1 WHERE id = $2",
                &params![der2.clone(), id2.as_str()],
            )?;
            if n != 1 {
                return Err(ServerError::Api(ErrorCode::PlatformNotFound));
            }
            audit::record(
                tx,
                now,
                Event {
                    actor: &actor,
                    action: "platform.certificate_issued",
                    target: Some(&id2),
                    detail: Some(serial2.clone()),
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(Json(PlatformCert {
        platform_id: id,
        serial,
        cert_der: der,
        cert_pem: cert.to_pem()?,
    }))
}

//! Probes for a supervisor or load balancer: `/healthz` (the process answers) and `/readyz`
//! (it can serve: database reachable, schema current, keys loaded). Neither needs a token
//! and neither says more than which check failed.

use crate::error::typed_response;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bidkey_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use std::time::Duration;

/// How long `/readyz` waits for the database before calling it unreachable.
const DB_PROBE: Duration = Duration::from_secs(3);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /healthz`: the process is up and its HTTP workers answer.
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize)]
struct Ready {
    status: &'static str,
    schema_version: i64,
}

/// `GET /readyz`: 200 when a request could be served now; 503 with the failing check in
/// `detail` otherwise (a load balancer takes the process out of rotation).
async fn readyz(State(st): State<AppState>) -> Response {
    let known = crate::db::schema_version_known();
    let problem = match tokio::time::timeout(DB_PROBE, st.db.schema_version()).await {
        Err(_) => Some(format!(
            "database: no answer within {} s",
            DB_PROBE.as_secs()
        )),
        Ok(Err(e)) => {
            // The error may name hosts: for the log, not for an unauthenticated probe.
            tracing::warn!(error = %e, "readiness: database");
            Some("database: unreachable".into())
        }
        Ok(Ok(v)) if v != known => Some(format!(
            "migrations: the database is at schema version {v}, this server expects {known}"
        )),
        // The key files are loaded (and decrypted) before the listeners open, so a process
        // that answers has them.
        Ok(Ok(_)) => None,
    };
    match problem {
        None => Json(Ready {
            status: "ready",
            schema_version: known,
        })
        .into_response(),
        Some(p) => {
            tracing::warn!(problem = %p, "not ready");
            let mut b = ErrorBody::new(ErrorCode::Unavailable);
            b.retry_after = Some(5);
            b.detail = Some(p);
            typed_response(b)
        }
    }
}

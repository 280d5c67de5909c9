//! Probes for a supervisor or load balancer: `/healthz` (the process answers) and `/readyz`
//! (it can serve: database reachable, schema current, keys loaded). Neither needs a token
//! and neither says more than which check failed.
//!
//! While the server starts ([`crate::launch`]: listening, the database not yet open) the
//! probes come from [`starting_router`]: `/healthz` answers, `/readyz` names what is awaited,
//! every other route is a typed 503 with `Retry-After`.

use crate::error::typed_response;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bidkey_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use std::sync::{Arc, Mutex};
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
        // The key files are loaded (and decrypted) before the listeners open, and this
        // router serves only once the database is open, so a process that answers has them.
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

/// `/readyz`'s reason while the database cannot be reached at start.
pub const UNREACHABLE: &str = "database: unreachable";

/// Seconds a client waits before retrying a server that is still starting.
const STARTING_RETRY_AFTER: u64 = 5;

/// What a starting server waits for, as `/readyz` says it; shared by its two listeners and
/// the task that opens the database.
#[derive(Debug, Clone)]
pub struct Starting(Arc<Mutex<&'static str>>);

impl Default for Starting {
    fn default() -> Starting {
        Starting(Arc::new(Mutex::new(
            "starting: opening the database, applying migrations",
        )))
    }
}

impl Starting {
    pub fn set(&self, reason: &'static str) {
        if let Ok(mut r) = self.0.lock() {
            *r = reason;
        }
    }

    fn get(&self) -> &'static str {
        self.0.lock().map(|r| *r).unwrap_or("starting")
    }
}

/// The router of a server that listens but cannot serve yet: `/healthz` 200 (the process
/// is up), `/readyz` 503 with the reason, everything else a typed 503 with `Retry-After`
/// (never a refused connection, never a 500).
pub fn starting_router(reason: Starting) -> Router {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(starting))
        .fallback(starting);
    crate::requestlog::wrap(app).with_state(reason)
}

async fn starting(State(reason): State<Starting>) -> Response {
    let mut b = ErrorBody::new(ErrorCode::Unavailable);
    b.retry_after = Some(STARTING_RETRY_AFTER);
    b.detail = Some(reason.get().to_owned());
    typed_response(b)
}

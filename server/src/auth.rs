//! Who is calling: a logged-in account (bearer token) or the operator.

use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::state::AppState;
use crate::util::hash_secret;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bidkey_protocol::ErrorCode;

/// A logged-in account, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub account_id: String,
    pub device_id: Option<String>,
    pub token_hash: String,
}

/// A named operator (CA/RA staff), from `Authorization: Bearer <operator token>`: a token
/// `bidkey-server operator token` made, not expired nor revoked (ADR 0020).
#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
}

impl Operator {
    /// How the audit log names this operator.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let s = value.to_str().ok()?;
    s.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// Look a token up; expired and revoked tokens are refused.
pub fn lookup_token(tx: &mut dyn Tx, token: &str, now: i64) -> Result<AuthUser> {
    let hash = hash_secret(token);
    let row = tx
        .query_opt(
            "SELECT account_id, device_id, expires_at, revoked FROM tokens WHERE token_hash = $1",
            &params![hash.clone()],
        )?
        .ok_or(ServerError::Api(ErrorCode::Unauthorized))?;
    if row.bool(3)? {
        return Err(ErrorCode::Unauthorized.into());
    }
    if row.i64(2)? <= now {
        return Err(ErrorCode::TokenExpired.into());
    }
    Ok(AuthUser {
        account_id: row.text(0)?,
        device_id: row.opt_text(1)?,
        token_hash: hash,
    })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts).ok_or(ServerError::Api(ErrorCode::Unauthorized))?;
        let now = state.clock.now();
        state.db.read(move |tx| lookup_token(tx, &token, now)).await
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts).ok_or(ServerError::Api(ErrorCode::Unauthorized))?;
        let now = state.clock.now();
        let name = state
            .db
            .read(move |tx| crate::operators::lookup(tx, &token, now))
            .await?;
        Ok(Operator { name })
    }
}

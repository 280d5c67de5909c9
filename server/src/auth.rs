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

/// A request's bearer token, not yet looked up: for the bid opening's hot routes, which look
/// it up inside the transaction they run anyway ([`Bearer::lookup`]) instead of in a read
/// transaction of its own (one database job less per request). The same checks as
/// [`AuthUser`]; a request without a token is refused before any database work.
#[derive(Clone)]
pub struct Bearer(String);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in a log.
        f.write_str("Bearer(..)")
    }
}

impl Bearer {
    /// The account (and device) of the token, as [`AuthUser`] would have it.
    pub fn lookup(&self, tx: &mut dyn Tx, now: i64) -> Result<AuthUser> {
        lookup_token(tx, &self.0, now)
    }
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self> {
        bearer(parts)
            .map(Bearer)
            .ok_or(ServerError::Api(ErrorCode::Unauthorized))
    }
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

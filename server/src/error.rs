//! The server's one error type; it becomes the HTTP answer in exactly one place
//! ([`IntoResponse`]), which also decides what is logged. Nothing secret is in any variant.

use crate::db::DbError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bidkey_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A refusal the user can act on.
    #[error("refused: {0:?}")]
    Api(ErrorCode),
    /// A final signature did not verify: a wrong PIN.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u32 },
    /// Too many attempts.
    #[error("rate limited for {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("crypto: {0}")]
    Crypto(#[from] bidkey_crypto::Error),
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// What a transaction returns when a refusal must still commit (a counted wrong PIN, a spent
/// session, a wrong SMS code): the outer error rolls back, the inner one is answered after
/// the commit.
pub type Outcome<T> = Result<Result<T, ServerError>, ServerError>;

impl From<ErrorCode> for ServerError {
    fn from(code: ErrorCode) -> Self {
        ServerError::Api(code)
    }
}

/// The HTTP status for each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        Unauthorized | TokenExpired | WrongPassword => StatusCode::UNAUTHORIZED,
        Forbidden | NotAdmin | NotMember | RealNameRequired => StatusCode::FORBIDDEN,
        NotFound | AccountNotFound | CertificateNotFound | ApplicationNotFound
        | PlatformNotFound | GrantNotFound | ScanNotFound | SessionNotFound => {
            StatusCode::NOT_FOUND
        }
        Conflict
        | PhoneAlreadyRegistered
        | EnterpriseAlreadyClaimed
        | AlreadyMember
        | AdminExists
        | InvalidState
        | ScanUsed
        | ScanAnswered => StatusCode::CONFLICT,
        TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        MicropaymentExpired | ScanExpired => StatusCode::GONE,
        GrantMissing | ScanForeignOrigin => StatusCode::FORBIDDEN,
        TooEarly => StatusCode::TOO_EARLY,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        PaymentRequired => StatusCode::PAYMENT_REQUIRED,
        KeyLocked | CertificateRevoked | CertificateSuspended | CertificateExpired => {
            StatusCode::LOCKED
        }
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let body = match &self {
            ServerError::Api(code) => ErrorBody::new(*code),
            ServerError::WrongPin { tries_left } => {
                let mut b = ErrorBody::new(ErrorCode::WrongPin);
                b.tries_left = Some(*tries_left);
                b
            }
            ServerError::RateLimited { retry_after } => {
                let mut b = ErrorBody::new(ErrorCode::TooManyRequests);
                b.retry_after = Some(*retry_after);
                b
            }
            ServerError::Db(DbError::Conflict(_)) => ErrorBody::new(ErrorCode::Conflict),
            ServerError::Crypto(e) => {
                tracing::info!(error = %e, "crypto input refused");
                ErrorBody::new(ErrorCode::BadRequest)
            }
            ServerError::Db(_) | ServerError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                ErrorBody::new(ErrorCode::Internal)
            }
        };
        (status_of(body.code), Json(body)).into_response()
    }
}

//! The server's one error type; it becomes the HTTP answer in exactly one place
//! ([`IntoResponse`]), which also decides what is logged. Nothing secret is in any variant.
//!
//! Requests the web framework turns away before a handler runs (unreadable or wrongly
//! shaped JSON, a bad query string or path parameter, a wrong content type, a body over the
//! limit, an unknown path, a wrong method) are answered in the same form by
//! [`typed_refusals`], one layer over the whole router, so a route added anywhere gets it
//! without doing anything (ADR 0006).

use crate::db::DbError;
use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
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
    /// Not possible before a server time (unlock limit, recovery cooling-off).
    #[error("refused until {at}: {code:?}")]
    NotBefore { code: ErrorCode, at: i64 },
    /// Too many attempts.
    #[error("rate limited for {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("crypto: {0}")]
    Crypto(#[from] bidkey_crypto::Error),
    #[error("internal: {0}")]
    Internal(String),
    /// A request the framework could not read; `detail` is its parser's words.
    #[error("malformed request: {detail}")]
    Malformed { code: ErrorCode, detail: String },
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
        | TooManyOpenApplications
        | PhoneAlreadyRegistered
        | EnterpriseAlreadyClaimed
        | AlreadyMember
        | AdminExists
        | InvalidState
        | ScanUsed
        | ScanAnswered => StatusCode::CONFLICT,
        TooManyRequests | UnlockLimited => StatusCode::TOO_MANY_REQUESTS,
        RecoveryCoolingOff => StatusCode::TOO_EARLY,
        PhoneChangeProofRequired => StatusCode::FORBIDDEN,
        MicropaymentExpired | ScanExpired => StatusCode::GONE,
        GrantMissing | ScanForeignOrigin => StatusCode::FORBIDDEN,
        TooEarly => StatusCode::TOO_EARLY,
        ProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
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
            ServerError::NotBefore { code, at } => {
                let mut b = ErrorBody::new(*code);
                b.not_before = Some(*at);
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
            ServerError::Malformed { code, detail } => {
                let mut b = ErrorBody::new(*code);
                if !detail.is_empty() {
                    b.detail = Some(detail.clone());
                }
                b
            }
        };
        let mut resp = (status_of(body.code), Json(body)).into_response();
        resp.extensions_mut().insert(Typed);
        resp
    }
}

/// Marks an answer made from a [`ServerError`]: any other refusal came from the framework.
#[derive(Debug, Clone, Copy)]
struct Typed;

/// The code for a refusal the framework made, by its status. Malformed input is `400`
/// whatever the framework chose: it answers `422` for JSON of the wrong shape, a status
/// clients cannot tell from a semantic refusal and the API does not use.
pub fn framework_code(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyRequests,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// The longest framework message kept as `detail`; its rejections are one short line.
const DETAIL_MAX: usize = 1024;

/// Middleware over the whole router: every error answer that is not already a typed
/// [`ErrorBody`] (an extractor's plain-text rejection, an empty 404 or 405) becomes one, with
/// the framework's words as `detail` and the `Allow` header of a 405 kept.
pub async fn typed_refusals(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp.extensions().get::<Typed>().is_some()
    {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let code = framework_code(status);
    // The rejection's text is small; anything else (or an unreadable body) is dropped.
    let detail = match axum::body::to_bytes(body, DETAIL_MAX).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    // Not the detail: parser messages may quote the request's values (a PIN sent as a number).
    tracing::debug!(%status, ?code, "request refused by the framework");
    let mut out = ServerError::Malformed { code, detail }.into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// The router's fallback: no route has this path.
pub async fn unknown_path() -> ServerError {
    ServerError::Api(ErrorCode::NotFound)
}

/// The fallback of every route for a method it does not have (axum adds `Allow`).
pub async fn wrong_method() -> ServerError {
    ServerError::Api(ErrorCode::MethodNotAllowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_statuses_map_to_documented_codes() {
        for (status, code) in [
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadRequest),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        ] {
            assert_eq!(framework_code(status), code, "{status}");
        }
        // The answer's status is the code's: 422 never reaches a client.
        assert_eq!(
            status_of(framework_code(StatusCode::UNPROCESSABLE_ENTITY)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorCode::TooManyOpenApplications),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(ErrorCode::InvalidIdempotencyKey),
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn the_layer_types_plain_refusals_and_leaves_typed_ones() {
        use axum::body::Body;
        use axum::routing::get;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/plain",
                get(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "missing field `x`") }),
            )
            .route(
                "/typed",
                get(|| async { ServerError::Api(ErrorCode::WrongPassword) }),
            )
            .layer(axum::middleware::from_fn(typed_refusals));
        let call = |path: &'static str| {
            let app = app.clone();
            async move {
                let resp = app
                    .oneshot(
                        axum::http::Request::get(path)
                            .body(Body::empty())
                            .expect("request"),
                    )
                    .await
                    .expect("answer");
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), 4096)
                    .await
                    .expect("body");
                let body: ErrorBody = serde_json::from_slice(&bytes).expect("error body");
                (status, body)
            }
        };
        let (status, body) = call("/plain").await;
        assert_eq!(
            (status, body.code),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
        );
        assert_eq!(body.detail.as_deref(), Some("missing field `x`"));
        let (status, body) = call("/typed").await;
        assert_eq!(
            (status, body.code),
            (StatusCode::UNAUTHORIZED, ErrorCode::WrongPassword)
        );
        assert_eq!(body.detail, None);
    }
}

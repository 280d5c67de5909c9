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
use axum::http::{HeaderValue, StatusCode, header};
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
    /// The server is stopping (a released long poll) or cannot serve now: try again in
    /// `retry_after` seconds, here or on another server process.
    #[error("unavailable, retry in {retry_after} s")]
    Unavailable { retry_after: u64 },
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
        PhoneChangeProofRequired | PinConfirmationRequired | FileKeyPurposeMismatch => {
            StatusCode::FORBIDDEN
        }
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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

/// Seconds a client waits before retrying when the database cannot be reached.
const DB_RETRY_AFTER: u64 = 5;

impl From<crate::relay::notify::ShuttingDown> for ServerError {
    fn from(_: crate::relay::notify::ShuttingDown) -> Self {
        // Long enough for a restart or for the proxy to send the retry to another process.
        ServerError::Unavailable { retry_after: 2 }
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
            ServerError::Unavailable { retry_after } => {
                let mut b = ErrorBody::new(ErrorCode::Unavailable);
                b.retry_after = Some(*retry_after);
                b
            }
            ServerError::Db(DbError::Conflict(_)) => ErrorBody::new(ErrorCode::Conflict),
            ServerError::Db(DbError::Connect(_) | DbError::Closed) => {
                tracing::warn!(error = %self, "database unavailable");
                let mut b = ErrorBody::new(ErrorCode::Unavailable);
                b.retry_after = Some(DB_RETRY_AFTER);
                b
            }
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
        typed_response(body)
    }
}

/// The answer for `body`: its status, the JSON, `Retry-After` when the body says when to
/// retry (HTTP clients and proxies read the header, apps the field), and the body kept as
/// an extension so the outer layers can count it and add the request id.
pub fn typed_response(body: ErrorBody) -> Response {
    let mut resp = (status_of(body.code), Json(&body)).into_response();
    if let Some(secs) = body.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp.extensions_mut().insert(Typed(body));
    resp
}

/// Marks an answer made from a [`ServerError`] and keeps its body: any other refusal came
/// from the framework.
#[derive(Debug, Clone)]
pub struct Typed(pub ErrorBody);

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
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if resp.extensions().get::<Typed>().is_some() {
        return with_request_id(resp, request_id);
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
    with_request_id(out, request_id)
}

/// The request id header (set, or kept when the client sent a well-formed one, by the layers
/// in [`crate::router`]).
pub const REQUEST_ID: &str = "x-request-id";

/// A typed error answer with `request_id` in its body: the body is re-encoded from the kept
/// [`Typed`] copy, headers and status unchanged.
fn with_request_id(resp: Response, request_id: Option<String>) -> Response {
    let Some(id) = request_id else { return resp };
    let (mut parts, _old) = resp.into_parts();
    let Some(Typed(mut body)) = parts.extensions.remove::<Typed>() else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    body.request_id = Some(id);
    let bytes = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, axum::body::Body::empty()),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.insert(Typed(body));
    Response::from_parts(parts, axum::body::Body::from(bytes))
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

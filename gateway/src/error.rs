//! The one error type of the gateway, and the typed body every refusal carries:
//! `{"code": "...", "message_zh": "...", "message_en": "..."}`.
//!
//! Bad input is always a 4xx with its own code; 5xx only for the gateway's own faults
//! (its store) and 502/503 for the Bidkey server being unreachable or refusing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bidkey_platform::PlatformError;
use serde::Serialize;

/// Errors of the gateway, each with a wire code.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("scan not finished")]
    NotReady,
    #[error("scan already finished")]
    Finished,
    /// A pre-authorised bid that does not open now, with the hall's words for the bidder
    /// (`bidkey_platform::opening::failure_words`).
    #[error("{}", .words.en)]
    NotOpenable {
        code: &'static str,
        words: bidkey_platform::opening::Words,
    },
    /// An SDK refusal, classified in [`GatewayError::parts`].
    #[error("{0}")]
    Platform(#[from] PlatformError),
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("store: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<bidkey_platform::bidfile::BidFileError> for GatewayError {
    fn from(e: bidkey_platform::bidfile::BidFileError) -> Self {
        GatewayError::Platform(e.into())
    }
}

impl GatewayError {
    /// A pre-authorised opening refused by the Bidkey server (too early by its clock, not
    /// pre-authorised, withdrawn) or short of k holders: the hall's words, its own code.
    /// Anything else stays the SDK's refusal.
    pub fn not_openable(e: PlatformError) -> GatewayError {
        let code = match &e {
            PlatformError::Server(m) if m.starts_with("TooEarly") => "too_early",
            PlatformError::Server(m) if m.starts_with("NotFound") => "not_preauthorised",
            PlatformError::Server(m) if m.starts_with("InvalidState") => "preauth_withdrawn",
            PlatformError::NotEnoughPreauths { .. } => "not_enough_preauths",
            _ => return GatewayError::Platform(e),
        };
        GatewayError::NotOpenable {
            code,
            words: bidkey_platform::opening::failure_words(&e),
        }
    }
}

impl From<std::io::Error> for GatewayError {
    fn from(e: std::io::Error) -> Self {
        GatewayError::Internal(format!("I/O: {e}"))
    }
}

/// The body of every refusal.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl GatewayError {
    /// Status, wire code and the Chinese message; the English one is `Display` (with the
    /// SDK's detail, which never holds secrets).
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use GatewayError as G;
        use PlatformError as P;
        match self {
            G::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "请求格式错误"),
            G::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "API 密钥缺失或无效",
            ),
            G::NotFound => (StatusCode::NOT_FOUND, "not_found", "不存在"),
            G::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "不支持该请求方法",
            ),
            G::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求内容过大",
            ),
            G::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "不支持的内容类型",
            ),
            G::NotReady => (StatusCode::CONFLICT, "not_ready", "扫码尚未完成"),
            G::NotOpenable { code, .. } => match *code {
                "too_early" => (StatusCode::CONFLICT, "too_early", "尚未到开标时间"),
                "preauth_withdrawn" => (
                    StatusCode::CONFLICT,
                    "preauth_withdrawn",
                    "投标人已撤回预授权",
                ),
                "not_enough_preauths" => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not_enough_preauths",
                    "预授权的授权人员不足",
                ),
                _ => (
                    StatusCode::NOT_FOUND,
                    "not_preauthorised",
                    "这份投标文件没有预授权开标",
                ),
            },
            G::Finished => (StatusCode::CONFLICT, "scan_finished", "扫码已结束"),
            G::Store(_) | G::Postgres(_) | G::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "网关内部错误",
            ),
            G::Platform(p) => match p {
                P::NotABidFile => (StatusCode::BAD_REQUEST, "not_a_bid_file", "不是投标文件"),
                P::UnsupportedVersion(_) | P::MalformedHeader(_) => (
                    StatusCode::BAD_REQUEST,
                    "malformed_bid_file",
                    "投标文件头格式错误",
                ),
                P::WrongKey => (StatusCode::BAD_REQUEST, "wrong_key", "密钥与投标文件不符"),
                P::HeaderTampered
                | P::ChunkTampered { .. }
                | P::ChunkReordered { .. }
                | P::Truncated { .. }
                | P::TrailingData => (
                    StatusCode::BAD_REQUEST,
                    "bid_file_tampered",
                    "投标文件已被篡改或不完整",
                ),
                P::BadRecipient(_) => (
                    StatusCode::BAD_REQUEST,
                    "bad_recipient",
                    "接收方证书不能用于加密",
                ),
                P::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed", "数据格式错误"),
                P::InvalidInput(_) | P::Qr(_) => {
                    (StatusCode::BAD_REQUEST, "invalid_input", "输入无效")
                }
                P::Pdf(_) => (StatusCode::BAD_REQUEST, "invalid_pdf", "PDF 无法读取或签章"),
                P::BadSignature => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_signature",
                    "签名验证失败",
                ),
                P::Certificate(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "certificate_rejected",
                    "证书无效（不受信任、过期或已吊销）",
                ),
                P::UsccMismatch => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "uscc_mismatch",
                    "证书不属于该企业",
                ),
                P::NotEnoughShares { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not_enough_shares",
                    "联合解密的份额不足",
                ),
                P::NotEnoughPreauths { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not_enough_preauths",
                    "预授权的授权人员不足",
                ),
                P::UploadRefused(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "upload_refused",
                    "投标文件不能用于本平台本项目",
                ),
                P::NoGrant => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_grant",
                    "签名人未获本平台授权",
                ),
                P::Seal(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "seal_rejected",
                    "电子印章未通过验证（未获授权、已过期或已吊销）",
                ),
                P::BadReply(_) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_reply",
                    "手机的答复未通过验证",
                ),
                P::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "rejected", "投标人已拒绝"),
                P::Relay(bidkey_protocol::ErrorCode::ScanExpired) => {
                    (StatusCode::GONE, "scan_expired", "二维码已过期")
                }
                P::Relay(code) => relay_refusal(*code),
                P::Server(_) => (
                    StatusCode::BAD_GATEWAY,
                    "bidkey_refused",
                    "Bidkey 服务器拒绝了请求",
                ),
                P::Network(_) => (
                    StatusCode::BAD_GATEWAY,
                    "bidkey_unreachable",
                    "无法连接 Bidkey 服务器",
                ),
                P::RevocationUnavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "revocation_unavailable",
                    "无法获取证书吊销状态",
                ),
                P::Io(_) | P::Config(_) | P::Crypto(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "网关内部错误",
                ),
            },
        }
    }

    /// The typed body.
    pub fn body(&self) -> ErrorBody {
        let (_, code, zh) = self.parts();
        // The hall's full sentence for a bid that does not open.
        if let GatewayError::NotOpenable { words, .. } = self {
            return ErrorBody {
                code: code.into(),
                message_zh: words.zh.clone(),
                message_en: words.en.clone(),
            };
        }
        let en = match self {
            // Store and internal details stay in the log, not on the wire.
            GatewayError::Store(_) | GatewayError::Postgres(_) | GatewayError::Internal(_) => {
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        ErrorBody {
            code: code.into(),
            message_zh: zh.into(),
            message_en: en,
        }
    }
}

/// The relay refused a request the gateway made for the caller: the caller's input when the
/// relay judged the request itself (a 4xx for the caller), the gateway's or the server's
/// state otherwise (a 502: the platform's registration, certificate, or the server).
fn relay_refusal(code: bidkey_protocol::ErrorCode) -> (StatusCode, &'static str, &'static str) {
    use bidkey_protocol::ErrorCode as E;
    match code {
        E::ScanExpired => (StatusCode::GONE, "scan_expired", "二维码已过期"),
        E::NotFound | E::ScanNotFound | E::SessionNotFound => {
            (StatusCode::NOT_FOUND, "not_found", "不存在")
        }
        E::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "请求内容过大",
        ),
        E::Internal
        | E::Unavailable
        | E::ProviderUnavailable
        | E::TooManyRequests
        | E::Unauthorized
        | E::TokenExpired
        | E::Forbidden
        | E::ScanForeignOrigin
        | E::PlatformNotFound
        | E::CertificateRevoked
        | E::CertificateSuspended
        | E::CertificateExpired
        | E::KeyLocked => (
            StatusCode::BAD_GATEWAY,
            "bidkey_refused",
            "Bidkey 服务器拒绝了请求",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "relay_refused",
            "Bidkey 认为该请求无效",
        ),
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (status, axum::Json(self.body())).into_response()
    }
}

pub type Result<T, E = GatewayError> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_never_a_server_error() {
        for e in [
            GatewayError::Platform(PlatformError::NotABidFile),
            GatewayError::Platform(PlatformError::WrongKey),
            GatewayError::Platform(PlatformError::Truncated { chunks: 1 }),
            GatewayError::Platform(PlatformError::Malformed("x")),
            GatewayError::Platform(PlatformError::InvalidInput("x")),
            GatewayError::BadRequest("x".into()),
            GatewayError::Platform(PlatformError::Relay(bidkey_protocol::ErrorCode::BadRequest)),
            GatewayError::Platform(PlatformError::Relay(
                bidkey_protocol::ErrorCode::SessionNotFound,
            )),
        ] {
            assert!(e.parts().0.is_client_error(), "{e:?}");
        }
        let internal = GatewayError::Internal("disk /secret/path".into()).body();
        assert_eq!(internal.code, "internal");
        assert!(!internal.message_en.contains("secret"));
    }
}

//! The request log: one line per answered request (method, path, status, latency) under a
//! request id that the answer echoes in `x-request-id` and in its error body, so a user's
//! report can be matched to the log. The server makes the id (128 random bits, hex) unless
//! a proxy in front already set a well-formed one, which is kept so its log and ours agree.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response};
use axum::middleware::Next;
use std::time::Duration;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::error::REQUEST_ID;

/// Ids the server makes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let bytes = bidkey_crypto::rng::bytes::<16>().ok()?;
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// Whether a client's `x-request-id` may stand: short and plain, so it cannot forge log
/// lines or smuggle text into error bodies.
pub fn acceptable_id(v: &str) -> bool {
    (8..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Drop a request id that is not [`acceptable_id`]; the server then makes its own.
async fn drop_unacceptable_id(mut req: Request, next: Next) -> axum::response::Response {
    let bad = req
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|v| !v.to_str().is_ok_and(acceptable_id));
    if bad {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

fn span(req: &Request<Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The path only: query strings may carry what a log should not keep.
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

fn answered(resp: &Response<Body>, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        status = resp.status().as_u16(),
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "answered"
    );
}

/// Wrap the whole router (outermost first: vet the client's id, set one, log, echo it).
pub fn wrap<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span)
                .on_request(())
                .on_response(answered)
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(RandomId))
        .layer(axum::middleware::from_fn(drop_unacceptable_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        assert!(acceptable_id("0123456789abcdef"));
        assert!(acceptable_id("req-1.2_3ABC"));
        assert!(!acceptable_id("short"));
        assert!(!acceptable_id(&"a".repeat(65)));
        assert!(!acceptable_id("abc def ghij"));
        assert!(!acceptable_id("abcdefgh\"}{"));
        assert!(!acceptable_id("abcdefgh\nlevel=ERROR"));
    }
}

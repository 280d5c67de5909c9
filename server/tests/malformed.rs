//! Every route of `server/openapi.yaml` answers malformed requests with the typed error
//! body (a `code` and both languages) and a status the document gives, never a server error,
//! never plain text or an empty body: wrong methods, unknown paths, JSON that does not parse
//! or has the wrong shape, bodies that are not JSON or not UTF-8 or too large, bad query
//! strings, path parameters that are not UTF-8.

mod support;

use bidkey_protocol::{ErrorBody, ErrorCode};
use reqwest::Method;
use std::collections::BTreeMap;
use support::openapi::{self, Operation, PathItem};
use support::{Store, TestServer};

/// An id no row has, for every `{param}`.
const NO_SUCH_ID: &str = "0123456789abcdef0123456789abcdef";
/// Invalid UTF-8, percent-encoded, for a path parameter or a query value.
const NOT_UTF8: &str = "%FF%FE%80";
/// The body limits: 2 MiB unless a route says otherwise (a claim with its materials 16 MiB,
/// a platform's directory 32 MiB). A body one byte over a limit is refused only once its
/// last byte is read, so the server has read it all when it answers and the connection
/// closes cleanly; a larger one would be cut off mid-send.
const BODY_LIMITS: [usize; 3] = [2 << 20, 16 << 20, 32 << 20];

/// The kinds of malformed input, each with the refusal the document promises for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    WrongMethod,
    UnknownPath,
    UnparseableJson,
    WrongShape,
    NotUtf8Body,
    NotJsonContentType,
    NoBody,
    TooLarge,
    BadQuery,
    NotUtf8PathParam,
}

impl Kind {
    fn promised(self) -> (u16, ErrorCode) {
        match self {
            Kind::WrongMethod => (405, ErrorCode::MethodNotAllowed),
            Kind::UnknownPath => (404, ErrorCode::NotFound),
            Kind::NotJsonContentType | Kind::NoBody => (415, ErrorCode::UnsupportedMediaType),
            Kind::TooLarge => (413, ErrorCode::PayloadTooLarge),
            _ => (400, ErrorCode::BadRequest),
        }
    }
}

fn concrete(path: &str, param: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        out.push_str(param);
        rest = &rest[rest[i..].find('}').map_or(rest.len(), |j| i + j + 1)..];
    }
    out.push_str(rest);
    out
}

struct Probe<'a> {
    http: reqwest::Client,
    base: String,
    operator_base: String,
    user_token: String,
    operator_token: String,
    malformed: &'a [(u16, String)],
    /// For each kind: how many routes answered exactly what it promises, and how many were
    /// refused earlier for a reason of their own (a documented status).
    tally: BTreeMap<Kind, (usize, usize)>,
}

impl Probe<'_> {
    /// Operator routes live on the operator listener only (ADR 0020).
    fn base_for(&self, path: &str) -> &str {
        if bidkey_testkit::is_operator_path(path) {
            &self.operator_base
        } else {
            &self.base
        }
    }

    /// Send and judge one request, and count it.
    async fn check(
        &mut self,
        kind: Kind,
        item: &PathItem,
        op: Option<&Operation>,
        req: reqwest::RequestBuilder,
    ) {
        let promised = self.judge(kind, item, op, req).await;
        self.count(kind, promised);
    }

    fn count(&mut self, kind: Kind, promised: bool) {
        let entry = self.tally.entry(kind).or_default();
        if promised {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }

    /// Send and judge one request: whether it got the refusal `kind` promises (otherwise
    /// it was answered for a reason of the route's own, which must be documented).
    async fn judge(
        &mut self,
        kind: Kind,
        item: &PathItem,
        op: Option<&Operation>,
        req: reqwest::RequestBuilder,
    ) -> bool {
        let token = if item.path.starts_with("/v1/operator/") {
            &self.operator_token
        } else {
            &self.user_token
        };
        let what = format!(
            "{kind:?} on {} {}",
            op.map_or("-", |o| &o.method),
            item.path
        );
        let resp = req.bearer_auth(token).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let allow = resp.headers().get(reqwest::header::ALLOW).cloned();
        let bytes = resp.bytes().await.expect("body");
        assert!(
            !status.is_server_error(),
            "{what}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if status.is_success() {
            panic!(
                "{what}: served malformed input with {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        assert_eq!(
            content_type,
            "application/json",
            "{what}: {status} not JSON: {}",
            String::from_utf8_lossy(&bytes)
        );
        let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{what}: not an error body ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(
            !body.message_zh.is_empty() && !body.message_en.is_empty(),
            "{what}"
        );
        assert_eq!(
            bidkey_server::error::status_of(body.code).as_u16(),
            status.as_u16(),
            "{what}: {:?} with the status of another code",
            body.code
        );
        let (want_status, want_code) = kind.promised();
        if status.as_u16() == want_status && body.code == want_code {
            if kind == Kind::WrongMethod {
                let allow = allow.expect("Allow on 405");
                let allow = allow.to_str().expect("ascii");
                for op in &item.operations {
                    assert!(allow.contains(&op.method), "{what}: Allow {allow}");
                }
            }
            return true;
        }
        // Refused earlier, for a reason of the route's own: a status it documents, or one
        // the document gives every route for malformed input.
        let documented = op.is_some_and(|o| o.statuses.contains(&status.as_u16()))
            || self.malformed.iter().any(|(s, c)| {
                *s == status.as_u16()
                    && serde_json::to_value(body.code).ok() == Some(c.as_str().into())
            });
        assert!(
            documented,
            "{what}: {status} {:?} is not documented for the route",
            body.code
        );
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_malformed_input_with_the_typed_error() {
    let server = TestServer::start(Store::Sqlite).await;
    let user = support::person(&server, "13800009999", "张三", 1).await;
    let malformed = openapi::malformed_refusals();
    for (status, code) in [
        (400, "bad_request"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
    ] {
        assert!(
            malformed.contains(&(status, code.to_owned())),
            "openapi.yaml does not give every route {status} {code}"
        );
    }
    let paths = openapi::paths();
    assert!(paths.len() > 40, "found only {} paths", paths.len());
    let mut probe = Probe {
        http: reqwest::Client::new(),
        base: server.url(),
        operator_base: server.operator_url(),
        user_token: user.token.clone().expect("token"),
        operator_token: server.operator_token(),
        malformed: &malformed,
        tally: BTreeMap::new(),
    };
    // JSON (of no route's shape) one byte over each limit.
    let over: Vec<axum::body::Bytes> = BODY_LIMITS
        .iter()
        .map(|limit| {
            let mut b = b"{\"x\":\"".to_vec();
            b.resize(limit + 1 - 2, b'a');
            b.extend_from_slice(b"\"}");
            assert_eq!(b.len(), limit + 1);
            axum::body::Bytes::from(b)
        })
        .collect();
    for item in &paths {
        assert!(
            !item.operations.is_empty(),
            "{} has no operation",
            item.path
        );
        let url = format!(
            "{}{}",
            probe.base_for(&item.path),
            concrete(&item.path, NO_SUCH_ID)
        );
        let http = probe.http.clone();

        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if item.operations.iter().any(|o| o.method == method) {
                continue;
            }
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            let req = http.request(m, &url).json(&serde_json::json!({}));
            probe.check(Kind::WrongMethod, item, None, req).await;
        }
        let req = http.get(format!("{url}/-/no-such-route"));
        probe.check(Kind::UnknownPath, item, None, req).await;

        for op in &item.operations {
            let m = Method::from_bytes(op.method.as_bytes()).expect("method");
            if item.path.contains('{') {
                let bad = format!(
                    "{}{}",
                    probe.base_for(&item.path),
                    concrete(&item.path, NOT_UTF8)
                );
                let mut req = http.request(m.clone(), bad);
                if op.has_body {
                    req = req.json(&serde_json::json!({}));
                }
                probe
                    .check(Kind::NotUtf8PathParam, item, Some(op), req)
                    .await;
            }
            if !op.query.is_empty() {
                // Every parameter twice (a duplicate field), the first not UTF-8, the second
                // not a number. (A route that reads no query ignores one, as HTTP allows.)
                let query = op
                    .query
                    .iter()
                    .map(|q| format!("{q}={NOT_UTF8}&{q}=not-a-number"))
                    .collect::<Vec<_>>()
                    .join("&");
                let req = http.request(m.clone(), format!("{url}?{query}"));
                let req = if op.has_body {
                    req.json(&serde_json::json!({}))
                } else {
                    req
                };
                probe.check(Kind::BadQuery, item, Some(op), req).await;
            }
            if !op.has_body {
                continue;
            }
            let json = |body: &'static [u8]| {
                http.request(m.clone(), &url)
                    .header("content-type", "application/json")
                    .body(body)
            };
            probe
                .check(Kind::UnparseableJson, item, Some(op), json(b"{\"a\": "))
                .await;
            probe
                .check(Kind::WrongShape, item, Some(op), json(b"[true, 1, \"x\"]"))
                .await;
            probe
                .check(Kind::WrongShape, item, Some(op), json(b"\"a string\""))
                .await;
            probe
                .check(
                    Kind::NotUtf8Body,
                    item,
                    Some(op),
                    json(b"{\"\xff\xfe\": 1}"),
                )
                .await;
            let req = http
                .request(m.clone(), &url)
                .header("content-type", "text/plain")
                .body("{}");
            probe
                .check(Kind::NotJsonContentType, item, Some(op), req)
                .await;
            probe
                .check(Kind::NoBody, item, Some(op), http.request(m.clone(), &url))
                .await;
            // Over each limit in turn, until the route's own refuses it.
            let mut refused = false;
            for body in &over {
                let req = http
                    .request(m.clone(), &url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                refused = probe.judge(Kind::TooLarge, item, Some(op), req).await;
                if refused {
                    break;
                }
            }
            probe.count(Kind::TooLarge, refused);
        }
    }
    // Each kind reached the code that reads it on many routes, not only refusals made
    // earlier (login, membership): the test cannot pass by never getting that far.
    for (kind, (promised, earlier)) in &probe.tally {
        let least = match kind {
            Kind::WrongMethod | Kind::UnknownPath => paths.len(),
            Kind::BadQuery => 5,
            _ => 15,
        };
        assert!(
            *promised >= least,
            "{kind:?}: {promised} routes answered {:?} ({earlier} refused earlier)",
            kind.promised()
        );
    }
    eprintln!("tally (promised, earlier): {:?}", probe.tally);
    assert_eq!(
        probe.tally.len(),
        10,
        "every kind was sent: {:?}",
        probe.tally
    );
    server.running.stop().await;
}

//! Every operation of `gateway/openapi.yaml` answers bad input with the typed error body and
//! a status the document lists for it, never a 5xx: missing, wrong, forged and revoked API
//! keys; wrong methods; unknown paths and ids; bodies that are not JSON, not UTF-8, of the
//! wrong shape or types, of the wrong content type, or over the configured limits; bad query
//! strings and headers; garbage bid files and PDFs.

mod support;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use support::schema::{self, answer_conforms};
use support::*;

const NO_SUCH_ID: &str = "0123456789abcdef0123456789abcdef";
const JSON_LIMIT: usize = 64 << 10;
const UPLOAD_LIMIT: usize = 256 << 10;

struct Sweep {
    doc: Value,
    http: reqwest::Client,
    base: String,
    /// How many requests were judged.
    judged: usize,
}

impl Sweep {
    /// Send, then check: the status expected, typed body, documented for the operation.
    #[allow(clippy::too_many_arguments)]
    async fn expect(
        &mut self,
        (method, path): (&str, &str),
        concrete: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: Option<(&str, Vec<u8>)>,
        status: u16,
        code: &str,
    ) {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{concrete}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some((ct, b)) = body {
            if !ct.is_empty() {
                req = req.header("content-type", ct);
            }
            req = req.body(b);
        }
        let resp = req.send().await.expect("the gateway answers");
        let got = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{method} {concrete}: not JSON ({got}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(got < 500, "{method} {concrete}: server error {got} {v}");
        assert_eq!(
            (got, v["code"].as_str().unwrap_or_default()),
            (status, code),
            "{method} {concrete}: {v}"
        );
        if self.doc["paths"][path][method.to_ascii_lowercase()].is_object() {
            answer_conforms(&self.doc, method, path, got, &v);
        } else {
            schema::conforms(&self.doc, "ErrorBody", &v);
        }
        self.judged += 1;
    }
}

fn concrete(path: &str, id: &str) -> String {
    path.replace("{id}", id).replace("{session_id}", id)
}

fn request_body(doc: &Value, method: &str, path: &str) -> Option<String> {
    doc["paths"][path][method.to_ascii_lowercase()]["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.keys().next().cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_bad_input_with_a_typed_error() {
    let doc = schema::doc();
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w
        .gateway_with(dir.path(), |c| {
            c.limits.json_body = JSON_LIMIT;
            c.limits.upload_body = UPLOAD_LIMIT;
        })
        .await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let revoked = gw.gateway.store.create_api_key("erp").expect("key");
    assert!(
        gw.gateway
            .store
            .revoke_api_key(&revoked.id)
            .expect("revoke")
    );
    let good = format!("Bearer {}", *key.token);
    let forged = format!("Bearer bgw_{}.{}", key.id, "0".repeat(64));
    let bad_tokens = [
        None,
        Some("Bearer".to_owned()),
        Some("Basic dXNlcjpwYXNz".to_owned()),
        Some(format!("Bearer {}", "x".repeat(5000))),
        Some(forged),
        Some(format!("Bearer {}", *revoked.token)),
        Some(format!("Bearer bgw_../../etc.{}", "0".repeat(64))),
    ];
    let enc = base64::engine::general_purpose::STANDARD.encode(w.staff_encryption_cert());
    let mut s = Sweep {
        doc: doc.clone(),
        http: reqwest::Client::new(),
        base: gw.url(),
        judged: 0,
    };

    let ops: Vec<(String, String)> = bidkey_gateway::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for (method, path) in &ops {
        let op = (method.as_str(), path.as_str());
        let url = concrete(path, NO_SUCH_ID);
        let body_type = request_body(&doc, method, path);
        let sample = body_type.as_ref().map(|ct| (ct.as_str(), b"{}".to_vec()));

        // ---- API keys: missing, malformed, forged, revoked ----
        if path != "/healthz" {
            for t in &bad_tokens {
                s.expect(
                    op,
                    &url,
                    t.as_deref(),
                    &[],
                    sample.clone(),
                    401,
                    "unauthorized",
                )
                .await;
            }
        }
        // ---- a method the path does not have ----
        let wrong = if method == "GET" { "DELETE" } else { "PUT" };
        s.expect(
            (wrong, path),
            &url,
            Some(&good),
            &[],
            None,
            405,
            "method_not_allowed",
        )
        .await;

        // ---- ids no scan has, and ids that are not ids ----
        if path.contains('{') {
            for id in ["%FF%FE", "..%2F..%2Fetc", &"a".repeat(200)] {
                s.expect(
                    op,
                    &concrete(path, id),
                    Some(&good),
                    &[],
                    sample.clone(),
                    404,
                    "not_found",
                )
                .await;
            }
        }
        if method == "GET" && path.starts_with("/v1/scans/{id}") {
            s.expect(op, &url, Some(&good), &[], None, 404, "not_found")
                .await;
        }
        if path == "/v1/scans/{id}" {
            for q in [
                "?wait=abc",
                "?wait=-1",
                "?wait=61",
                "?wait=99999999999999999999999",
                "?unknown=1",
            ] {
                s.expect(
                    op,
                    &format!("{url}{q}"),
                    Some(&good),
                    &[],
                    None,
                    400,
                    "bad_request",
                )
                .await;
            }
        }

        // ---- JSON bodies ----
        if body_type.as_deref() == Some("application/json") {
            let limit = if path == "/v1/scans/seal-pdf"
                || path == "/v1/verify/pdf/offline"
                || path == "/v1/opening-hall"
            {
                UPLOAD_LIMIT
            } else {
                JSON_LIMIT
            };
            for bad in [
                b"{".to_vec(),
                b"[]".to_vec(),
                b"{}".to_vec(),
                b"null".to_vec(),
                b"\xff\xfe{}".to_vec(),
                br#"{"action": 5}"#.to_vec(),
                br#"{"action": {"kind": "login"}, "ttl_secs": "sixty"}"#.to_vec(),
                br#"{"action": {"kind": "pay"}}"#.to_vec(),
                br#"{"action": {"kind": "sign", "documents": []}}"#.to_vec(),
                br#"{"action": {"kind": "login"}, "webhook_url": "ftp://x"}"#.to_vec(),
                br#"{"signed_data": 1, "digest_alg": "md5", "digest": []}"#.to_vec(),
                br#"{"signed_data": "!!", "digest_alg": "sm3", "digest": "AA=="}"#.to_vec(),
                br#"{"signed_data": "MAA=", "digest_alg": "sm3", "digest": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "crls": ["!!"]}"#.to_vec(),
                br#"{"pdf": "!!", "crls": []}"#.to_vec(),
                br#"{"pdf": "JVBERi0xLjQK", "crls": [5]}"#.to_vec(),
                br#"{"pdf": "JVBERi0xLjQK", "crls": ["MAA="]}"#.to_vec(),
                br#"{"name": "a", "pdf": "not base64!", "seal_png": "", "seal_id": "s", "position": {"page": 1, "x_mm": 0, "y_mm": 0, "width_mm": 1, "height_mm": 1}}"#.to_vec(),
                br#"{"name": "a", "pdf": "JVBERi0xLjQK", "seal_png": "", "seal_id": "s", "position": {"page": 1, "x_mm": 0, "y_mm": 0, "width_mm": 1, "height_mm": 1}}"#.to_vec(),
            ] {
                // Each is refused as malformed, or for this route as invalid input.
                let (code, expect) = if path == "/v1/scans/seal-pdf" && bad.starts_with(br#"{"name": "a", "pdf": "JVBER"#) {
                    (400, "invalid_pdf")
                } else {
                    (400, "bad_request")
                };
                s.expect(op, &url, Some(&good), &[], Some(("application/json", bad)), code, expect).await;
            }
            if path == "/v1/opening-hall" {
                let many: Vec<Value> = (0..201)
                    .map(|i| json!({"bid_id": format!("b{i}"), "head": "QktG"}))
                    .collect();
                for bad in [
                    json!({"bids": []}),
                    json!({"bids": many}),
                    json!({"bids": [{"bid_id": "", "head": "QktG"}]}),
                    json!({"bids": [{"bid_id": "b", "head": "not base64!"}]}),
                    json!({"bids": [{"bid_id": "b", "head": "QktGAAAAAAAA"}]}),
                    json!({"bids": [{"bid_id": "b", "head": ""}]}),
                    json!({"bids": [{"bid_id": "b", "head": "A".repeat(100_000)}]}),
                    json!({"bids": [{"bid_id": "b", "head": "QktG", "shares_received": 99}]}),
                    json!({"bids": [{"bid_id": "b", "head": "QktG", "self_check":
                        {"ok": true, "checked_at": 1, "device": "d".repeat(101)}}]}),
                    json!({"bids": [{"bid_id": "b", "head": "QktG", "opened":
                        {"how": "by_magic", "by": "x", "opened_at": 1}}]}),
                    json!({"bids": [{"bid_id": "b", "head": "QktG", "failure": {"zh": "x"}}]}),
                ] {
                    let body = serde_json::to_vec(&bad).expect("json");
                    s.expect(
                        op,
                        &url,
                        Some(&good),
                        &[],
                        Some(("application/json", body)),
                        400,
                        "bad_request",
                    )
                    .await;
                }
            }
            s.expect(
                op,
                &url,
                Some(&good),
                &[],
                Some(("text/plain", b"{}".to_vec())),
                415,
                "unsupported_media_type",
            )
            .await;
            s.expect(
                op,
                &url,
                Some(&good),
                &[],
                Some(("", b"{}".to_vec())),
                415,
                "unsupported_media_type",
            )
            .await;
            s.expect(
                op,
                &url,
                Some(&good),
                &[],
                None,
                415,
                "unsupported_media_type",
            )
            .await;
            let mut huge = b"{\"pad\": \"".to_vec();
            huge.resize(limit + 1, b'a');
            s.expect(
                op,
                &url,
                Some(&good),
                &[],
                Some(("application/json", huge)),
                413,
                "payload_too_large",
            )
            .await;
        }

        // ---- raw uploads ----
        if let Some(ct) = body_type.as_deref().filter(|c| *c != "application/json") {
            let needs: Vec<(&str, String)> = match path.as_str() {
                "/v1/bid-files/encrypt" => vec![("bidkey-recipient-cert", enc.clone())],
                "/v1/bid-files/decrypt" => vec![("bidkey-file-key", "00".repeat(16))],
                _ => vec![],
            };
            let q = if path == "/v1/bid-files/encrypt" {
                "?tender_id=T&file_name=f"
            } else {
                ""
            };
            let at = format!("{url}{q}");
            s.expect(
                op,
                &at,
                Some(&good),
                &needs,
                Some(("application/json", b"{}".to_vec())),
                415,
                "unsupported_media_type",
            )
            .await;
            s.expect(
                op,
                &at,
                Some(&good),
                &needs,
                None,
                415,
                "unsupported_media_type",
            )
            .await;
            s.expect(
                op,
                &at,
                Some(&good),
                &needs,
                Some((ct, vec![0xAB; UPLOAD_LIMIT + 1])),
                413,
                "payload_too_large",
            )
            .await;
            match path.as_str() {
                "/v1/bid-files/encrypt" => {
                    for bad_q in [
                        "",
                        "?tender_id=T",
                        "?tender_id=&file_name=f",
                        "?tender_id=T&file_name=f&x=1",
                    ] {
                        s.expect(
                            op,
                            &format!("{url}{bad_q}"),
                            Some(&good),
                            &needs,
                            Some((ct, b"x".to_vec())),
                            400,
                            "bad_request",
                        )
                        .await;
                    }
                    for cert in ["", "!!", "AAAA", "MAA="] {
                        let code = if cert == "!!" {
                            "bad_request"
                        } else {
                            "malformed"
                        };
                        s.expect(
                            op,
                            &at,
                            Some(&good),
                            &[("bidkey-recipient-cert", cert.to_owned())],
                            Some((ct, b"x".to_vec())),
                            400,
                            code,
                        )
                        .await;
                    }
                    s.expect(
                        op,
                        &at,
                        Some(&good),
                        &[],
                        Some((ct, b"x".to_vec())),
                        400,
                        "bad_request",
                    )
                    .await;
                }
                "/v1/bid-files/decrypt" => {
                    for k in ["", "zz", &"0".repeat(31), &"0".repeat(64)] {
                        s.expect(
                            op,
                            &at,
                            Some(&good),
                            &[("bidkey-file-key", k.to_owned())],
                            Some((ct, b"x".to_vec())),
                            400,
                            "bad_request",
                        )
                        .await;
                    }
                    s.expect(
                        op,
                        &at,
                        Some(&good),
                        &needs,
                        Some((ct, b"not a bid file".to_vec())),
                        400,
                        "not_a_bid_file",
                    )
                    .await;
                    s.expect(
                        op,
                        &at,
                        Some(&good),
                        &needs,
                        Some((ct, Vec::new())),
                        400,
                        "not_a_bid_file",
                    )
                    .await;
                }
                "/v1/bid-files/header" => {
                    s.expect(
                        op,
                        &at,
                        Some(&good),
                        &needs,
                        Some((ct, vec![0u8; 100])),
                        400,
                        "not_a_bid_file",
                    )
                    .await;
                    s.expect(
                        op,
                        &at,
                        Some(&good),
                        &needs,
                        Some((ct, Vec::new())),
                        400,
                        "not_a_bid_file",
                    )
                    .await;
                }
                "/v1/bid-files/open-preauthorised" => {
                    for junk in [Vec::new(), vec![0u8; 100], b"BKF".to_vec()] {
                        s.expect(
                            op,
                            &at,
                            Some(&good),
                            &needs,
                            Some((ct, junk)),
                            400,
                            "not_a_bid_file",
                        )
                        .await;
                    }
                }
                "/v1/verify/pdf" => {
                    for junk in [b"".to_vec(), b"%PDF-1.7\n".to_vec(), vec![0xFF; 4096]] {
                        s.expect(
                            op,
                            &at,
                            Some(&good),
                            &needs,
                            Some((ct, junk)),
                            400,
                            "invalid_pdf",
                        )
                        .await;
                    }
                }
                other => panic!("raw upload {other} not swept"),
            }
        }
    }
    // ---- paths no route has ----
    for p in [
        "/",
        "/v1",
        "/v1/scans/",
        "/v2/scans",
        "/v1/scans/x/qr.gif",
        "/healthz/x",
        "/%FF",
    ] {
        s.expect(
            ("GET", "/none"),
            p,
            Some(&good),
            &[],
            None,
            404,
            "not_found",
        )
        .await;
    }
    // A session id that is not one: refused before the relay is asked.
    s.expect(
        ("POST", "/v1/sessions/{session_id}/scans"),
        "/v1/sessions/a%20b/scans",
        Some(&good),
        &[],
        Some((
            "application/json",
            serde_json::to_vec(&json!({"action": {"kind": "login"}})).expect("json"),
        )),
        404,
        "not_found",
    )
    .await;
    assert!(s.judged > 150, "only {} requests judged", s.judged);
    gw.stop().await;
}

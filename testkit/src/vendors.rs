//! Fake SMS vendors on loopback that check each request's signature the way the vendor
//! does (Tencent Cloud's TC3-HMAC-SHA256, Aliyun's RPC HMAC-SHA1) from what arrived on the
//! wire, record what was asked, and answer as the test scripts: success, a vendor error
//! code, an HTTP error or garbage. A request whose signature does not verify gets the
//! vendor's own refusal.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bidkey_server::providers::{sms_aliyun, sms_tencent};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Which vendor to play, with the credentials it knows.
#[derive(Debug, Clone)]
pub enum Vendor {
    Tencent {
        secret_id: String,
        secret_key: String,
    },
    Aliyun {
        key_id: String,
        secret: String,
    },
}

/// The answer to the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    Ok,
    /// The vendor's refusal with this error code.
    VendorError(&'static str),
    /// An HTTP status with an HTML body.
    Status(u16),
    /// 200 with a body that is not the vendor's JSON.
    Garbage,
}

/// One request the vendor received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub signature_ok: bool,
    /// As sent: `+8613800138000` (Tencent) or `13800138000` (Aliyun).
    pub phone: String,
    pub template_id: String,
    /// Template parameters: in order (Tencent), or the JSON object's values (Aliyun).
    pub params: Vec<String>,
    /// Our request id: `SessionContext` (Tencent) or `OutId` (Aliyun).
    pub request_id: String,
}

#[derive(Clone)]
struct Shared {
    vendor: Vendor,
    script: Arc<Mutex<VecDeque<Script>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running fake vendor; stopped when dropped.
#[derive(Debug)]
pub struct FakeVendor {
    pub url: String,
    script: Arc<Mutex<VecDeque<Script>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVendor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVendor {
    pub async fn start(vendor: Vendor) -> FakeVendor {
        let shared = Shared {
            vendor,
            script: Arc::default(),
            seen: Arc::default(),
        };
        let (script, seen) = (shared.script.clone(), shared.seen.clone());
        let app = Router::new()
            .route("/", axum::routing::post(answer))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeVendor {
            url,
            script,
            seen,
            task,
        }
    }

    /// Answer the next requests so (then `Ok` again).
    pub fn script(&self, answers: &[Script]) {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(answers.iter().cloned());
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn answer(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (seen, refusal) = match &s.vendor {
        Vendor::Tencent {
            secret_id,
            secret_key,
        } => tencent(secret_id, secret_key, &headers, &body),
        Vendor::Aliyun { key_id, secret } => aliyun(key_id, secret, &body),
    };
    let signature_ok = seen.signature_ok;
    s.seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
    if !signature_ok {
        return refusal;
    }
    let next = s
        .script
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front()
        .unwrap_or(Script::Ok);
    let tencent = matches!(s.vendor, Vendor::Tencent { .. });
    match next {
        Script::Ok if tencent => json(
            200,
            serde_json::json!({"Response": {"SendStatusSet": [{"Code": "Ok", "Message": "send success"}], "RequestId": "r"}}),
        ),
        Script::Ok => json(
            200,
            serde_json::json!({"Code": "OK", "Message": "OK", "BizId": "b", "RequestId": "r"}),
        ),
        // Tencent refuses a whole call with `Error`, Aliyun with its `Code`.
        Script::VendorError(code) if tencent => json(
            200,
            serde_json::json!({"Response": {"Error": {"Code": code, "Message": "refused"}, "RequestId": "r"}}),
        ),
        Script::VendorError(code) => {
            json(200, serde_json::json!({"Code": code, "Message": "refused"}))
        }
        Script::Status(st) => (
            StatusCode::from_u16(st).unwrap_or(StatusCode::BAD_GATEWAY),
            "<html>bad gateway</html>",
        )
            .into_response(),
        Script::Garbage => (StatusCode::OK, "<html>hello</html>").into_response(),
    }
}

fn json(status: u16, v: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Tencent's check: recompute the signature from the Host and X-TC-Timestamp headers and
/// the body received, with the SecretKey the SecretId in the credential names.
fn tencent(id: &str, key: &str, h: &HeaderMap, body: &[u8]) -> (Seen, Response) {
    let ts: i64 = header(h, "x-tc-timestamp").parse().unwrap_or(-1);
    let expected = sms_tencent::tc3_authorization(id, key, "sms", header(h, "host"), ts, body);
    let signature_ok = header(h, "authorization") == expected.authorization
        && header(h, "x-tc-action") == "SendSms"
        && header(h, "x-tc-version") == "2021-01-11"
        && header(h, "content-type") == "application/json; charset=utf-8";
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let strs = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let seen = Seen {
        signature_ok,
        phone: strs("PhoneNumberSet").join(","),
        template_id: v["TemplateId"].as_str().unwrap_or("").to_owned(),
        params: strs("TemplateParamSet"),
        request_id: v["SessionContext"].as_str().unwrap_or("").to_owned(),
    };
    let refusal = json(
        200,
        serde_json::json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "The provided credentials could not be validated."}, "RequestId": "r"}}),
    );
    (seen, refusal)
}

/// Aliyun's check: decode the form, take `Signature` out, recompute over the rest.
fn aliyun(key_id: &str, secret: &str, body: &[u8]) -> (Seen, Response) {
    let mut p: BTreeMap<String, String> = String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let signature = p.remove("Signature").unwrap_or_default();
    let signature_ok = !signature.is_empty()
        && signature == sms_aliyun::sign("POST", &p, secret)
        && p.get("AccessKeyId").map(String::as_str) == Some(key_id)
        && p.get("Action").map(String::as_str) == Some("SendSms");
    let tp: serde_json::Value =
        serde_json::from_str(p.get("TemplateParam").map(String::as_str).unwrap_or("{}"))
            .unwrap_or_default();
    let seen = Seen {
        signature_ok,
        phone: p.get("PhoneNumbers").cloned().unwrap_or_default(),
        template_id: p.get("TemplateCode").cloned().unwrap_or_default(),
        params: tp
            .as_object()
            .map(|o| {
                o.values()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        request_id: p.get("OutId").cloned().unwrap_or_default(),
    };
    let refusal = json(
        400,
        serde_json::json!({"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation."}),
    );
    (seen, refusal)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match u8::from_str_radix(&String::from_utf8_lossy(hex), 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the fake real-name gateway answers the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayScript {
    Verified,
    Refused(&'static str),
    /// "verified" with no signature.
    Unsigned,
    /// "verified" signed with another key (a forger's).
    WrongKey,
    /// "verified" signed for another request's nonce (a replayed answer).
    OtherNonce,
    /// "verified" signed, but timestamped an hour ago.
    Stale,
}

/// One request the gateway received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySeen {
    pub path: String,
    pub signature_ok: bool,
    pub body: serde_json::Value,
}

#[derive(Clone)]
struct GatewayShared {
    key: Vec<u8>,
    script: Arc<Mutex<VecDeque<GatewayScript>>>,
    seen: Arc<Mutex<Vec<GatewaySeen>>>,
}

/// The operator's real-name gateway on loopback: checks each request's HMAC-SM3
/// signature, answers signed (or as scripted); stopped when dropped.
#[derive(Debug)]
pub struct FakeGateway {
    pub url: String,
    script: Arc<Mutex<VecDeque<GatewayScript>>>,
    seen: Arc<Mutex<Vec<GatewaySeen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGateway {
    pub async fn start(key: &[u8]) -> FakeGateway {
        let shared = GatewayShared {
            key: key.to_vec(),
            script: Arc::default(),
            seen: Arc::default(),
        };
        let (script, seen) = (shared.script.clone(), shared.seen.clone());
        let app = Router::new()
            .route("/verify/v1/{kind}", axum::routing::post(gateway_answer))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGateway {
            url,
            script,
            seen,
            task,
        }
    }

    /// Answer the next requests so (then `Verified` again).
    pub fn script(&self, answers: &[GatewayScript]) {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(answers.iter().cloned());
    }

    pub fn seen(&self) -> Vec<GatewaySeen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn gateway_answer(
    State(s): State<GatewayShared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use bidkey_server::providers::realname_http::{same, sign_answer, sign_request};
    let path = uri.path().to_owned();
    let ts: i64 = header(&headers, "x-bidkey-timestamp").parse().unwrap_or(-1);
    let nonce = header(&headers, "x-bidkey-nonce").to_owned();
    let expected = sign_request(&s.key, "POST", &path, ts, &nonce, &body);
    let signature_ok = same(header(&headers, "x-bidkey-signature"), &expected);
    s.seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(GatewaySeen {
            path: path.clone(),
            signature_ok,
            body: serde_json::from_slice(&body).unwrap_or_default(),
        });
    let signed = |status: u16, body: serde_json::Value, key: &[u8], nonce: &str, ts: i64| {
        let bytes = body.to_string();
        let sig = sign_answer(key, status, &path, ts, nonce, bytes.as_bytes());
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [
                ("content-type", "application/json".to_owned()),
                ("x-bidkey-timestamp", ts.to_string()),
                ("x-bidkey-signature", sig),
            ],
            bytes,
        )
            .into_response()
    };
    if !signature_ok {
        return signed(
            401,
            serde_json::json!({"error": "bad signature"}),
            &s.key,
            &nonce,
            ts,
        );
    }
    let next = s
        .script
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front()
        .unwrap_or(GatewayScript::Verified);
    let yes = serde_json::json!({"verdict": "verified"});
    match next {
        GatewayScript::Verified => signed(200, yes, &s.key, &nonce, ts),
        GatewayScript::Refused(field) => signed(
            200,
            serde_json::json!({"verdict": "refused", "field": field}),
            &s.key,
            &nonce,
            ts,
        ),
        GatewayScript::Unsigned => json(200, yes),
        GatewayScript::WrongKey => {
            signed(200, yes, b"a forger's key, not the operator's", &nonce, ts)
        }
        GatewayScript::OtherNonce => signed(200, yes, &s.key, "another-request", ts),
        GatewayScript::Stale => signed(200, yes, &s.key, &nonce, ts - 3600),
    }
}

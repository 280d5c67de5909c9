//! Fake payment vendors on loopback (ADR 0028): WeChat Pay v3 and Alipay's gateway, each
//! checking what the vendor checks — the merchant's signature over the exact canonical
//! string rebuilt from what arrived on the wire, the merchant and app ids, the required
//! fields — and answering signed with the vendor's (test) key. Refunds are idempotent by
//! their number, as at the vendors: the same `out_refund_no` / `out_request_no` is the
//! same refund. The next answers can be scripted: a vendor that takes the refund and then
//! loses the answer (504), or fails before taking it (503).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bidkey_server::payments::form_decode;
use bidkey_server::providers::pay_alipay::{self, canonical, sign_rsa2, verify_rsa2};
use bidkey_server::providers::pay_wechat;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Which vendor to play and the keys it knows.
#[derive(Debug, Clone)]
pub enum PayVendor {
    Wechat {
        mch_id: String,
        app_id: String,
        /// The merchant's API certificate serial and public key (SPKI DER).
        merchant_serial: String,
        merchant_public: Vec<u8>,
        /// WeChat Pay's platform key (PKCS#8) and serial: signs answers.
        platform_key: Vec<u8>,
        platform_serial: String,
        /// The merchant's APIv3 key: encrypts notifications.
        apiv3_key: Vec<u8>,
    },
    Alipay {
        app_id: String,
        merchant_public: Vec<u8>,
        /// Alipay's key (PKCS#8): signs answers.
        alipay_key: Vec<u8>,
    },
}

/// How to answer the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayScript {
    Ok,
    /// Do the work (a refund is taken), then answer 504: the answer is lost.
    DoneButLost,
    /// Fail before doing anything: 503.
    Unavailable,
}

/// One request the vendor received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaySeen {
    /// `native`, `refund`, `alipay.trade.precreate`, `alipay.trade.refund`, or the path.
    pub call: String,
    pub signature_ok: bool,
    /// What was wrong with it besides the signature (a missing field, another merchant).
    pub problem: Option<String>,
    pub out_trade_no: String,
}

#[derive(Default)]
struct Books {
    script: VecDeque<PayScript>,
    seen: Vec<PaySeen>,
    /// Refunds taken: refund number → (order, amount in fen).
    refunds: BTreeMap<String, (String, i64)>,
}

#[derive(Clone)]
struct Shared {
    vendor: Arc<PayVendor>,
    books: Arc<Mutex<Books>>,
    now: Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// A running fake payment vendor; stopped when dropped.
pub struct FakePayVendor {
    pub url: String,
    books: Arc<Mutex<Books>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakePayVendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePayVendor")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for FakePayVendor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakePayVendor {
    /// Start it; `now` is the time its answers carry (the server's clock, so the server's
    /// freshness check is judged on the server's time, not the wall clock).
    pub async fn start(
        vendor: PayVendor,
        now: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> FakePayVendor {
        let shared = Shared {
            vendor: Arc::new(vendor),
            books: Arc::default(),
            now: Arc::new(now),
        };
        let books = shared.books.clone();
        let app = Router::new().fallback(answer).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakePayVendor { url, books, task }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answer the next requests so (then `Ok` again).
    pub fn script(&self, answers: &[PayScript]) {
        self.books().script.extend(answers.iter().copied());
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<PaySeen> {
        self.books().seen.clone()
    }

    /// The refunds taken: refund number → (order, amount in fen).
    pub fn refunds(&self) -> BTreeMap<String, (String, i64)> {
        self.books().refunds.clone()
    }
}

/// The notification the vendor posts once the payer paid: WeChat Pay's (headers and JSON
/// body, the transaction encrypted under the APIv3 key, signed with the platform key) or
/// Alipay's (a signed form). `now` is the time it carries.
pub fn paid_notification(
    vendor: &PayVendor,
    order_id: &str,
    amount_fen: i64,
    now: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    match vendor {
        PayVendor::Wechat {
            mch_id,
            app_id,
            platform_key,
            platform_serial,
            apiv3_key,
            ..
        } => {
            use base64::Engine;
            use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let plain = serde_json::json!({
                "mchid": mch_id, "appid": app_id, "out_trade_no": order_id,
                "transaction_id": format!("4200{order_id}"), "trade_state": "SUCCESS",
                "amount": { "total": amount_fen, "payer_total": amount_fen, "currency": "CNY" },
            });
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, apiv3_key).expect("key"));
            let mut buf = plain.to_string().into_bytes();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*b"fdasflkja484"),
                Aad::from(b"transaction"),
                &mut buf,
            )
            .expect("seal");
            let body = serde_json::json!({
                "id": "EV-2018022511223320873", "event_type": "TRANSACTION.SUCCESS",
                "resource_type": "encrypt-resource",
                "resource": {
                    "algorithm": "AEAD_AES_256_GCM", "original_type": "transaction",
                    "ciphertext": base64::engine::general_purpose::STANDARD.encode(&buf),
                    "associated_data": "transaction", "nonce": "fdasflkja484",
                },
            })
            .to_string()
            .into_bytes();
            let ts = now.to_string();
            let nonce = "b1f6d6c9e1a64a5ea1b3c2d1e0f9a8b7";
            let sig = sign_rsa2(platform_key, &pay_wechat::message(&ts, nonce, &body))
                .expect("platform key signs");
            (
                vec![
                    ("wechatpay-timestamp", ts),
                    ("wechatpay-nonce", nonce.to_owned()),
                    ("wechatpay-signature", sig),
                    ("wechatpay-serial", platform_serial.clone()),
                ],
                body,
            )
        }
        PayVendor::Alipay {
            app_id, alipay_key, ..
        } => {
            let mut p: BTreeMap<String, String> = [
                ("app_id", app_id.as_str()),
                ("notify_type", "trade_status_sync"),
                ("out_trade_no", order_id),
                ("total_amount", &pay_alipay::yuan(amount_fen)),
                ("trade_no", &format!("2026{order_id}")),
                ("trade_status", "TRADE_SUCCESS"),
                ("charset", "utf-8"),
                ("version", "1.0"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let sign = sign_rsa2(alipay_key, canonical(&p, &["sign", "sign_type"]).as_bytes())
                .expect("Alipay key signs");
            p.insert("sign".into(), sign);
            p.insert("sign_type".into(), "RSA2".into());
            (
                vec![(
                    "content-type",
                    "application/x-www-form-urlencoded".to_owned(),
                )],
                pay_alipay::form_encode(&p).into_bytes(),
            )
        }
    }
}

async fn answer(State(s): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    match &*s.vendor {
        PayVendor::Wechat { .. } => wechat(&s, &uri, &headers, &body),
        PayVendor::Alipay { .. } => alipay(&s, &body),
    }
}

fn next_script(s: &Shared) -> PayScript {
    let mut b = s.books.lock().unwrap_or_else(PoisonError::into_inner);
    b.script.pop_front().unwrap_or(PayScript::Ok)
}

fn record(s: &Shared, seen: PaySeen) {
    let mut b = s.books.lock().unwrap_or_else(PoisonError::into_inner);
    b.seen.push(seen);
}

/// Take a refund (or find the one with this number). `Err` when the number is reused for
/// another order or amount.
fn take_refund(s: &Shared, no: &str, order: &str, amount: i64) -> Result<(), ()> {
    let mut b = s.books.lock().unwrap_or_else(PoisonError::into_inner);
    match b.refunds.get(no) {
        Some((o, a)) if o == order && *a == amount => Ok(()),
        Some(_) => Err(()),
        None => {
            b.refunds.insert(no.to_owned(), (order.to_owned(), amount));
            Ok(())
        }
    }
}

fn wechat(s: &Shared, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let PayVendor::Wechat {
        mch_id,
        app_id,
        merchant_serial,
        merchant_public,
        platform_key,
        platform_serial,
        ..
    } = &*s.vendor
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(pay_wechat::parse_authorization)
        .unwrap_or_default();
    let get = |k: &str| auth.get(k).cloned().unwrap_or_default();
    let msg =
        pay_wechat::request_message("POST", &path, &get("timestamp"), &get("nonce_str"), body);
    let signature_ok = get("mchid") == *mch_id
        && get("serial_no") == *merchant_serial
        && verify_rsa2(merchant_public, &msg, &get("signature"));
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let call = match path.as_str() {
        pay_wechat::NATIVE_PATH => "native",
        pay_wechat::JSAPI_PATH => "jsapi",
        pay_wechat::REFUND_PATH => "refund",
        other => other,
    }
    .to_owned();
    let problem = match call.as_str() {
        "native" | "jsapi" if text("mchid") != *mch_id || text("appid") != *app_id => {
            Some("another merchant".to_owned())
        }
        "jsapi" if v["payer"]["openid"].as_str().unwrap_or_default().is_empty() => {
            Some("no payer.openid".to_owned())
        }
        "native" | "jsapi" => ["description", "out_trade_no", "notify_url"]
            .into_iter()
            .find(|k| text(k).is_empty())
            .map(|k| format!("no {k}"))
            .or_else(|| {
                (v["amount"]["total"].as_i64().unwrap_or(0) <= 0
                    || v["amount"]["currency"] != "CNY")
                    .then(|| "amount".to_owned())
            }),
        "refund" => ["out_trade_no", "out_refund_no"]
            .into_iter()
            .find(|k| text(k).is_empty())
            .map(|k| format!("no {k}"))
            .or_else(|| {
                let refund = v["amount"]["refund"].as_i64().unwrap_or(0);
                let total = v["amount"]["total"].as_i64().unwrap_or(0);
                (refund <= 0 || refund > total || v["amount"]["currency"] != "CNY")
                    .then(|| "amount".to_owned())
            }),
        _ => Some("unknown path".to_owned()),
    };
    record(
        s,
        PaySeen {
            call: call.clone(),
            signature_ok,
            problem: problem.clone(),
            out_trade_no: text("out_trade_no"),
        },
    );
    if !signature_ok {
        return wechat_error(401, "SIGN_ERROR", "签名错误");
    }
    if let Some(p) = problem {
        return wechat_error(400, "PARAM_ERROR", &p);
    }
    let script = next_script(s);
    if script == PayScript::Unavailable {
        return wechat_error(503, "SYSTEM_ERROR", "系统错误");
    }
    let answer = if call == "native" {
        serde_json::json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", text("out_trade_no")) })
    } else if call == "jsapi" {
        serde_json::json!({ "prepay_id": format!("wx2026{}", text("out_trade_no")) })
    } else {
        let no = text("out_refund_no");
        let amount = v["amount"]["refund"].as_i64().unwrap_or(0);
        if take_refund(s, &no, &text("out_trade_no"), amount).is_err() {
            return wechat_error(400, "INVALID_REQUEST", "退款单号已用于其他退款");
        }
        serde_json::json!({
            "refund_id": format!("50300{no}"),
            "out_refund_no": no,
            "out_trade_no": text("out_trade_no"),
            "status": "PROCESSING",
            "amount": v["amount"],
        })
    };
    if script == PayScript::DoneButLost {
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    let body = answer.to_string();
    let ts = (s.now)().to_string();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let sig = sign_rsa2(
        platform_key,
        &pay_wechat::message(&ts, nonce, body.as_bytes()),
    )
    .expect("platform key signs");
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_owned()),
            ("wechatpay-timestamp", ts),
            ("wechatpay-nonce", nonce.to_owned()),
            ("wechatpay-signature", sig),
            ("wechatpay-serial", platform_serial.clone()),
        ],
        body,
    )
        .into_response()
}

fn wechat_error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [("content-type", "application/json")],
        serde_json::json!({ "code": code, "message": message }).to_string(),
    )
        .into_response()
}

fn alipay(s: &Shared, body: &[u8]) -> Response {
    let PayVendor::Alipay {
        app_id,
        merchant_public,
        alipay_key,
    } = &*s.vendor
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let p = form_decode(body);
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    // Alipay verifies requests over every parameter but `sign` (sign_type included).
    let signature_ok = get("sign_type") == "RSA2"
        && verify_rsa2(
            merchant_public,
            canonical(&p, &["sign"]).as_bytes(),
            &get("sign"),
        );
    let method = get("method");
    let biz: serde_json::Value = serde_json::from_str(&get("biz_content")).unwrap_or_default();
    let text = |k: &str| biz[k].as_str().unwrap_or_default().to_owned();
    let required: &[&str] = match method.as_str() {
        "alipay.trade.precreate" => &["out_trade_no", "total_amount", "subject"],
        "alipay.trade.refund" => &["out_trade_no", "refund_amount", "out_request_no"],
        _ => &["unknown method"],
    };
    let problem = if get("app_id") != *app_id {
        Some("another app".to_owned())
    } else {
        ["charset", "timestamp", "version"]
            .iter()
            .find(|k| get(k).is_empty())
            .map(|k| format!("no {k}"))
            .or_else(|| {
                required
                    .iter()
                    .find(|k| text(k).is_empty())
                    .map(|k| format!("no {k}"))
            })
    };
    record(
        s,
        PaySeen {
            call: method.clone(),
            signature_ok,
            problem: problem.clone(),
            out_trade_no: text("out_trade_no"),
        },
    );
    let node_name = format!("{}_response", method.replace('.', "_"));
    let signed = |node: serde_json::Value| {
        let node = node.to_string();
        let sign = sign_rsa2(alipay_key, node.as_bytes()).expect("Alipay key signs");
        (
            StatusCode::OK,
            [("content-type", "text/html;charset=utf-8")],
            format!("{{\"{node_name}\":{node},\"sign\":\"{sign}\"}}"),
        )
            .into_response()
    };
    if !signature_ok {
        return signed(serde_json::json!({
            "code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature", "sub_msg": "验签出错",
        }));
    }
    if let Some(p) = problem {
        return signed(serde_json::json!({
            "code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.missing-parameter", "sub_msg": p,
        }));
    }
    let script = next_script(s);
    if script == PayScript::Unavailable {
        return signed(serde_json::json!({
            "code": "20000", "msg": "Service Currently Unavailable",
            "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙",
        }));
    }
    let node = if method == "alipay.trade.precreate" {
        serde_json::json!({
            "code": "10000", "msg": "Success",
            "out_trade_no": text("out_trade_no"),
            "qr_code": format!("https://qr.alipay.com/{}", text("out_trade_no")),
        })
    } else {
        let no = text("out_request_no");
        let amount = pay_alipay::fen(&text("refund_amount")).unwrap_or(0);
        let fresh = !s
            .books
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refunds
            .contains_key(&no);
        if take_refund(s, &no, &text("out_trade_no"), amount).is_err() {
            return signed(serde_json::json!({
                "code": "40004", "msg": "Business Failed",
                "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "sub_msg": "退款金额不一致",
            }));
        }
        serde_json::json!({
            "code": "10000", "msg": "Success",
            "trade_no": format!("2026{}", text("out_trade_no")),
            "out_trade_no": text("out_trade_no"),
            "refund_fee": text("refund_amount"),
            // "N" for a repeated request: no money moved this time.
            "fund_change": if fresh { "Y" } else { "N" },
        })
    };
    if script == PayScript::DoneButLost {
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    signed(node)
}

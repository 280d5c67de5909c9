//! Calls to the payment vendors' APIs (ADR 0028): WeChat Pay v3 Native and JSAPI order creation and
//! refunds, Alipay `alipay.trade.precreate` and `alipay.trade.refund`. Requests are signed
//! with the merchant's key (`pay_wechat::authorization`, `pay_alipay::request_params`);
//! answers are believed only when the vendor's signature over them verifies.
//!
//! A refund is idempotent at the vendor by its number (`out_refund_no`, `out_request_no`),
//! which [`refund_no`] derives from the order: a call retried after a timeout asks for the
//! same refund, never a second one.

use super::pay_alipay::{self, AlipayConfig};
use super::pay_wechat::{self, WechatConfig};
use super::{ATTEMPTS, ProviderError, http_client};
use std::future::Future;

const WECHAT: &str = "wechatpay";
const ALIPAY: &str = "alipay";

/// The vendor's refund number for an order: the same for every attempt.
pub fn refund_no(order_id: &str) -> String {
    format!("R{order_id}")
}

/// A refund the vendor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    /// The vendor's id of the refund (`refund_id`, or Alipay's `trade_no`).
    pub refund_ref: String,
}

/// Call `once` up to [`ATTEMPTS`] times while it fails in a retryable way.
pub async fn retrying<T, F, Fut>(mut once: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 1;
    loop {
        match once().await {
            Err(e) if e.retryable() && attempt < ATTEMPTS => attempt += 1,
            r => return r,
        }
    }
}

fn transport(vendor: &'static str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Transport {
        vendor,
        detail: e.to_string(),
    }
}

fn garbage(vendor: &'static str, detail: &str) -> ProviderError {
    ProviderError::Garbage {
        vendor,
        detail: detail.to_owned(),
    }
}

/// One signed WeChat Pay v3 POST; the verified JSON answer.
async fn wechat_post(
    cfg: &WechatConfig,
    path: &str,
    body: Vec<u8>,
    now: i64,
) -> Result<serde_json::Value, ProviderError> {
    let key = cfg
        .merchant_key_pkcs8
        .as_ref()
        .ok_or_else(|| garbage(WECHAT, "no merchant key configured"))?;
    let nonce = crate::util::new_id().map_err(|e| transport(WECHAT, e))?;
    let ts = now.to_string();
    let auth = pay_wechat::authorization(
        &cfg.mch_id,
        &cfg.merchant_serial,
        key,
        "POST",
        path,
        &ts,
        &nonce,
        &body,
    )
    .map_err(|e| garbage(WECHAT, &e.to_string()))?;
    let client = http_client().map_err(|e| transport(WECHAT, e))?;
    let resp = client
        .post(format!("{}{path}", cfg.api_base.trim_end_matches('/')))
        .header("Authorization", auth)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport(WECHAT, e))?;
    let status = resp.status().as_u16();
    let h = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let headers = pay_wechat::Headers {
        timestamp: h("wechatpay-timestamp"),
        nonce: h("wechatpay-nonce"),
        signature: h("wechatpay-signature"),
        serial: h("wechatpay-serial"),
    };
    let bytes = resp.bytes().await.map_err(|e| transport(WECHAT, e))?;
    let v: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    if !(200..300).contains(&status) {
        // Errors carry {"code", "message"}; a 5xx or a 429 may be retried.
        return Err(match v {
            Some(v) if status < 500 && status != 429 && v["code"].is_string() => {
                ProviderError::Vendor {
                    vendor: WECHAT,
                    code: v["code"].as_str().unwrap_or_default().to_owned(),
                    message: v["message"].as_str().unwrap_or_default().to_owned(),
                }
            }
            _ => ProviderError::Status {
                vendor: WECHAT,
                status,
            },
        });
    }
    if !pay_wechat::verify_answer(cfg, &headers, &bytes, now) {
        return Err(garbage(WECHAT, "answer signature does not verify"));
    }
    v.ok_or_else(|| garbage(WECHAT, "answer is not JSON"))
}

/// Create a Native order: the `code_url` the payer scans.
pub async fn wechat_native(
    cfg: &WechatConfig,
    order_id: &str,
    amount_fen: i64,
    description: &str,
    now: i64,
) -> Result<String, ProviderError> {
    let body = pay_wechat::native_order_body(cfg, order_id, amount_fen, description);
    let v = retrying(|| wechat_post(cfg, pay_wechat::NATIVE_PATH, body.clone(), now)).await?;
    v["code_url"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| garbage(WECHAT, "no code_url"))
}

/// Create a JSAPI order for the payer `openid`, and sign the parameters the page hands to
/// `WeixinJSBridge` / `wx.requestPayment` (`paySign` SHA256-RSA with the merchant key).
pub async fn wechat_jsapi(
    cfg: &WechatConfig,
    order_id: &str,
    amount_fen: i64,
    description: &str,
    openid: &str,
    now: i64,
) -> Result<serde_json::Value, ProviderError> {
    let body = pay_wechat::jsapi_order_body(cfg, order_id, amount_fen, description, openid);
    let v = retrying(|| wechat_post(cfg, pay_wechat::JSAPI_PATH, body.clone(), now)).await?;
    let prepay_id = v["prepay_id"]
        .as_str()
        .ok_or_else(|| garbage(WECHAT, "no prepay_id"))?;
    let key = cfg
        .merchant_key_pkcs8
        .as_ref()
        .ok_or_else(|| garbage(WECHAT, "no merchant key configured"))?;
    let nonce = crate::util::new_id().map_err(|e| transport(WECHAT, e))?;
    let (ts, package) = (now.to_string(), format!("prepay_id={prepay_id}"));
    let pay_sign = pay_alipay::sign_rsa2(
        key,
        &pay_wechat::jsapi_pay_message(&cfg.app_id, &ts, &nonce, &package),
    )
    .map_err(|e| garbage(WECHAT, &e.to_string()))?;
    Ok(serde_json::json!({
        "appId": cfg.app_id,
        "timeStamp": ts,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }))
}

/// Refund the whole order.
pub async fn wechat_refund(
    cfg: &WechatConfig,
    order_id: &str,
    amount_fen: i64,
    reason: &str,
    now: i64,
) -> Result<Refunded, ProviderError> {
    let body = pay_wechat::refund_body(order_id, &refund_no(order_id), amount_fen, reason);
    let v = retrying(|| wechat_post(cfg, pay_wechat::REFUND_PATH, body.clone(), now)).await?;
    match v["status"].as_str() {
        // PROCESSING: accepted, the money is on its way; the vendor finishes it.
        Some("SUCCESS" | "PROCESSING") => Ok(Refunded {
            refund_ref: v["refund_id"]
                .as_str()
                .ok_or_else(|| garbage(WECHAT, "no refund_id"))?
                .to_owned(),
        }),
        other => Err(ProviderError::Vendor {
            vendor: WECHAT,
            code: other.unwrap_or("no status").to_owned(),
            message: "refund not accepted".into(),
        }),
    }
}

/// One signed Alipay gateway call; the verified response node.
async fn alipay_call(
    cfg: &AlipayConfig,
    method: &str,
    biz: &serde_json::Value,
    notify: bool,
    now: i64,
) -> Result<serde_json::Value, ProviderError> {
    let params = pay_alipay::request_params(cfg, method, biz, notify, now)
        .map_err(|e| garbage(ALIPAY, &e.to_string()))?;
    let client = http_client().map_err(|e| transport(ALIPAY, e))?;
    let resp = client
        .post(&cfg.gateway)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(pay_alipay::form_encode(&params))
        .send()
        .await
        .map_err(|e| transport(ALIPAY, e))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| transport(ALIPAY, e))?;
    if status != 200 {
        return Err(ProviderError::Status {
            vendor: ALIPAY,
            status,
        });
    }
    let node = pay_alipay::response_node(&text, method)
        .ok_or_else(|| garbage(ALIPAY, "no response node"))?;
    let whole: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| garbage(ALIPAY, "answer is not JSON"))?;
    let v: serde_json::Value =
        serde_json::from_str(node).map_err(|_| garbage(ALIPAY, "response node is not JSON"))?;
    let code = v["code"].as_str().unwrap_or_default();
    // Alipay signs successful answers; a gateway error may come unsigned, and is only an
    // error either way, so nothing is believed from it.
    if code == "10000" {
        let sign = whole["sign"].as_str().unwrap_or_default();
        if !pay_alipay::verify_rsa2(&cfg.alipay_public_key, node.as_bytes(), sign) {
            return Err(garbage(ALIPAY, "answer signature does not verify"));
        }
        return Ok(v);
    }
    Err(ProviderError::Vendor {
        vendor: ALIPAY,
        // `isp.*` sub-codes are the vendor's own failures (retried); `20000` is the service
        // being unavailable.
        code: v["sub_code"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| code.to_owned()),
        message: v["sub_msg"]
            .as_str()
            .or(v["msg"].as_str())
            .unwrap_or_default()
            .to_owned(),
    })
}

/// `alipay.trade.precreate`: the QR code the payer scans.
pub async fn alipay_precreate(
    cfg: &AlipayConfig,
    order_id: &str,
    amount_fen: i64,
    subject: &str,
    now: i64,
) -> Result<String, ProviderError> {
    let biz = serde_json::json!({
        "out_trade_no": order_id,
        "total_amount": pay_alipay::yuan(amount_fen),
        "subject": subject,
    });
    let v = retrying(|| alipay_call(cfg, "alipay.trade.precreate", &biz, true, now)).await?;
    if v["out_trade_no"].as_str() != Some(order_id) {
        return Err(garbage(ALIPAY, "answer for another order"));
    }
    v["qr_code"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| garbage(ALIPAY, "no qr_code"))
}

/// `alipay.trade.refund` of the whole order.
pub async fn alipay_refund(
    cfg: &AlipayConfig,
    order_id: &str,
    amount_fen: i64,
    reason: &str,
    now: i64,
) -> Result<Refunded, ProviderError> {
    let biz = serde_json::json!({
        "out_trade_no": order_id,
        "refund_amount": pay_alipay::yuan(amount_fen),
        "out_request_no": refund_no(order_id),
        "refund_reason": reason,
    });
    let v = retrying(|| alipay_call(cfg, "alipay.trade.refund", &biz, false, now)).await?;
    if v["out_trade_no"].as_str() != Some(order_id) {
        return Err(garbage(ALIPAY, "answer for another order"));
    }
    Ok(Refunded {
        refund_ref: v["trade_no"]
            .as_str()
            .ok_or_else(|| garbage(ALIPAY, "no trade_no"))?
            .to_owned(),
    })
}

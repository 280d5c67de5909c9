//! WeChat Pay API v3 (微信支付) notifications: the signature is SHA256-RSA (PKCS#1 v1.5)
//! over `timestamp\nnonce\nbody\n` with WeChat Pay's platform key (headers
//! `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`);
//! the payment itself is the `resource`, encrypted with AEAD_AES_256_GCM under the
//! merchant's APIv3 key (`nonce` 12 bytes, `associated_data`, `ciphertext` Base64 with the
//! 16-byte tag at its end).
//!
//! Requests (order creation, refunds; ADR 0028) carry `Authorization:
//! WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`,
//! the signature SHA256-RSA with the merchant's API key over
//! `METHOD\nPATH[?QUERY]\ntimestamp\nnonce\nbody\n`; answers are signed by WeChat Pay
//! like notifications and verified the same way.

use super::pay_alipay::verify_rsa2;
use base64::Engine;

/// Configuration keys `payment.wechat.*` (see docs/providers.md).
#[derive(Clone)]
pub struct WechatConfig {
    pub mch_id: String,
    pub app_id: String,
    /// The APIv3 key (32 bytes) set in the merchant platform.
    pub apiv3_key: zeroize::Zeroizing<Vec<u8>>,
    /// WeChat Pay's platform public key (SubjectPublicKeyInfo DER) and its serial/id.
    pub platform_public_key: Vec<u8>,
    pub platform_serial: String,
    /// The merchant's API private key (PKCS#8 DER) and its certificate serial: sign order
    /// creation and refund requests. Without it only notifications are taken.
    pub merchant_key_pkcs8: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub merchant_serial: String,
    /// `https://api.mch.weixin.qq.com` ([`API_BASE`]) unless testing.
    pub api_base: String,
    /// Where WeChat Pay posts notifications (our `/v1/payments/wechat/notify`, public URL).
    pub notify_url: String,
}

/// WeChat Pay's API host.
pub const API_BASE: &str = "https://api.mch.weixin.qq.com";
/// Native (QR code) order creation.
pub const NATIVE_PATH: &str = "/v3/pay/transactions/native";
/// JSAPI (in WeChat) order creation.
pub const JSAPI_PATH: &str = "/v3/pay/transactions/jsapi";
/// Refunds.
pub const REFUND_PATH: &str = "/v3/refund/domestic/refunds";
/// The authorization scheme.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The string a request's signature covers.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// The `Authorization` header of a request, signed with the merchant's key.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    mch_id: &str,
    serial: &str,
    key_pkcs8: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> crate::error::Result<String> {
    let msg = request_message(method, path_and_query, timestamp, nonce, body);
    let signature = super::pay_alipay::sign_rsa2(key_pkcs8, &msg)?;
    Ok(format!(
        "{SCHEME} mchid=\"{mch_id}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial}\""
    ))
}

/// The parameters of an `Authorization` header (what WeChat Pay reads from it).
pub fn parse_authorization(header: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let rest = header.strip_prefix(SCHEME)?.strip_prefix(' ')?;
    let mut out = std::collections::BTreeMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.strip_prefix('"')?.strip_suffix('"')?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Some(out)
}

/// The body of a Native order (`POST /v3/pay/transactions/native`).
pub fn native_order_body(
    cfg: &WechatConfig,
    order_id: &str,
    amount_fen: i64,
    description: &str,
) -> Vec<u8> {
    serde_json::json!({
        "appid": cfg.app_id,
        "mchid": cfg.mch_id,
        "description": description,
        "out_trade_no": order_id,
        "notify_url": cfg.notify_url,
        "amount": { "total": amount_fen, "currency": "CNY" },
    })
    .to_string()
    .into_bytes()
}

/// The body of a JSAPI order: a Native order's fields and the payer's `openid`.
pub fn jsapi_order_body(
    cfg: &WechatConfig,
    order_id: &str,
    amount_fen: i64,
    description: &str,
    openid: &str,
) -> Vec<u8> {
    serde_json::json!({
        "appid": cfg.app_id,
        "mchid": cfg.mch_id,
        "description": description,
        "out_trade_no": order_id,
        "notify_url": cfg.notify_url,
        "amount": { "total": amount_fen, "currency": "CNY" },
        "payer": { "openid": openid },
    })
    .to_string()
    .into_bytes()
}

/// What `paySign` covers for `wx.requestPayment` / `WeixinJSBridge` (JSAPI 调起支付):
/// `appId\ntimeStamp\nnonceStr\npackage\n`.
pub fn jsapi_pay_message(app_id: &str, timestamp: &str, nonce: &str, package: &str) -> Vec<u8> {
    format!("{app_id}\n{timestamp}\n{nonce}\n{package}\n").into_bytes()
}

/// The body of a refund of the whole order (`POST /v3/refund/domestic/refunds`).
pub fn refund_body(order_id: &str, refund_no: &str, amount_fen: i64, reason: &str) -> Vec<u8> {
    serde_json::json!({
        "out_trade_no": order_id,
        "out_refund_no": refund_no,
        "reason": reason,
        "amount": { "refund": amount_fen, "total": amount_fen, "currency": "CNY" },
    })
    .to_string()
    .into_bytes()
}

/// Check the signature WeChat Pay puts on an answer (the notification scheme).
pub fn verify_answer(cfg: &WechatConfig, h: &Headers, body: &[u8], now: i64) -> bool {
    let fresh = h
        .timestamp
        .parse::<i64>()
        .is_ok_and(|ts| (ts - now).abs() <= MAX_SKEW);
    fresh
        && h.serial == cfg.platform_serial
        && verify_rsa2(
            &cfg.platform_public_key,
            &message(&h.timestamp, &h.nonce, body),
            &h.signature,
        )
}

impl std::fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatConfig")
            .field("mch_id", &self.mch_id)
            .field("platform_serial", &self.platform_serial)
            .finish_non_exhaustive()
    }
}

/// How far a notification's timestamp may be from our clock.
pub const MAX_SKEW: i64 = 300;

/// The notification headers.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

/// A verified, successful payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub order_id: String,
    pub amount_fen: i64,
    pub transaction_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("signature does not verify")]
    Signature,
    #[error("stale or future timestamp")]
    Stale,
    #[error("resource does not decrypt")]
    Decrypt,
    #[error("for another merchant")]
    OtherMerchant,
    #[error("malformed: {0}")]
    Malformed(&'static str),
    #[error("not paid: {0}")]
    NotPaid(String),
}

/// The message WeChat Pay signs.
pub fn message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// AEAD_AES_256_GCM decryption of a `resource`.
pub fn decrypt(key: &[u8], nonce: &str, aad: &str, ciphertext_b64: &str) -> Option<Vec<u8>> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).ok()?;
    let mut buf = base64::engine::general_purpose::STANDARD
        .decode(ciphertext_b64)
        .ok()?;
    let plain = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

/// Check a notification and read the payment.
pub fn verify_notification(
    cfg: &WechatConfig,
    h: &Headers,
    body: &[u8],
    now: i64,
) -> Result<Paid, NotifyError> {
    if h.serial != cfg.platform_serial
        || !verify_rsa2(
            &cfg.platform_public_key,
            &message(&h.timestamp, &h.nonce, body),
            &h.signature,
        )
    {
        return Err(NotifyError::Signature);
    }
    let ts: i64 = h.timestamp.parse().map_err(|_| NotifyError::Stale)?;
    if (ts - now).abs() > MAX_SKEW {
        return Err(NotifyError::Stale);
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| NotifyError::Malformed("body"))?;
    let r = &v["resource"];
    if r["algorithm"] != "AEAD_AES_256_GCM" {
        return Err(NotifyError::Malformed("algorithm"));
    }
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let plain = decrypt(
        &cfg.apiv3_key,
        &s(&r["nonce"]).ok_or(NotifyError::Malformed("nonce"))?,
        &s(&r["associated_data"]).unwrap_or_default(),
        &s(&r["ciphertext"]).ok_or(NotifyError::Malformed("ciphertext"))?,
    )
    .ok_or(NotifyError::Decrypt)?;
    let t: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|_| NotifyError::Malformed("resource"))?;
    if t["mchid"] != cfg.mch_id.as_str() {
        return Err(NotifyError::OtherMerchant);
    }
    if t["trade_state"] != "SUCCESS" {
        return Err(NotifyError::NotPaid(
            s(&t["trade_state"]).unwrap_or_default(),
        ));
    }
    Ok(Paid {
        order_id: s(&t["out_trade_no"]).ok_or(NotifyError::Malformed("out_trade_no"))?,
        amount_fen: t["amount"]["total"]
            .as_i64()
            .ok_or(NotifyError::Malformed("amount"))?,
        transaction_id: s(&t["transaction_id"]).ok_or(NotifyError::Malformed("transaction_id"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_message_form() {
        assert_eq!(
            message("1554208460", "abc", b"{}"),
            b"1554208460\nabc\n{}\n".to_vec()
        );
    }

    /// WeChat Pay's published example of a request's signing string (签名生成, 构造签名串:
    /// `GET /v3/certificates` at 1554208460 with nonce 593BEC0C…242 and an empty body). No
    /// key is published with it, so the signature is checked by round trip below.
    #[test]
    fn request_signing_string_is_the_published_example() {
        assert_eq!(
            request_message(
                "GET",
                "/v3/certificates",
                "1554208460",
                "593BEC0C930BF1AFEB40B4A08C8FB242",
                b""
            ),
            b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n".to_vec()
        );
    }

    #[test]
    fn authorization_header_verifies_with_the_merchant_key() {
        let key = include_bytes!("../../tests/fixtures/merchant.pk8");
        let public = include_bytes!("../../tests/fixtures/merchant.spki.der");
        let body = br#"{"out_trade_no":"o1"}"#;
        let h = authorization(
            "1900000001",
            "SERIAL1",
            key,
            "POST",
            NATIVE_PATH,
            "1700000000",
            "n1",
            body,
        )
        .expect("signed");
        let p = parse_authorization(&h).expect("parses");
        assert_eq!(p["mchid"], "1900000001");
        assert_eq!(p["serial_no"], "SERIAL1");
        let msg = request_message("POST", NATIVE_PATH, "1700000000", "n1", body);
        assert!(verify_rsa2(public, &msg, &p["signature"]));
        // Another path, body or time is another message.
        let other = request_message("POST", REFUND_PATH, "1700000000", "n1", body);
        assert!(!verify_rsa2(public, &other, &p["signature"]));
        assert!(parse_authorization("Bearer x").is_none());
    }

    #[test]
    fn resource_decrypts_and_a_flipped_bit_does_not() {
        use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let key = [9u8; 32];
        let sealer = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("key"));
        let mut buf = b"{\"a\":1}".to_vec();
        sealer
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*b"fdasflkja484"),
                Aad::from(b"transaction"),
                &mut buf,
            )
            .expect("seal");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&buf);
        assert_eq!(
            decrypt(&key, "fdasflkja484", "transaction", &b64),
            Some(b"{\"a\":1}".to_vec())
        );
        assert_eq!(decrypt(&key, "fdasflkja484", "other", &b64), None);
        buf[0] ^= 1;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&buf);
        assert_eq!(decrypt(&key, "fdasflkja484", "transaction", &b64), None);
    }
}

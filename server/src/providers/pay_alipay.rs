//! Alipay (支付宝) open platform: RSA2 (RSA PKCS#1 v1.5 with SHA-256) over the sorted
//! parameters. We sign the app-payment order string with the merchant's private key and
//! verify asynchronous notifications with Alipay's public key.
//!
//! Canonical string, as Alipay documents it: every parameter except `sign` (and, for
//! notifications, `sign_type`) with a non-empty value, sorted by name, `name=value` joined
//! with `&`, values as they are (not URL-encoded). Signatures are Base64.

use crate::error::{Result, ServerError};
use base64::Engine;
use ring::signature::{self, RsaKeyPair};
use std::collections::BTreeMap;

/// Configuration keys `payment.alipay.*` (see docs/providers.md).
#[derive(Clone)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The merchant's RSA private key, PKCS#8 DER: signs our requests.
    pub merchant_key_pkcs8: zeroize::Zeroizing<Vec<u8>>,
    /// Alipay's public key (SubjectPublicKeyInfo DER): verifies notifications.
    pub alipay_public_key: Vec<u8>,
    /// Where Alipay posts notifications (our `/v1/payments/alipay/notify`, public URL).
    pub notify_url: String,
    /// The gateway order creation and refunds go to ([`GATEWAY`] unless testing).
    pub gateway: String,
}

impl std::fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}

/// The string Alipay signs: sorted, non-empty, without the excluded names.
pub fn canonical(params: &BTreeMap<String, String>, exclude: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !exclude.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RSA2-sign `msg` with a PKCS#8 key; Base64.
pub fn sign_rsa2(pkcs8: &[u8], msg: &[u8]) -> Result<String> {
    let key = RsaKeyPair::from_pkcs8(pkcs8)
        .map_err(|e| ServerError::Internal(format!("RSA key: {e}")))?;
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg,
        &mut sig,
    )
    .map_err(|_| ServerError::Internal("RSA signing failed".into()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sig))
}

/// Verify a Base64 RSA2 signature over `msg` with an SPKI DER public key.
pub fn verify_rsa2(spki_der: &[u8], msg: &[u8], sig_b64: &str) -> bool {
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig_b64.trim()) else {
        return false;
    };
    let Some(pkcs1) = rsa_public_key_of(spki_der) else {
        return false;
    };
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pkcs1)
        .verify(msg, &sig)
        .is_ok()
}

/// The PKCS#1 `RSAPublicKey` inside a SubjectPublicKeyInfo (what ring verifies with).
pub fn rsa_public_key_of(spki_der: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    // rsaEncryption
    if spki.algorithm.oid != der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1") {
        return None;
    }
    spki.subject_public_key.as_bytes().map(<[u8]>::to_vec)
}

/// `12.34` for 1234 fen.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The signed order string the app hands to the Alipay SDK (`alipay.trade.app.pay`).
pub fn order_string(
    cfg: &AlipayConfig,
    order_id: &str,
    amount_fen: i64,
    subject: &str,
    now: i64,
) -> Result<String> {
    let biz = serde_json::json!({
        "out_trade_no": order_id,
        "total_amount": yuan(amount_fen),
        "subject": subject,
        "product_code": "QUICK_MSECURITY_PAY",
    });
    let mut p = BTreeMap::new();
    for (k, v) in [
        ("app_id", cfg.app_id.as_str()),
        ("method", "alipay.trade.app.pay"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
        ("notify_url", cfg.notify_url.as_str()),
    ] {
        p.insert(k.to_owned(), v.to_owned());
    }
    p.insert("timestamp".into(), beijing_time(now));
    p.insert("biz_content".into(), biz.to_string());
    let sign = sign_rsa2(&cfg.merchant_key_pkcs8, canonical(&p, &["sign"]).as_bytes())?;
    p.insert("sign".into(), sign);
    Ok(p.iter()
        .map(|(k, v)| format!("{k}={}", super::sms_aliyun::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Alipay's gateway.
pub const GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// The signed form parameters of a gateway call (`alipay.trade.precreate`,
/// `alipay.trade.refund`, …): the common parameters, `biz_content`, and `sign` over the
/// canonical string of all the others (`sign_type` included, as Alipay signs requests).
pub fn request_params(
    cfg: &AlipayConfig,
    method: &str,
    biz: &serde_json::Value,
    notify: bool,
    now: i64,
) -> Result<BTreeMap<String, String>> {
    let mut p = BTreeMap::new();
    for (k, v) in [
        ("app_id", cfg.app_id.as_str()),
        ("method", method),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
    ] {
        p.insert(k.to_owned(), v.to_owned());
    }
    if notify {
        p.insert("notify_url".into(), cfg.notify_url.clone());
    }
    p.insert("timestamp".into(), beijing_time(now));
    p.insert("biz_content".into(), biz.to_string());
    let sign = sign_rsa2(&cfg.merchant_key_pkcs8, canonical(&p, &["sign"]).as_bytes())?;
    p.insert("sign".into(), sign);
    Ok(p)
}

/// `application/x-www-form-urlencoded` of parameters.
pub fn form_encode(p: &BTreeMap<String, String>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={}", super::sms_aliyun::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The exact text of the `<method with _ for .>_response` object in a gateway answer: what
/// Alipay's `sign` covers (byte for byte as sent, so it is cut out, not re-serialised).
pub fn response_node<'a>(body: &'a str, method: &str) -> Option<&'a str> {
    let key = format!("\"{}_response\"", method.replace('.', "_"));
    let after = &body[body.find(&key)? + key.len()..];
    let start = after.find('{')?;
    if !after[..start].trim().strip_prefix(':')?.trim().is_empty() {
        return None;
    }
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, c) in after[start..].char_indices() {
        match (in_str, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_str = false,
            (true, false, _) => {}
            (false, _, '"') => in_str = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(&after[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), Alipay's timestamp form.
pub fn beijing_time(unix: i64) -> String {
    super::utc_iso8601(unix + 8 * 3600)
        .trim_end_matches('Z')
        .replace('T', " ")
}

/// A verified, paid notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub order_id: String,
    pub amount_fen: i64,
    pub trade_no: String,
}

/// Why a notification is not believed or not a payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("signature does not verify")]
    Signature,
    #[error("for another app")]
    OtherApp,
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A well-signed notification that is not a completed payment (closed, waiting).
    #[error("not paid: {0}")]
    NotPaid(String),
}

/// Check an asynchronous notification (form parameters) and read the payment.
pub fn verify_notification(
    cfg: &AlipayConfig,
    params: &BTreeMap<String, String>,
) -> Result<Paid, NotifyError> {
    let sign = params.get("sign").ok_or(NotifyError::Signature)?;
    let msg = canonical(params, &["sign", "sign_type"]);
    if !verify_rsa2(&cfg.alipay_public_key, msg.as_bytes(), sign) {
        return Err(NotifyError::Signature);
    }
    if params.get("app_id") != Some(&cfg.app_id) {
        return Err(NotifyError::OtherApp);
    }
    let status = params.get("trade_status").map(String::as_str).unwrap_or("");
    if !matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED") {
        return Err(NotifyError::NotPaid(status.to_owned()));
    }
    let get = |k: &'static str| params.get(k).cloned().ok_or(NotifyError::Malformed(k));
    Ok(Paid {
        order_id: get("out_trade_no")?,
        amount_fen: fen(&get("total_amount")?).ok_or(NotifyError::Malformed("total_amount"))?,
        trade_no: get("trade_no")?,
    })
}

/// `12.34` → 1234; at most two decimals, no sign.
pub fn fen(yuan: &str) -> Option<i64> {
    let (int, frac) = yuan.split_once('.').unwrap_or((yuan, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    int.parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(yuan(1234), "12.34");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(fen("12.34"), Some(1234));
        assert_eq!(fen("12.3"), Some(1230));
        assert_eq!(fen("12"), Some(1200));
        assert_eq!(fen("-1.00"), None);
        assert_eq!(fen("1.234"), None);
        assert_eq!(fen(""), None);
    }

    #[test]
    fn canonical_form() {
        let p: BTreeMap<String, String> = [
            ("b", "2"),
            ("a", "1"),
            ("sign", "x"),
            ("sign_type", "RSA2"),
            ("e", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(canonical(&p, &["sign", "sign_type"]), "a=1&b=2");
        assert_eq!(canonical(&p, &["sign"]), "a=1&b=2&sign_type=RSA2");
        assert_eq!(beijing_time(0), "1970-01-01 08:00:00");
    }

    /// The answer form Alipay documents for `alipay.trade.precreate` (响应示例): the signed
    /// node is cut out byte for byte, braces inside strings do not end it.
    #[test]
    fn response_node_is_the_exact_text() {
        let body = r#"{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","out_trade_no":"6823789339978248","qr_code":"https://qr.alipay.com/bavh4wjlxf12tper3a"},"sign":"ERITJKEIJKJHKKKKKKKHJEREEEEEEEEEEE"}"#;
        assert_eq!(
            response_node(body, "alipay.trade.precreate"),
            Some(
                r#"{"code":"10000","msg":"Success","out_trade_no":"6823789339978248","qr_code":"https://qr.alipay.com/bavh4wjlxf12tper3a"}"#
            )
        );
        let tricky =
            r#"{"alipay_trade_refund_response": {"msg":"a}\"{b","code":"10000"},"sign":"x"}"#;
        assert_eq!(
            response_node(tricky, "alipay.trade.refund"),
            Some(r#"{"msg":"a}\"{b","code":"10000"}"#)
        );
        assert_eq!(response_node(body, "alipay.trade.refund"), None);
        assert_eq!(
            response_node(
                r#"{"alipay_trade_refund_response":{"#,
                "alipay.trade.refund"
            ),
            None
        );
    }

    #[test]
    fn request_is_signed_over_everything_but_sign() {
        let cfg = AlipayConfig {
            app_id: "2021000000000001".into(),
            merchant_key_pkcs8: zeroize::Zeroizing::new(
                include_bytes!("../../tests/fixtures/merchant.pk8").to_vec(),
            ),
            alipay_public_key: Vec::new(),
            notify_url: "https://bidkey.example/n".into(),
            gateway: GATEWAY.into(),
        };
        let biz =
            serde_json::json!({"out_trade_no": "o1", "total_amount": "80.00", "subject": "变更"});
        let p = request_params(&cfg, "alipay.trade.precreate", &biz, true, 0).expect("params");
        assert_eq!(p["method"], "alipay.trade.precreate");
        assert_eq!(p["timestamp"], "1970-01-01 08:00:00");
        let public = include_bytes!("../../tests/fixtures/merchant.spki.der");
        assert!(verify_rsa2(
            public,
            canonical(&p, &["sign"]).as_bytes(),
            &p["sign"]
        ));
        assert!(canonical(&p, &["sign"]).contains("sign_type=RSA2"));
    }
}

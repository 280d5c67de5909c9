//! WeChat Pay API v3 (微信支付) notifications: the signature is SHA256-RSA (PKCS#1 v1.5)
//! over `timestamp\nnonce\nbody\n` with WeChat Pay's platform key (headers
//! `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`);
//! the payment itself is the `resource`, encrypted with AEAD_AES_256_GCM under the
//! merchant's APIv3 key (`nonce` 12 bytes, `associated_data`, `ciphertext` Base64 with the
//! 16-byte tag at its end).

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

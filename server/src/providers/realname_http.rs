//! The operator's real-name verification gateway over signed HTTP (wire format in
//! docs/providers.md). Requests and answers are signed with HMAC-SM3 under a key the
//! operator shares with its gateway; an answer is bound to the request's nonce and path,
//! so neither a forged nor a replayed answer (another person's "verified") is believed.
//!
//! Canonical request: `BIDKEY-HMAC-SM3\n` METHOD `\n` PATH `\n` TIMESTAMP `\n` NONCE `\n`
//! hex(SM3(body)). Canonical answer: `BIDKEY-HMAC-SM3-ANSWER\n` STATUS `\n` PATH `\n`
//! TIMESTAMP `\n` REQUEST-NONCE `\n` hex(SM3(body)). Signature: lower-case hex of
//! HMAC-SM3(key, canonical), in `X-Bidkey-Signature`.

use super::{ProviderError, block_on, http_client, with_retries};
use crate::error::{Result, ServerError};
use crate::realname::{RealNameProvider, Verdict};
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest};
use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use zeroize::Zeroizing;

const VENDOR: &str = "realname-gateway";
/// How far the gateway's clock may be from ours.
pub const MAX_SKEW: i64 = 300;

/// Configuration keys `realname.gateway.*` (see docs/providers.md).
#[derive(Clone)]
pub struct GatewayConfig {
    /// Base URL, e.g. `https://verify.example.internal`.
    pub endpoint: String,
    /// Names the key at the gateway (`X-Bidkey-Key-Id`).
    pub key_id: String,
    /// The shared HMAC-SM3 key (32 bytes or more).
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// `BIDKEY-HMAC-SM3` over a request.
pub fn sign_request(
    key: &[u8],
    method: &str,
    path: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    mac(
        key,
        &format!(
            "BIDKEY-HMAC-SM3\n{method}\n{path}\n{ts}\n{nonce}\n{}",
            hex::encode(Sm3::digest(body))
        ),
    )
}

/// `BIDKEY-HMAC-SM3-ANSWER` over an answer to the request with `nonce` on `path`.
pub fn sign_answer(
    key: &[u8],
    status: u16,
    path: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    mac(
        key,
        &format!(
            "BIDKEY-HMAC-SM3-ANSWER\n{status}\n{path}\n{ts}\n{nonce}\n{}",
            hex::encode(Sm3::digest(body))
        ),
    )
}

fn mac(key: &[u8], canonical: &str) -> String {
    let mut m = match <Hmac<Sm3> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    m.update(canonical.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Compare two hex signatures in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The gateway adapter.
#[derive(Debug)]
pub struct GatewayRealName {
    cfg: GatewayConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    clock: crate::util::Clock,
}

impl GatewayRealName {
    pub fn new(cfg: GatewayConfig, clock: crate::util::Clock) -> Result<GatewayRealName> {
        let bad = |what: &str| ServerError::Internal(format!("realname.gateway: {what}"));
        if cfg.key.len() < 32 {
            return Err(bad("key must be at least 32 bytes"));
        }
        if cfg.key_id.is_empty() {
            return Err(bad("key_id is required"));
        }
        reqwest::Url::parse(&cfg.endpoint).map_err(|e| bad(&format!("endpoint: {e}")))?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| bad("needs the server's runtime"))?;
        Ok(GatewayRealName {
            cfg,
            client: http_client()?,
            runtime,
            clock,
        })
    }

    /// POST `body` to `path`, check the answer's signature and freshness, read its verdict.
    fn call(&self, path: &'static str, body: serde_json::Value) -> Result<Verdict> {
        let body = serde_json::to_vec(&body).map_err(|e| ServerError::Internal(e.to_string()))?;
        let url = format!("{}{path}", self.cfg.endpoint.trim_end_matches('/'));
        // Verification reads and changes nothing at the gateway: safe to repeat; each
        // attempt has its own nonce, and its answer must carry that nonce.
        Ok(with_retries(|| {
            let now = self.clock.now();
            let nonce = crate::util::new_id().map_err(|e| ProviderError::Transport {
                vendor: VENDOR,
                detail: e.to_string(),
            })?;
            let sig = sign_request(&self.cfg.key, "POST", path, now, &nonce, &body);
            let req = self
                .client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Bidkey-Key-Id", &self.cfg.key_id)
                .header("X-Bidkey-Timestamp", now.to_string())
                .header("X-Bidkey-Nonce", &nonce)
                .header("X-Bidkey-Signature", sig)
                .body(body.clone());
            let (status, ts, answer_sig, bytes) = block_on(&self.runtime, VENDOR, async move {
                let resp = req.send().await.map_err(|e| ProviderError::Transport {
                    vendor: VENDOR,
                    detail: e.to_string(),
                })?;
                let status = resp.status().as_u16();
                let h = |k: &str| {
                    resp.headers()
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let (ts, sig) = (h("x-bidkey-timestamp"), h("x-bidkey-signature"));
                let bytes = resp.bytes().await.map_err(|e| ProviderError::Transport {
                    vendor: VENDOR,
                    detail: e.to_string(),
                })?;
                Ok((status, ts, sig, bytes))
            })?;
            let forged = |detail: &str| ProviderError::Garbage {
                vendor: VENDOR,
                detail: detail.to_owned(),
            };
            let ts: i64 = ts
                .parse()
                .map_err(|_| forged("answer without a timestamp"))?;
            let expected = sign_answer(&self.cfg.key, status, path, ts, &nonce, &bytes);
            if !same(&answer_sig, &expected) {
                return Err(forged("answer signature does not verify"));
            }
            if (ts - self.clock.now()).abs() > MAX_SKEW {
                return Err(forged("stale answer"));
            }
            if status != 200 {
                return Err(ProviderError::Status {
                    vendor: VENDOR,
                    status,
                });
            }
            judge(&bytes)
        })?)
    }
}

/// The verdict of a verified answer body.
pub fn judge(bytes: &[u8]) -> Result<Verdict, ProviderError> {
    let garbage = |d: &str| ProviderError::Garbage {
        vendor: VENDOR,
        detail: d.to_owned(),
    };
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| garbage(&e.to_string()))?;
    match v["verdict"].as_str() {
        Some("verified") => Ok(Verdict::Verified),
        Some("refused") => Ok(Verdict::Refused(match v["field"].as_str().unwrap_or("") {
            "name" => "name",
            "id_number" => "id_number",
            "bank_card" => "bank_card",
            "bank_phone" => "bank_phone",
            "face" => "face",
            "uscc" => "uscc",
            _ => "mismatch",
        })),
        _ => Err(garbage("no verdict")),
    }
}

impl RealNameProvider for GatewayRealName {
    fn verify(&self, req: &RealNameRequest) -> Result<Verdict> {
        match req.method {
            RealNameMethod::BankCard4 => self.call(
                "/verify/v1/bank-card4",
                serde_json::json!({
                    "name": req.name.trim(),
                    "id_number": req.id_number.trim(),
                    "bank_card": req.bank_card.as_deref().unwrap_or(""),
                    "bank_phone": req.bank_phone.as_deref().unwrap_or(""),
                }),
            ),
            RealNameMethod::Cfca | RealNameMethod::Alipay => self.call(
                "/verify/v1/person",
                serde_json::json!({
                    "channel": req.method.as_str(),
                    "name": req.name.trim(),
                    "id_number": req.id_number.trim(),
                }),
            ),
        }
    }

    fn verify_enterprise(&self, uscc: &str, name: &str) -> Result<Verdict> {
        self.call(
            "/verify/v1/enterprise",
            serde_json::json!({ "uscc": uscc, "name": name.trim() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_every_field() {
        let key = [7u8; 32];
        let base = sign_request(&key, "POST", "/verify/v1/person", 1000, "n1", b"{}");
        assert_eq!(base.len(), 64);
        assert_ne!(
            base,
            sign_request(&key, "POST", "/verify/v1/bank-card4", 1000, "n1", b"{}")
        );
        assert_ne!(
            base,
            sign_request(&key, "POST", "/verify/v1/person", 1001, "n1", b"{}")
        );
        assert_ne!(
            base,
            sign_request(&key, "POST", "/verify/v1/person", 1000, "n2", b"{}")
        );
        assert_ne!(
            base,
            sign_request(&key, "POST", "/verify/v1/person", 1000, "n1", b"{ }")
        );
        assert_ne!(
            base,
            sign_request(&[8u8; 32], "POST", "/verify/v1/person", 1000, "n1", b"{}")
        );
        // An answer is not a request: the two canonical forms differ.
        assert_ne!(
            base,
            sign_answer(&key, 200, "/verify/v1/person", 1000, "n1", b"{}")
        );
        assert!(same(&base, &base.clone()));
        assert!(!same(&base, &base[1..]));
    }

    /// HMAC-SM3 itself, against a value computed independently with OpenSSL:
    /// `printf 'abc' | openssl dgst -sm3 -mac HMAC -macopt key:key`.
    #[test]
    fn hmac_sm3_matches_openssl() {
        assert_eq!(mac(b"key", "abc"), OPENSSL_HMAC_SM3_KEY_ABC);
    }

    const OPENSSL_HMAC_SM3_KEY_ABC: &str =
        "28e63256e7c5a087b1f073265dc53092163f7b82729735d06f28f10af9d52393";

    #[test]
    fn verdicts() {
        assert_eq!(
            judge(br#"{"verdict":"verified"}"#).ok(),
            Some(Verdict::Verified)
        );
        assert_eq!(
            judge(br#"{"verdict":"refused","field":"face"}"#).ok(),
            Some(Verdict::Refused("face"))
        );
        assert_eq!(
            judge(br#"{"verdict":"refused","field":"x"}"#).ok(),
            Some(Verdict::Refused("mismatch"))
        );
        assert!(judge(br#"{"verdict":"yes"}"#).is_err());
        assert!(judge(b"garbage").is_err());
    }
}

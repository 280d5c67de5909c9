//! Aliyun SMS (`dysmsapi` `SendSms`, version 2017-05-25), signed with the RPC signature
//! (SignatureVersion 1.0, HMAC-SHA1): the vendor's documented scheme for RPC-style APIs.
//!
//! Signing, as Aliyun documents it: every parameter but `Signature`, names and values
//! percent-encoded (RFC 3986 unreserved characters kept, everything else `%XX` in upper
//! case; so a space is `%20`, `*` is `%2A`, `~` stays), sorted by name, joined with `=` and
//! `&`; the string to sign is `METHOD&%2F&` plus that string percent-encoded once more; the
//! signature is Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)).

use super::{ProviderError, SmsTemplates, block_on, http_client, utc_iso8601, with_retries};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::sms::{SmsMessage, SmsProvider};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

const VENDOR: &str = "aliyun-sms";

/// Configuration keys `sms.aliyun.*` (see docs/providers.md).
#[derive(Clone)]
pub struct AliyunConfig {
    pub access_key_id: String,
    pub access_key_secret: Zeroizing<String>,
    /// The approved signature (签名).
    pub sign_name: String,
    /// Default `https://dysmsapi.aliyuncs.com/`.
    pub endpoint: String,
    pub templates: SmsTemplates,
}

impl std::fmt::Debug for AliyunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliyunConfig")
            .field("access_key_id", &self.access_key_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Aliyun's percent-encoding (RFC 3986: `A-Z a-z 0-9 - _ . ~` kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The string to sign of `params` (which must not hold `Signature`) for `method`.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&%2F&{}", percent_encode(&canonical))
}

/// The `Signature` parameter of `params` for `method`.
pub fn sign(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let key = Zeroizing::new(format!("{secret}&"));
    let mut mac = match <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    mac.update(string_to_sign(method, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sends through Aliyun SMS.
#[derive(Debug)]
pub struct AliyunSms {
    cfg: AliyunConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl AliyunSms {
    /// Checks the configuration; needs a Tokio runtime (the server's).
    pub fn new(cfg: AliyunConfig) -> Result<AliyunSms> {
        let bad = |what: &str| ServerError::Internal(format!("sms.aliyun: {what}"));
        if cfg.access_key_id.is_empty() || cfg.access_key_secret.is_empty() {
            return Err(bad("access_key_id and access_key_secret are required"));
        }
        if cfg.sign_name.is_empty() {
            return Err(bad("sign_name is required"));
        }
        cfg.templates.check().map_err(|e| bad(&e))?;
        reqwest::Url::parse(&cfg.endpoint).map_err(|e| bad(&format!("endpoint: {e}")))?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| bad("needs the server's runtime"))?;
        Ok(AliyunSms {
            cfg,
            client: http_client()?,
            runtime,
        })
    }

    /// The signed form parameters of one message.
    pub fn params(
        &self,
        msg: &SmsMessage,
        now: i64,
        nonce: &str,
        out_id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let template_param: serde_json::Map<String, serde_json::Value> = msg
            .params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        let mut p = BTreeMap::new();
        for (k, v) in [
            ("AccessKeyId", self.cfg.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", self.cfg.sign_name.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", self.cfg.templates.id(msg.template)?),
            ("Version", "2017-05-25"),
            ("PhoneNumbers", msg.phone.as_str()),
            ("OutId", out_id),
        ] {
            p.insert(k.to_owned(), v.to_owned());
        }
        p.insert("Timestamp".into(), utc_iso8601(now));
        p.insert(
            "TemplateParam".into(),
            serde_json::Value::Object(template_param).to_string(),
        );
        let signature = sign("POST", &p, &self.cfg.access_key_secret);
        p.insert("Signature".into(), signature);
        Ok(p)
    }
}

impl SmsProvider for AliyunSms {
    fn send(&self, _tx: &mut dyn Tx, now: i64, msg: &SmsMessage) -> Result<()> {
        // `OutId` names the send for every attempt; each attempt has its own nonce, since
        // Aliyun refuses a nonce it has seen (its replay defence).
        let out_id = crate::util::new_id()?;
        Ok(with_retries(|| {
            let nonce = crate::util::new_id().map_err(|e| ProviderError::Transport {
                vendor: VENDOR,
                detail: e.to_string(),
            })?;
            let params =
                self.params(msg, now, &nonce, &out_id)
                    .map_err(|e| ProviderError::Garbage {
                        vendor: VENDOR,
                        detail: e.to_string(),
                    })?;
            let form = params
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let req = self
                .client
                .post(&self.cfg.endpoint)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form);
            block_on(&self.runtime, VENDOR, async move {
                let resp = req.send().await.map_err(|e| ProviderError::Transport {
                    vendor: VENDOR,
                    detail: e.to_string(),
                })?;
                let status = resp.status().as_u16();
                let bytes = resp.bytes().await.map_err(|e| ProviderError::Transport {
                    vendor: VENDOR,
                    detail: e.to_string(),
                })?;
                // Aliyun answers refusals with 4xx and a JSON body: read the code first.
                match judge(&bytes) {
                    Err(ProviderError::Garbage { .. }) if status != 200 => {
                        Err(ProviderError::Status {
                            vendor: VENDOR,
                            status,
                        })
                    }
                    r => r,
                }
            })
        })?)
    }
}

/// Read a `SendSms` answer: `Code` `OK`, or why not.
pub fn judge(bytes: &[u8]) -> Result<(), ProviderError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ProviderError::Garbage {
            vendor: VENDOR,
            detail: e.to_string(),
        })?;
    match v["Code"].as_str() {
        Some("OK") => Ok(()),
        Some(code) => Err(ProviderError::Vendor {
            vendor: VENDOR,
            code: code.to_owned(),
            message: v["Message"].as_str().unwrap_or("").to_owned(),
        }),
        None => Err(ProviderError::Garbage {
            vendor: VENDOR,
            detail: "no Code".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aliyun's worked example in its "RPC signature" document (DescribeRegions,
    /// AccessKeySecret `testsecret`), with its published string to sign and signature.
    #[test]
    fn aliyun_published_rpc_example() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            string_to_sign("GET", &params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            sign("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn percent_encoding_rules() {
        assert_eq!(percent_encode("a b*c~d"), "a%20b%2Ac~d");
        assert_eq!(percent_encode("【Bidkey】"), "%E3%80%90Bidkey%E3%80%91");
        assert_eq!(percent_encode("/+="), "%2F%2B%3D");
    }

    #[test]
    fn answers_are_judged() {
        assert!(judge(br#"{"Code":"OK","Message":"OK","BizId":"1"}"#).is_ok());
        let r = judge(br#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"m"}"#);
        assert!(matches!(r, Err(ref e) if !e.retryable()));
        let r = judge(br#"{"Code":"isp.SYSTEM_ERROR","Message":"m"}"#);
        assert!(matches!(r, Err(ref e) if e.retryable()));
        assert!(matches!(judge(b"nope"), Err(ProviderError::Garbage { .. })));
        assert!(matches!(judge(b"{}"), Err(ProviderError::Garbage { .. })));
    }
}

//! Tencent Cloud SMS (`SendSms`, API version 2021-01-11), signed with TC3-HMAC-SHA256.
//!
//! Signing, as Tencent documents it: a canonical request (method, `/`, empty query, the
//! signed headers `content-type` and `host` lower-cased, their names, the hex SHA-256 of
//! the body) is hashed into a string to sign (`TC3-HMAC-SHA256`, the timestamp, the
//! credential scope `DATE/SERVICE/tc3_request`, the hex SHA-256 of the canonical request);
//! the key is derived by HMAC-SHA256 chaining `"TC3"+SecretKey` over the UTC date, the
//! service and `tc3_request`.

use super::{ProviderError, SmsTemplates, block_on, http_client, utc_date, with_retries};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::sms::{SmsMessage, SmsProvider};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VENDOR: &str = "tencent-sms";
const SERVICE: &str = "sms";
const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Configuration keys `sms.tencent.*` (see docs/providers.md).
#[derive(Clone)]
pub struct TencentConfig {
    pub secret_id: String,
    pub secret_key: Zeroizing<String>,
    /// `SmsSdkAppId` of the SMS application.
    pub sdk_app_id: String,
    /// The approved signature (签名) shown in 【】.
    pub sign_name: String,
    /// `ap-guangzhou`, `ap-beijing` or `ap-nanjing`.
    pub region: String,
    /// Default `https://sms.tencentcloudapi.com`.
    pub endpoint: String,
    pub templates: SmsTemplates,
}

impl std::fmt::Debug for TencentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentConfig")
            .field("secret_id", &self.secret_id)
            .field("sdk_app_id", &self.sdk_app_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The headers to send for one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signed {
    pub authorization: String,
}

/// Sign a POST of `body` to `host` for `service` at `timestamp` (Unix seconds).
pub fn tc3_authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    host: &str,
    timestamp: i64,
    body: &[u8],
) -> Tc3Signed {
    let date = utc_date(timestamp);
    let canonical = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(body))
    );
    let scope = format!("{date}/{service}/tc3_request");
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac256(&k_date, service.as_bytes());
    let k_signing = hmac256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac256(&k_signing, to_sign.as_bytes()));
    Tc3Signed {
        authorization: format!(
            "TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
        ),
    }
}

fn hmac256(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// Sends through Tencent Cloud SMS.
#[derive(Debug)]
pub struct TencentSms {
    cfg: TencentConfig,
    host: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl TencentSms {
    /// Checks the configuration; needs a Tokio runtime (the server's).
    pub fn new(cfg: TencentConfig) -> Result<TencentSms> {
        let bad = |what: &str| ServerError::Internal(format!("sms.tencent: {what}"));
        if cfg.secret_id.is_empty() || cfg.secret_key.is_empty() {
            return Err(bad("secret_id and secret_key are required"));
        }
        if cfg.sdk_app_id.is_empty() || cfg.sign_name.is_empty() {
            return Err(bad("sdk_app_id and sign_name are required"));
        }
        cfg.templates.check().map_err(|e| bad(&e))?;
        let url = reqwest::Url::parse(&cfg.endpoint).map_err(|e| bad(&format!("endpoint: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return Err(bad("endpoint has no host")),
        };
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| bad("needs the server's runtime"))?;
        Ok(TencentSms {
            cfg,
            host,
            client: http_client()?,
            runtime,
        })
    }

    fn body(&self, msg: &SmsMessage, request_id: &str) -> Result<Vec<u8>> {
        let params: Vec<&str> = msg.params.iter().map(|(_, v)| v.as_str()).collect();
        let body = serde_json::json!({
            "PhoneNumberSet": [format!("+86{}", msg.phone)],
            "SmsSdkAppId": self.cfg.sdk_app_id,
            "SignName": self.cfg.sign_name,
            "TemplateId": self.cfg.templates.id(msg.template)?,
            "TemplateParamSet": params,
            "SessionContext": request_id,
        });
        serde_json::to_vec(&body).map_err(|e| ServerError::Internal(e.to_string()))
    }
}

impl SmsProvider for TencentSms {
    fn send(&self, _tx: &mut dyn Tx, now: i64, msg: &SmsMessage) -> Result<()> {
        // One request id for every attempt: the vendor's logs and ours name the same send.
        let request_id = crate::util::new_id()?;
        let body = self.body(msg, &request_id)?;
        let signed = tc3_authorization(
            &self.cfg.secret_id,
            &self.cfg.secret_key,
            SERVICE,
            &self.host,
            now,
            &body,
        );
        Ok(with_retries(|| {
            let req = self
                .client
                .post(&self.cfg.endpoint)
                .header("Authorization", &signed.authorization)
                .header("Content-Type", CONTENT_TYPE)
                .header("Host", &self.host)
                .header("X-TC-Action", ACTION)
                .header("X-TC-Timestamp", now.to_string())
                .header("X-TC-Version", VERSION)
                .header("X-TC-Region", &self.cfg.region)
                .body(body.clone());
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
                if status != 200 {
                    return Err(ProviderError::Status {
                        vendor: VENDOR,
                        status,
                    });
                }
                judge(&bytes)
            })
        })?)
    }
}

/// Read a `SendSms` answer: the whole send succeeded, or why not.
pub fn judge(bytes: &[u8]) -> Result<(), ProviderError> {
    let garbage = |detail: &str| ProviderError::Garbage {
        vendor: VENDOR,
        detail: detail.to_owned(),
    };
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| garbage(&e.to_string()))?;
    let resp = v.get("Response").ok_or_else(|| garbage("no Response"))?;
    if let Some(err) = resp.get("Error") {
        return Err(ProviderError::Vendor {
            vendor: VENDOR,
            code: err["Code"].as_str().unwrap_or("?").to_owned(),
            message: err["Message"].as_str().unwrap_or("").to_owned(),
        });
    }
    let set = resp["SendStatusSet"]
        .as_array()
        .ok_or_else(|| garbage("no SendStatusSet"))?;
    if set.is_empty() {
        return Err(garbage("empty SendStatusSet"));
    }
    for s in set {
        let code = s["Code"].as_str().ok_or_else(|| garbage("no Code"))?;
        if code != "Ok" {
            return Err(ProviderError::Vendor {
                vendor: VENDOR,
                code: code.to_owned(),
                message: s["Message"].as_str().unwrap_or("").to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent's own worked example (the "Signature v3" page of every Tencent Cloud API,
    /// CVM DescribeInstances): SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, timestamp
    /// 1551113065, the body below, and the published signature.
    #[test]
    fn tencent_published_tc3_example() {
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let signed = tc3_authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            "cvm.tencentcloudapi.com",
            1_551_113_065,
            body,
        );
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        // One byte of the body changed: another signature.
        let other = tc3_authorization(
            "id",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            "cvm.tencentcloudapi.com",
            1_551_113_065,
            b"{}",
        );
        assert_ne!(other.authorization, signed.authorization);
    }

    #[test]
    fn answers_are_judged() {
        assert!(
            judge(br#"{"Response":{"SendStatusSet":[{"Code":"Ok"}],"RequestId":"r"}}"#).is_ok()
        );
        let refused = judge(br#"{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"m"}]}}"#);
        assert!(
            matches!(refused, Err(ProviderError::Vendor { ref code, .. }) if code == "LimitExceeded.PhoneNumberDailyLimit")
        );
        let err = judge(
            br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"x"}}}"#,
        );
        assert!(matches!(err, Err(ref e) if !e.retryable()));
        let internal =
            judge(br#"{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"x"}}}"#);
        assert!(matches!(internal, Err(ref e) if e.retryable()));
        assert!(matches!(
            judge(b"<html>"),
            Err(ProviderError::Garbage { .. })
        ));
        assert!(matches!(
            judge(br#"{"Response":{"SendStatusSet":[]}}"#),
            Err(ProviderError::Garbage { .. })
        ));
    }
}

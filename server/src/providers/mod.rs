//! Providers chosen by configuration (ADR 0014): SMS (the sandbox outbox, Tencent Cloud,
//! Aliyun) and real-name verification (the sandbox, the operator's signed gateway). Sandbox providers are refused unless
//! the server runs in sandbox mode (`--sandbox`, `BIDKEY_SANDBOX=1`, [`crate::Config::sandbox`]).
//!
//! The vendors' request signing is pure code beside each adapter, tested against the
//! vendors' own published examples; the adapters send over HTTP from inside the database
//! transaction (see [`block_on`]) so a failed delivery rolls back what it would announce.

pub mod pay_alipay;
pub mod pay_api;
pub mod pay_wechat;
pub mod realname_http;
pub mod sms_aliyun;
pub mod sms_tencent;

use crate::error::{Result, ServerError};
use crate::realname::{RealNameProvider, SandboxRealName};
use crate::sms::{OutboxSms, SmsProvider, SmsTemplate};
use bidkey_protocol::ErrorCode;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which providers serve a deployment. Plain fields with defaults, so a config file can
/// fill them.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    pub sms: SmsConfig,
    pub realname: RealNameConfig,
    /// Alipay and WeChat Pay (none by default; the sandbox pays in sandbox mode only).
    pub payment: crate::payments::PaymentConfig,
}

/// The SMS provider.
#[derive(Debug, Clone, Default)]
pub enum SmsConfig {
    /// Messages go to the `sms_outbox` table (sandbox mode only).
    #[default]
    Sandbox,
    Tencent(sms_tencent::TencentConfig),
    Aliyun(sms_aliyun::AliyunConfig),
}

/// The real-name verification provider.
#[derive(Debug, Clone, Default)]
pub enum RealNameConfig {
    /// Accepts well-formed data (sandbox mode only).
    #[default]
    Sandbox,
    /// The operator's verification gateway (HMAC-SM3 signed requests and answers).
    Gateway(realname_http::GatewayConfig),
}

/// Template ids per message kind ([`SmsTemplate::key`] → the vendor's template id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsTemplates(pub BTreeMap<String, String>);

impl SmsTemplates {
    /// `signup=1001,login=1002,…` (the form of `BIDKEY_SMS_TEMPLATES`).
    pub fn parse(s: &str) -> Result<SmsTemplates, String> {
        let mut map = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("SMS template `{part}`: expected key=template-id"))?;
            let (k, v) = (k.trim(), v.trim());
            if !SmsTemplate::ALL.iter().any(|t| t.key() == k) {
                return Err(format!("SMS template key `{k}` is not one of {}", keys()));
            }
            if v.is_empty() {
                return Err(format!("SMS template `{k}` has an empty id"));
            }
            map.insert(k.to_owned(), v.to_owned());
        }
        Ok(SmsTemplates(map))
    }

    /// Every message kind has a template, or the words saying which do not.
    pub fn check(&self) -> Result<(), String> {
        let missing: Vec<&str> = SmsTemplate::ALL
            .iter()
            .map(|t| t.key())
            .filter(|k| !self.0.contains_key(*k))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("SMS templates missing for: {}", missing.join(", ")))
        }
    }

    /// The template id of `t` (checked at start).
    pub fn id(&self, t: SmsTemplate) -> Result<&str> {
        self.0
            .get(t.key())
            .map(String::as_str)
            .ok_or_else(|| ServerError::Internal(format!("no SMS template for {}", t.key())))
    }
}

fn keys() -> String {
    SmsTemplate::ALL
        .iter()
        .map(|t| t.key())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The providers a configuration asks for, or why they cannot serve: a sandbox provider
/// outside sandbox mode, a vendor without credentials or templates.
pub fn build(
    sandbox: bool,
    cfg: &ProvidersConfig,
    clock: &crate::util::Clock,
) -> Result<(Arc<dyn SmsProvider>, Arc<dyn RealNameProvider>)> {
    let refuse = |what: &str| {
        ServerError::Internal(format!(
            "the sandbox {what} provider is refused outside sandbox mode: configure a real \
             provider, or start the server with --sandbox (BIDKEY_SANDBOX=1) for development"
        ))
    };
    let sms: Arc<dyn SmsProvider> = match &cfg.sms {
        SmsConfig::Sandbox if !sandbox => return Err(refuse("SMS")),
        SmsConfig::Sandbox => Arc::new(OutboxSms),
        SmsConfig::Tencent(c) => Arc::new(sms_tencent::TencentSms::new(c.clone())?),
        SmsConfig::Aliyun(c) => Arc::new(sms_aliyun::AliyunSms::new(c.clone())?),
    };
    let realname: Arc<dyn RealNameProvider> = match &cfg.realname {
        RealNameConfig::Sandbox if !sandbox => return Err(refuse("real-name")),
        RealNameConfig::Sandbox => Arc::new(SandboxRealName),
        RealNameConfig::Gateway(c) => Arc::new(realname_http::GatewayRealName::new(
            c.clone(),
            clock.clone(),
        )?),
    };
    if let Some(a) = &cfg.payment.alipay {
        let bad = |w: &str| ServerError::Internal(format!("payment.alipay: {w}"));
        if a.app_id.is_empty() {
            return Err(bad("app_id is required"));
        }
        ring::signature::RsaKeyPair::from_pkcs8(&a.merchant_key_pkcs8)
            .map_err(|e| bad(&format!("merchant key is not an RSA PKCS#8 key: {e}")))?;
        pay_alipay::rsa_public_key_of(&a.alipay_public_key)
            .ok_or_else(|| bad("Alipay public key is not an RSA SubjectPublicKeyInfo"))?;
    }
    if let Some(w) = &cfg.payment.wechat {
        let bad = |what: &str| ServerError::Internal(format!("payment.wechat: {what}"));
        if w.apiv3_key.len() != 32 {
            return Err(bad("the APIv3 key must be 32 bytes"));
        }
        if w.mch_id.is_empty() || w.platform_serial.is_empty() {
            return Err(bad("mch_id and platform_serial are required"));
        }
        if let Some(key) = &w.merchant_key_pkcs8 {
            ring::signature::RsaKeyPair::from_pkcs8(key)
                .map_err(|e| bad(&format!("merchant key is not an RSA PKCS#8 key: {e}")))?;
            if w.merchant_serial.is_empty() || w.notify_url.is_empty() {
                return Err(bad(
                    "merchant_serial and notify_url are required with a merchant key",
                ));
            }
        }
        pay_alipay::rsa_public_key_of(&w.platform_public_key)
            .ok_or_else(|| bad("platform public key is not an RSA SubjectPublicKeyInfo"))?;
    }
    Ok((sms, realname))
}

/// Why a vendor call failed. Every kind reaches the person as
/// [`ErrorCode::ProviderUnavailable`]; the words go to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer (connection refused, reset, timed out): the request may not have arrived.
    #[error("{vendor}: transport: {detail}")]
    Transport {
        vendor: &'static str,
        detail: String,
    },
    /// An HTTP status other than 200.
    #[error("{vendor}: HTTP {status}")]
    Status { vendor: &'static str, status: u16 },
    /// The vendor refused, with its own error code.
    #[error("{vendor}: refused: {code}: {message}")]
    Vendor {
        vendor: &'static str,
        code: String,
        message: String,
    },
    /// An answer we could not read.
    #[error("{vendor}: unreadable answer: {detail}")]
    Garbage {
        vendor: &'static str,
        detail: String,
    },
}

impl ProviderError {
    /// Whether sending again is safe and may help: the request did not arrive or the vendor
    /// failed on its side. A repeated SMS carries the same code under the same request id,
    /// so at worst the person gets it twice; a vendor's refusal is final.
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Transport { .. } => true,
            ProviderError::Status { status, .. } => *status >= 500 || *status == 429,
            ProviderError::Vendor { code, .. } => {
                // Aliyun's and Alipay's system errors, WeChat Pay's SYSTEM_ERROR, Alipay's
                // 20000 (service unavailable).
                code.starts_with("InternalError")
                    || matches!(
                        code.as_str(),
                        "isp.SYSTEM_ERROR" | "isp.unknow-error" | "SYSTEM_ERROR" | "20000"
                    )
            }
            ProviderError::Garbage { .. } => false,
        }
    }
}

impl From<ProviderError> for ServerError {
    fn from(e: ProviderError) -> ServerError {
        tracing::warn!(error = %e, "provider call failed");
        ServerError::Api(ErrorCode::ProviderUnavailable)
    }
}

/// How many times a retryable failure is tried in all.
pub const ATTEMPTS: u32 = 3;
/// Time allowed for one vendor call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Run `fut` on the server's runtime from a database thread and wait for it. The database
/// runs transactions on threads of its own (not the runtime's), so waiting here blocks no
/// request but the one whose transaction asked.
pub fn block_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    vendor: &'static str,
    fut: impl std::future::Future<Output = Result<T, ProviderError>> + Send + 'static,
) -> Result<T, ProviderError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let r = match tokio::time::timeout(CALL_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Transport {
                vendor,
                detail: "timed out".into(),
            }),
        };
        let _ = tx.send(r);
    });
    rx.recv_timeout(CALL_TIMEOUT + Duration::from_secs(1))
        .unwrap_or_else(|_| {
            Err(ProviderError::Transport {
                vendor,
                detail: "timed out".into(),
            })
        })
}

/// Call `once` up to [`ATTEMPTS`] times while it fails in a retryable way.
pub fn with_retries<T>(
    mut once: impl FnMut() -> Result<T, ProviderError>,
) -> Result<T, ProviderError> {
    let mut attempt = 1;
    loop {
        match once() {
            Err(e) if e.retryable() && attempt < ATTEMPTS => attempt += 1,
            r => return r,
        }
    }
}

/// An HTTP client for vendor calls (rustls with the web PKI roots is the caller's TLS;
/// loopback `http://` endpoints are for tests).
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| ServerError::Internal(format!("HTTP client: {e}")))
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn utc_iso8601(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        utc_date(unix),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_iso8601(1_456_231_584), "2016-02-23T12:46:24Z");
        assert_eq!(utc_date(0), "1970-01-01");
    }

    #[test]
    fn sandbox_providers_are_refused_outside_sandbox_mode() {
        let err = build(
            false,
            &ProvidersConfig::default(),
            &crate::util::Clock::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("sandbox SMS provider is refused"), "{err}");
        assert!(
            build(
                true,
                &ProvidersConfig::default(),
                &crate::util::Clock::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn templates_parse_and_check() {
        let all = SmsTemplate::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{}={}", t.key(), 1000 + i))
            .collect::<Vec<_>>()
            .join(",");
        let t = SmsTemplates::parse(&all).expect("parses");
        assert!(t.check().is_ok());
        let some = SmsTemplates::parse("signup=1").expect("parses");
        assert!(some.check().err().unwrap_or_default().contains("login"));
        assert!(SmsTemplates::parse("nonsense=1").is_err());
        assert!(SmsTemplates::parse("signup").is_err());
        assert!(SmsTemplates::parse("signup=").is_err());
    }
}

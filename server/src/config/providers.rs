//! `[sms]`, `[realname]` and `[payment.*]`: which vendors serve, in the configuration file as
//! well as flags and variables (issue 18). Only non-secret settings live here; the vendors'
//! secrets come from the environment (a file is read by anyone who can read the
//! configuration; a flag shows in `ps`), and key *files* are named by path.

use crate::providers::SmsTemplates;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[sms]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsLayer {
    /// `sandbox`, `tencent` or `aliyun`.
    pub provider: Option<String>,
    /// `[sms.templates]`: message kind → the vendor's template id.
    pub templates: Option<BTreeMap<String, String>>,
    pub sign_name: Option<String>,
    pub endpoint: Option<String>,
    pub tencent_sdk_app_id: Option<String>,
    pub tencent_region: Option<String>,
}

/// `[realname]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealnameLayer {
    /// `sandbox` or `gateway`.
    pub provider: Option<String>,
    pub gateway_url: Option<String>,
    pub gateway_key_id: Option<String>,
}

/// `[payment.alipay]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayLayer {
    pub app_id: Option<String>,
    pub merchant_key_file: Option<PathBuf>,
    pub public_key_file: Option<PathBuf>,
    pub notify_url: Option<String>,
    /// The gateway for order creation and refunds (default: Alipay's public one).
    pub gateway: Option<String>,
}

/// `[payment.wechat]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatLayer {
    pub mch_id: Option<String>,
    pub app_id: Option<String>,
    pub platform_key_file: Option<PathBuf>,
    pub platform_serial: Option<String>,
    /// The merchant's API private key, PKCS#8 (`apiclient_key.pem`): signs order creation
    /// and refunds; without it WeChat Pay only takes notifications.
    pub merchant_key_file: Option<PathBuf>,
    /// The merchant API certificate's serial (`serial_no`).
    pub merchant_serial: Option<String>,
    /// The public URL of our `/v1/payments/wechat/notify`.
    pub notify_url: Option<String>,
    /// The API host (default: WeChat Pay's public one).
    pub api_base: Option<String>,
}

/// `[payment]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentLayer {
    #[serde(default)]
    pub alipay: AlipayLayer,
    #[serde(default)]
    pub wechat: WechatLayer,
}

macro_rules! over {
    ($a:expr, $b:expr, $($f:ident),*) => { $( $a.$f = $a.$f.or($b.$f); )* };
}

impl SmsLayer {
    pub fn over(mut self, below: SmsLayer) -> SmsLayer {
        over!(
            self,
            below,
            provider,
            templates,
            sign_name,
            endpoint,
            tencent_sdk_app_id,
            tencent_region
        );
        self
    }
}

impl RealnameLayer {
    pub fn over(mut self, below: RealnameLayer) -> RealnameLayer {
        over!(self, below, provider, gateway_url, gateway_key_id);
        self
    }
}

impl PaymentLayer {
    pub fn over(mut self, below: PaymentLayer) -> PaymentLayer {
        over!(
            self.alipay,
            below.alipay,
            app_id,
            merchant_key_file,
            public_key_file,
            notify_url,
            gateway
        );
        over!(
            self.wechat,
            below.wechat,
            mch_id,
            app_id,
            platform_key_file,
            platform_serial,
            merchant_key_file,
            merchant_serial,
            notify_url,
            api_base
        );
        self
    }
}

/// The SMS vendor in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsVendor {
    Sandbox,
    Tencent,
    Aliyun,
}

/// The providers' settings in force (no secrets).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub sms: SmsVendor,
    pub sms_templates: SmsTemplates,
    pub sms_sign_name: String,
    pub sms_endpoint: Option<String>,
    pub tencent_sdk_app_id: String,
    pub tencent_region: String,
    /// `None`: the sandbox; `Some((url, key id))`: the operator's gateway.
    pub realname_gateway: Option<(String, String)>,
    pub alipay: Option<AlipayLayer>,
    pub wechat: Option<WechatLayer>,
}

impl ProviderSettings {
    /// Which sandboxes these settings name (refused outside sandbox mode when serving).
    pub fn sandboxes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.sms == SmsVendor::Sandbox {
            out.push("sms.provider = \"sandbox\"");
        }
        if self.realname_gateway.is_none() {
            out.push("realname.provider = \"sandbox\"");
        }
        out
    }

    /// The environment variables the named vendors need and that are unset.
    pub fn missing_secrets(&self, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let mut need: Vec<(&str, &str)> = Vec::new();
        match self.sms {
            SmsVendor::Tencent => {
                need.push(("sms.provider = \"tencent\"", "BIDKEY_SMS_TENCENT_SECRET_ID"));
                need.push((
                    "sms.provider = \"tencent\"",
                    "BIDKEY_SMS_TENCENT_SECRET_KEY",
                ));
            }
            SmsVendor::Aliyun => {
                need.push((
                    "sms.provider = \"aliyun\"",
                    "BIDKEY_SMS_ALIYUN_ACCESS_KEY_ID",
                ));
                need.push((
                    "sms.provider = \"aliyun\"",
                    "BIDKEY_SMS_ALIYUN_ACCESS_KEY_SECRET",
                ));
            }
            SmsVendor::Sandbox => {}
        }
        if self.realname_gateway.is_some() {
            need.push((
                "realname.provider = \"gateway\"",
                "BIDKEY_REALNAME_GATEWAY_KEY",
            ));
        }
        if self.wechat.is_some() {
            need.push(("payment.wechat", "BIDKEY_WECHATPAY_APIV3_KEY"));
        }
        need.into_iter()
            .filter(|(_, v)| env(v).is_none_or(|s| s.trim().is_empty()))
            .map(|(k, v)| {
                format!("{k} needs {v} in the environment (secrets are never in the file)")
            })
            .collect()
    }
}

fn url_ok(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://")) && u.len() > "https://".len()
}

/// Resolve and check, each problem in words naming its key.
pub fn resolve(
    sms: SmsLayer,
    realname: RealnameLayer,
    payment: PaymentLayer,
    problems: &mut Vec<String>,
) -> ProviderSettings {
    let vendor = match sms.provider.as_deref().unwrap_or("sandbox") {
        "sandbox" => SmsVendor::Sandbox,
        "tencent" => SmsVendor::Tencent,
        "aliyun" => SmsVendor::Aliyun,
        other => {
            problems.push(format!(
                "sms.provider = {other:?}: must be \"sandbox\", \"tencent\" or \"aliyun\""
            ));
            SmsVendor::Sandbox
        }
    };
    let mut templates = SmsTemplates::default();
    for (k, v) in sms.templates.unwrap_or_default() {
        match SmsTemplates::parse(&format!("{k}={v}")) {
            Ok(t) => templates.0.extend(t.0),
            Err(e) => problems.push(format!("sms.templates.{k}: {e}")),
        }
    }
    let sign_name = sms.sign_name.unwrap_or_default();
    if vendor != SmsVendor::Sandbox {
        if let Err(e) = templates.check() {
            problems.push(format!(
                "sms.templates: {e} (one template id per message kind at the vendor)"
            ));
        }
        if sign_name.trim().is_empty() {
            problems.push(
                "sms.sign_name is empty: give the SMS signature (签名) approved at the vendor"
                    .into(),
            );
        }
    }
    let tencent_sdk_app_id = sms.tencent_sdk_app_id.unwrap_or_default();
    if vendor == SmsVendor::Tencent && tencent_sdk_app_id.trim().is_empty() {
        problems.push("sms.tencent_sdk_app_id is empty: give the SmsSdkAppId of the Tencent Cloud SMS application".into());
    }
    if let Some(e) = &sms.endpoint
        && !url_ok(e)
    {
        problems.push(format!("sms.endpoint = {e:?}: not an http(s) URL"));
    }
    let realname_gateway = match realname.provider.as_deref().unwrap_or("sandbox") {
        "sandbox" => None,
        "gateway" => {
            let url = realname.gateway_url.unwrap_or_default();
            if !url_ok(&url) {
                problems.push(format!(
                    "realname.gateway_url = {url:?}: give the verification gateway's http(s) URL"
                ));
            }
            let key_id = realname.gateway_key_id.unwrap_or_default();
            if key_id.trim().is_empty() {
                problems.push(
                    "realname.gateway_key_id is empty: give the name of our key at the gateway"
                        .into(),
                );
            }
            Some((url, key_id))
        }
        other => {
            problems.push(format!(
                "realname.provider = {other:?}: must be \"sandbox\" or \"gateway\""
            ));
            None
        }
    };
    let file = |key: &str, f: &Option<PathBuf>, problems: &mut Vec<String>| match f {
        None => problems.push(format!("{key} is required")),
        Some(p) if !p.is_file() => problems.push(format!(
            "{key} = {:?}: no such file",
            p.display().to_string()
        )),
        Some(_) => {}
    };
    let alipay = match payment.alipay.app_id.as_deref() {
        None => None,
        Some(id) => {
            if id.trim().is_empty() {
                problems.push("payment.alipay.app_id is empty".into());
            }
            let a = &payment.alipay;
            file(
                "payment.alipay.merchant_key_file",
                &a.merchant_key_file,
                problems,
            );
            file(
                "payment.alipay.public_key_file",
                &a.public_key_file,
                problems,
            );
            match a.notify_url.as_deref() {
                Some(u) if u.starts_with("https://") => {}
                other => problems.push(format!(
                    "payment.alipay.notify_url = {:?}: give the public https:// URL of /v1/payments/alipay/notify",
                    other.unwrap_or("")
                )),
            }
            Some(payment.alipay.clone())
        }
    };
    let wechat = match payment.wechat.mch_id.as_deref() {
        None => None,
        Some(id) => {
            if id.trim().is_empty() {
                problems.push("payment.wechat.mch_id is empty".into());
            }
            let w = &payment.wechat;
            file(
                "payment.wechat.platform_key_file",
                &w.platform_key_file,
                problems,
            );
            if w.platform_serial
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
            {
                problems.push("payment.wechat.platform_serial is empty: give the platform certificate's serial (Wechatpay-Serial)".into());
            }
            Some(payment.wechat.clone())
        }
    };
    ProviderSettings {
        sms: vendor,
        sms_templates: templates,
        sms_sign_name: sign_name,
        sms_endpoint: sms.endpoint,
        tencent_sdk_app_id,
        tencent_region: sms.tencent_region.unwrap_or_else(|| "ap-guangzhou".into()),
        realname_gateway,
        alipay,
        wechat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(text: &str) -> (ProviderSettings, Vec<String>) {
        #[derive(Deserialize)]
        struct T {
            #[serde(default)]
            sms: SmsLayer,
            #[serde(default)]
            realname: RealnameLayer,
            #[serde(default)]
            payment: PaymentLayer,
        }
        let t: T = toml::from_str(text).expect("toml");
        let mut problems = Vec::new();
        let s = resolve(t.sms, t.realname, t.payment, &mut problems);
        (s, problems)
    }

    #[test]
    fn a_complete_vendor_configuration_resolves() {
        let keys = [
            "signup",
            "login",
            "reset_password",
            "change_phone",
            "change_phone_old",
            "unlock",
            "recover",
            "loss_report",
            "recovery_started",
            "phone_changed",
        ];
        let templates: String = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = \"{}\"\n", 1000 + i))
            .collect();
        let (s, problems) = resolve_text(&format!(
            "[sms]\nprovider = \"tencent\"\nsign_name = \"某某科技\"\ntencent_sdk_app_id = \"1400000000\"\n[sms.templates]\n{templates}[realname]\nprovider = \"gateway\"\ngateway_url = \"https://verify.example.cn\"\ngateway_key_id = \"bidkey-1\"\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.sms, SmsVendor::Tencent);
        assert_eq!(
            s.sms_templates.0.get("login").map(String::as_str),
            Some("1001")
        );
        assert!(s.sandboxes().is_empty());
        let missing = s.missing_secrets(|_| None);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[0].contains("BIDKEY_SMS_TENCENT_SECRET_ID"));
        assert!(s.missing_secrets(|_| Some("x".into())).is_empty());
    }

    #[test]
    fn every_problem_names_its_key() {
        let (_, problems) = resolve_text(
            "[sms]\nprovider = \"aliyun\"\n[sms.templates]\nsignup = \"1\"\nsingup = \"2\"\n[realname]\nprovider = \"gateway\"\n[payment.alipay]\napp_id = \"2021\"\nnotify_url = \"http://x\"\n[payment.wechat]\nmch_id = \"1\"\nplatform_key_file = \"/nonexistent\"\n",
        );
        let all = problems.join("\n");
        for words in [
            "sms.templates.singup",
            "sms.templates: SMS templates missing for: login",
            "sms.sign_name is empty",
            "realname.gateway_url = \"\"",
            "realname.gateway_key_id is empty",
            "payment.alipay.merchant_key_file is required",
            "payment.alipay.notify_url = \"http://x\"",
            "payment.wechat.platform_key_file = \"/nonexistent\": no such file",
            "payment.wechat.platform_serial is empty",
        ] {
            assert!(all.contains(words), "{words} not in:\n{all}");
        }
        let (_, p) = resolve_text("[sms]\nprovider = \"twilio\"\n[realname]\nprovider = \"x\"\n");
        assert!(p[0].contains("sms.provider = \"twilio\""), "{p:?}");
        assert!(p[1].contains("realname.provider = \"x\""), "{p:?}");
        let (s, p) = resolve_text("");
        assert!(p.is_empty());
        assert_eq!(s.sandboxes().len(), 2);
    }
}

//! `bidkey-server`: run the server, and the operator's commands.

use bidkey_server::Config;
use bidkey_server::bank;
use bidkey_server::config::providers::{ProviderSettings, SmsVendor};
use bidkey_server::config::{self, Layer, LogFormat, Settings};
use bidkey_server::db::Db;
use bidkey_server::keyfile::Passphrases;
use bidkey_server::payments::PaymentConfig;
use bidkey_server::providers::pay_alipay::AlipayConfig;
use bidkey_server::providers::pay_wechat::WechatConfig;
use bidkey_server::providers::realname_http::GatewayConfig;
use bidkey_server::providers::sms_aliyun::AliyunConfig;
use bidkey_server::providers::sms_tencent::TencentConfig;
use bidkey_server::providers::{RealNameConfig, SmsConfig, SmsTemplates};
use bidkey_server::util::Clock;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Settings come from flags, then `BIDKEY_*` variables, then the `--config` file, then the
/// defaults; every key is in docs/operations.md.
#[derive(Parser, Debug)]
#[command(name = "bidkey-server", version, about = "Bidkey server")]
struct Cli {
    /// A TOML configuration file (docs/operations.md lists every key).
    #[arg(long, env = "BIDKEY_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Directory for the SQLite file and key files [file: data_dir; default: bidkey-data].
    #[arg(long, env = "BIDKEY_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL; default: a SQLite file in the data directory
    /// [file: database.url].
    #[arg(long, env = "BIDKEY_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Database connections, one thread each [file: database.pool_size; default: 4].
    #[arg(long, env = "BIDKEY_POOL_SIZE", global = true)]
    pool_size: Option<i64>,
    /// SMS codes one client IP may ask for per hour [file: limits.sms_per_ip_per_hour;
    /// default: 30].
    #[arg(long, env = "BIDKEY_SMS_PER_IP_PER_HOUR", global = true)]
    sms_per_ip_per_hour: Option<i64>,
    /// Scan requests one trading platform may post per minute (size it to the largest bid
    /// opening: one decrypt request per bidder) [file: limits.relay_per_platform_per_minute;
    /// default: 600].
    #[arg(long, env = "BIDKEY_RELAY_PER_PLATFORM_PER_MINUTE", global = true)]
    relay_per_platform_per_minute: Option<i64>,
    /// Addresses of the reverse proxies in front, comma-separated: their X-Forwarded-For
    /// names the client [file: trusted_proxies; default: none].
    #[arg(
        long,
        env = "BIDKEY_TRUSTED_PROXIES",
        global = true,
        value_delimiter = ','
    )]
    trusted_proxies: Option<Vec<String>>,
    /// `json` (one object a line, for a log collector) or `text` [file: log_format; default:
    /// json].
    #[arg(long, env = "BIDKEY_LOG_FORMAT", global = true)]
    log_format: Option<String>,
    /// Policy OID of the time-stamp authority's tokens: the TSA policy the operator
    /// publishes, under its own registered arc [file: tsa_policy; default: an example-arc
    /// OID, ADR 0009].
    #[arg(long, env = "BIDKEY_TSA_POLICY", global = true)]
    tsa_policy: Option<String>,
    /// Seconds a certificate recovery (证书找回) waits after it is asked for, while the
    /// account's other devices and its number are told and can cancel it
    /// [file: limits.recovery_cooling_off; default: 86400].
    #[arg(long, env = "BIDKEY_RECOVERY_COOLING_OFF", global = true)]
    recovery_cooling_off: Option<i64>,
    /// Sandbox mode, for development and the demo only: the sandbox SMS (an outbox table),
    /// real-name (accepts well-formed data) and payment (pays without money) providers may
    /// serve, and the `sms-outbox` command exists. Without it they are refused (ADR 0014).
    /// [file: sandbox; default: false].
    #[arg(long, env = "BIDKEY_SANDBOX", global = true, value_parser = clap::builder::FalseyValueParser::new())]
    sandbox: bool,
    /// SMS provider: `sandbox` (needs --sandbox), `tencent` or `aliyun`. The vendors'
    /// credentials come from the environment only (docs/providers.md) [file: sms.provider;
    /// default: sandbox].
    #[arg(long, env = "BIDKEY_SMS_PROVIDER", global = true)]
    sms_provider: Option<String>,
    /// SMS template ids per message kind: `signup=…,login=…,reset_password=…,change_phone=…,
    /// change_phone_old=…,unlock=…,recover=…,loss_report=…,recovery_started=…,phone_changed=…`
    /// [file: [sms.templates]].
    #[arg(long, env = "BIDKEY_SMS_TEMPLATES", global = true)]
    sms_templates: Option<String>,
    /// The approved SMS signature (签名) at the vendor [file: sms.sign_name].
    #[arg(long, env = "BIDKEY_SMS_SIGN_NAME", global = true)]
    sms_sign_name: Option<String>,
    /// The vendor's endpoint [file: sms.endpoint; default: the vendor's public one].
    #[arg(long, env = "BIDKEY_SMS_ENDPOINT", global = true)]
    sms_endpoint: Option<String>,
    /// Tencent Cloud SMS: `SmsSdkAppId` [file: sms.tencent_sdk_app_id].
    #[arg(long, env = "BIDKEY_SMS_TENCENT_SDK_APP_ID", global = true)]
    sms_tencent_sdk_app_id: Option<String>,
    /// Tencent Cloud SMS: region (`ap-guangzhou`, `ap-beijing`, `ap-nanjing`)
    /// [file: sms.tencent_region; default: ap-guangzhou].
    #[arg(long, env = "BIDKEY_SMS_TENCENT_REGION", global = true)]
    sms_tencent_region: Option<String>,
    /// Real-name provider: `sandbox` (needs --sandbox) or `gateway` (the operator's
    /// HMAC-SM3 signed verification gateway; key in BIDKEY_REALNAME_GATEWAY_KEY, hex)
    /// [file: realname.provider; default: sandbox].
    #[arg(long, env = "BIDKEY_REALNAME_PROVIDER", global = true)]
    realname_provider: Option<String>,
    /// The gateway's base URL [file: realname.gateway_url].
    #[arg(long, env = "BIDKEY_REALNAME_GATEWAY_URL", global = true)]
    realname_gateway_url: Option<String>,
    /// The name of our key at the gateway [file: realname.gateway_key_id].
    #[arg(long, env = "BIDKEY_REALNAME_GATEWAY_KEY_ID", global = true)]
    realname_gateway_key_id: Option<String>,
    /// Alipay: offer it with this app id (keys from the files below)
    /// [file: payment.alipay.app_id].
    #[arg(long, env = "BIDKEY_ALIPAY_APP_ID", global = true)]
    alipay_app_id: Option<String>,
    /// Alipay: the merchant's RSA private key, PKCS#8 DER (PEM also read)
    /// [file: payment.alipay.merchant_key_file].
    #[arg(long, env = "BIDKEY_ALIPAY_MERCHANT_KEY_FILE", global = true)]
    alipay_merchant_key_file: Option<PathBuf>,
    /// Alipay: Alipay's public key, SubjectPublicKeyInfo DER (PEM also read)
    /// [file: payment.alipay.public_key_file].
    #[arg(long, env = "BIDKEY_ALIPAY_PUBLIC_KEY_FILE", global = true)]
    alipay_public_key_file: Option<PathBuf>,
    /// Alipay: the public URL of our `/v1/payments/alipay/notify`
    /// [file: payment.alipay.notify_url].
    #[arg(long, env = "BIDKEY_ALIPAY_NOTIFY_URL", global = true)]
    alipay_notify_url: Option<String>,
    /// WeChat Pay: offer it with this merchant id (APIv3 key in BIDKEY_WECHATPAY_APIV3_KEY)
    /// [file: payment.wechat.mch_id].
    #[arg(long, env = "BIDKEY_WECHATPAY_MCH_ID", global = true)]
    wechatpay_mch_id: Option<String>,
    /// [file: payment.wechat.app_id]
    #[arg(long, env = "BIDKEY_WECHATPAY_APP_ID", global = true)]
    wechatpay_app_id: Option<String>,
    /// WeChat Pay: the platform public key, SubjectPublicKeyInfo DER (PEM also read)
    /// [file: payment.wechat.platform_key_file].
    #[arg(long, env = "BIDKEY_WECHATPAY_PLATFORM_KEY_FILE", global = true)]
    wechatpay_platform_key_file: Option<PathBuf>,
    /// WeChat Pay: the platform key's serial (`Wechatpay-Serial`)
    /// [file: payment.wechat.platform_serial].
    #[arg(long, env = "BIDKEY_WECHATPAY_PLATFORM_SERIAL", global = true)]
    wechatpay_platform_serial: Option<String>,
    /// WeChat Pay: the merchant's API private key, PKCS#8 (apiclient_key.pem): signs order
    /// creation and refunds; without it WeChat Pay only takes notifications
    /// [file: payment.wechat.merchant_key_file].
    #[arg(long, env = "BIDKEY_WECHATPAY_MERCHANT_KEY_FILE", global = true)]
    wechatpay_merchant_key_file: Option<PathBuf>,
    /// WeChat Pay: the merchant API certificate's serial (`serial_no`)
    /// [file: payment.wechat.merchant_serial].
    #[arg(long, env = "BIDKEY_WECHATPAY_MERCHANT_SERIAL", global = true)]
    wechatpay_merchant_serial: Option<String>,
    /// WeChat Pay: the public URL of our `/v1/payments/wechat/notify`
    /// [file: payment.wechat.notify_url].
    #[arg(long, env = "BIDKEY_WECHATPAY_NOTIFY_URL", global = true)]
    wechatpay_notify_url: Option<String>,
    /// WeChat Pay: the API host [file: payment.wechat.api_base; default: WeChat Pay's].
    #[arg(long, env = "BIDKEY_WECHATPAY_API_BASE", global = true)]
    wechatpay_api_base: Option<String>,
    /// Alipay: the gateway for order creation and refunds
    /// [file: payment.alipay.gateway; default: Alipay's].
    #[arg(long, env = "BIDKEY_ALIPAY_GATEWAY", global = true)]
    alipay_gateway: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// A key file: DER, or PEM (its Base64 body).
fn key_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => {
            let b64: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        _ => Ok(bytes),
    }
}

/// The real-name provider and the payment vendors the settings name; secrets from the
/// environment.
fn realname_and_payment(p: &ProviderSettings) -> Result<(RealNameConfig, PaymentConfig), String> {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let realname = match &p.realname_gateway {
        None => RealNameConfig::Sandbox,
        Some((url, key_id)) => RealNameConfig::Gateway(GatewayConfig {
            endpoint: url.clone(),
            key_id: key_id.clone(),
            key: zeroize::Zeroizing::new(
                hex::decode(env("BIDKEY_REALNAME_GATEWAY_KEY").trim())
                    .map_err(|e| format!("BIDKEY_REALNAME_GATEWAY_KEY: not hex: {e}"))?,
            ),
        }),
    };
    let need = |f: &Option<PathBuf>, name: &str| {
        f.as_deref()
            .ok_or_else(|| format!("{name} is required"))
            .and_then(key_file)
    };
    let alipay = match &p.alipay {
        None => None,
        Some(a) => Some(AlipayConfig {
            app_id: a.app_id.clone().unwrap_or_default(),
            merchant_key_pkcs8: zeroize::Zeroizing::new(need(
                &a.merchant_key_file,
                "payment.alipay.merchant_key_file",
            )?),
            alipay_public_key: need(&a.public_key_file, "payment.alipay.public_key_file")?,
            notify_url: a.notify_url.clone().unwrap_or_default(),
            gateway: a
                .gateway
                .clone()
                .unwrap_or_else(|| bidkey_server::providers::pay_alipay::GATEWAY.to_owned()),
        }),
    };
    let wechat = match &p.wechat {
        None => None,
        Some(w) => Some(WechatConfig {
            mch_id: w.mch_id.clone().unwrap_or_default(),
            app_id: w.app_id.clone().unwrap_or_default(),
            apiv3_key: zeroize::Zeroizing::new(env("BIDKEY_WECHATPAY_APIV3_KEY").into_bytes()),
            platform_public_key: need(&w.platform_key_file, "payment.wechat.platform_key_file")?,
            platform_serial: w.platform_serial.clone().unwrap_or_default(),
            merchant_key_pkcs8: w
                .merchant_key_file
                .as_deref()
                .map(key_file)
                .transpose()?
                .map(zeroize::Zeroizing::new),
            merchant_serial: w.merchant_serial.clone().unwrap_or_default(),
            api_base: w
                .api_base
                .clone()
                .unwrap_or_else(|| bidkey_server::providers::pay_wechat::API_BASE.to_owned()),
            notify_url: w.notify_url.clone().unwrap_or_default(),
        }),
    };
    Ok((realname, PaymentConfig { alipay, wechat }))
}

/// The SMS provider the settings name; secrets from the environment only (a flag would
/// show in `ps`, a file is read by whoever reads the configuration).
fn sms_config(p: &ProviderSettings) -> SmsConfig {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let templates = p.sms_templates.clone();
    match p.sms {
        SmsVendor::Sandbox => SmsConfig::Sandbox,
        SmsVendor::Tencent => SmsConfig::Tencent(TencentConfig {
            secret_id: env("BIDKEY_SMS_TENCENT_SECRET_ID"),
            secret_key: zeroize::Zeroizing::new(env("BIDKEY_SMS_TENCENT_SECRET_KEY")),
            sdk_app_id: p.tencent_sdk_app_id.clone(),
            sign_name: p.sms_sign_name.clone(),
            region: p.tencent_region.clone(),
            endpoint: p
                .sms_endpoint
                .clone()
                .unwrap_or_else(|| "https://sms.tencentcloudapi.com".into()),
            templates,
        }),
        SmsVendor::Aliyun => SmsConfig::Aliyun(AliyunConfig {
            access_key_id: env("BIDKEY_SMS_ALIYUN_ACCESS_KEY_ID"),
            access_key_secret: zeroize::Zeroizing::new(env("BIDKEY_SMS_ALIYUN_ACCESS_KEY_SECRET")),
            sign_name: p.sms_sign_name.clone(),
            endpoint: p
                .sms_endpoint
                .clone()
                .unwrap_or_else(|| "https://dysmsapi.aliyuncs.com/".into()),
            templates,
        }),
    }
}

/// The flags' and variables' provider settings, as a layer over the file's.
fn provider_layers(
    cli: &Cli,
) -> Result<
    (
        config::providers::SmsLayer,
        config::providers::RealnameLayer,
        config::providers::PaymentLayer,
    ),
    Vec<String>,
> {
    use config::providers::*;
    let templates = match &cli.sms_templates {
        None => None,
        Some(t) => Some(
            SmsTemplates::parse(t)
                .map_err(|e| vec![format!("--sms-templates (BIDKEY_SMS_TEMPLATES): {e}")])?
                .0,
        ),
    };
    Ok((
        SmsLayer {
            provider: cli.sms_provider.clone(),
            templates,
            sign_name: cli.sms_sign_name.clone(),
            endpoint: cli.sms_endpoint.clone(),
            tencent_sdk_app_id: cli.sms_tencent_sdk_app_id.clone(),
            tencent_region: cli.sms_tencent_region.clone(),
        },
        RealnameLayer {
            provider: cli.realname_provider.clone(),
            gateway_url: cli.realname_gateway_url.clone(),
            gateway_key_id: cli.realname_gateway_key_id.clone(),
        },
        PaymentLayer {
            alipay: AlipayLayer {
                app_id: cli.alipay_app_id.clone(),
                merchant_key_file: cli.alipay_merchant_key_file.clone(),
                public_key_file: cli.alipay_public_key_file.clone(),
                notify_url: cli.alipay_notify_url.clone(),
                gateway: cli.alipay_gateway.clone(),
            },
            wechat: WechatLayer {
                mch_id: cli.wechatpay_mch_id.clone(),
                app_id: cli.wechatpay_app_id.clone(),
                platform_key_file: cli.wechatpay_platform_key_file.clone(),
                platform_serial: cli.wechatpay_platform_serial.clone(),
                merchant_key_file: cli.wechatpay_merchant_key_file.clone(),
                merchant_serial: cli.wechatpay_merchant_serial.clone(),
                notify_url: cli.wechatpay_notify_url.clone(),
                api_base: cli.wechatpay_api_base.clone(),
            },
        },
    ))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        /// Address and port [file: listen; default: 127.0.0.1:8750].
        #[arg(long, env = "BIDKEY_LISTEN")]
        listen: Option<String>,
        /// The operator listener: RA review, platform registration, metrics; keep it off
        /// the public network [file: operator_listen; default: 127.0.0.1:8751].
        #[arg(long, env = "BIDKEY_OPERATOR_LISTEN")]
        operator_listen: Option<String>,
    },
    /// Check the configuration (file, variables, flags) without starting anything: print the
    /// settings in force, or what is wrong with each bad one (exit status 2).
    CheckConfig,
    /// Back up the SQLite database into a new FILE while the server may be serving (SQLite's
    /// online backup). Keep it with the key files of the data directory, which it lists.
    /// PostgreSQL: use pg_dump (docs/operations.md).
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the SQLite database by a backup (stop the server first). The backup is checked
    /// first: intact, a Bidkey database, not from a newer server version.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Import a bank statement CSV (UTF-8 or GBK) and match micro-payments (对公打款). Its
    /// headings are mapped by `[bank.columns]` in the configuration file; by default
    /// bank_txn_id,booked_at,payer_account,payer_name,amount,reference — booked_at in Unix
    /// seconds or `YYYY-MM-DD HH:MM:SS` Beijing time, amount in yuan. The payer's name must
    /// be the enterprise's registered name. A file with any bad line is refused whole;
    /// importing a file twice changes nothing.
    BankImport {
        /// The CSV file.
        file: PathBuf,
        /// `auto` (UTF-8 if valid, else GBK), `utf-8` or `gbk` [file: bank.encoding;
        /// default: auto].
        #[arg(long)]
        encoding: Option<String>,
    },
    /// The certification authority's key ceremony commands (the only ones that read the
    /// root CA key, ADR 0019).
    Ca {
        #[command(subcommand)]
        action: CaCommand,
    },
    /// Operator tokens (ADR 0020): named, expiring; only their hashes are stored.
    Operator {
        #[command(subcommand)]
        action: OperatorCommand,
    },
    /// List the applications waiting for RA review (待审核), oldest first.
    Reviews,
    /// Approve an application under review: its order is created (待支付, or 已支付 when free).
    Approve { application_id: String },
    /// Reject an application under review; the reason is shown to the applicant.
    Reject {
        application_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Show the newest messages in the SMS outbox (the sandbox SMS provider; sandbox mode
    /// only).
    SmsOutbox {
        /// Only messages to this number.
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
enum OperatorCommand {
    /// Make a token for the operator NAME, valid for a shift (printed once; the audit log
    /// names NAME for every action taken with it).
    Token {
        #[arg(long)]
        name: String,
        /// How long: 30m, 8h, 7d (at most 90d).
        #[arg(long, default_value = "8h")]
        valid: String,
    },
    /// Revoke every live token of the operator NAME.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum CaCommand {
    /// Make the root CA, the issuing CA and the sealing keys: one key file each in the data
    /// directory (ca-root.key, ca-issuing.key, kmc.key, cosign.key), each sealed with its own
    /// passphrase (BIDKEY_ROOT_PASSPHRASE, BIDKEY_CA_PASSPHRASE, BIDKEY_KMC_PASSPHRASE,
    /// BIDKEY_COSIGN_PASSPHRASE or [passphrase_files]), and publish the first root CRL.
    /// Then move ca-root.key to offline storage: the server never reads it.
    Init,
    /// Sign the root's CRL (ARL) with the root key and publish it (the server serves it at
    /// /v1/ca/crl/root). Run before the current one's nextUpdate.
    RootCrl {
        /// Days the CRL is valid.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// Split the single key file of earlier versions (ca-keys.bin) into one key file per
    /// secret, keeping every key; the old passphrase in BIDKEY_OLD_CA_PASSPHRASE (or the old
    /// ca.passphrase file), the new ones as for `ca init`. Deletes ca-keys.bin and
    /// ca.passphrase; delete any copies of them too.
    SplitKeys,
}

/// Flags and variables (clap already put a flag over its variable) over the file.
fn settings(cli: &Cli) -> Result<Settings, Vec<String>> {
    let file = match &cli.config {
        Some(path) => config::read_file(path).map_err(|e| vec![e])?,
        None => Layer::default(),
    };
    let (listen, operator_listen) = match &cli.command {
        Some(Command::Serve {
            listen,
            operator_listen,
        }) => (listen.clone(), operator_listen.clone()),
        _ => (None, None),
    };
    let above = Layer {
        data_dir: cli.data_dir.clone(),
        listen,
        operator_listen,
        log_format: cli.log_format.clone(),
        ca_passphrase_file: None,
        passphrase_files: None,
        sms: Default::default(),
        realname: Default::default(),
        payment: Default::default(),
        trusted_proxies: cli.trusted_proxies.clone(),
        tsa_policy: cli.tsa_policy.clone(),
        sandbox: cli.sandbox.then_some(true),
        bank: config::BankLayer {
            encoding: match &cli.command {
                Some(Command::BankImport { encoding, .. }) => encoding.clone(),
                _ => None,
            },
            ..Default::default()
        },
        database: config::DatabaseLayer {
            url: cli.database_url.clone(),
            pool_size: cli.pool_size,
        },
        limits: config::LimitsLayer {
            sms_per_ip_per_hour: cli.sms_per_ip_per_hour,
            relay_per_platform_per_minute: cli.relay_per_platform_per_minute,
            recovery_cooling_off: cli.recovery_cooling_off,
        },
    };
    let (sms, realname, payment) = provider_layers(cli)?;
    let above = Layer {
        sms,
        realname,
        payment,
        ..above
    };
    above.over(file).resolve()
}

/// The key files' passphrases: each slot's `BIDKEY_*_PASSPHRASE` (never a flag: it would
/// show in `ps`), else its configured file, which must lie outside the data directory
/// unless in sandbox mode (ADR 0019).
fn passphrases(s: &Settings) -> Result<Passphrases, Vec<String>> {
    Passphrases::gather(
        |k| std::env::var(k).ok(),
        &s.passphrase_files,
        &s.data_dir,
        s.sandbox,
    )
}

fn refuse(problems: &[String]) -> ! {
    eprintln!("bidkey-server: the configuration is not valid:");
    for p in problems {
        eprintln!("  - {p}");
    }
    std::process::exit(2);
}

/// Logs go to stderr: stdout is the commands' own output.
fn init_logs(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == LogFormat::Json {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
}

/// Until SIGTERM (a supervisor stopping the service) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                    _ = int.recv() => tracing::info!("SIGINT: stopping"),
                }
                return;
            }
            _ => tracing::warn!("no signal handlers; stopping on Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // Everything is checked before anything is opened: a bad setting never half-starts.
    let settings = settings(&cli).unwrap_or_else(|p| refuse(&p));
    let passphrases = passphrases(&settings).unwrap_or_else(|p| refuse(&p));
    // What `serve` would refuse: sandboxes outside sandbox mode, vendors without their
    // secrets. Commands that reach no vendor (reviews, tokens, the CA's) need neither.
    if matches!(
        cli.command,
        None | Some(Command::Serve { .. }) | Some(Command::CheckConfig)
    ) {
        let p = &settings.providers;
        let mut problems = p.missing_secrets(|k| std::env::var(k).ok());
        if !settings.sandbox {
            for s in p.sandboxes() {
                problems.push(format!(
                    "{s}: the sandbox serves only in sandbox mode (sandbox = true, --sandbox); name a real provider (docs/providers.md)"
                ));
            }
        }
        if !problems.is_empty() {
            refuse(&problems);
        }
    }
    if let Some(Command::CheckConfig) = cli.command {
        println!("the configuration is valid; the settings in force:");
        print!("{}", settings.describe());
        return;
    }
    let mut config = settings.to_config();
    config.passphrases = passphrases;
    match realname_and_payment(&settings.providers).map(|rp| (sms_config(&settings.providers), rp))
    {
        Ok((sms, (realname, payment))) => {
            config.providers.sms = sms;
            config.providers.realname = realname;
            config.providers.payment = payment;
        }
        Err(e) => refuse(&[e]),
    }
    init_logs(settings.log_format);
    match cli.command {
        Some(Command::Serve { .. }) | None => {}
        Some(Command::CheckConfig) => return,
        Some(Command::BankImport { file, .. }) => {
            std::process::exit(bank_import(&config, &settings.bank, &file).await);
        }
        Some(Command::Backup { to }) => std::process::exit(backup(&config, &to).await),
        Some(Command::Restore { from }) => std::process::exit(restore(&config, &from).await),
        Some(Command::Ca { action }) => std::process::exit(ca_command(&config, action).await),
        Some(Command::Operator { action }) => {
            std::process::exit(operator::tokens(&config, action).await)
        }
        Some(Command::Reviews) => std::process::exit(operator::reviews(&config).await),
        Some(Command::Approve { application_id }) => {
            std::process::exit(operator::decide(&config, &application_id, None).await)
        }
        Some(Command::Reject {
            application_id,
            reason,
        }) => std::process::exit(operator::decide(&config, &application_id, Some(reason)).await),
        Some(Command::SmsOutbox { phone, limit }) => {
            // The outbox is the sandbox provider's; outside sandbox mode it does not exist.
            if !config.sandbox {
                eprintln!(
                    "bidkey-server: sms-outbox exists only in sandbox mode (--sandbox, BIDKEY_SANDBOX=1)"
                );
                std::process::exit(2);
            }
            std::process::exit(operator::sms_outbox(&config, phone, limit).await)
        }
    }
    // Configuration and key files are checked before anything listens; then the listeners
    // open at once and answer (503 until the database is open) while it is reached.
    match bidkey_server::launch(config).await {
        Ok(mut running) => {
            println!("Bidkey server listening on {}", running.url());
            println!("operator listener on {}", running.operator_url());
            println!("data directory: {}", settings.data_dir.display());
            let stop = stop_signal();
            tokio::pin!(stop);
            tokio::select! {
                ready = running.ready() => match ready {
                    Ok(_) => {
                        println!("Bidkey server ready");
                        stop.await;
                    }
                    Err(e) => {
                        // A schema newer than this build, a failed migration: waiting
                        // does not cure it.
                        eprintln!("bidkey-server: {e}");
                        running.stop().await;
                        std::process::exit(1);
                    }
                },
                _ = &mut stop => {}
            }
            running.stop().await;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            std::process::exit(1);
        }
    }
}

/// `bidkey-server ca …`: the exit status.
async fn ca_command(config: &Config, action: CaCommand) -> i32 {
    use bidkey_server::ca::{crl, keys};
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("bidkey-server: {e}");
        1
    };
    if let Err(e) = std::fs::create_dir_all(&config.data_dir) {
        return fail(&e);
    }
    let (dir, pass, sandbox) = (
        config.data_dir.clone(),
        config.passphrases.clone(),
        config.sandbox,
    );
    let days = match action {
        CaCommand::RootCrl { days } if !(1..=3650).contains(&days) => {
            eprintln!("bidkey-server: --days {days}: must be between 1 and 3650");
            return 2;
        }
        CaCommand::RootCrl { days } => days,
        _ => crl::ARL_DAYS,
    };
    // Argon2id and key generation: off the async workers.
    let root = tokio::task::spawn_blocking(move || match action {
        CaCommand::Init => keys::init(&dir, &pass, sandbox),
        CaCommand::RootCrl { .. } => keys::load_root(&dir, &pass, sandbox),
        CaCommand::SplitKeys => {
            let old = std::env::var("BIDKEY_OLD_CA_PASSPHRASE").ok();
            keys::split_legacy(&dir, old.as_deref(), &pass, sandbox)?;
            keys::load_root(&dir, &pass, sandbox)
        }
    })
    .await;
    let root = match root {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&e),
        Err(e) => return fail(&e),
    };
    let url = config.db.clone();
    let db = match tokio::task::spawn_blocking(move || Db::open(&url, 1)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return fail(&e),
        Err(e) => return fail(&e),
    };
    let now = Clock::default().now();
    match db
        .write(move |tx| crl::publish_root(tx, &root, now, days))
        .await
    {
        Ok(n) => {
            println!("published root CRL number {n}, valid {days} days");
            for slot in bidkey_server::keyfile::ALL {
                println!("  {}", slot.path(&config.data_dir).display());
            }
            println!(
                "move {} to offline storage: the server never reads it; `ca root-crl` needs it",
                bidkey_server::keyfile::ROOT
                    .path(&config.data_dir)
                    .display()
            );
            0
        }
        Err(e) => fail(&e),
    }
}

/// `bidkey-server backup --to FILE`: the exit status.
async fn backup(config: &Config, to: &std::path::Path) -> i32 {
    let (db, to_owned) = (config.db.clone(), to.to_owned());
    match tokio::task::spawn_blocking(move || bidkey_server::backup::backup(&db, &to_owned)).await {
        Ok(Ok(c)) => {
            println!(
                "backed up to {} ({} pages, schema version {})",
                to.display(),
                c.pages,
                c.schema_version
            );
            println!("keep it with these files of the data directory (not in the backup):");
            for f in bidkey_server::backup::key_files(&config.data_dir) {
                println!("  {}", f.display());
            }
            0
        }
        Ok(Err(e)) => {
            eprintln!("bidkey-server: backup failed: {e}");
            1
        }
        Err(e) => {
            eprintln!("bidkey-server: backup failed: {e}");
            1
        }
    }
}

/// `bidkey-server restore --from FILE`: the exit status.
async fn restore(config: &Config, from: &std::path::Path) -> i32 {
    let (db, from_owned) = (config.db.clone(), from.to_owned());
    match tokio::task::spawn_blocking(move || bidkey_server::backup::restore(&from_owned, &db))
        .await
    {
        Ok(Ok(c)) => {
            println!(
                "restored {} ({} pages, schema version {} migrated to {})",
                from.display(),
                c.pages,
                c.schema_version,
                bidkey_server::db::schema_version_known()
            );
            0
        }
        Ok(Err(e)) => {
            eprintln!("bidkey-server: restore failed: {e}");
            1
        }
        Err(e) => {
            eprintln!("bidkey-server: restore failed: {e}");
            1
        }
    }
}

/// `bidkey-server bank-import FILE.csv`: the exit status.
async fn bank_import(
    config: &Config,
    format: &bank::statement::Format,
    file: &std::path::Path,
) -> i32 {
    let bytes = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bidkey-server: {}: {e}", file.display());
            return 2;
        }
    };
    let url = config.db.clone();
    let db = match tokio::task::spawn_blocking(move || Db::open(&url, 1)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            eprintln!("bidkey-server: {e}");
            return 1;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            return 1;
        }
    };
    let now = Clock::default().now();
    match bank::import_file(&db, now, &bytes, format).await {
        Ok(s) => {
            println!(
                "imported {}: {} matched, {} unmatched, {} already imported",
                file.display(),
                s.matched,
                s.unmatched,
                s.duplicate
            );
            0
        }
        Err(errors) => {
            eprintln!("{}: refused, nothing imported:", file.display());
            for e in errors {
                eprintln!("  {e}");
            }
            1
        }
    }
}

/// The operator's commands on the database (the same rules as the operator API).
mod operator {
    use bidkey_protocol::orders::{ReviewDecision, Status};
    use bidkey_server::db::{Db, DbError};
    use bidkey_server::error::ServerError;
    use bidkey_server::util::Clock;
    use bidkey_server::{Config, applications, orders, params};

    async fn open(config: &Config) -> Result<Db, i32> {
        let url = config.db.clone();
        match tokio::task::spawn_blocking(move || Db::open(&url, 1)).await {
            Ok(Ok(db)) => Ok(db),
            Ok(Err(e)) => {
                eprintln!("bidkey-server: {e}");
                Err(1)
            }
            Err(e) => {
                eprintln!("bidkey-server: {e}");
                Err(1)
            }
        }
    }

    /// How the audit log names an operator at the command line: the Unix account.
    pub fn cli_actor() -> String {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("operator-cli:{user}")
    }

    pub async fn tokens(config: &Config, action: super::OperatorCommand) -> i32 {
        use bidkey_server::operators;
        let db = match open(config).await {
            Ok(db) => db,
            Err(code) => return code,
        };
        let now = Clock::default().now();
        match action {
            super::OperatorCommand::Token { name, valid } => {
                let valid = match operators::parse_validity(&valid) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("bidkey-server: {e}");
                        return 2;
                    }
                };
                if let Err(e) = operators::check_name(&name) {
                    eprintln!("bidkey-server: {e}");
                    return 2;
                }
                let n = name.clone();
                match db
                    .write(move |tx| operators::mint(tx, now, &n, valid, &cli_actor()))
                    .await
                {
                    Ok(token) => {
                        eprintln!(
                            "operator token for {} valid until {} (Unix time); shown once:",
                            name.trim(),
                            now + valid
                        );
                        println!("{token}");
                        0
                    }
                    Err(e) => {
                        eprintln!("bidkey-server: {e}");
                        1
                    }
                }
            }
            super::OperatorCommand::Revoke { name } => {
                let n = name.clone();
                match db
                    .write(move |tx| operators::revoke(tx, now, &n, &cli_actor()))
                    .await
                {
                    Ok(k) => {
                        println!("revoked {k} live token(s) of {name}");
                        0
                    }
                    Err(e) => {
                        eprintln!("bidkey-server: {e}");
                        1
                    }
                }
            }
        }
    }

    pub async fn reviews(config: &Config) -> i32 {
        let db = match open(config).await {
            Ok(db) => db,
            Err(code) => return code,
        };
        let list = db
            .read(|tx| applications::list_in_status(tx, Status::PendingReview))
            .await;
        match list {
            Ok(apps) if apps.is_empty() => {
                println!("no applications waiting for review");
                0
            }
            Ok(apps) => {
                println!(
                    "{:<32}  {:<12}  {:<32}  created",
                    "application", "kind", "enterprise"
                );
                for a in apps {
                    println!(
                        "{:<32}  {:<12}  {:<32}  {}",
                        a.id,
                        a.kind.as_str(),
                        a.enterprise_id.as_deref().unwrap_or("-"),
                        a.created_at
                    );
                    // A recovery's materials for the reviewer (ADR 0011).
                    if a.kind == bidkey_protocol::orders::ApplicationKind::Recover {
                        if let Some(m) = &a.detail {
                            println!("    materials: {m}");
                        }
                        if let Some(t) = a.not_before {
                            println!("    cooling-off until {t} (approve after it)");
                        }
                    }
                }
                0
            }
            Err(e) => {
                eprintln!("bidkey-server: {e}");
                1
            }
        }
    }

    pub async fn decide(config: &Config, id: &str, reject_reason: Option<String>) -> i32 {
        let db = match open(config).await {
            Ok(db) => db,
            Err(code) => return code,
        };
        let now = Clock::default().now();
        let id = id.to_owned();
        let decision = ReviewDecision {
            approve: reject_reason.is_none(),
            reason: reject_reason,
        };
        let r: Result<applications::Application, ServerError> = db
            .write(move |tx| orders::decide(tx, now, &cli_actor(), &id, &decision))
            .await;
        match r {
            Ok(app) => {
                println!("{} is now {}", app.id, app.status.label_zh());
                0
            }
            Err(ServerError::Api(code)) => {
                eprintln!(
                    "bidkey-server: {} ({})",
                    code.message_zh(),
                    code.message_en()
                );
                1
            }
            Err(ServerError::NotBefore { code, at }) => {
                eprintln!(
                    "bidkey-server: {} ({}): not before {at}",
                    code.message_zh(),
                    code.message_en()
                );
                1
            }
            Err(e) => {
                eprintln!("bidkey-server: {e}");
                1
            }
        }
    }

    pub async fn sms_outbox(config: &Config, phone: Option<String>, limit: i64) -> i32 {
        let db = match open(config).await {
            Ok(db) => db,
            Err(code) => return code,
        };
        let rows = db
            .read(move |tx| {
                tx.query(
                    "SELECT created_at, phone, body FROM sms_outbox WHERE ($1 = '' OR phone = $1) \
                     ORDER BY created_at DESC, id DESC LIMIT $2",
                    &params![phone.clone().unwrap_or_default(), limit],
                )
            })
            .await;
        match rows {
            Ok(rows) => {
                for r in rows {
                    let line = (|| -> Result<String, DbError> {
                        Ok(format!("{}  {}  {}", r.i64(0)?, r.text(1)?, r.text(2)?))
                    })();
                    match line {
                        Ok(l) => println!("{l}"),
                        Err(e) => eprintln!("bidkey-server: {e}"),
                    }
                }
                0
            }
            Err(e) => {
                eprintln!("bidkey-server: {e}");
                1
            }
        }
    }
}

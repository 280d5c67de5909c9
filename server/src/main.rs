//! `bidkey-server`: run the server, and the operator's commands.

use bidkey_server::bank;
use bidkey_server::db::{Db, DbUrl};
use bidkey_server::payments::PaymentConfig;
use bidkey_server::providers::pay_alipay::AlipayConfig;
use bidkey_server::providers::pay_wechat::WechatConfig;
use bidkey_server::providers::realname_http::GatewayConfig;
use bidkey_server::providers::sms_aliyun::AliyunConfig;
use bidkey_server::providers::sms_tencent::TencentConfig;
use bidkey_server::providers::{RealNameConfig, SmsConfig, SmsTemplates};
use bidkey_server::util::Clock;
use bidkey_server::{Config, Limits, start};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "bidkey-server", version, about = "Bidkey server")]
struct Cli {
    /// Directory for the SQLite file and key files.
    #[arg(long, env = "BIDKEY_DATA_DIR", default_value = "bidkey-data")]
    data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; default: a SQLite file in the data directory.
    #[arg(long, env = "BIDKEY_DATABASE_URL")]
    database_url: Option<String>,
    /// SMS codes one client IP may ask for per hour.
    #[arg(long, env = "BIDKEY_SMS_PER_IP_PER_HOUR", default_value_t = Limits::default().sms_per_ip_per_hour, value_parser = clap::value_parser!(i64).range(1..))]
    sms_per_ip_per_hour: i64,
    /// Scan requests one trading platform may post per minute (size it to the largest bid
    /// opening: one decrypt request per bidder).
    #[arg(long, env = "BIDKEY_RELAY_PER_PLATFORM_PER_MINUTE", default_value_t = Limits::default().relay_requests_per_platform_per_minute, value_parser = clap::value_parser!(i64).range(1..))]
    relay_per_platform_per_minute: i64,
    /// Policy OID of the time-stamp authority's tokens: the TSA policy the operator
    /// publishes, under its own registered arc (default: an example-arc OID, ADR 0009).
    #[arg(long, env = "BIDKEY_TSA_POLICY", value_parser = parse_oid)]
    tsa_policy: Option<der::asn1::ObjectIdentifier>,
    /// Seconds a certificate recovery (证书找回) waits after it is asked for, while the
    /// account's other devices and its number are told and can cancel it.
    #[arg(long, env = "BIDKEY_RECOVERY_COOLING_OFF", default_value_t = Limits::default().recovery_cooling_off, value_parser = clap::value_parser!(i64).range(0..))]
    recovery_cooling_off: i64,
    /// Sandbox mode, for development and the demo only: the sandbox SMS (an outbox table),
    /// real-name (accepts well-formed data) and payment (pays without money) providers may
    /// serve, and the `sms-outbox` command exists. Without it they are refused (ADR 0014).
    #[arg(long, env = "BIDKEY_SANDBOX", value_parser = clap::builder::FalseyValueParser::new())]
    sandbox: bool,
    /// SMS provider: `sandbox` (needs --sandbox), `tencent` or `aliyun`. The vendors'
    /// credentials come from the environment only (docs/providers.md).
    #[arg(long, env = "BIDKEY_SMS_PROVIDER", default_value = "sandbox")]
    sms_provider: String,
    /// SMS template ids per message kind: `signup=…,login=…,reset_password=…,change_phone=…,
    /// change_phone_old=…,unlock=…,recover=…,loss_report=…,recovery_started=…,phone_changed=…`.
    #[arg(long, env = "BIDKEY_SMS_TEMPLATES", default_value = "")]
    sms_templates: String,
    /// The approved SMS signature (签名) at the vendor.
    #[arg(long, env = "BIDKEY_SMS_SIGN_NAME", default_value = "")]
    sms_sign_name: String,
    /// The vendor's endpoint (default: the vendor's public one).
    #[arg(long, env = "BIDKEY_SMS_ENDPOINT")]
    sms_endpoint: Option<String>,
    /// Tencent Cloud SMS: `SmsSdkAppId`.
    #[arg(long, env = "BIDKEY_SMS_TENCENT_SDK_APP_ID", default_value = "")]
    sms_tencent_sdk_app_id: String,
    /// Tencent Cloud SMS: region (`ap-guangzhou`, `ap-beijing`, `ap-nanjing`).
    #[arg(
        long,
        env = "BIDKEY_SMS_TENCENT_REGION",
        default_value = "ap-guangzhou"
    )]
    sms_tencent_region: String,
    /// Real-name provider: `sandbox` (needs --sandbox) or `gateway` (the operator's
    /// HMAC-SM3 signed verification gateway; key in BIDKEY_REALNAME_GATEWAY_KEY, hex).
    #[arg(long, env = "BIDKEY_REALNAME_PROVIDER", default_value = "sandbox")]
    realname_provider: String,
    /// The gateway's base URL.
    #[arg(long, env = "BIDKEY_REALNAME_GATEWAY_URL", default_value = "")]
    realname_gateway_url: String,
    /// The name of our key at the gateway.
    #[arg(long, env = "BIDKEY_REALNAME_GATEWAY_KEY_ID", default_value = "")]
    realname_gateway_key_id: String,
    /// Alipay: offer it with this app id (keys from the files below).
    #[arg(long, env = "BIDKEY_ALIPAY_APP_ID")]
    alipay_app_id: Option<String>,
    /// Alipay: the merchant's RSA private key, PKCS#8 DER (PEM also read).
    #[arg(long, env = "BIDKEY_ALIPAY_MERCHANT_KEY_FILE")]
    alipay_merchant_key_file: Option<PathBuf>,
    /// Alipay: Alipay's public key, SubjectPublicKeyInfo DER (PEM also read).
    #[arg(long, env = "BIDKEY_ALIPAY_PUBLIC_KEY_FILE")]
    alipay_public_key_file: Option<PathBuf>,
    /// Alipay: the public URL of our `/v1/payments/alipay/notify`.
    #[arg(long, env = "BIDKEY_ALIPAY_NOTIFY_URL", default_value = "")]
    alipay_notify_url: String,
    /// WeChat Pay: offer it with this merchant id (APIv3 key in BIDKEY_WECHATPAY_APIV3_KEY).
    #[arg(long, env = "BIDKEY_WECHATPAY_MCH_ID")]
    wechatpay_mch_id: Option<String>,
    #[arg(long, env = "BIDKEY_WECHATPAY_APP_ID", default_value = "")]
    wechatpay_app_id: String,
    /// WeChat Pay: the platform public key, SubjectPublicKeyInfo DER (PEM also read).
    #[arg(long, env = "BIDKEY_WECHATPAY_PLATFORM_KEY_FILE")]
    wechatpay_platform_key_file: Option<PathBuf>,
    /// WeChat Pay: the platform key's serial (`Wechatpay-Serial`).
    #[arg(long, env = "BIDKEY_WECHATPAY_PLATFORM_SERIAL", default_value = "")]
    wechatpay_platform_serial: String,
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

/// The real-name provider and the payment vendors the flags and the environment name.
fn realname_and_payment(cli: &Cli) -> Result<(RealNameConfig, PaymentConfig), String> {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let realname = match cli.realname_provider.as_str() {
        "sandbox" => RealNameConfig::Sandbox,
        "gateway" => RealNameConfig::Gateway(GatewayConfig {
            endpoint: cli.realname_gateway_url.clone(),
            key_id: cli.realname_gateway_key_id.clone(),
            key: zeroize::Zeroizing::new(
                hex::decode(env("BIDKEY_REALNAME_GATEWAY_KEY").trim())
                    .map_err(|e| format!("BIDKEY_REALNAME_GATEWAY_KEY: not hex: {e}"))?,
            ),
        }),
        other => {
            return Err(format!(
                "--realname-provider {other}: expected sandbox or gateway"
            ));
        }
    };
    let need = |f: &Option<PathBuf>, name: &str| {
        f.as_deref()
            .ok_or_else(|| format!("{name} is required"))
            .and_then(key_file)
    };
    let alipay = match &cli.alipay_app_id {
        None => None,
        Some(app_id) => Some(AlipayConfig {
            app_id: app_id.clone(),
            merchant_key_pkcs8: zeroize::Zeroizing::new(need(
                &cli.alipay_merchant_key_file,
                "--alipay-merchant-key-file",
            )?),
            alipay_public_key: need(&cli.alipay_public_key_file, "--alipay-public-key-file")?,
            notify_url: cli.alipay_notify_url.clone(),
        }),
    };
    let wechat = match &cli.wechatpay_mch_id {
        None => None,
        Some(mch_id) => Some(WechatConfig {
            mch_id: mch_id.clone(),
            app_id: cli.wechatpay_app_id.clone(),
            apiv3_key: zeroize::Zeroizing::new(env("BIDKEY_WECHATPAY_APIV3_KEY").into_bytes()),
            platform_public_key: need(
                &cli.wechatpay_platform_key_file,
                "--wechatpay-platform-key-file",
            )?,
            platform_serial: cli.wechatpay_platform_serial.clone(),
        }),
    };
    Ok((realname, PaymentConfig { alipay, wechat }))
}

/// The SMS provider the flags and the environment name; secrets from the environment only
/// (a flag would show in `ps`).
fn sms_config(cli: &Cli) -> Result<SmsConfig, String> {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let templates = || SmsTemplates::parse(&cli.sms_templates);
    match cli.sms_provider.as_str() {
        "sandbox" => Ok(SmsConfig::Sandbox),
        "tencent" => Ok(SmsConfig::Tencent(TencentConfig {
            secret_id: env("BIDKEY_SMS_TENCENT_SECRET_ID"),
            secret_key: zeroize::Zeroizing::new(env("BIDKEY_SMS_TENCENT_SECRET_KEY")),
            sdk_app_id: cli.sms_tencent_sdk_app_id.clone(),
            sign_name: cli.sms_sign_name.clone(),
            region: cli.sms_tencent_region.clone(),
            endpoint: cli
                .sms_endpoint
                .clone()
                .unwrap_or_else(|| "https://sms.tencentcloudapi.com".into()),
            templates: templates()?,
        })),
        "aliyun" => Ok(SmsConfig::Aliyun(AliyunConfig {
            access_key_id: env("BIDKEY_SMS_ALIYUN_ACCESS_KEY_ID"),
            access_key_secret: zeroize::Zeroizing::new(env("BIDKEY_SMS_ALIYUN_ACCESS_KEY_SECRET")),
            sign_name: cli.sms_sign_name.clone(),
            endpoint: cli
                .sms_endpoint
                .clone()
                .unwrap_or_else(|| "https://dysmsapi.aliyuncs.com/".into()),
            templates: templates()?,
        })),
        other => Err(format!(
            "--sms-provider {other}: expected sandbox, tencent or aliyun"
        )),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
    },
    /// Import a bank statement CSV and match micro-payments (对公打款). Columns, header
    /// first: bank_txn_id,booked_at,payer_account,payer_name,amount,reference — booked_at in
    /// Unix seconds or `YYYY-MM-DD HH:MM:SS` Beijing time, amount in yuan. A file with any
    /// bad line is refused whole; importing a file twice changes nothing.
    BankImport {
        /// The CSV file.
        file: PathBuf,
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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let mut config = Config::local(cli.data_dir.clone());
    config.sandbox = cli.sandbox;
    match sms_config(&cli).and_then(|sms| Ok((sms, realname_and_payment(&cli)?))) {
        Ok((sms, (realname, payment))) => {
            config.providers.sms = sms;
            config.providers.realname = realname;
            config.providers.payment = payment;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            std::process::exit(2);
        }
    }
    if let Some(url) = &cli.database_url {
        config.db = DbUrl::parse(url);
    }
    config.limits = Limits {
        sms_per_ip_per_hour: cli.sms_per_ip_per_hour,
        relay_requests_per_platform_per_minute: cli.relay_per_platform_per_minute,
        recovery_cooling_off: cli.recovery_cooling_off,
    };
    if let Some(policy) = cli.tsa_policy {
        config.tsa_policy = policy;
    }
    let listen = match cli.command {
        Some(Command::Serve { listen }) => listen,
        Some(Command::BankImport { file }) => {
            std::process::exit(bank_import(&config, &file).await);
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
        None => SocketAddr::from(([127, 0, 0, 1], 8750)),
    };
    config.listen = listen;
    // Read from the environment only: a command-line flag would show in `ps`.
    config.ca_passphrase = std::env::var("BIDKEY_CA_PASSPHRASE").ok();
    match start(config).await {
        Ok(running) => {
            println!("Bidkey server listening on {}", running.url());
            println!("data directory: {}", cli.data_dir.display());
            let _ = tokio::signal::ctrl_c().await;
            running.stop().await;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            std::process::exit(1);
        }
    }
}

/// `bidkey-server bank-import FILE.csv`: the exit status.
async fn bank_import(config: &Config, file: &std::path::Path) -> i32 {
    let text = match std::fs::read_to_string(file) {
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
    match bank::import(&db, now, &text).await {
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
            .write(move |tx| orders::decide(tx, now, "operator:cli", &id, &decision))
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

fn parse_oid(s: &str) -> Result<der::asn1::ObjectIdentifier, String> {
    der::asn1::ObjectIdentifier::new(s).map_err(|e| format!("not an object identifier: {e}"))
}

//! `bidkey-server`: run the server, and the operator's commands.

use bidkey_server::bank;
use bidkey_server::config::{self, Layer, LogFormat, Settings};
use bidkey_server::db::Db;
use bidkey_server::payments::PaymentConfig;
use bidkey_server::providers::pay_alipay::AlipayConfig;
use bidkey_server::providers::pay_wechat::WechatConfig;
use bidkey_server::providers::realname_http::GatewayConfig;
use bidkey_server::providers::sms_aliyun::AliyunConfig;
use bidkey_server::providers::sms_tencent::TencentConfig;
use bidkey_server::providers::{RealNameConfig, SmsConfig, SmsTemplates};
use bidkey_server::util::Clock;
use bidkey_server::{Config, start};
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
    /// WeChat Pay: the merchant's API private key, PKCS#8 (apiclient_key.pem): signs order
    /// creation and refunds. Without it WeChat Pay only takes notifications.
    #[arg(long, env = "BIDKEY_WECHATPAY_MERCHANT_KEY_FILE")]
    wechatpay_merchant_key_file: Option<PathBuf>,
    /// WeChat Pay: the merchant API certificate's serial (`serial_no`).
    #[arg(long, env = "BIDKEY_WECHATPAY_MERCHANT_SERIAL", default_value = "")]
    wechatpay_merchant_serial: String,
    /// WeChat Pay: the public URL of our `/v1/payments/wechat/notify`.
    #[arg(long, env = "BIDKEY_WECHATPAY_NOTIFY_URL", default_value = "")]
    wechatpay_notify_url: String,
    /// WeChat Pay: the API host.
    #[arg(long, env = "BIDKEY_WECHATPAY_API_BASE", default_value = bidkey_server::providers::pay_wechat::API_BASE)]
    wechatpay_api_base: String,
    /// Alipay: the gateway for order creation and refunds.
    #[arg(long, env = "BIDKEY_ALIPAY_GATEWAY", default_value = bidkey_server::providers::pay_alipay::GATEWAY)]
    alipay_gateway: String,
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
            gateway: cli.alipay_gateway.clone(),
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
            merchant_key_pkcs8: cli
                .wechatpay_merchant_key_file
                .as_deref()
                .map(key_file)
                .transpose()?
                .map(zeroize::Zeroizing::new),
            merchant_serial: cli.wechatpay_merchant_serial.clone(),
            api_base: cli.wechatpay_api_base.clone(),
            notify_url: cli.wechatpay_notify_url.clone(),
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
        /// Address and port [file: listen; default: 127.0.0.1:8750].
        #[arg(long, env = "BIDKEY_LISTEN")]
        listen: Option<String>,
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

/// Flags and variables (clap already put a flag over its variable) over the file.
fn settings(cli: &Cli) -> Result<Settings, Vec<String>> {
    let file = match &cli.config {
        Some(path) => config::read_file(path).map_err(|e| vec![e])?,
        None => Layer::default(),
    };
    let listen = match &cli.command {
        Some(Command::Serve { listen }) => listen.clone(),
        _ => None,
    };
    let above = Layer {
        data_dir: cli.data_dir.clone(),
        listen,
        log_format: cli.log_format.clone(),
        ca_passphrase_file: None,
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
    above.over(file).resolve()
}

/// The CA key file's passphrase: `BIDKEY_CA_PASSPHRASE` (never a flag: it would show in
/// `ps`), else the configured file, else none (made on first start).
fn ca_passphrase(s: &Settings) -> Result<Option<String>, String> {
    if let Ok(p) = std::env::var("BIDKEY_CA_PASSPHRASE") {
        return Ok(Some(p));
    }
    match &s.ca_passphrase_file {
        None => Ok(None),
        Some(f) => std::fs::read_to_string(f)
            .map(|t| Some(t.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| format!("ca_passphrase_file {}: {e}", f.display())),
    }
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
    let passphrase = ca_passphrase(&settings).unwrap_or_else(|p| refuse(&[p]));
    if let Some(Command::CheckConfig) = cli.command {
        println!("the configuration is valid; the settings in force:");
        print!("{}", settings.describe());
        return;
    }
    let mut config = settings.to_config();
    match sms_config(&cli).and_then(|sms| Ok((sms, realname_and_payment(&cli)?))) {
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
    config.ca_passphrase = passphrase;
    match start(config).await {
        Ok(running) => {
            println!("Bidkey server listening on {}", running.url());
            println!("data directory: {}", settings.data_dir.display());
            stop_signal().await;
            running.stop().await;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            std::process::exit(1);
        }
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

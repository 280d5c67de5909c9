//! The operator's settings: one TOML file (`--config FILE` or `BIDKEY_CONFIG`), `BIDKEY_*`
//! variables and flags. Each source is a [`Layer`]; flags beat variables, which beat the
//! file, which beats the defaults. [`Layer::resolve`] checks every value and says in words
//! what is wrong with each, so a bad setting stops the server before it opens anything.
//! Every key is documented in `docs/operations.md`.

pub mod providers;

use crate::db::DbUrl;
use crate::{Config, Limits};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One source of settings; `None` leaves the key to the sources below.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    /// The operator listener (RA review, platform registration, metrics), ADR 0020.
    pub operator_listen: Option<String>,
    pub log_format: Option<String>,
    /// A file holding the issuing CA key file's passphrase: the same as
    /// `passphrase_files.ca` (kept from before the key split).
    pub ca_passphrase_file: Option<PathBuf>,
    /// `[passphrase_files]`: per key file (`root`, `ca`, `kmc`, `cosign`), a file holding
    /// its passphrase, outside the data directory (e.g. a systemd credential); the slot's
    /// `BIDKEY_*_PASSPHRASE` variable wins over it (ADR 0019).
    pub passphrase_files: Option<std::collections::BTreeMap<String, PathBuf>>,
    /// Addresses of the reverse proxies in front (their `X-Forwarded-For` names the client).
    pub trusted_proxies: Option<Vec<String>>,
    /// Policy OID of the time-stamp authority's tokens (ADR 0009).
    pub tsa_policy: Option<String>,
    /// Sandbox mode: the sandbox SMS, real-name and payment providers may serve (ADR 0014).
    pub sandbox: Option<bool>,
    #[serde(default)]
    pub database: DatabaseLayer,
    #[serde(default)]
    pub limits: LimitsLayer,
    #[serde(default)]
    pub bank: BankLayer,
    #[serde(default)]
    pub sms: providers::SmsLayer,
    #[serde(default)]
    pub realname: providers::RealnameLayer,
    #[serde(default)]
    pub payment: providers::PaymentLayer,
}

/// `[bank]`: how the operator's bank statement files are read (`bank-import`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankLayer {
    pub encoding: Option<String>,
    #[serde(default)]
    pub columns: ColumnsLayer,
}

/// `[bank.columns]`: the bank's heading for each field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsLayer {
    pub bank_txn_id: Option<String>,
    pub booked_at: Option<String>,
    pub payer_account: Option<String>,
    pub payer_name: Option<String>,
    pub amount: Option<String>,
    /// `""` for a file without a remark column.
    pub reference: Option<String>,
}

/// `[database]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseLayer {
    pub url: Option<String>,
    pub pool_size: Option<i64>,
}

/// `[limits]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsLayer {
    pub sms_per_ip_per_hour: Option<i64>,
    pub relay_per_platform_per_minute: Option<i64>,
    /// Seconds a certificate recovery is held before the CA may approve it (ADR 0011).
    pub recovery_cooling_off: Option<i64>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// The settings in force: every key decided.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub operator_listen: SocketAddr,
    pub log_format: LogFormat,
    pub db: DbUrl,
    pub pool_size: usize,
    pub limits: Limits,
    /// Passphrase files by key file id (`[passphrase_files]`, `ca_passphrase_file`).
    pub passphrase_files: std::collections::BTreeMap<String, PathBuf>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub tsa_policy: der::asn1::ObjectIdentifier,
    pub sandbox: bool,
    pub bank: crate::bank::statement::Format,
    /// `[sms]`, `[realname]`, `[payment]` (the vendors' secrets come from the environment).
    pub providers: providers::ProviderSettings,
}

pub const DEFAULT_DATA_DIR: &str = "bidkey-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8750";
pub const DEFAULT_OPERATOR_LISTEN: &str = "127.0.0.1:8751";
pub const DEFAULT_POOL_SIZE: i64 = 4;
pub const MAX_POOL_SIZE: i64 = 1000;

/// Read a configuration file; the message names the file, the line and what is wrong.
pub fn read_file(path: &Path) -> Result<Layer, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Layer {
    /// `self` over `below`: each key from `self` when set there.
    pub fn over(self, below: Layer) -> Layer {
        Layer {
            data_dir: self.data_dir.or(below.data_dir),
            listen: self.listen.or(below.listen),
            operator_listen: self.operator_listen.or(below.operator_listen),
            log_format: self.log_format.or(below.log_format),
            ca_passphrase_file: self.ca_passphrase_file.or(below.ca_passphrase_file),
            passphrase_files: match (self.passphrase_files, below.passphrase_files) {
                (Some(mut a), Some(b)) => {
                    for (k, v) in b {
                        a.entry(k).or_insert(v);
                    }
                    Some(a)
                }
                (a, b) => a.or(b),
            },
            trusted_proxies: self.trusted_proxies.or(below.trusted_proxies),
            tsa_policy: self.tsa_policy.or(below.tsa_policy),
            sandbox: self.sandbox.or(below.sandbox),
            sms: self.sms.over(below.sms),
            realname: self.realname.over(below.realname),
            payment: self.payment.over(below.payment),
            database: DatabaseLayer {
                url: self.database.url.or(below.database.url),
                pool_size: self.database.pool_size.or(below.database.pool_size),
            },
            limits: LimitsLayer {
                sms_per_ip_per_hour: self
                    .limits
                    .sms_per_ip_per_hour
                    .or(below.limits.sms_per_ip_per_hour),
                relay_per_platform_per_minute: self
                    .limits
                    .relay_per_platform_per_minute
                    .or(below.limits.relay_per_platform_per_minute),
                recovery_cooling_off: self
                    .limits
                    .recovery_cooling_off
                    .or(below.limits.recovery_cooling_off),
            },
            bank: BankLayer {
                encoding: self.bank.encoding.or(below.bank.encoding),
                columns: ColumnsLayer {
                    bank_txn_id: self
                        .bank
                        .columns
                        .bank_txn_id
                        .or(below.bank.columns.bank_txn_id),
                    booked_at: self.bank.columns.booked_at.or(below.bank.columns.booked_at),
                    payer_account: self
                        .bank
                        .columns
                        .payer_account
                        .or(below.bank.columns.payer_account),
                    payer_name: self
                        .bank
                        .columns
                        .payer_name
                        .or(below.bank.columns.payer_name),
                    amount: self.bank.columns.amount.or(below.bank.columns.amount),
                    reference: self.bank.columns.reference.or(below.bank.columns.reference),
                },
            },
        }
    }

    /// The settings, with the defaults for keys no layer set; or every problem, in words.
    pub fn resolve(self) -> Result<Settings, Vec<String>> {
        let mut problems = Vec::new();
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            problems.push(
                "data_dir is empty: give the directory for the database and key files".into(),
            );
        } else if data_dir.exists() && !data_dir.is_dir() {
            problems.push(format!(
                "data_dir = {:?}: exists but is not a directory",
                data_dir.display().to_string()
            ));
        }
        let listen_text = self.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = match listen_text.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                problems.push(format!(
                    "listen = {listen_text:?}: not an address and port (for example \"127.0.0.1:8750\" or \"[::1]:8750\")"
                ));
                SocketAddr::from(([127, 0, 0, 1], 8750))
            }
        };
        let operator_text = self
            .operator_listen
            .unwrap_or_else(|| DEFAULT_OPERATOR_LISTEN.into());
        let operator_listen = match operator_text.parse::<SocketAddr>() {
            Ok(a) if a == listen && a.port() != 0 => {
                problems.push(format!(
                    "operator_listen = {operator_text:?}: the same as listen; the operator routes need their own listener, kept off the public network"
                ));
                a
            }
            Ok(a) => a,
            Err(_) => {
                problems.push(format!(
                    "operator_listen = {operator_text:?}: not an address and port (for example \"127.0.0.1:8751\")"
                ));
                SocketAddr::from(([127, 0, 0, 1], 8751))
            }
        };
        let log_format = match self.log_format.as_deref().unwrap_or("json") {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                problems.push(format!(
                    "log_format = {other:?}: must be \"json\" or \"text\""
                ));
                LogFormat::Json
            }
        };
        let db = match self.database.url {
            None => DbUrl::Sqlite(data_dir.join("bidkey.sqlite3")),
            Some(url) => match check_db_url(&url) {
                Ok(u) => u,
                Err(p) => {
                    problems.push(p);
                    DbUrl::Sqlite(data_dir.join("bidkey.sqlite3"))
                }
            },
        };
        let pool_size = self.database.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        if !(1..=MAX_POOL_SIZE).contains(&pool_size) {
            problems.push(format!(
                "database.pool_size = {pool_size}: must be between 1 and {MAX_POOL_SIZE} (connections, one thread each)"
            ));
        }
        let d = Limits::default();
        let sms = self
            .limits
            .sms_per_ip_per_hour
            .unwrap_or(d.sms_per_ip_per_hour);
        if sms < 1 {
            problems.push(format!(
                "limits.sms_per_ip_per_hour = {sms}: must be at least 1"
            ));
        }
        let relay = self
            .limits
            .relay_per_platform_per_minute
            .unwrap_or(d.relay_requests_per_platform_per_minute);
        if relay < 1 {
            problems.push(format!(
                "limits.relay_per_platform_per_minute = {relay}: must be at least 1 (size it to the largest bid opening)"
            ));
        }
        let cooling_off = self
            .limits
            .recovery_cooling_off
            .unwrap_or(d.recovery_cooling_off);
        if cooling_off < 0 {
            problems.push(format!(
                "limits.recovery_cooling_off = {cooling_off}: must be 0 or more (seconds)"
            ));
        }
        let tsa_policy = match self.tsa_policy.as_deref() {
            None => bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY,
            Some(text) => der::asn1::ObjectIdentifier::new(text).unwrap_or_else(|e| {
                problems.push(format!(
                    "tsa_policy = {text:?}: not an object identifier ({e}): give the TSA policy OID under your own registered arc"
                ));
                bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY
            }),
        };
        if let Some(f) = &self.ca_passphrase_file
            && !f.is_file()
        {
            problems.push(format!(
                "ca_passphrase_file = {:?}: no such file",
                f.display().to_string()
            ));
        }
        let mut passphrase_files = self.passphrase_files.unwrap_or_default();
        for (id, f) in &passphrase_files {
            if crate::keyfile::slot(id).is_none() {
                problems.push(format!(
                    "passphrase_files.{id}: no such key file (the keys are root, ca, kmc and cosign)"
                ));
            } else if !f.is_file() {
                problems.push(format!(
                    "passphrase_files.{id} = {:?}: no such file",
                    f.display().to_string()
                ));
            }
        }
        if let Some(f) = &self.ca_passphrase_file {
            if passphrase_files.contains_key("ca") {
                problems.push(
                    "ca_passphrase_file and passphrase_files.ca both given: keep passphrase_files.ca".into(),
                );
            }
            passphrase_files.insert("ca".into(), f.clone());
        }
        let sandbox = self.sandbox.unwrap_or(false);
        if !sandbox {
            for (id, f) in &passphrase_files {
                if crate::keyfile::inside(f, &data_dir) {
                    problems.push(format!(
                        "passphrase_files.{id} = {:?}: the passphrase file lies in the data directory, beside the key files, where one copy of the directory takes both; keep it outside the data directory (a systemd credential, a secret store), or use sandbox mode for development",
                        f.display().to_string()
                    ));
                }
            }
        }
        let mut trusted_proxies = Vec::new();
        for p in self.trusted_proxies.unwrap_or_default() {
            match p.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => trusted_proxies.push(ip),
                Err(_) => problems.push(format!(
                    "trusted_proxies: {p:?} is not an IP address (one address per proxy, no ranges)"
                )),
            }
        }
        let bank = bank_format(self.bank, &mut problems);
        let providers = providers::resolve(self.sms, self.realname, self.payment, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            data_dir,
            listen,
            operator_listen,
            log_format,
            db,
            pool_size: pool_size as usize,
            limits: Limits {
                sms_per_ip_per_hour: sms,
                relay_requests_per_platform_per_minute: relay,
                recovery_cooling_off: cooling_off,
                webhooks_to_private_addresses: false,
            },
            passphrase_files,
            trusted_proxies,
            tsa_policy,
            sandbox,
            bank,
            providers,
        })
    }
}

/// The statement format from `[bank]`, defaults for what it leaves out.
fn bank_format(b: BankLayer, problems: &mut Vec<String>) -> crate::bank::statement::Format {
    use crate::bank::statement::{Columns, Encoding, Format};
    let encoding = match b.encoding.as_deref() {
        None => Encoding::Auto,
        Some(e) => Encoding::parse(e).unwrap_or_else(|| {
            problems.push(format!(
                "bank.encoding = {e:?}: must be \"auto\", \"utf-8\" or \"gbk\""
            ));
            Encoding::Auto
        }),
    };
    let d = Columns::default();
    let c = b.columns;
    let columns = Columns {
        bank_txn_id: c.bank_txn_id.unwrap_or(d.bank_txn_id),
        booked_at: c.booked_at.unwrap_or(d.booked_at),
        payer_account: c.payer_account.unwrap_or(d.payer_account),
        payer_name: c.payer_name.unwrap_or(d.payer_name),
        amount: c.amount.unwrap_or(d.amount),
        reference: match c.reference {
            None => d.reference,
            Some(r) if r.trim().is_empty() => None,
            Some(r) => Some(r),
        },
    };
    let named = [
        ("bank_txn_id", Some(&columns.bank_txn_id)),
        ("booked_at", Some(&columns.booked_at)),
        ("payer_account", Some(&columns.payer_account)),
        ("payer_name", Some(&columns.payer_name)),
        ("amount", Some(&columns.amount)),
        ("reference", columns.reference.as_ref()),
    ];
    for (i, (key, heading)) in named.iter().enumerate() {
        let Some(h) = heading else { continue };
        if h.trim().is_empty() {
            problems.push(format!(
                "bank.columns.{key} is empty: give the heading of that column in the bank's file"
            ));
        } else if let Some((other, _)) = named[..i].iter().find(|(_, o)| *o == Some(*h)) {
            problems.push(format!(
                "bank.columns.{key} = {h:?}: the same column as bank.columns.{other}"
            ));
        }
    }
    Format { encoding, columns }
}

/// A database URL this server can use, or why not.
fn check_db_url(url: &str) -> Result<DbUrl, String> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme {
        Some("postgres" | "postgresql") => {
            let u = DbUrl::parse(url);
            // The parser the connections use: the same words they would fail with later.
            crate::db::pgtls::parse(url).map_err(|e| format!("database.url: {e}"))?;
            Ok(u)
        }
        Some(other) => Err(format!(
            "database.url: the scheme {other:?} is not supported (use postgres://… for PostgreSQL, or sqlite:PATH)"
        )),
        None if url.trim().is_empty() => {
            Err("database.url is empty: leave it out for SQLite in data_dir".into())
        }
        None => Ok(DbUrl::parse(url)),
    }
}

impl Settings {
    /// The server configuration these settings make (the CA passphrase is read apart).
    pub fn to_config(&self) -> Config {
        let mut c = Config::local(self.data_dir.clone());
        c.db = self.db.clone();
        c.listen = self.listen;
        c.operator_listen = self.operator_listen;
        c.pool_size = self.pool_size;
        c.limits = self.limits;
        c.trusted_proxies = self.trusted_proxies.clone();
        c.tsa_policy = self.tsa_policy;
        c.sandbox = self.sandbox;
        c
    }

    /// The settings in force, one `key = value` a line (a database password masked).
    pub fn describe(&self) -> String {
        let db = match &self.db {
            DbUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DbUrl::Postgres(u) => mask_password(u),
        };
        let mut out = format!(
            "data_dir = {:?}\nlisten = \"{}\"\noperator_listen = \"{}\"\nlog_format = \"{}\"\ndatabase.url = {db:?}\ndatabase.pool_size = {}\nlimits.sms_per_ip_per_hour = {}\nlimits.relay_per_platform_per_minute = {}\nlimits.recovery_cooling_off = {}\ntsa_policy = \"{}\"\nsandbox = {}\n",
            self.data_dir.display().to_string(),
            self.listen,
            self.operator_listen,
            match self.log_format {
                LogFormat::Json => "json",
                LogFormat::Text => "text",
            },
            self.pool_size,
            self.limits.sms_per_ip_per_hour,
            self.limits.relay_requests_per_platform_per_minute,
            self.limits.recovery_cooling_off,
            self.tsa_policy,
            self.sandbox,
        );
        let proxies: Vec<String> = self
            .trusted_proxies
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect();
        out.push_str(&format!("trusted_proxies = [{}]\n", proxies.join(", ")));
        out.push_str(&format!("bank.encoding = \"{:?}\"\n", self.bank.encoding).to_lowercase());
        let c = &self.bank.columns;
        for (k, v) in [
            ("bank_txn_id", Some(&c.bank_txn_id)),
            ("booked_at", Some(&c.booked_at)),
            ("payer_account", Some(&c.payer_account)),
            ("payer_name", Some(&c.payer_name)),
            ("amount", Some(&c.amount)),
            ("reference", c.reference.as_ref()),
        ] {
            out.push_str(&format!(
                "bank.columns.{k} = {:?}\n",
                v.map(String::as_str).unwrap_or("")
            ));
        }
        let p = &self.providers;
        out.push_str(&format!(
            "sms.provider = \"{}\"\n",
            match p.sms {
                providers::SmsVendor::Sandbox => "sandbox",
                providers::SmsVendor::Tencent => "tencent",
                providers::SmsVendor::Aliyun => "aliyun",
            }
        ));
        for (k, v) in &p.sms_templates.0 {
            out.push_str(&format!("sms.templates.{k} = {v:?}\n"));
        }
        match &p.realname_gateway {
            None => out.push_str("realname.provider = \"sandbox\"\n"),
            Some((url, key_id)) => out.push_str(&format!(
                "realname.provider = \"gateway\"\nrealname.gateway_url = {url:?}\nrealname.gateway_key_id = {key_id:?}\n"
            )),
        }
        if let Some(a) = &p.alipay {
            out.push_str(&format!(
                "payment.alipay.app_id = {:?}\n",
                a.app_id.as_deref().unwrap_or("")
            ));
        }
        if let Some(w) = &p.wechat {
            out.push_str(&format!(
                "payment.wechat.mch_id = {:?}\n",
                w.mch_id.as_deref().unwrap_or("")
            ));
        }
        for (id, f) in &self.passphrase_files {
            out.push_str(&format!(
                "passphrase_files.{id} = {:?}\n",
                f.display().to_string()
            ));
        }
        out
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(toml_text: &str) -> Layer {
        toml::from_str(toml_text).expect("toml")
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = Layer::default().resolve().expect("valid");
        assert_eq!(s.data_dir, PathBuf::from("bidkey-data"));
        assert_eq!(s.listen.to_string(), "127.0.0.1:8750");
        assert_eq!(s.pool_size, 4);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.limits, Limits::default());
        assert_eq!(
            s.db,
            DbUrl::Sqlite(PathBuf::from("bidkey-data/bidkey.sqlite3"))
        );
    }

    #[test]
    fn upper_layers_win_key_by_key() {
        let file = layer(
            "data_dir = \"/srv/f\"\nlisten = \"0.0.0.0:1\"\n[database]\npool_size = 8\n[limits]\nsms_per_ip_per_hour = 5\n",
        );
        let env = layer("listen = \"0.0.0.0:2\"\n[database]\npool_size = 9\n");
        let flags = layer("[database]\npool_size = 10\n");
        let s = flags.over(env.over(file)).resolve().expect("valid");
        assert_eq!(s.data_dir, PathBuf::from("/srv/f"));
        assert_eq!(s.listen.to_string(), "0.0.0.0:2");
        assert_eq!(s.pool_size, 10);
        assert_eq!(s.limits.sms_per_ip_per_hour, 5);
        assert_eq!(s.limits.relay_requests_per_platform_per_minute, 600);
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let bad = layer(
            "listen = \"localhost\"\nlog_format = \"xml\"\n[database]\nurl = \"mysql://x\"\npool_size = 0\n[limits]\nsms_per_ip_per_hour = -1\nrelay_per_platform_per_minute = 0\n",
        );
        let problems = bad.resolve().expect_err("invalid");
        let all = problems.join("\n");
        for key in [
            "listen = \"localhost\"",
            "log_format = \"xml\"",
            "database.url: the scheme \"mysql\"",
            "database.pool_size = 0",
            "limits.sms_per_ip_per_hour = -1",
            "limits.relay_per_platform_per_minute = 0",
        ] {
            assert!(all.contains(key), "{key} not in:\n{all}");
        }
        assert_eq!(problems.len(), 6);
        let e = layer("trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
            .resolve()
            .expect_err("a range");
        assert!(
            e[0].contains("\"10.0.0.0/8\" is not an IP address"),
            "{e:?}"
        );
    }

    #[test]
    fn database_tls_settings_are_checked_too() {
        let e = layer("[database]\nurl = \"postgres://u@db/bidkey?sslmode=verify-full\"\n")
            .resolve()
            .expect_err("no CA file");
        assert!(
            e[0].starts_with("database.url: ") && e[0].contains("sslrootcert"),
            "{e:?}"
        );
        let e = layer("[database]\nurl = \"postgres://u@db/bidkey?sslmode=on\"\n")
            .resolve()
            .expect_err("no such mode");
        assert!(e[0].contains("sslmode=on"), "{e:?}");
        layer("[database]\nurl = \"postgres://u@db/bidkey?sslmode=require\"\n")
            .resolve()
            .expect("valid");
    }

    #[test]
    fn the_bank_column_map() {
        use crate::bank::statement::Encoding;
        let s = layer(
            "[bank]\nencoding = \"GBK\"\n[bank.columns]\npayer_name = \"对方户名\"\nreference = \"\"\n",
        )
        .resolve()
        .expect("valid");
        assert_eq!(s.bank.encoding, Encoding::Gbk);
        assert_eq!(s.bank.columns.payer_name, "对方户名");
        assert_eq!(s.bank.columns.amount, "amount");
        assert_eq!(s.bank.columns.reference, None);
        let problems = layer(
            "[bank]\nencoding = \"latin1\"\n[bank.columns]\namount = \"金额\"\npayer_name = \"金额\"\nbooked_at = \" \"\n",
        )
        .resolve()
        .expect_err("invalid");
        let all = problems.join("\n");
        assert!(all.contains("bank.encoding = \"latin1\""), "{all}");
        assert!(
            all.contains(
                "bank.columns.amount = \"金额\": the same column as bank.columns.payer_name"
            ),
            "{all}"
        );
        assert!(all.contains("bank.columns.booked_at is empty"), "{all}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_the_reader() {
        let e = toml::from_str::<Layer>("[database]\npool_sise = 4\n").expect_err("typo");
        assert!(e.to_string().contains("pool_sise"), "{e}");
        let e = toml::from_str::<Layer>("[database]\npool_size = \"four\"\n").expect_err("type");
        assert!(e.to_string().contains("pool_size"), "{e}");
    }

    #[test]
    fn the_operator_listener_is_its_own_and_loopback_by_default() {
        let s = Layer::default().resolve().expect("valid");
        assert_eq!(s.operator_listen.to_string(), "127.0.0.1:8751");
        assert!(s.operator_listen.ip().is_loopback());
        let e = layer("listen = \"0.0.0.0:9000\"\noperator_listen = \"0.0.0.0:9000\"\n")
            .resolve()
            .expect_err("one listener for both");
        assert!(
            e[0].contains("operator_listen = \"0.0.0.0:9000\": the same as listen"),
            "{e:?}"
        );
        let e = layer("operator_listen = \"loopback\"\n")
            .resolve()
            .expect_err("not an address");
        assert!(e[0].contains("operator_listen = \"loopback\""), "{e:?}");
    }

    #[test]
    fn passphrase_files_are_checked_and_kept_out_of_the_data_dir() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let inside = data.join("kmc-pass");
        let outside = dir.path().join("kmc-pass");
        std::fs::write(&inside, "x").expect("w");
        std::fs::write(&outside, "y").expect("w");
        let text = |f: &Path, sandbox: bool| {
            format!(
                "data_dir = {:?}\nsandbox = {sandbox}\n[passphrase_files]\nkmc = {:?}\n",
                data.display().to_string(),
                f.display().to_string()
            )
        };
        let e = layer(&text(&inside, false)).resolve().expect_err("inside");
        assert!(
            e[0].contains("passphrase_files.kmc") && e[0].contains("lies in the data directory"),
            "{e:?}"
        );
        layer(&text(&inside, true)).resolve().expect("sandbox");
        let s = layer(&text(&outside, false)).resolve().expect("outside");
        assert_eq!(s.passphrase_files.get("kmc"), Some(&outside));
        let e = layer("[passphrase_files]\nescrow = \"/etc/x\"\n")
            .resolve()
            .expect_err("unknown");
        assert!(
            e[0].contains("passphrase_files.escrow: no such key file"),
            "{e:?}"
        );
    }

    #[test]
    fn passwords_are_masked_in_the_description() {
        let s = layer("[database]\nurl = \"postgres://bidkey:s3cret@db:5432/bidkey\"\n")
            .resolve()
            .expect("valid");
        let d = s.describe();
        assert!(d.contains("postgres://bidkey:***@db:5432/bidkey"), "{d}");
        assert!(!d.contains("s3cret"));
    }
}

//! `bidkey-gateway`: run the gateway, or manage its API keys.
//!
//! ```text
//! bidkey-gateway serve --data-dir DIR --bidkey-url URL --platform-id ID --origin URL \
//!     --platform-cert cert.pem --platform-key key.pem [--listen 127.0.0.1:8070]
//! bidkey-gateway api-key create --data-dir DIR --app erp
//! bidkey-gateway api-key list   --data-dir DIR
//! bidkey-gateway api-key revoke --data-dir DIR ID
//! ```

use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_gateway::store::{Store, StoreLocation};
use bidkey_gateway::{GatewayConfig, Limits};
use bidkey_platform::scan::PlatformIdentity;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(
    name = "bidkey-gateway",
    version,
    about = "Bidkey platform gateway: the platform SDK over HTTP + JSON"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API.
    Serve(Box<Serve>),
    /// Manage API keys (the store is opened directly; the gateway may be running).
    #[command(subcommand)]
    ApiKey(ApiKey),
}

#[derive(clap::Args, Debug)]
struct Serve {
    #[arg(long, env = "BIDKEY_GATEWAY_DATA_DIR")]
    data_dir: PathBuf,
    /// `sqlite` (in the data directory) or `postgres://…` (shared by several nodes).
    #[arg(long, env = "BIDKEY_GATEWAY_STORE", default_value = "sqlite", value_parser = StoreLocation::parse)]
    store: StoreLocation,
    /// Loopback unless told otherwise.
    #[arg(long, env = "BIDKEY_GATEWAY_LISTEN", default_value = "127.0.0.1:8070")]
    listen: SocketAddr,
    #[arg(long, env = "BIDKEY_URL")]
    bidkey_url: String,
    /// PEM CA of the Bidkey server's TLS certificate (for https).
    #[arg(long)]
    bidkey_tls_ca: Option<PathBuf>,
    /// Pin the Bidkey root: its SHA-256 fingerprint in hex.
    #[arg(long)]
    root_sha256: Option<String>,
    #[arg(long, env = "BIDKEY_PLATFORM_ID")]
    platform_id: String,
    /// The platform's registered origin (its certificate's CN).
    #[arg(long, env = "BIDKEY_PLATFORM_ORIGIN")]
    origin: String,
    /// The platform certificate, PEM or DER.
    #[arg(long)]
    platform_cert: PathBuf,
    /// The platform's SM2 key: PKCS#8 PEM, or 64 hex digits.
    #[arg(long)]
    platform_key: PathBuf,
    /// Serve HTTPS: the certificate chain (PEM) …
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// … and its private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A host (name or IP literal) whose `pdf_url`s the gateway fetches over http and at
    /// private addresses (repeatable); others: https to public addresses only.
    #[arg(long = "pdf-fetch-allow-host")]
    pdf_fetch_allow_hosts: Vec<String>,
    /// Time limit of one PDF fetch, seconds.
    #[arg(long, default_value_t = 30)]
    pdf_fetch_timeout_secs: u64,
    /// Largest JSON body, bytes.
    #[arg(long, default_value_t = 2 << 20)]
    max_json_body: usize,
    /// Largest upload (PDF to seal, bid file), bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_upload_body: usize,
}

#[derive(Subcommand, Debug)]
enum ApiKey {
    /// A new key for an app; prints the key and the app's webhook secret once.
    Create {
        #[arg(long, env = "BIDKEY_GATEWAY_DATA_DIR")]
        data_dir: PathBuf,
        /// `sqlite` (in the data directory) or `postgres://…` (shared by several nodes).
        #[arg(long, env = "BIDKEY_GATEWAY_STORE", default_value = "sqlite", value_parser = StoreLocation::parse)]
        store: StoreLocation,
        #[arg(long)]
        app: String,
    },
    /// Every key (id, app, created, revoked), never a secret.
    List {
        #[arg(long, env = "BIDKEY_GATEWAY_DATA_DIR")]
        data_dir: PathBuf,
        /// `sqlite` (in the data directory) or `postgres://…` (shared by several nodes).
        #[arg(long, env = "BIDKEY_GATEWAY_STORE", default_value = "sqlite", value_parser = StoreLocation::parse)]
        store: StoreLocation,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(long, env = "BIDKEY_GATEWAY_DATA_DIR")]
        data_dir: PathBuf,
        /// `sqlite` (in the data directory) or `postgres://…` (shared by several nodes).
        #[arg(long, env = "BIDKEY_GATEWAY_STORE", default_value = "sqlite", value_parser = StoreLocation::parse)]
        store: StoreLocation,
        id: String,
    },
}

fn cert_der(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&bytes);
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|_| format!("{}: not a PEM certificate", path.display()))
    } else {
        Ok(bytes)
    }
}

fn platform_key(path: &Path) -> Result<Sm2PrivateKey, String> {
    let bytes =
        Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| "platform key: not text".to_owned())?;
    if text.contains("-----BEGIN") {
        Sm2PrivateKey::from_pkcs8_pem(text)
            .map_err(|_| "platform key: not an SM2 PKCS#8 PEM".into())
    } else {
        let raw = Zeroizing::new(
            hex::decode(text.trim()).map_err(|_| "platform key: not hex".to_owned())?,
        );
        Sm2PrivateKey::from_bytes(&raw).map_err(|_| "platform key: not an SM2 scalar".into())
    }
}

async fn serve(s: Serve) -> Result<(), String> {
    let identity = PlatformIdentity {
        platform_id: s.platform_id,
        origin: s.origin,
        cert_der: cert_der(&s.platform_cert)?,
        key: PlatformKey::Sm2(platform_key(&s.platform_key)?),
    };
    let mut config = GatewayConfig::new(s.data_dir, &s.bidkey_url, identity);
    config.listen = s.listen;
    config.store = s.store;
    config.pdf_fetch = bidkey_gateway::fetch::FetchPolicy {
        allow_hosts: s.pdf_fetch_allow_hosts,
        timeout: std::time::Duration::from_secs(s.pdf_fetch_timeout_secs),
    };
    config.limits = Limits {
        json_body: s.max_json_body,
        upload_body: s.max_upload_body,
    };
    if let Some(p) = s.bidkey_tls_ca {
        config.bidkey_tls_ca_pem =
            Some(std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    if let (Some(c), Some(k)) = (&s.tls_cert, &s.tls_key) {
        config.tls = Some(bidkey_gateway::tls::TlsFiles {
            cert_chain_pem: std::fs::read_to_string(c)
                .map_err(|e| format!("{}: {e}", c.display()))?,
            key_pem: Zeroizing::new(
                std::fs::read_to_string(k).map_err(|e| format!("{}: {e}", k.display()))?,
            ),
        });
    }
    if let Some(fp) = s.root_sha256 {
        let mut out = [0u8; 32];
        hex::decode_to_slice(fp.trim(), &mut out)
            .map_err(|_| "--root-sha256: 64 hex digits".to_owned())?;
        config.root_sha256 = Some(out);
    }
    let running = bidkey_gateway::start(config)
        .await
        .map_err(|e| e.to_string())?;
    println!("bidkey-gateway listening on {}", running.url());
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await;
    Ok(())
}

fn api_key(cmd: ApiKey) -> Result<(), String> {
    match cmd {
        ApiKey::Create {
            data_dir,
            store,
            app,
        } => {
            let store = Store::open_at(&data_dir, &store).map_err(|e| e.to_string())?;
            let k = store.create_api_key(&app).map_err(|e| e.to_string())?;
            println!("id: {}", k.id);
            println!("app: {}", k.app);
            println!("api key (shown once): {}", *k.token);
            println!("webhook secret of app {}: {}", k.app, *k.webhook_secret);
        }
        ApiKey::List { data_dir, store } => {
            let store = Store::open_at(&data_dir, &store).map_err(|e| e.to_string())?;
            for k in store.list_api_keys().map_err(|e| e.to_string())? {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {t}"),
                    None => "live".into(),
                };
                println!("{}\t{}\tcreated {}\t{state}", k.id, k.app, k.created_at);
            }
        }
        ApiKey::Revoke {
            data_dir,
            store,
            id,
        } => {
            let store = Store::open_at(&data_dir, &store).map_err(|e| e.to_string())?;
            if !store.revoke_api_key(&id).map_err(|e| e.to_string())? {
                return Err(format!("no live key {id}"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Serve(s) => serve(*s).await,
        Command::ApiKey(k) => api_key(k),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bidkey-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

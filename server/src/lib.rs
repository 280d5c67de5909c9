//! The Bidkey server: accounts, real-name, enterprises, registration authority and CA, key
//! management, co-signing, trading platforms, grants, zones, seals, orders, audit.
//!
//! Each HTTP module owns its router; [`start`] assembles them over one [`AppState`]. Domain
//! logic is synchronous code over a database transaction ([`db::Tx`]); handlers are thin.

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod bank;
pub mod ca;
pub mod certs;
pub mod clientip;
pub mod config;
pub mod cosign;
pub mod db;
pub mod enterprises;
pub mod error;
pub mod fees;
pub mod grants;
pub mod health;
pub mod idempotency;
pub mod kmc;
pub mod memberships;
pub mod metrics;
pub mod orders;
pub mod payments;
pub mod platforms;
pub mod preauth;
pub mod providers;
pub mod ratelimit;
pub mod realname;
pub mod relay;
pub mod requestlog;
pub mod seals;
pub mod sms;
pub mod state;
pub mod tsa;
pub mod util;
pub mod zones;

use crate::db::{Db, DbUrl};
use crate::error::{Result, ServerError};
use crate::state::{AppState, Secrets};
use crate::util::Clock;
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives.
    pub db: DbUrl,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Directory for key files (CA, KMC, co-signing master keys) and uploads.
    pub data_dir: PathBuf,
    /// Operator API token; made at random on first start and kept in `data_dir`.
    pub operator_token: Option<String>,
    /// Database connections.
    pub pool_size: usize,
    /// Passphrase of the CA key file (`BIDKEY_CA_PASSPHRASE`); without it, a random one is
    /// made on first start and kept in `data_dir/ca.passphrase` (see `docs/ca.md`).
    pub ca_passphrase: Option<String>,
    /// Rate limits an operator may raise (or lower) for the deployment.
    pub limits: Limits,
    /// The policy OID of the time-stamp authority's tokens: the operator's published TSA
    /// policy (default: an example-arc OID for development, see ADR 0009).
    pub tsa_policy: der::asn1::ObjectIdentifier,
    /// Reverse proxies whose `X-Forwarded-For` names the client ([`clientip`]).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Sandbox mode (`--sandbox`, `BIDKEY_SANDBOX=1`): only then may the sandbox SMS,
    /// real-name and payment providers serve, and only then does the SMS outbox exist.
    /// Off by default: a deployment must name real providers (ADR 0014).
    pub sandbox: bool,
    /// Which SMS and real-name providers serve (default: the sandboxes, which need
    /// [`Config::sandbox`]).
    pub providers: providers::ProvidersConfig,
}

/// Rate limits that depend on how a deployment is reached, so the operator sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// SMS codes sent to one client IP per hour. Phones behind one carrier NAT share an
    /// address, so a deployment may need more than the default.
    pub sms_per_ip_per_hour: i64,
    /// Scan requests one trading platform may post per minute. A bid opening posts one
    /// decrypt request per bidder within a minute or two; size this to the largest opening.
    pub relay_requests_per_platform_per_minute: i64,
    /// Seconds between asking for a certificate recovery (证书找回) and the earliest
    /// enrolment of the recovered pair, judged by the server clock; meanwhile the account's
    /// other devices and its phone number are told and can cancel (ADR 0011).
    pub recovery_cooling_off: i64,
    /// Development only: let scan requests name a webhook over plain HTTP or at a loopback
    /// or private address (a test's own receiver). Never set from the configuration file
    /// or the environment; production webhooks are HTTPS to a public host (ADR 0015).
    pub webhooks_to_private_addresses: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            sms_per_ip_per_hour: 30,
            relay_requests_per_platform_per_minute: 600,
            recovery_cooling_off: 24 * 3600,
            webhooks_to_private_addresses: false,
        }
    }
}

impl Config {
    /// A server on loopback with a SQLite file in `data_dir`.
    pub fn local(data_dir: PathBuf) -> Config {
        Config {
            db: DbUrl::Sqlite(data_dir.join("bidkey.sqlite3")),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            operator_token: None,
            pool_size: 4,
            ca_passphrase: None,
            limits: Limits::default(),
            tsa_policy: bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY,
            trusted_proxies: Vec::new(),
            sandbox: false,
            providers: providers::ProvidersConfig::default(),
        }
    }

    /// [`Config::local`] in sandbox mode with the sandbox providers: for the demo, the
    /// tests and development, never for a deployment.
    pub fn local_sandbox(data_dir: PathBuf) -> Config {
        Config {
            sandbox: true,
            ..Config::local(data_dir)
        }
    }
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    db_url: DbUrl,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where this server keeps its data.
    pub fn db_url(&self) -> &DbUrl {
        &self.db_url
    }

    /// The operator token.
    pub fn operator_token(&self) -> &str {
        &self.state.secrets.operator_token
    }

    /// Stop gracefully: release the relay's long polls (they answer 503 with a retry hint),
    /// stop accepting connections, let the requests in flight finish, then close the
    /// database's connections.
    pub async fn stop(mut self) {
        self.state.relay.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        let Running { state, .. } = self;
        let AppState { db, .. } = state;
        let closed = tokio::task::spawn_blocking(move || db.close()).await;
        if !matches!(closed, Ok(true)) {
            tracing::warn!("database still in use elsewhere; it closes when the last user ends");
        }
        tracing::info!("server stopped");
    }
}

/// The full router. The two fallbacks and [`error::typed_refusals`] come last so they cover
/// every route merged above, whichever module adds it; the request log and id go around all.
pub fn router(state: AppState) -> Router {
    let app = Router::new()
        .merge(accounts::routes())
        .merge(orders::routes())
        .merge(payments::routes())
        .merge(enterprises::routes())
        .merge(bank::routes())
        .merge(platforms::routes())
        .merge(grants::routes())
        .merge(preauth::routes())
        .merge(zones::routes())
        .merge(seals::routes())
        .merge(ca::routes())
        .merge(certs::routes())
        .merge(cosign::routes())
        .merge(relay::routes())
        .merge(tsa::routes())
        .merge(metrics::routes())
        .merge(health::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .fallback(error::unknown_path)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(axum::middleware::from_fn(error::typed_refusals))
        .layer(axum::middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            clientip::behind_proxy,
        ));
    // The request id and log wrap everything, refusals of the framework included.
    requestlog::wrap(app).with_state(state)
}

/// Open the store (creating and migrating it), load or create key files, and serve.
pub async fn start(config: Config) -> Result<Running> {
    // The webhook client (reqwest on rustls without a built-in provider) needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Providers first: a configuration that cannot serve never half-starts a server.
    let clock = Clock::default();
    let (sms, realname) = providers::build(config.sandbox, &config.providers, &clock)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| ServerError::Internal(format!("data dir: {e}")))?;
    let db_url = config.db.clone();
    let pool = config.pool_size;
    let db = tokio::task::spawn_blocking(move || Db::open(&db_url, pool))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    // Argon2id over the CA passphrase is slow on purpose: off the async workers.
    let cfg = config.clone();
    let secrets = tokio::task::spawn_blocking(move || load_secrets(&cfg))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    let secrets = Arc::new(secrets);
    let (ca_secrets, now, policy) = (secrets.clone(), clock.now(), config.tsa_policy);
    let tsa = db
        .write(move |tx| tsa::Tsa::load_or_create(tx, &ca_secrets.ca, now, policy))
        .await?;
    let state = AppState {
        db,
        clock,
        tsa: Arc::new(tsa),
        sms,
        realname,
        sandbox: config.sandbox,
        payments: Arc::new(config.providers.payment.clone()),
        secrets,
        relay: match &config.db {
            DbUrl::Postgres(url) => relay::notify::Notifier::with_postgres(url),
            DbUrl::Sqlite(_) => relay::notify::Notifier::default(),
        },
        platform_chains: relay::requests::VerifiedChains::default(),
        relay_sweeps: relay::requests::Sweeps::default(),
        metrics: metrics::Metrics::default(),
        limits: config.limits,
        trusted_proxies: config.trusted_proxies.clone().into(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::Internal(format!("bind {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    tracing::info!(%addr, "bidkey server listening");
    Ok(Running {
        addr,
        state,
        db_url: config.db.clone(),
        shutdown: Some(tx),
        task,
    })
}

/// Read a 32-byte secret from `data_dir/name`, or make and save one.
fn load_or_make_secret(dir: &std::path::Path, name: &str) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    let path = dir.join(name);
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => out.copy_from_slice(&bytes),
        Ok(_) => {
            return Err(ServerError::Internal(format!(
                "{} is not a 32-byte key file",
                path.display()
            )));
        }
        Err(_) => {
            out.copy_from_slice(&bidkey_crypto::rng::bytes::<32>()?);
            write_private(&path, out.as_slice())?;
        }
    }
    Ok(out)
}

/// Write a file readable by the owner only.
pub(crate) fn write_private(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))?;
    f.write_all(data)
        .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))
}

fn load_secrets(config: &Config) -> Result<Secrets> {
    let operator_token = match &config.operator_token {
        Some(t) => t.clone(),
        None => {
            let path = config.data_dir.join("operator.token");
            match std::fs::read_to_string(&path) {
                Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
                _ => {
                    let t = util::new_token()?;
                    write_private(&path, t.as_bytes())?;
                    t
                }
            }
        }
    };
    Ok(Secrets {
        operator_token,
        pii_key: load_or_make_secret(&config.data_dir, "pii.key")?,
        bank_webhook_key: load_or_make_secret(&config.data_dir, "bank-webhook.key")?,
        sms_code_key: load_or_make_secret(&config.data_dir, "sms-code.key")?,
        ca: ca::keys::CaKeys::load_or_create(&config.data_dir, config.ca_passphrase.as_deref())?,
    })
}

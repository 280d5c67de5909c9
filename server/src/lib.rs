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
pub mod keyfile;
pub mod kmc;
pub mod memberships;
pub mod metrics;
pub mod operators;
pub mod orders;
pub mod payments;
pub mod platforms;
pub mod preauth;
pub mod providers;
pub mod ratelimit;
pub mod realname;
pub mod refunds;
pub mod relay;
pub mod requestlog;
pub mod seal_maker;
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
    /// The operator listener (RA review, platform registration, metrics): loopback by
    /// default, never the public address (ADR 0020); port 0 picks a free one.
    pub operator_listen: SocketAddr,
    /// Directory for key files (CA, KMC, co-signing master keys) and uploads.
    pub data_dir: PathBuf,
    /// Database connections.
    pub pool_size: usize,
    /// Passphrases of the key files, one per secret domain ([`keyfile`], ADR 0019): from
    /// the environment or files outside the data directory. Only in sandbox mode may a
    /// missing one be made at random and kept beside its key file.
    pub passphrases: keyfile::Passphrases,
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
            operator_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            pool_size: 4,
            passphrases: keyfile::Passphrases::default(),
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
    /// The operator listener's address.
    pub operator_addr: SocketAddr,
    /// Sandbox mode's operator token (empty outside sandbox mode).
    operator_token: String,
    pub state: AppState,
    db_url: DbUrl,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
    operator_task: tokio::task::JoinHandle<()>,
    /// Retries pending refunds ([`refunds::sweeper`]).
    sweeper: tokio::task::JoinHandle<()>,
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

    /// `http://127.0.0.1:PORT` of the operator listener.
    pub fn operator_url(&self) -> String {
        format!("http://{}", self.operator_addr)
    }

    /// The operator token sandbox mode made at start (named `sandbox`); empty outside
    /// sandbox mode, where `bidkey-server operator token` makes named ones.
    pub fn operator_token(&self) -> &str {
        &self.operator_token
    }

    /// Stop gracefully: release the relay's long polls (they answer 503 with a retry hint),
    /// stop accepting connections, let the requests in flight finish, then close the
    /// database's connections.
    pub async fn stop(mut self) {
        self.state.relay.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let _ = (&mut self.task).await;
        let _ = (&mut self.operator_task).await;
        let _ = (&mut self.sweeper).await;
        let Running { state, .. } = self;
        let AppState { db, .. } = state;
        let closed = tokio::task::spawn_blocking(move || db.close()).await;
        if !matches!(closed, Ok(true)) {
            tracing::warn!("database still in use elsewhere; it closes when the last user ends");
        }
        tracing::info!("server stopped");
    }
}

/// The public router: every route but the operator's, which answer a typed 404 here.
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
        .merge(health::routes());
    finish(app, state)
}

/// The operator listener's router (ADR 0020): RA review, platform registration and
/// certificates, metrics (Prometheus `/metrics`), and the probes.
pub fn operator_router(state: AppState) -> Router {
    let app = Router::new()
        .merge(orders::operator_routes())
        .merge(platforms::operator_routes())
        .merge(ca::operator_routes())
        .merge(seals::operator_routes())
        .merge(metrics::operator_routes())
        .merge(health::routes());
    finish(app, state)
}

/// The two fallbacks and [`error::typed_refusals`] come last so they cover every route
/// merged above, whichever module adds it; the request log and id go around all.
fn finish(app: Router<AppState>, state: AppState) -> Router {
    let app = app
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

/// What start-up checks and loads before any listener opens: the providers the configuration
/// names and the key files (decrypted with their passphrases). A failure here is the
/// configuration's or the key files', so the process exits without having listened.
struct Loaded {
    clock: Clock,
    sms: Arc<dyn sms::SmsProvider>,
    realname: Arc<dyn realname::RealNameProvider>,
    secrets: Arc<Secrets>,
    /// Sandbox mode's root key when this start made the key files: its first CRL is
    /// published once the database answers.
    new_root: Option<Arc<ca::keys::RootKey>>,
}

async fn load(config: &Config) -> Result<Loaded> {
    // The webhook client (reqwest on rustls without a built-in provider) needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Providers first: a configuration that cannot serve never half-starts a server.
    let clock = Clock::default();
    let (sms, realname) = providers::build(config.sandbox, &config.providers, &clock)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| ServerError::Internal(format!("data dir: {e}")))?;
    // Sandbox mode makes the key files on first start; a deployment makes them with
    // `bidkey-server ca init`. Files only: the database is not needed yet.
    let new_root = if config.sandbox && !ca::keys::initialised(&config.data_dir) {
        let cfg = config.clone();
        let root = tokio::task::spawn_blocking(move || {
            ca::keys::init(&cfg.data_dir, &cfg.passphrases, true)
        })
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
        Some(Arc::new(root))
    } else {
        None
    };
    // Argon2id over the passphrases is slow on purpose: off the async workers.
    let cfg = config.clone();
    let secrets = tokio::task::spawn_blocking(move || load_secrets(&cfg))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok(Loaded {
        clock,
        sms,
        realname,
        secrets: Arc::new(secrets),
        new_root,
    })
}

/// Open the store (connecting, migrating) and load what lives in it: the state a serving
/// router needs, and sandbox mode's operator token. Fails with [`DbError::Connect`] while
/// the database does not answer; safe to call again then.
///
/// [`DbError::Connect`]: crate::db::DbError::Connect
async fn open(config: &Config, loaded: &Loaded) -> Result<(AppState, String)> {
    let db_url = config.db.clone();
    let pool = config.pool_size;
    let db = tokio::task::spawn_blocking(move || Db::open(&db_url, pool))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    let clock = loaded.clock.clone();
    if let Some(root) = loaded.new_root.clone() {
        let now = clock.now();
        db.write(move |tx| {
            if !ca::crl::root_published(tx)? {
                ca::crl::publish_root(tx, &root, now, ca::crl::ARL_DAYS)?;
            }
            Ok::<_, ServerError>(())
        })
        .await?;
    }
    let secrets = loaded.secrets.clone();
    // Sandbox mode (tests, the demo) gets a named operator token at each start, kept in
    // `operator.token`; a deployment's operators make their own (ADR 0020).
    let operator_token = if config.sandbox {
        let now = clock.now();
        let token = db
            .write(move |tx| {
                operators::mint(
                    tx,
                    now,
                    operators::SANDBOX_NAME,
                    operators::SANDBOX_VALID,
                    "server:sandbox",
                )
            })
            .await?;
        write_private(&config.data_dir.join("operator.token"), token.as_bytes())?;
        token
    } else {
        let _ = std::fs::remove_file(config.data_dir.join("operator.token"));
        String::new()
    };
    let (ca_secrets, now, policy) = (secrets.clone(), clock.now(), config.tsa_policy);
    let tsa = db
        .write(move |tx| tsa::Tsa::load_or_create(tx, &ca_secrets.ca, now, policy))
        .await?;
    let (maker_secrets, dir) = (secrets.clone(), config.data_dir.clone());
    let seal_maker = tokio::task::spawn_blocking(move || {
        seal_maker::SealMaker::load_or_create(&dir, &maker_secrets.ca, now)
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    let state = AppState {
        db,
        clock,
        tsa: Arc::new(tsa),
        seal_maker: Arc::new(seal_maker),
        sms: loaded.sms.clone(),
        realname: loaded.realname.clone(),
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
    Ok((state, operator_token))
}

/// The two listeners, bound: (public, its address, operator, its address).
async fn bind(
    config: &Config,
) -> Result<(
    tokio::net::TcpListener,
    SocketAddr,
    tokio::net::TcpListener,
    SocketAddr,
)> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::Internal(format!("bind {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let operator_listener = tokio::net::TcpListener::bind(config.operator_listen)
        .await
        .map_err(|e| {
            ServerError::Internal(format!(
                "bind the operator listener {}: {e}",
                config.operator_listen
            ))
        })?;
    let operator_addr = operator_listener
        .local_addr()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok((listener, addr, operator_listener, operator_addr))
}

/// Serve `app` on `listener` until `rx` says stop, then finish the requests in flight.
fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut rx: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped");
        }
    })
}

/// Open the store (creating and migrating it), load or create key files, and serve. Fails
/// if the database does not answer; [`launch`] listens first and waits for it instead.
pub async fn start(config: Config) -> Result<Running> {
    let loaded = load(&config).await?;
    let (state, operator_token) = open(&config, &loaded).await?;
    drop(loaded);
    let (listener, addr, operator_listener, operator_addr) = bind(&config).await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = serve(listener, router(state.clone()), rx.clone());
    let operator_task = serve(
        operator_listener,
        operator_router(state.clone()),
        rx.clone(),
    );
    let sweeper = tokio::spawn(refunds::sweeper(state.clone(), rx));
    tracing::info!(%addr, %operator_addr, "bidkey server listening");
    Ok(Running {
        addr,
        operator_addr,
        operator_token,
        state,
        db_url: config.db.clone(),
        shutdown: Some(tx),
        task,
        operator_task,
        sweeper,
    })
}

/// A router that answers as `waiting` until `serving` is set, then as `serving`: the
/// listeners open before the database answers and the same connections serve afterwards.
fn gate(waiting: Router, serving: Arc<std::sync::OnceLock<Router>>) -> Router {
    use tower::ServiceExt;
    let svc = tower::service_fn(move |req: axum::extract::Request| {
        let router = serving.get().cloned().unwrap_or_else(|| waiting.clone());
        async move { router.oneshot(req).await }
    });
    Router::new().fallback_service(svc)
}

/// First pause between attempts to reach the database at start; it doubles up to
/// [`OPEN_PAUSE_MAX`].
const OPEN_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
const OPEN_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// A server whose listeners are open, serving once the database answers ([`launch`]).
#[derive(Debug)]
pub struct Launched {
    pub addr: SocketAddr,
    /// The operator listener's address.
    pub operator_addr: SocketAddr,
    ready: tokio::sync::watch::Receiver<Option<std::result::Result<AppState, String>>>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    opener: tokio::task::JoinHandle<()>,
    task: tokio::task::JoinHandle<()>,
    operator_task: tokio::task::JoinHandle<()>,
}

/// Check the configuration and load the key files (failing before anything listens), open
/// the listeners, then reach the database — connect, migrate, load what lives in it —
/// trying again with backoff while it does not answer. Until then `/healthz` answers 200,
/// `/readyz` a 503 naming the reason, and every other route a typed 503 with
/// `Retry-After`; then the same listeners serve normally (ADR 0030).
pub async fn launch(config: Config) -> Result<Launched> {
    let loaded = load(&config).await?;
    // One attempt before listening: a database that answers with a schema newer than this
    // build (or a migration that fails) still ends the start before anything listens. Only
    // an unreachable database is waited for, listening.
    let mut first = match open(&config, &loaded).await {
        Ok((state, _)) => Some(state),
        Err(ServerError::Db(e @ (db::DbError::Connect(_) | db::DbError::Closed))) => {
            tracing::warn!(error = %e, "database unreachable at start; listening and waiting for it");
            None
        }
        Err(e) => return Err(e),
    };
    let (listener, addr, operator_listener, operator_addr) = bind(&config).await?;
    let reason = health::Starting::default();
    if first.is_none() {
        reason.set(health::UNREACHABLE);
    }
    let (serving, operator_serving) = (
        Arc::new(std::sync::OnceLock::new()),
        Arc::new(std::sync::OnceLock::new()),
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = serve(
        listener,
        gate(health::starting_router(reason.clone()), serving.clone()),
        rx.clone(),
    );
    let operator_task = serve(
        operator_listener,
        gate(
            health::starting_router(reason.clone()),
            operator_serving.clone(),
        ),
        rx.clone(),
    );
    tracing::info!(%addr, %operator_addr, "bidkey server listening");
    let (ready_tx, ready) = tokio::sync::watch::channel(None);
    let mut stop = rx;
    let opener = tokio::spawn(async move {
        let mut pause = OPEN_PAUSE;
        loop {
            let opened = match first.take() {
                Some(state) => Ok((state, String::new())),
                None => open(&config, &loaded).await,
            };
            match opened {
                Ok((state, _)) => {
                    let _ = serving.set(router(state.clone()));
                    let _ = operator_serving.set(operator_router(state.clone()));
                    tracing::info!("database open; serving");
                    let _ = ready_tx.send(Some(Ok(state.clone())));
                    // This task goes on as the refund sweeper; stopping ends it.
                    refunds::sweeper(state, stop).await;
                    return;
                }
                Err(ServerError::Db(e @ (db::DbError::Connect(_) | db::DbError::Closed))) => {
                    tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "database unreachable at start; waiting for it");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                    pause = (pause * 2).min(OPEN_PAUSE_MAX);
                }
                Err(e) => {
                    // A schema newer than this build, a failed migration: not a wait.
                    let _ = ready_tx.send(Some(Err(e.to_string())));
                    return;
                }
            }
        }
    });
    Ok(Launched {
        addr,
        operator_addr,
        ready,
        shutdown: Some(tx),
        opener,
        task,
        operator_task,
    })
}
impl Launched {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` of the operator listener.
    pub fn operator_url(&self) -> String {
        format!("http://{}", self.operator_addr)
    }

    /// Wait until the server serves (its state) or start-up failed for a reason waiting
    /// does not cure, such as a schema newer than this build (its message). Pending forever
    /// if stopped first.
    pub async fn ready(&mut self) -> std::result::Result<AppState, String> {
        match self.ready.wait_for(Option::is_some).await {
            Ok(r) => r.clone().unwrap_or_else(|| Err("not started".into())),
            Err(_) => std::future::pending().await,
        }
    }

    /// Stop gracefully, as [`Running::stop`] does; while still waiting for the database,
    /// stop waiting.
    pub async fn stop(mut self) {
        let state = match &*self.ready.borrow() {
            Some(Ok(state)) => Some(state.clone()),
            _ => None,
        };
        if let Some(state) = &state {
            state.relay.close();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let _ = (&mut self.opener).await;
        let _ = (&mut self.task).await;
        let _ = (&mut self.operator_task).await;
        let Launched { ready, .. } = self;
        drop(ready);
        if let Some(AppState { db, .. }) = state {
            let closed = tokio::task::spawn_blocking(move || db.close()).await;
            if !matches!(closed, Ok(true)) {
                tracing::warn!(
                    "database still in use elsewhere; it closes when the last user ends"
                );
            }
        }
        tracing::info!("server stopped");
    }
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
    let keys = ca::keys::load_serving(&config.data_dir, &config.passphrases, config.sandbox)?;
    Ok(Secrets {
        pii_key: load_or_make_secret(&config.data_dir, "pii.key")?,
        bank_webhook_key: load_or_make_secret(&config.data_dir, "bank-webhook.key")?,
        sms_code_key: load_or_make_secret(&config.data_dir, "sms-code.key")?,
        ca: keys.ca,
        kmc: keys.kmc,
        cosign: keys.cosign,
        cosign_shares: Default::default(),
    })
}

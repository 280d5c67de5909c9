//! `bidkey-gateway`: the platform SDK behind plain HTTP + JSON (issue 16, ADR 0023).
//!
//! A trading platform written in Java, PHP or .NET runs this beside its application. The
//! gateway holds the platform's key and certificate, makes and signs scan requests, draws
//! their rotating QR codes, waits on the relay, opens and **verifies** each reply with the
//! SDK (`bidkey-platform`, linked without features, exactly as a third party links it), and
//! hands the verified result back by long-poll and by signed webhook. It also encrypts and
//! opens bid files (with a phone's released key, or by the bidder's pre-authorisation),
//! words the opening hall, and verifies CMS signatures and sealed PDFs.
//!
//! - [`store`]: embedded SQLite; API keys hashed, scan secrets sealed at rest.
//! - [`scans`]: creating scans and the task that carries each to its verified result.
//! - [`webhook`]: HMAC-signed deliveries, retried with backoff, one id per delivery.
//! - [`hall`]: the opening hall (`POST /v1/opening-hall`), worded by the SDK.
//! - [`api`]: the router (`gateway/openapi.yaml` documents it).
//! - [`pdf_place`]: seal positions in millimetres to PDF points.

pub mod api;
pub mod error;
pub mod fetch;
pub mod hall;
pub mod pdf_place;
mod pgconn;
pub mod scans;
pub mod store;
pub mod tls;
pub mod webhook;

pub use error::{ErrorBody, GatewayError, Result};

use bidkey_platform::client::{PlatformClient, UnixClock};
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PlatformIdentity, ScanClient};
use bidkey_platform::verify::{TrustAnchor, Verifier};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Request-body limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// JSON bodies (scan requests, verification requests).
    pub json_body: usize,
    /// Uploads: a PDF to seal (in its JSON), bid files to encrypt or open, a PDF to verify,
    /// the opening hall (a head of each bid file, in its JSON).
    pub upload_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_body: 2 << 20,
            upload_body: 64 << 20,
        }
    }
}

/// How webhooks are retried.
#[derive(Debug, Clone, Copy)]
pub struct WebhookPolicy {
    /// Wait before the first retry; doubled each time up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Attempts before a delivery is given up (it stays in the store, marked).
    pub max_attempts: u32,
    /// How long one POST may take.
    pub timeout: Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
            max_attempts: 15,
            timeout: Duration::from_secs(10),
        }
    }
}

/// How to run a gateway.
#[derive(Debug)]
pub struct GatewayConfig {
    /// Loopback unless told otherwise.
    pub listen: SocketAddr,
    /// The store (`gateway.sqlite3`) and its key (`store.key`).
    pub data_dir: PathBuf,
    /// SQLite in `data_dir`, or a PostgreSQL database shared by several nodes (ADR 0029).
    pub store: store::StoreLocation,
    /// The Bidkey server (relay, CA, CRLs, TSA, grants).
    pub bidkey_url: String,
    /// The CA of the Bidkey server's TLS certificate (PEM), for `https://`.
    pub bidkey_tls_ca_pem: Option<String>,
    /// The SHA-256 of the Bidkey root to pin; `None` takes the fetched root as is.
    pub root_sha256: Option<[u8; 32]>,
    pub identity: PlatformIdentity,
    pub limits: Limits,
    pub webhook: WebhookPolicy,
    /// The time the platform's signed calls state; `None` is this machine's (tests give
    /// the test server's clock).
    pub clock: Option<UnixClock>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<tls::TlsFiles>,
    /// Which `pdf_url`s a seal-PDF scan may name.
    pub pdf_fetch: fetch::FetchPolicy,
}

impl GatewayConfig {
    /// Defaults: loopback port 8070, default limits and webhook policy.
    pub fn new(data_dir: PathBuf, bidkey_url: &str, identity: PlatformIdentity) -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8070)),
            data_dir,
            store: store::StoreLocation::Sqlite,
            bidkey_url: bidkey_url.to_owned(),
            bidkey_tls_ca_pem: None,
            root_sha256: None,
            identity,
            limits: Limits::default(),
            webhook: WebhookPolicy::default(),
            clock: None,
            tls: None,
            pdf_fetch: fetch::FetchPolicy::default(),
        }
    }
}

/// Shared state of a running gateway.
#[derive(Debug)]
pub struct Gateway {
    pub store: Arc<store::Store>,
    pub(crate) scan: ScanClient,
    pub(crate) verifier: ReplyVerifier,
    pub(crate) client: PlatformClient,
    pub(crate) anchor: TrustAnchor,
    pub(crate) limits: Limits,
    pub(crate) webhook: WebhookPolicy,
    pub(crate) live: scans::Live,
    pub(crate) deliveries: tokio::sync::Notify,
    pub(crate) http: reqwest::Client,
    pub(crate) pdf_fetch: fetch::FetchPolicy,
}

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// `http`, or `https` with TLS.
    pub scheme: &'static str,
    pub gateway: Arc<Gateway>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stop serving and every background task at once, as a killed process would: nothing
    /// but the store survives.
    pub async fn stop(mut self) {
        self.gateway.live.abort_all();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Open the store, fetch the Bidkey trust anchor, resume unfinished scans and webhook
/// deliveries, and serve.
pub async fn start(config: GatewayConfig) -> Result<Running> {
    let store = Arc::new(store::Store::open_at(&config.data_dir, &config.store)?);
    let client = PlatformClient::new(
        &config.bidkey_url,
        config.bidkey_tls_ca_pem.as_deref(),
        Duration::from_secs(60),
    )?;
    let anchor = TrustAnchor::fetch(&client, config.root_sha256.as_ref()).await?;
    let scan = ScanClient::new(&client, config.identity);
    let mut signed = client.clone().signed_by(scan.request_key());
    if let Some(clock) = config.clock {
        signed = signed.with_clock(clock);
    }
    let verifier = ReplyVerifier::new(
        signed.clone(),
        Verifier::new(anchor.clone()),
        scan.platform_id(),
    );
    let http = reqwest::Client::builder()
        .timeout(config.webhook.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bidkey-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GatewayError::Internal(format!("HTTP client: {e}")))?;
    let gateway = Arc::new(Gateway {
        store,
        scan,
        verifier,
        client: signed,
        anchor,
        limits: config.limits,
        webhook: config.webhook,
        live: scans::Live::default(),
        deliveries: tokio::sync::Notify::new(),
        http,
        pdf_fetch: config.pdf_fetch,
    });
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    scans::resume(&gateway)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let mut tasks = tokio::task::JoinSet::new();
    let app = api::router(gateway.clone());
    let scheme = match tls {
        Some(tls) => {
            tasks.spawn(tls::serve(listener, tls, app));
            "https"
        }
        None => {
            tasks.spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            "http"
        }
    };
    let g = gateway.clone();
    tasks.spawn(async move { webhook::run(g).await });
    tracing::info!(%addr, "bidkey-gateway listening");
    Ok(Running {
        addr,
        scheme,
        gateway,
        tasks,
    })
}

//! `opening-bench`: a bid opening (开标) under load. N bidders decrypt their bids by scan at
//! once, through the relay and the co-signing service of a real server on loopback, over
//! SQLite and over PostgreSQL; the server's own latency histograms and the CPU each party
//! spent are read around every opening.
//!
//! Three tokio runtimes share the process, so CPU time can be told apart by thread name:
//! the server (`bk-server`, plus its `bidkey-db` connection threads), the phones
//! (`bk-phones`) and the trading platform (`bk-platform`). On a real opening the phones'
//! work happens on the bidders' phones, not on the server's machine.

pub mod cpu;
pub mod hall;
pub mod population;
pub mod report;

use bidkey_crypto::scan::PlatformKey;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PlatformIdentity, ScanClient};
use bidkey_platform::verify::{TrustAnchor, Verifier};
use bidkey_server::Limits;
use bidkey_testkit::phones::registered_platform;
use bidkey_testkit::{Store, TestServer};
use hall::{Hall, Opening};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PLATFORM_NAME: &str = "重庆市公共资源交易中心";
pub const ORIGIN: &str = "https://ggzy.cq.example.invalid";

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("setting up: {0}")]
    Setup(String),
    #[error("{0}")]
    Run(String),
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub stores: Vec<Store>,
    /// Bidders per opening, one opening each.
    pub bidders: Vec<usize>,
    /// Bidders mid-decrypt at once, at most.
    pub max_active: usize,
    /// Enrolments run side by side while the population is made.
    pub enrol_parallel: usize,
    /// Database connections of the server; `None` keeps the server's default.
    pub pool_size: Option<usize>,
}

/// Everything measured on one store.
#[derive(Debug)]
pub struct StoreRun {
    pub store: Store,
    pub pool_size: usize,
    pub setup: Duration,
    pub openings: Vec<Opening>,
}

fn runtime(name: &str) -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Setup(format!("runtime: {e}")))
}

/// Run every opening of `opts` on every store.
pub fn run(opts: &Options) -> Result<Vec<StoreRun>, BenchError> {
    let server_rt = runtime("bk-server")?;
    let phones_rt = runtime("bk-phones")?;
    let platform_rt = runtime("bk-platform")?;
    let mut out = Vec::new();
    for &store in &opts.stores {
        out.push(run_store(
            opts,
            store,
            &server_rt,
            &phones_rt,
            &platform_rt,
        )?);
    }
    Ok(out)
}

fn run_store(
    opts: &Options,
    store: Store,
    server_rt: &tokio::runtime::Runtime,
    phones_rt: &tokio::runtime::Runtime,
    platform_rt: &tokio::runtime::Runtime,
) -> Result<StoreRun, BenchError> {
    let most = opts.bidders.iter().copied().max().unwrap_or(0);
    eprintln!(
        "{}: starting the server and enrolling {most} bidders",
        store_name(store)
    );
    let setup_started = Instant::now();
    let mut pool_size = 0;
    let server = Arc::new(server_rt.block_on(TestServer::start_with(store, |c| {
        // Every phone here shares 127.0.0.1; one platform posts the whole opening.
        c.limits = Limits {
            sms_per_ip_per_hour: 1_000_000,
            relay_requests_per_platform_per_minute: 100_000,
            ..Limits::default()
        };
        if let Some(n) = opts.pool_size {
            c.pool_size = n;
        }
        pool_size = c.pool_size;
    })));
    let wallets = tempfile::tempdir().map_err(|e| BenchError::Setup(e.to_string()))?;
    // The platform first: each bid file is made for it (its id is bound into the wrapped key).
    let hall = platform_rt.block_on(platform_hall(&server, phones_rt, opts.max_active))?;
    let bidders = phones_rt.block_on(population::enroll(
        &server,
        wallets.path(),
        most,
        opts.enrol_parallel,
        hall.client.platform_id(),
    ))?;
    let setup = setup_started.elapsed();
    // A first opening with everyone, not reported: each bidder has used the app before (its
    // phone keeps the CA chain), and the server's caches are warm, as on a working day.
    eprintln!("{}: warm-up opening with {most} bidders", store_name(store));
    let warm = platform_rt.block_on(hall.open(&bidders));
    if let Some(e) = warm.failures.first() {
        return Err(BenchError::Run(format!("warm-up opening failed: {e}")));
    }
    let mut openings = Vec::new();
    for &n in &opts.bidders {
        eprintln!("{}: opening with {n} bidders", store_name(store));
        openings.push(platform_rt.block_on(hall.open(&bidders[..n])));
    }
    drop(hall);
    if let Ok(server) = Arc::try_unwrap(server) {
        server_rt.block_on(server.running.stop());
    }
    Ok(StoreRun {
        store,
        pool_size,
        setup,
        openings,
    })
}

/// The trading platform, registered and certified by the operator, with its SDK clients.
async fn platform_hall(
    server: &Arc<TestServer>,
    phones: &tokio::runtime::Runtime,
    max_active: usize,
) -> Result<Hall, BenchError> {
    let platform = registered_platform(server, PLATFORM_NAME, ORIGIN).await;
    let api = || {
        PlatformClient::new(&server.url(), None, Duration::from_secs(60))
            .map_err(|e| BenchError::Setup(e.to_string()))
    };
    let client = ScanClient::new(
        &api()?,
        PlatformIdentity {
            platform_id: platform.platform.id.clone(),
            origin: ORIGIN.into(),
            cert_der: platform.cert_der.clone(),
            key: PlatformKey::Sm2(platform.key_copy()),
        },
    );
    let anchor = TrustAnchor::fetch(&api()?, None)
        .await
        .map_err(|e| BenchError::Setup(format!("trust anchor: {e}")))?;
    let verifier = ReplyVerifier::new(
        api()?
            .signed_by(client.request_key())
            .with_clock(server.unix_clock()),
        Verifier::new(anchor),
        &platform.platform.id,
    );
    Ok(Hall {
        server: server.clone(),
        client: Arc::new(client),
        verifier: Arc::new(verifier),
        phones: phones.handle().clone(),
        max_active,
    })
}

pub fn store_name(store: Store) -> &'static str {
    match store {
        Store::Sqlite => "SQLite",
        Store::Postgres => "PostgreSQL",
    }
}

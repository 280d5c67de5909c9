//! `opening-bench`: a bid opening (开标) under load. N bids are opened at once, through the
//! relay, the co-signing service and the pre-authorised release of a real server on
//! loopback, over SQLite and over PostgreSQL: by scan (every bidder's phone co-decrypts),
//! from pre-authorisations (the server releases the file keys to the platform, ADR 0027),
//! or a mix of the two.
//!
//! Two processes, so each side's CPU is its own: this one runs the Bidkey server (and makes
//! the population through the real flows, before anything is measured); a second one, this
//! same executable started with `--role clients`, runs the simulated phones and the trading
//! platform, each on a tokio runtime of its own (`bk-phones`, `bk-platform`) so its CPU can
//! be told apart by thread name. The server process's CPU is read from `/proc/self/stat`,
//! the clients process's from `/proc/<pid>/stat`, PostgreSQL's from its processes'.

pub mod clients;
pub mod cpu;
pub mod hall;
pub mod population;
pub mod report;

use bidkey_server::Limits;
use bidkey_server::metrics::Snapshot;
use bidkey_testkit::phones::registered_platform;
use bidkey_testkit::{Store, TestServer};
use hall::{Job, Outcome};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
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

/// How the bids are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every bidder scans and co-decrypts with its phone.
    Online,
    /// Every bid was pre-authorised; the server releases the keys to the platform.
    Preauth,
    /// This percentage of the bidders scan, the others were pre-authorised.
    Mix { online_pct: u32 },
}

impl Mode {
    pub fn name(&self) -> String {
        match self {
            Mode::Online => "online".into(),
            Mode::Preauth => "preauth".into(),
            Mode::Mix { online_pct } => format!("mix {online_pct}/{}", 100 - online_pct),
        }
    }

    fn job(&self, bidders: usize) -> Job {
        let preauth_pct = match self {
            Mode::Online => 0,
            Mode::Preauth => 100,
            Mode::Mix { online_pct } => 100 - online_pct.min(&100),
        };
        Job {
            bidders,
            preauth_pct,
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub stores: Vec<Store>,
    /// Bids per opening.
    pub bidders: usize,
    pub modes: Vec<Mode>,
    /// Bidders mid-decrypt at once, at most.
    pub max_active: usize,
    /// Enrolments run side by side while the population is made.
    pub enrol_parallel: usize,
    /// Database connections of the server; `None` keeps the server's default.
    pub pool_size: Option<usize>,
    /// The executable to start as the clients process (`--role clients`).
    pub clients_exe: PathBuf,
    /// Bidders in the unreported warm-up opening.
    pub warmup: usize,
}

/// One opening as measured on both sides.
#[derive(Debug)]
pub struct Measured {
    pub mode: Mode,
    pub outcome: Outcome,
    /// The server's latency histograms of this opening only.
    pub server: Snapshot,
    /// CPU of the server process (all its threads).
    pub server_cpu: Duration,
    /// CPU of the PostgreSQL cluster's processes (zero on SQLite).
    pub postgres_cpu: Duration,
    /// CPU of the clients process (all its threads).
    pub clients_cpu: Duration,
}

/// Everything measured on one store.
#[derive(Debug)]
pub struct StoreRun {
    pub store: Store,
    pub pool_size: usize,
    pub setup: Duration,
    pub openings: Vec<Measured>,
}

pub(crate) fn runtime(name: &str) -> Result<tokio::runtime::Runtime, BenchError> {
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
    let setup_rt = runtime("bk-setup")?;
    let mut out = Vec::new();
    for &store in &opts.stores {
        out.push(run_store(opts, store, &server_rt, &setup_rt)?);
    }
    Ok(out)
}

fn run_store(
    opts: &Options,
    store: Store,
    server_rt: &tokio::runtime::Runtime,
    setup_rt: &tokio::runtime::Runtime,
) -> Result<StoreRun, BenchError> {
    let n = opts.bidders;
    eprintln!(
        "{}: starting the server and enrolling {n} bidders (each pre-authorises its bid)",
        store_name(store)
    );
    let setup_started = Instant::now();
    let mut pool_size = 0;
    let server = Arc::new(server_rt.block_on(TestServer::start_with(store, |c| {
        // Every phone here shares 127.0.0.1; one platform posts the whole opening.
        c.limits = Limits {
            sms_per_ip_per_hour: 1_000_000,
            relay_requests_per_platform_per_minute: 1_000_000,
            ..Limits::default()
        };
        if let Some(p) = opts.pool_size {
            c.pool_size = p;
        }
        pool_size = c.pool_size;
    })));
    let work = tempfile::tempdir().map_err(|e| BenchError::Setup(e.to_string()))?;
    // The platform first: each bid file is made for it (its id is bound into the wrapped key).
    let platform = setup_rt.block_on(registered_platform(&server, PLATFORM_NAME, ORIGIN));
    let bidders = setup_rt.block_on(population::enroll(
        &server,
        work.path(),
        n,
        opts.enrol_parallel,
        &platform.platform.id,
    ))?;
    let manifest = clients::Manifest {
        url: server.url(),
        platform_id: platform.platform.id.clone(),
        origin: ORIGIN.into(),
        platform_cert_der: hex::encode(&platform.cert_der),
        platform_key: hex::encode(platform.key.to_bytes().as_slice()),
        max_active: opts.max_active,
        bidders: bidders.iter().map(|b| b.entry()).collect(),
    };
    let manifest_path = work.path().join("manifest.json");
    let json = serde_json::to_vec(&manifest).map_err(|e| BenchError::Setup(e.to_string()))?;
    std::fs::write(&manifest_path, json).map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut clients = ClientsProcess::start(&opts.clients_exe, &manifest_path)?;
    let setup = setup_started.elapsed();
    let last_opening_at = bidders
        .iter()
        .map(|b| b.preauth_opening_at)
        .max()
        .unwrap_or(0);

    // A first opening, not reported: the server's caches and the clients' connections are
    // warm, as on a working day (every phone has used the app: its pre-authorisation
    // fetched and kept the CA chain).
    let warm = opts.warmup.min(n);
    eprintln!("{}: warm-up opening with {warm} bidders", store_name(store));
    let w = clients.open(Mode::Online.job(warm))?;
    if let Some(e) = w.failures.first() {
        return Err(BenchError::Run(format!("warm-up opening failed: {e}")));
    }
    let mut openings = Vec::new();
    for &mode in &opts.modes {
        if mode != Mode::Online {
            // The opening time of every pre-authorisation has passed by the server's clock.
            while server.running.state.clock.now() <= last_opening_at {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        eprintln!("{}: opening {n} bids, {}", store_name(store), mode.name());
        let metrics_before = server.running.state.metrics.snapshot();
        let server_before = cpu::process_cpu(std::process::id());
        let pg_before = cpu::postgres_cpu();
        let clients_before = cpu::process_cpu(clients.pid());
        let outcome = clients.open(mode.job(n))?;
        openings.push(Measured {
            mode,
            server_cpu: cpu::process_cpu(std::process::id()).saturating_sub(server_before),
            postgres_cpu: cpu::postgres_cpu().saturating_sub(pg_before),
            clients_cpu: cpu::process_cpu(clients.pid()).saturating_sub(clients_before),
            server: server
                .running
                .state
                .metrics
                .snapshot()
                .since(&metrics_before),
            outcome,
        });
    }
    clients.stop();
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

/// The clients process: one `Job` a line on its stdin, one `Outcome` a line on its stdout.
struct ClientsProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ClientsProcess {
    fn start(exe: &std::path::Path, manifest: &std::path::Path) -> Result<Self, BenchError> {
        let mut child = Command::new(exe)
            .arg("--role")
            .arg("clients")
            .arg("--manifest")
            .arg(manifest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| BenchError::Setup(format!("starting {}: {e}", exe.display())))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .map(BufReader::new)
            .ok_or_else(|| BenchError::Setup("the clients' stdout".into()))?;
        let mut me = ClientsProcess {
            child,
            stdin,
            stdout,
        };
        // It says READY once the manifest is loaded.
        let line = me.line()?;
        if line != clients::READY {
            return Err(BenchError::Setup(format!("clients process said {line:?}")));
        }
        Ok(me)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn line(&mut self) -> Result<String, BenchError> {
        let mut line = String::new();
        let got = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| BenchError::Run(format!("clients process: {e}")))?;
        if got == 0 {
            return Err(BenchError::Run("the clients process ended".into()));
        }
        Ok(line.trim_end().to_owned())
    }

    fn open(&mut self, job: Job) -> Result<Outcome, BenchError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| BenchError::Run("clients process closed".into()))?;
        let mut line = serde_json::to_string(&job).map_err(|e| BenchError::Run(e.to_string()))?;
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| BenchError::Run(format!("clients process: {e}")))?;
        let reply = self.line()?;
        serde_json::from_str(&reply)
            .map_err(|e| BenchError::Run(format!("clients process said {reply:?}: {e}")))
    }

    /// Close its stdin (it exits) and wait for it.
    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for ClientsProcess {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            drop(self.stdin.take());
            let _ = self.child.wait();
        }
    }
}

pub fn store_name(store: Store) -> &'static str {
    match store {
        Store::Sqlite => "SQLite",
        Store::Postgres => "PostgreSQL",
    }
}

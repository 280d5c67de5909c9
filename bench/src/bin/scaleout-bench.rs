//! `scaleout-bench`: how the server scales out (issue 18's benchmark; not a test).
//!
//! 1, 2 and 4 `bidkey-server` processes (the release binary beside this one) on one
//! PostgreSQL, behind testkit's loopback round-robin (as `deploy/nginx.conf`'s upstream
//! block), each row driven for a fixed time by concurrent clients:
//!
//! - **co-sign**: an enterprise holder's phone (the core, as in the app) signs a message
//!   with its two-party key: `POST /v1/cosign/sessions`, `/v1/cosign/sign`,
//!   `/v1/cosign/sign/finish`, the PIN checked by the server each time. The server counts
//!   PIN attempts per pair (20 a minute), so the clients take turns over many holders, each
//!   used at most once every 3.1 s.
//! - **relay**: a trading platform (the SDK) posts a signed scan request
//!   (`POST /v1/relay/requests`) and reads its result once (`GET …/result?wait=0`).
//!
//! Setup (not measured) runs an in-process server on the same database: holders signed
//! up, real-named, their enterprises claimed, approved, paid, enrolled. Its data directory
//! (the key files) is then copied to every process, as docs/operations.md's multi-node
//! layout says.
//!
//! `cargo build --release -p bidkey-server --bin bidkey-server -p bidkey-bench --bin scaleout-bench`
//! then `target/release/scaleout-bench [--procs 1,2,4] [--seconds 15] [--clients 16]
//! [--holders 200] [--quick]`

use bidkey_bench::opening::population;
use bidkey_crypto::scan::PlatformKey;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::{PlatformIdentity, ScanClient};
use bidkey_protocol::scan::ScanAction;
use bidkey_server::Limits;
use bidkey_server::db::DbUrl;
use bidkey_testkit::balancer::RoundRobin;
use bidkey_testkit::phones::{PIN, phone_at_url, registered_platform};
use bidkey_testkit::{Store, TestServer};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PLATFORM_NAME: &str = "重庆市公共资源交易中心";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";
/// A holder signs at most once in this long: 20 PIN attempts a minute per pair.
const HOLDER_PACE: Duration = Duration::from_millis(3100);

struct Args {
    procs: Vec<usize>,
    seconds: u64,
    clients: usize,
    holders: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        procs: vec![1, 2, 4],
        seconds: 15,
        clients: 16,
        holders: 200,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let num = |v: String, what: &str| v.parse::<usize>().map_err(|_| format!("bad {what}"));
        match arg.as_str() {
            "--procs" => {
                a.procs = value()?
                    .split(',')
                    .map(|x| num(x.trim().to_owned(), "--procs"))
                    .collect::<Result<_, _>>()?;
            }
            "--seconds" => a.seconds = num(value()?, "--seconds")? as u64,
            "--clients" => a.clients = num(value()?, "--clients")?.max(1),
            "--holders" => a.holders = num(value()?, "--holders")?.max(1),
            "--quick" => {
                a.seconds = 5;
                a.holders = 40;
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(a)
}

/// The release `bidkey-server` beside this binary, or `BIDKEY_SERVER_BIN`.
fn server_binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("BIDKEY_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = me.with_file_name("bidkey-server");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: cargo build --release -p bidkey-server --bin bidkey-server",
            bin.display()
        ))
    }
}

/// One server process; killed when dropped.
struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &Path, data: &Path, db: &str) -> Result<Process, String> {
    let log = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .args(["--data-dir", &data.display().to_string()])
        .args(["--database-url", db, "serve", "--listen", "127.0.0.1:0"])
        .env("BIDKEY_SANDBOX", "1")
        .env("BIDKEY_OPERATOR_LISTEN", "127.0.0.1:0")
        .env("BIDKEY_RELAY_PER_PLATFORM_PER_MINUTE", "100000000")
        .env("BIDKEY_SMS_PER_IP_PER_HOUR", "100000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(u) = l.strip_prefix("Bidkey server listening on ") {
                    url = Some(u.trim().to_owned());
                }
                if l.starts_with("Bidkey server ready") {
                    break;
                }
            }
            _ => {
                let _ = child.kill();
                return Err(format!("server ended before ready; see {}", data.display()));
            }
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok(Process {
        child,
        url: url.ok_or("no listening line")?,
    })
}

fn copy_files(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if let (true, Some(name)) = (path.is_file(), path.file_name()) {
            std::fs::copy(&path, to.join(name)).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A holder able to co-sign: its wallet and signing certificate.
#[derive(Clone)]
struct Holder {
    wallet: PathBuf,
    serial: String,
}

/// Latencies of successful operations, and failures, over one timed row.
#[derive(Default)]
struct Row {
    ok: Vec<Duration>,
    failed: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Row {
    fn merge(&mut self, other: Row) {
        self.ok.extend(other.ok);
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn cosign_row(url: &str, holders: &[Holder], clients: usize, secs: u64) -> Row {
    // Every holder's phone opened once, against the balancer; taken in turn, paced.
    let queue: VecDeque<(Instant, Arc<bidkey_core::Bidkey>, String)> = holders
        .iter()
        .map(|h| {
            (
                Instant::now() - HOLDER_PACE,
                Arc::new(phone_at_url(url, &h.wallet)),
                h.serial.clone(),
            )
        })
        .collect();
    let queue = Arc::new(Mutex::new(queue));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut row = Row::default();
            let mut n = 0u64;
            while Instant::now() < end {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((last, phone, serial)) = next else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                // Load generator pacing (the per-pair PIN limit), not part of the latency.
                let ready_at = last + HOLDER_PACE;
                if ready_at > Instant::now() {
                    tokio::time::sleep_until(ready_at.into()).await;
                }
                n += 1;
                let msg = format!("bench {c} {n}");
                let t = Instant::now();
                match phone.sign_message(&serial, PIN, msg.as_bytes()).await {
                    Ok(_) => row.ok.push(t.elapsed()),
                    Err(e) => {
                        row.failed += 1;
                        row.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
                if let Ok(mut q) = queue.lock() {
                    q.push_back((Instant::now(), phone, serial));
                }
            }
            row
        }));
    }
    let mut all = Row::default();
    for t in tasks {
        if let Ok(r) = t.await {
            all.merge(r);
        }
    }
    all.elapsed = start.elapsed();
    all
}

async fn relay_row(client: Arc<ScanClient>, clients: usize, secs: u64) -> Row {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut row = Row::default();
            while Instant::now() < end {
                let t = Instant::now();
                let done = async {
                    let p = client.create(ScanAction::Login { uscc: None }, 120).await?;
                    client.poll(&p, 0).await
                }
                .await;
                match done {
                    Ok(_) => row.ok.push(t.elapsed()),
                    Err(e) => {
                        row.failed += 1;
                        row.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            row
        }));
    }
    let mut all = Row::default();
    for t in tasks {
        if let Ok(r) = t.await {
            all.merge(r);
        }
    }
    all.elapsed = start.elapsed();
    all
}

/// `requests`: what the balancer passed on during the row.
fn print_row(route: &str, procs: usize, requests: usize, row: &mut Row) {
    row.ok.sort();
    let secs = row.elapsed.as_secs_f64();
    let ops = row.ok.len() as f64 / secs;
    println!(
        "| {route} | {procs} | {ops:.1} | {:.1} | {:.1} | {:.1} | {} |",
        requests as f64 / secs,
        percentile(&row.ok, 0.5).as_secs_f64() * 1e3,
        percentile(&row.ok, 0.99).as_secs_f64() * 1e3,
        row.failed,
    );
    if let Some(e) = &row.first_error {
        eprintln!("  {route} with {procs}: first failure: {e}");
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "scaleout-bench: {e}\nusage: scaleout-bench [--procs 1,2,4] [--seconds 15] [--clients 16] [--holders 200] [--quick]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaleout-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let bin = server_binary()?;
    eprintln!("setup: an in-process server on a fresh PostgreSQL database");
    let setup = Arc::new(
        TestServer::start_with(Store::Postgres, |c| {
            c.limits = Limits {
                sms_per_ip_per_hour: 100_000_000,
                relay_requests_per_platform_per_minute: 100_000_000,
                ..Limits::default()
            };
        })
        .await,
    );
    let DbUrl::Postgres(db) = setup.running.db_url().clone() else {
        return Err("the setup server is not on PostgreSQL".into());
    };
    let platform = registered_platform(&setup, PLATFORM_NAME, ORIGIN).await;
    let wallets = tempfile::tempdir().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let bidders = population::enroll(
        &setup,
        wallets.path(),
        args.holders,
        8,
        &platform.platform.id,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut holders = Vec::new();
    for b in &bidders {
        let phone = phone_at_url(&setup.url(), &b.wallet);
        let serial = phone
            .local_certificates()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|c| c.usage == "signing")
            .ok_or("a holder without a signing certificate")?
            .serial;
        holders.push(Holder {
            wallet: b.wallet.clone(),
            serial,
        });
    }
    eprintln!(
        "setup: {} holders enrolled in {:.0?}",
        holders.len(),
        t.elapsed()
    );
    let dirs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let most = args.procs.iter().copied().max().unwrap_or(1);
    for i in 0..most {
        copy_files(setup.data_dir.path(), &dirs.path().join(format!("p{i}")))?;
    }
    let Ok(setup) = Arc::try_unwrap(setup) else {
        return Err("the setup server is still shared".into());
    };
    setup.running.stop().await;

    println!("| route | processes | operations/s | requests/s | p50 ms | p99 ms | failed |");
    println!("|---|---|---|---|---|---|---|");
    for &n in &args.procs {
        let procs = (0..n)
            .map(|i| spawn(&bin, &dirs.path().join(format!("p{i}")), &db))
            .collect::<Result<Vec<_>, _>>()?;
        let rr = RoundRobin::start(&procs.iter().map(|p| p.url.clone()).collect::<Vec<_>>()).await;
        let api = PlatformClient::new(&rr.url(), None, Duration::from_secs(60))
            .map_err(|e| e.to_string())?;
        let client = Arc::new(ScanClient::new(
            &api,
            PlatformIdentity {
                platform_id: platform.platform.id.clone(),
                origin: ORIGIN.into(),
                cert_der: platform.cert_der.clone(),
                key: PlatformKey::Sm2(platform.key_copy()),
            },
        ));
        // A short warm-up of each route (connections, caches), not reported.
        let _ = relay_row(client.clone(), args.clients, 1).await;
        let total = |rr: &RoundRobin| rr.served().iter().sum::<usize>();
        let before = total(&rr);
        let mut row = relay_row(client, args.clients, args.seconds).await;
        print_row("relay (create + result)", n, total(&rr) - before, &mut row);
        let before = total(&rr);
        let mut row = cosign_row(&rr.url(), &holders, args.clients, args.seconds).await;
        print_row("co-sign (message signed)", n, total(&rr) - before, &mut row);
        eprintln!("  served per process: {:?}", rr.served());
        drop(rr);
        drop(procs);
    }
    Ok(())
}

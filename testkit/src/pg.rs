//! A throwaway PostgreSQL 15 cluster on loopback, started once per test process.
//!
//! `initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user
//! (via `runuser`). A watchdog shell stops the cluster when the test process exits, because
//! Rust runs no destructors for statics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Cluster {
    url_base: String,
    _dir: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_pg_user(cmd: &str, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]).args(args);
        c
    } else {
        let mut c = Command::new(cmd);
        c.args(args);
        c
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> Cluster {
    if let Ok(url) = std::env::var("BIDKEY_TEST_PG_URL") {
        return Cluster {
            url_base: url.trim_end_matches('/').to_owned(),
            _dir: PathBuf::new(),
        };
    }
    let dir = std::env::temp_dir().join(format!(
        "bidkey-pg-{}-{}",
        std::process::id(),
        hex::encode(random4())
    ));
    std::fs::create_dir_all(&dir).expect("pg dir");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres", dir.to_str().expect("utf-8 path")]);
                c
            },
            "chown",
        );
    }
    let data = dir.join("data");
    let d = data.to_str().expect("utf-8 path");
    run(
        as_pg_user(
            "initdb",
            &["-D", d, "-A", "trust", "-U", "postgres", "--no-sync"],
        ),
        "initdb",
    );
    let port = free_port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        dir.display()
    );
    let log = dir.join("log");
    run(
        as_pg_user(
            "pg_ctl",
            &[
                "-D",
                d,
                "-o",
                &opts,
                "-l",
                log.to_str().expect("utf-8"),
                "-w",
                "start",
            ],
        ),
        "pg_ctl start",
    );
    spawn_watchdog(&data);
    Cluster {
        url_base: format!("postgres://postgres@127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Stop the cluster once this process is gone.
fn spawn_watchdog(data: &Path) {
    let me = std::process::id();
    let stop = if is_root() {
        format!(
            "runuser -u postgres -- pg_ctl -D '{}' -m immediate stop",
            data.display()
        )
    } else {
        format!("pg_ctl -D '{}' -m immediate stop", data.display())
    };
    let script =
        format!("while kill -0 {me} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1");
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn random4() -> [u8; 4] {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("os rng");
    b
}

/// A new, empty database on the shared cluster; returns its URL.
pub fn fresh_database() -> String {
    let cluster = CLUSTER.get_or_init(start_cluster);
    let name = format!(
        "bidkey_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex::encode(random4())
    );
    let admin_url = format!("{}/postgres", cluster.url_base);
    // The synchronous client runs its own runtime; keep it off any async worker thread.
    let stmt = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("connect to test cluster");
        client.batch_execute(&stmt).expect("create database");
    })
    .join()
    .expect("create database thread");
    format!("{}/{name}", cluster.url_base)
}

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
    /// Never dropped (a static): the watchdog stops it when the process ends.
    _own: Option<OwnCluster>,
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
            _own: None,
        };
    }
    let own = OwnCluster::new();
    spawn_watchdog(&own.data);
    Cluster {
        url_base: own.url_base(),
        _own: Some(own),
    }
}

/// A cluster of one test's own, which it may stop and start (database outages). Stopped and
/// deleted when dropped.
#[derive(Debug)]
pub struct OwnCluster {
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    running: bool,
}

impl OwnCluster {
    /// Make and start a cluster on a free loopback port.
    pub fn new() -> OwnCluster {
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
        let mut c = OwnCluster {
            port: free_port(),
            dir,
            data,
            running: false,
        };
        c.start();
        c
    }

    /// `postgres://postgres@127.0.0.1:PORT`
    pub fn url_base(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Start it again (same port, same data); returns once it accepts connections.
    pub fn start(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        run(
            as_pg_user(
                "pg_ctl",
                &[
                    "-D",
                    self.data.to_str().expect("utf-8 path"),
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
        self.running = true;
    }

    /// Stop it (fast shutdown: sessions are ended, as when a database host goes down);
    /// returns once it is down.
    pub fn stop(&mut self) {
        run(
            as_pg_user(
                "pg_ctl",
                &[
                    "-D",
                    self.data.to_str().expect("utf-8 path"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
            ),
            "pg_ctl stop",
        );
        self.running = false;
    }

    /// A new, empty database on this cluster; its URL.
    pub fn fresh_database(&self) -> String {
        create_database(&self.url_base())
    }
}

impl Default for OwnCluster {
    fn default() -> Self {
        OwnCluster::new()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = as_pg_user(
                "pg_ctl",
                &[
                    "-D",
                    self.data.to_str().unwrap_or(""),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            )
            .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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
    create_database(&cluster.url_base)
}

fn create_database(url_base: &str) -> String {
    let name = format!(
        "bidkey_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex::encode(random4())
    );
    let admin_url = format!("{url_base}/postgres");
    // The synchronous client runs its own runtime; keep it off any async worker thread.
    let stmt = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("connect to test cluster");
        client.batch_execute(&stmt).expect("create database");
    })
    .join()
    .expect("create database thread");
    format!("{url_base}/{name}")
}

/// A second cluster that speaks only TLS: `ssl=on` with a server certificate for the name
/// `localhost` (not for `127.0.0.1`) issued by a throwaway CA, and `pg_hba.conf` refusing
/// every connection without TLS. For the `sslmode` tests.
#[derive(Debug)]
pub struct TlsCluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The CA that issued the server's certificate (PEM).
    pub ca_file: PathBuf,
    /// Another CA, which did not (PEM).
    pub other_ca_file: PathBuf,
    _dir: PathBuf,
}

static TLS_CLUSTER: OnceLock<TlsCluster> = OnceLock::new();

/// The TLS-only cluster, started once per test process.
pub fn tls_cluster() -> &'static TlsCluster {
    TLS_CLUSTER.get_or_init(start_tls_cluster)
}

fn openssl(dir: &Path, args: &[&str]) {
    let mut c = Command::new("openssl");
    c.current_dir(dir).args(args);
    run(
        c,
        &format!("openssl {}", args.first().copied().unwrap_or("")),
    );
}

/// A CA (`NAME.key`, `NAME.crt`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-subj",
            &format!("/CN=Bidkey test {name}"),
            "-days",
            "3",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn start_tls_cluster() -> TlsCluster {
    let dir = std::env::temp_dir().join(format!(
        "bidkey-pgtls-{}-{}",
        std::process::id(),
        hex::encode(random4())
    ));
    std::fs::create_dir_all(&dir).expect("pg dir");
    make_ca(&dir, "ca");
    make_ca(&dir, "other-ca");
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "3",
            "-extfile",
            "server.ext",
        ],
    );
    let d = dir.to_str().expect("utf-8 path");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:postgres", d]);
                c
            },
            "chown",
        );
    }
    run(
        {
            let mut c = Command::new("chmod");
            c.args(["600", dir.join("server.key").to_str().expect("utf-8")]);
            c
        },
        "chmod",
    );
    let data = dir.join("data");
    let data_s = data.to_str().expect("utf-8 path");
    run(
        as_pg_user(
            "initdb",
            &["-D", data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
        ),
        "initdb",
    );
    // TLS or nothing over TCP.
    let hba = data.join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .expect("pg_hba.conf");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres", hba.to_str().expect("utf-8")]);
                c
            },
            "chown",
        );
    }
    let port = free_port();
    let opts = format!(
        "-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key"
    );
    let log = dir.join("log");
    run(
        as_pg_user(
            "pg_ctl",
            &[
                "-D",
                data_s,
                "-o",
                &opts,
                "-l",
                log.to_str().expect("utf-8"),
                "-w",
                "start",
            ],
        ),
        "pg_ctl start (TLS)",
    );
    spawn_watchdog(&data);
    TlsCluster {
        port,
        ca_file: dir.join("ca.crt"),
        other_ca_file: dir.join("other-ca.crt"),
        _dir: dir,
    }
}

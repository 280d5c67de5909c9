//! Test support shared by the crates' integration tests.
//!
//! - [`pg`]: a PostgreSQL 15 cluster started on loopback in a temp dir (once per test
//!   process), with a fresh database per test. `BIDKEY_TEST_PG_URL` points the tests at an
//!   existing server instead. [`pg::OwnCluster`] is a test's own, to stop and start.
//! - [`TestServer`]: a Bidkey server on loopback over SQLite or PostgreSQL, with the SMS
//!   outbox readable, restartable on the same data, store and address.
//! - [`faults`]: a loopback proxy that drops a chosen request, or its answer after the
//!   server committed, for tests of what a crash or a lost answer leaves behind.
//! - [`balancer`]: a round-robin reverse proxy in front of several server processes, which
//!   skips one that refuses connections (as nginx's upstream does).
//! - [`proxy`]: a reverse proxy on loopback that alters the server's answers, for tests of
//!   what the phone does when the server (or the network) lies.
//! - [`pki`]: root → issuing CA → signer and TSA certificates in SM2 or P-256, made
//!   locally (no server), for CMS and sealed-PDF tests.
//! - [`vendors`]: fake SMS vendors (Tencent Cloud, Aliyun) that check request signatures.
//!
//! Test servers run in sandbox mode, asked for by name ([`Config::local_sandbox`]).

pub mod balancer;
pub mod faults;
pub mod pay_vendors;
pub mod pg;
pub mod phones;
pub mod pki;
pub mod proxy;
pub mod vendors;

use bidkey_server::db::{DbUrl, Value};
use bidkey_server::{Config, Running};

/// reqwest (built without a default TLS backend, as the phone core is) needs a process-wide
/// rustls provider even for plain HTTP clients; install ring's once.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether `path` is served on the operator listener (ADR 0020).
pub fn is_operator_path(path: &str) -> bool {
    path.starts_with("/v1/operator/") || path == "/metrics" || path.starts_with("/metrics?")
}

/// Which store a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// A Bidkey server on loopback for one test.
#[derive(Debug)]
pub struct TestServer {
    pub running: Running,
    pub data_dir: tempfile::TempDir,
}

impl TestServer {
    /// The server's (test) clock as a platform's clock: SDK calls signed at its time, so a
    /// test that moves the server's clock moves the platform's with it.
    pub fn unix_clock(&self) -> bidkey_platform::client::UnixClock {
        let clock = self.running.state.clock.clone();
        bidkey_platform::client::UnixClock(std::sync::Arc::new(move || clock.now()))
    }

    pub async fn start(store: Store) -> TestServer {
        TestServer::start_with(store, |_| {}).await
    }

    /// A server whose configuration `adjust` changes first (limits, pool size).
    pub async fn start_with(store: Store, adjust: impl FnOnce(&mut Config)) -> TestServer {
        install_tls_provider();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::local_sandbox(data_dir.path().to_path_buf());
        if store == Store::Postgres {
            config.db = DbUrl::Postgres(pg::fresh_database());
        }
        adjust(&mut config);
        let running = bidkey_server::start(config).await.expect("server starts");
        TestServer { running, data_dir }
    }

    /// A second server process over the same database, as a deployment with several
    /// processes runs: its own data directory holding copies of this one's key files.
    pub async fn start_sharing(&self) -> TestServer {
        let data_dir = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(self.data_dir.path()).expect("data dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name();
            let is_db = name.to_string_lossy().starts_with("bidkey.sqlite3");
            if entry.path().is_file() && !is_db {
                std::fs::copy(entry.path(), data_dir.path().join(&name)).expect("copy key file");
            }
        }
        let mut config = Config::local_sandbox(data_dir.path().to_path_buf());
        config.db = self.running.db_url().clone();
        let running = bidkey_server::start(config)
            .await
            .expect("second server starts");
        TestServer { running, data_dir }
    }

    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The operator listener (RA review, platform registration, metrics; ADR 0020).
    pub fn operator_url(&self) -> String {
        self.running.operator_url()
    }

    /// What the operator's `bidkey-server ca root-crl` does (the serving process never holds
    /// the root key, ADR 0019): a fresh root CRL, issued now by the server's clock, so a
    /// relying party checking a signature made after the start finds an ARL issued after it.
    pub async fn publish_root_crl(&self) {
        let root = bidkey_server::ca::keys::load_root(
            self.data_dir.path(),
            &bidkey_server::keyfile::Passphrases::default(),
            true,
        )
        .expect("the sandbox root key");
        let now = self.running.state.clock.now();
        self.running
            .state
            .db
            .write(move |tx| bidkey_server::ca::crl::publish_root(tx, &root, now, 365))
            .await
            .expect("root CRL published");
    }

    /// The listener that serves `path`: operator paths are on the operator listener only.
    pub fn url_for(&self, path: &str) -> String {
        if is_operator_path(path) {
            self.operator_url()
        } else {
            self.url()
        }
    }

    /// Stop this server and start a new process on the same data directory, store and
    /// address: phones and platforms keep their URL. Nothing held in the old process's
    /// memory survives (relay wake-ups, caches), only what is stored; the test clock's
    /// offset is carried over, as real time carries on across a real restart.
    pub async fn restart(self) -> TestServer {
        let TestServer { running, data_dir } = self;
        let addr = running.addr;
        let operator_addr = running.operator_addr;
        let db = running.db_url().clone();
        let offset = running.state.clock.offset();
        let limits = running.state.limits;
        running.stop().await;
        let mut config = Config::local_sandbox(data_dir.path().to_path_buf());
        config.db = db;
        config.listen = addr;
        config.operator_listen = operator_addr;
        config.limits = limits;
        // The old listener is closed once `stop` returns; a port in TIME_WAIT is still
        // bindable (tokio sets SO_REUSEADDR), but retry briefly in case the kernel lags.
        let mut tries = 0;
        let running = loop {
            match bidkey_server::start(config.clone()).await {
                Ok(r) => break r,
                Err(_) if tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("server restarts on {addr}: {e}"),
            }
        };
        running.state.clock.advance(offset);
        TestServer { running, data_dir }
    }

    pub fn operator_token(&self) -> String {
        self.running.operator_token().to_owned()
    }

    /// The newest SMS code sent to `phone`, read from the outbox.
    pub async fn sms_code(&self, phone: &str) -> String {
        let phone = phone.to_owned();
        let body: String = self
            .running
            .state
            .db
            .read(move |tx| {
                let rows = tx.query(
                    "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, id DESC",
                    &[Value::Text(phone.clone())],
                )?;
                rows.first()
                    .map(|r| r.text(0))
                    .transpose()
                    .map(Option::unwrap_or_default)
            })
            .await
            .map_err(|e: bidkey_server::db::DbError| e)
            .expect("outbox readable");
        // The first run of exactly six ASCII digits is the code.
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no code in SMS body {body:?}"))
    }
}

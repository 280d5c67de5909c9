//! Support of the end-to-end tests (`tests/*.rs`): stopping a test server and starting a new
//! process on the same data directory, database and port, as an operator's restart does.
//!
//! The tests themselves: `story.rs` (the `bidkey demo` story on SQLite), `story_postgres.rs`
//! (the same on PostgreSQL), `failures.rs` (wrong PINs, stale, replayed and expired QR
//! codes, a second claim, staff trying admin actions) and `restart.rs` (a restart in the
//! middle of a claim and of a scan).

use bidkey_server::Config;
use bidkey_testkit::TestServer;

/// Stop `server` and start a new one on the same data directory, store and address: the
/// phones and the platform keep their URL. Nothing held in the old process's memory
/// survives (relay wake-ups, the clock offset of tests), only what is stored.
pub async fn restart(server: TestServer) -> TestServer {
    let TestServer { running, data_dir } = server;
    let addr = running.addr;
    let db = running.db_url().clone();
    running.stop().await;
    let mut config = Config::local(data_dir.path().to_path_buf());
    config.db = db;
    config.listen = addr;
    // The old listener is closed once `stop` returns; a port in TIME_WAIT is still bindable
    // (tokio sets SO_REUSEADDR), but retry briefly in case the kernel lags.
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
    TestServer { running, data_dir }
}

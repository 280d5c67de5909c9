//! Support of the end-to-end tests (`tests/*.rs`): stopping a test server and starting a new
//! process on the same data directory, database and port, as an operator's restart does.
//!
//! The tests themselves: `story.rs` (the `bidkey demo` story on SQLite), `story_postgres.rs`
//! (the same on PostgreSQL), `failures.rs` (wrong PINs, stale, replayed and expired QR
//! codes, a second claim, staff trying admin actions) and `restart.rs` (a restart in the
//! middle of a claim and of a scan).

use bidkey_testkit::TestServer;

/// Stop `server` and start a new one on the same data directory, store and address: the
/// phones and the platform keep their URL. Nothing held in the old process's memory
/// survives (relay wake-ups), only what is stored ([`TestServer::restart`]).
pub async fn restart(server: TestServer) -> TestServer {
    server.restart().await
}

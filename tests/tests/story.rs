//! The `bidkey demo` story as a test, on SQLite: the same code the command runs, with each
//! step's outcome asserted, and the output folder checked (QR codes that decode, the signed
//! bid whose signature verifies against the saved certificate, the report).

mod common;

use bidkey_server::db::DbUrl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_on_sqlite() {
    common::whole_story(None::<DbUrl>).await;
}

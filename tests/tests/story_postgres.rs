//! The `bidkey demo` story with the server on PostgreSQL (a fresh database on the cluster
//! `bidkey-testkit` starts on loopback, or `BIDKEY_TEST_PG_URL`).

mod common;

use bidkey_server::db::DbUrl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_on_postgresql() {
    let url = bidkey_testkit::pg::fresh_database();
    common::whole_story(Some(DbUrl::Postgres(url))).await;
}

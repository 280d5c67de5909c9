//! Backups of the SQLite store through the operator's commands: `backup --to` while the
//! server serves, `restore --from` with it stopped; after the round trip the same server
//! (its key files untouched) co-signs with a certificate issued before the backup, and what
//! happened after the backup is gone. A backup from a newer server is refused, and so is a
//! database a newer server migrated.

#[path = "support/process.rs"]
mod process;

use bidkey_server::Config;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use process::run;
use std::path::Path;

async fn accounts(server: &TestServer) -> i64 {
    server
        .running
        .state
        .db
        .read(|tx| {
            tx.query_opt("SELECT COUNT(*) FROM accounts", &[])?
                .expect("a row")
                .i64(0)
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("count")
}

/// Stop `server` and start a new process on the same data directory and address.
async fn restarted(server: TestServer, between: impl FnOnce(&Path)) -> TestServer {
    let TestServer { running, data_dir } = server;
    let addr = running.addr;
    running.stop().await;
    between(data_dir.path());
    let mut config = Config::local_sandbox(data_dir.path().to_path_buf());
    config.listen = addr;
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

fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--data-dir", data.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    run(&all, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_and_signs() {
    let server = TestServer::start(Store::Sqlite).await;
    let wallets = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, wallets.path());
    registered(
        &server,
        &phone,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    let app = phone.apply_personal_certificate().await.expect("applied");
    let paid = approve_and_pay(&server, &phone, &app).await;
    let pair = phone.enroll(&paid.id, PIN).await.expect("enrolled");
    phone
        .sign_message(&pair.signing_serial, PIN, b"before the backup")
        .await
        .expect("co-signed");

    // Backed up while the server runs (its connections open).
    let backups = tempfile::tempdir().expect("dir");
    let file = backups.path().join("bidkey-backup.sqlite3");
    let f = file.to_str().expect("utf-8").to_owned();
    let (ok, out, err) = cli(server.data_dir.path(), &["backup", "--to", &f]);
    assert!(ok, "{err}");
    assert!(out.contains("schema version"), "{out}");
    // It names the key files to keep with it.
    assert!(
        out.contains("pii.key") && out.contains("operator.token"),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }
    // Never over an existing file.
    let (ok, _, err) = cli(server.data_dir.path(), &["backup", "--to", &f]);
    assert!(!ok && err.contains("already exists"), "{err}");

    // After the backup: another account, which the restore takes away.
    let before = accounts(&server).await;
    let later = tempfile::tempdir().expect("dir");
    let other = phone_at(&server, later.path());
    registered(
        &server,
        &other,
        "13900000002",
        &identity("李四", &id_number(2)),
    )
    .await;
    assert_eq!(accounts(&server).await, before + 1);

    let server = restarted(server, |data| {
        let (ok, out, err) = cli(data, &["restore", "--from", &f]);
        assert!(ok, "{err}");
        assert!(out.contains("restored"), "{out}");
    })
    .await;
    assert_eq!(accounts(&server).await, before);
    phone
        .sign_message(&pair.signing_serial, PIN, b"after the restore")
        .await
        .expect("co-signed after the restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_runs_against_a_newer_schema() {
    let server = TestServer::start(Store::Sqlite).await;
    let data = server.data_dir.path().to_owned();
    let backups = tempfile::tempdir().expect("dir");
    let file = backups.path().join("b.sqlite3");
    let f = file.to_str().expect("utf-8").to_owned();
    let (ok, _, err) = cli(&data, &["backup", "--to", &f]);
    assert!(ok, "{err}");
    let before = accounts(&server).await;
    server.running.stop().await;

    // A backup a newer server made: refused before anything is touched.
    {
        let c = rusqlite::Connection::open(&file).expect("open backup");
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)",
            [],
        )
        .expect("newer");
    }
    let (ok, _, err) = cli(&data, &["restore", "--from", &f]);
    assert!(!ok);
    assert!(
        err.contains("schema is version 999, newer than this server's"),
        "{err}"
    );
    // Not a backup at all.
    let junk = backups.path().join("junk");
    std::fs::write(&junk, b"definitely not SQLite").expect("write");
    let (ok, _, err) = cli(&data, &["restore", "--from", junk.to_str().expect("utf-8")]);
    assert!(!ok, "{err}");

    // The database is as it was: the server starts and finds it.
    let db = bidkey_server::db::DbUrl::Sqlite(data.join("bidkey.sqlite3"));
    let db2 = db.clone();
    let count = tokio::task::spawn_blocking(move || {
        let c = rusqlite::Connection::open(match &db2 {
            bidkey_server::db::DbUrl::Sqlite(p) => p.clone(),
            _ => unreachable!(),
        })
        .expect("open");
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))
            .expect("count");
        // Now a newer server migrates it.
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)",
            [],
        )
        .expect("newer");
        n
    })
    .await
    .expect("joined");
    assert_eq!(count, before);
    // This server refuses to run against it, in words, for serving and for every command.
    let e = tokio::task::spawn_blocking(move || bidkey_server::db::Db::open(&db, 1))
        .await
        .expect("joined")
        .expect_err("newer schema");
    assert!(
        matches!(
            e,
            bidkey_server::db::DbError::NewerSchema { found: 999, .. }
        ),
        "{e}"
    );
    let (ok, _, err) = cli(&data, &["reviews"]);
    assert!(!ok);
    assert!(err.contains("newer than this server's"), "{err}");
    let (ok, out, err) = cli(&data, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok && !out.contains("listening"), "{out}");
    assert!(err.contains("run the newer server"), "{err}");
}

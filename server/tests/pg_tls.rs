//! PostgreSQL over TLS, against a PostgreSQL the test starts with a certificate and a
//! `pg_hba.conf` that refuses connections without TLS: each `sslmode` connects or refuses
//! as libpq's does, and a whole server runs over `verify-full`.

mod support;

use bidkey_server::db::{Db, DbError, DbUrl};
use bidkey_testkit::pg::tls_cluster;
use support::{Store, TestServer, signed_up};

fn url(host: &str, query: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?{query}",
        tls_cluster().port
    )
}

fn ca() -> String {
    tls_cluster().ca_file.display().to_string()
}

/// Open a pool of one (migrations included) on a thread of its own.
fn open(url: String) -> Result<(), DbError> {
    std::thread::spawn(move || {
        Db::open(&DbUrl::Postgres(url), 1).map(|db| {
            db.close();
        })
    })
    .join()
    .expect("thread")
}

#[test]
fn each_sslmode_connects_or_refuses_as_libpq_does() {
    // Without TLS the server refuses (pg_hba.conf): what follows really is over TLS.
    let e = open(url("127.0.0.1", "sslmode=disable")).expect_err("no TLS");
    assert!(e.to_string().contains("pg_hba.conf"), "{e}");
    // Encrypted, the certificate not checked.
    open(url("127.0.0.1", "sslmode=require")).expect("require");
    open(url("127.0.0.1", "sslmode=prefer")).expect("prefer");
    // Issued by our CA, for the name we connect to.
    open(url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    ))
    .expect("verify-full by name");
    // The certificate is for `localhost`, not for the address: verify-full refuses, and
    // verify-ca (the chain only) accepts.
    let e = open(url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    ))
    .expect_err("wrong name");
    assert!(
        e.to_string().to_lowercase().contains("not valid for name"),
        "{e}"
    );
    open(url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", ca()),
    ))
    .expect("verify-ca");
    // Another CA: a man in the middle's certificate is refused by both.
    let other = tls_cluster().other_ca_file.display().to_string();
    for mode in ["verify-ca", "verify-full"] {
        let e = open(url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .expect_err("unknown issuer");
        assert!(
            e.to_string().to_lowercase().contains("unknown"),
            "{mode}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_runs_over_verify_full() {
    let db = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    );
    let server = TestServer::start_with(Store::Sqlite, move |c| {
        c.db = DbUrl::Postgres(db);
    })
    .await;
    let c = signed_up(&server, "13800138777").await;
    let me: serde_json::Value = c.get("/v1/me").await.expect("me");
    assert_eq!(me["phone_masked"], "138****8777", "{me}");
    let ready = reqwest::get(format!("{}/readyz", server.url()))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
}

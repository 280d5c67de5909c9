//! The same storage tests on SQLite and PostgreSQL: migrations, types, transactions,
//! constraints, retries.

use bidkey_server::db::{Db, DbError, DbUrl, Tx, Value};
use bidkey_server::params;
use bidkey_testkit::pg;

fn sqlite_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.sqlite3")), 2).expect("open");
    (db, dir)
}

fn pg_db() -> Db {
    let url = pg::fresh_database();
    std::thread::spawn(move || Db::open(&DbUrl::Postgres(url), 2).expect("open"))
        .join()
        .expect("thread")
}

macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (db, _dir) = super::sqlite_db();
                    super::$name(db).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::pg_db();
                    super::$name(db).await;
                }
            )*
        }
    };
}

storage_tests!(
    round_trips_every_type,
    failed_closure_rolls_back,
    unique_constraints_are_conflicts,
    one_admin_per_enterprise,
    concurrent_increments_do_not_lose_updates,
    migrations_are_idempotent_on_reopen,
);

async fn insert_account(db: &Db, id: &str, phone: &str) {
    let (id, phone) = (id.to_owned(), phone.to_owned());
    db.write(move |tx| {
        tx.execute(
            "INSERT INTO accounts (id, phone, created_at) VALUES ($1, $2, $3)",
            &params![&id, &phone, 1_700_000_000i64],
        )
    })
    .await
    .expect("insert account");
}

async fn round_trips_every_type(db: Db) {
    insert_account(&db, "a1", "13800138000").await;
    db.write(|tx| {
        tx.execute(
            "INSERT INTO uploads (id, application_id, name, content_type, sha256, size, data, created_at) \
             VALUES ('u1', 'app', $1, 'image/png', 'x', $2, $3, $4)",
            &params!["营业执照.png", i64::MAX, vec![0u8, 1, 255], -5i64],
        )
        .map(|_| ())
    })
    .await
    .map_err(|e: DbError| e)
    .expect_err("application_id must reference applications");
    let rows = db
        .read(|tx| {
            tx.query(
                "SELECT id, phone, password_hash, created_at FROM accounts WHERE id = $1",
                &params!["a1"],
            )
        })
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text(1).expect("text"), "13800138000");
    assert_eq!(rows[0].opt_text(2).expect("null"), None);
    assert_eq!(rows[0].i64(3).expect("int"), 1_700_000_000);
    let blob = db
        .write(|tx| {
            tx.execute(
                "INSERT INTO sms_outbox (id, phone, body, created_at) VALUES ('m1', '1', $1, 0)",
                &params!["验证码 123456"],
            )?;
            tx.execute(
                "INSERT INTO seals (id, enterprise_id, name, image, image_sha256, created_at, updated_at) \
                 SELECT 's1', 'e1', 'n', $1, 'h', 0, 0 WHERE 1 = 0",
                &params![vec![1u8, 2, 3]],
            )?;
            let r = tx.query_opt("SELECT body FROM sms_outbox WHERE id = 'm1'", &[])?;
            r.map(|r| r.text(0)).transpose()
        })
        .await
        .expect("write");
    assert_eq!(blob.as_deref(), Some("验证码 123456"));
    let bytes = db
        .write(|tx| {
            tx.execute(
                "INSERT INTO idempotency (key, response, created_at) VALUES ('k', $1, 0)",
                &params!["{}"],
            )?;
            tx.execute(
                "INSERT INTO crl_state (id, crl_number, der, this_update) VALUES (1, 7, $1, NULL)",
                &params![vec![0u8, 0x30, 0xff]],
            )?;
            tx.query_opt("SELECT der, this_update FROM crl_state WHERE id = 1", &[])
        })
        .await
        .expect("blob")
        .expect("row");
    assert_eq!(bytes.bytes(0).expect("bytes"), vec![0u8, 0x30, 0xff]);
    assert_eq!(bytes.opt_i64(1).expect("null int"), None);
}

async fn failed_closure_rolls_back(db: Db) {
    let r: Result<(), DbError> = db
        .write(|tx| {
            tx.execute(
                "INSERT INTO accounts (id, phone, created_at) VALUES ('x', '13900000000', 0)",
                &[],
            )?;
            Err(DbError::Query("abandon".into()))
        })
        .await;
    assert!(r.is_err());
    let n = db
        .read(|tx| tx.query("SELECT id FROM accounts", &[]))
        .await
        .expect("select")
        .len();
    assert_eq!(n, 0, "nothing from a failed transaction remains");
}

async fn unique_constraints_are_conflicts(db: Db) {
    insert_account(&db, "a1", "13800138000").await;
    let r = db
        .write(|tx| {
            tx.execute(
                "INSERT INTO accounts (id, phone, created_at) VALUES ('a2', '13800138000', 0)",
                &[],
            )
        })
        .await;
    assert!(matches!(r, Err(DbError::Conflict(_))), "{r:?}");
}

async fn one_admin_per_enterprise(db: Db) {
    insert_account(&db, "a1", "13800138001").await;
    insert_account(&db, "a2", "13800138002").await;
    db.write(|tx| {
        tx.execute(
            "INSERT INTO enterprises (id, uscc, name, status, created_at, updated_at) VALUES ('e1', 'U', '甲公司', 'claimed', 0, 0)",
            &[],
        )?;
        tx.execute(
            "INSERT INTO memberships (id, enterprise_id, account_id, role, status, created_at, updated_at) VALUES ('m1', 'e1', 'a1', 'admin', 'active', 0, 0)",
            &[],
        )
    })
    .await
    .expect("first admin");
    let second = db
        .write(|tx| {
            tx.execute(
                "INSERT INTO memberships (id, enterprise_id, account_id, role, status, created_at, updated_at) VALUES ('m2', 'e1', 'a2', 'admin', 'active', 0, 0)",
                &[],
            )
        })
        .await;
    assert!(matches!(second, Err(DbError::Conflict(_))), "{second:?}");
    // A removed admin row does not block a new admin.
    db.write(|tx| {
        tx.execute("UPDATE memberships SET status = 'removed' WHERE id = 'm1'", &[])?;
        tx.execute(
            "INSERT INTO memberships (id, enterprise_id, account_id, role, status, created_at, updated_at) VALUES ('m2', 'e1', 'a2', 'admin', 'active', 0, 0)",
            &[],
        )
    })
    .await
    .expect("transfer");
}

async fn concurrent_increments_do_not_lose_updates(db: Db) {
    db.write(|tx| {
        tx.execute(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('b', 0, 0)",
            &[],
        )
    })
    .await
    .expect("seed");
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.write(|tx: &mut dyn Tx| {
                let r = tx
                    .query_opt("SELECT hits FROM rate_limits WHERE bucket = 'b'", &[])?
                    .ok_or(DbError::Decode("row".into()))?;
                let v = r.i64(0)?;
                tx.execute(
                    "UPDATE rate_limits SET hits = $1 WHERE bucket = 'b'",
                    &[Value::Int(v + 1)],
                )
            })
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("increment");
    }
    let hits = db
        .read(|tx| tx.query_opt("SELECT hits FROM rate_limits WHERE bucket = 'b'", &[]))
        .await
        .expect("read")
        .expect("row")
        .i64(0)
        .expect("int");
    assert_eq!(hits, 40, "read-modify-write transactions are isolated");
}

async fn migrations_are_idempotent_on_reopen(db: Db) {
    let versions = db
        .read(|tx| {
            tx.query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
        })
        .await
        .expect("versions");
    assert!(!versions.is_empty());
    assert_eq!(versions[0].i64(0).expect("int"), 1);
}

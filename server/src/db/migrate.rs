//! Versioned schema migrations, one SQL file per version and backend, applied in order,
//! each in its own transaction. On PostgreSQL an advisory lock keeps several server
//! processes starting at once from racing.

use super::{Conn, DbError};

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("../../migrations/sqlite/0003_ca.sql"),
        postgres: include_str!("../../migrations/postgres/0003_ca.sql"),
    },
];

const LOCK_KEY: i64 = 0x6269_646b_6579; // "bidkey"

pub(super) fn run(conn: &mut Conn) -> Result<(), DbError> {
    let err = |e: String| DbError::Migration(e);
    match conn {
        Conn::Sqlite(c) => {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .map_err(|e| err(e.to_string()))?;
            for m in MIGRATIONS {
                let tx = c.transaction().map_err(|e| err(e.to_string()))?;
                let done: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM schema_migrations WHERE version = ?1",
                        [m.version],
                        |r| r.get(0),
                    )
                    .map_err(|e| err(e.to_string()))?;
                if done == 0 {
                    tx.execute_batch(m.sqlite)
                        .map_err(|e| err(format!("version {}: {e}", m.version)))?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        [m.version, now()],
                    )
                    .map_err(|e| err(e.to_string()))?;
                }
                tx.commit().map_err(|e| err(e.to_string()))?;
            }
        }
        Conn::Postgres(c) => {
            for m in MIGRATIONS {
                let mut tx = c.transaction().map_err(|e| err(e.to_string()))?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                    .map_err(|e| err(e.to_string()))?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .map_err(|e| err(e.to_string()))?;
                let done: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM schema_migrations WHERE version = $1",
                        &[&m.version],
                    )
                    .map_err(|e| err(e.to_string()))?
                    .get(0);
                if done == 0 {
                    tx.batch_execute(m.postgres)
                        .map_err(|e| err(format!("version {}: {e}", m.version)))?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        &[&m.version, &now()],
                    )
                    .map_err(|e| err(e.to_string()))?;
                }
                tx.commit().map_err(|e| err(e.to_string()))?;
            }
        }
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

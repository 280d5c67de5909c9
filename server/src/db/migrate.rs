//! Versioned schema migrations, applied in order, each in its own transaction. On PostgreSQL
//! an advisory lock keeps several server processes starting at once from racing.
//!
//! One SQL file per version serves both backends: the schema uses only TEXT, BIGINT and
//! BLOB, and BLOB becomes BYTEA for PostgreSQL ([`for_postgres`]). (Version 2 was reserved
//! during development and never used.)

use super::{Conn, DbError};

struct Migration {
    version: i64,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/0003_ca.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/0004_relay.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/0005_enrollment_confirm.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/0006_tsa.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../../migrations/0007_recovery_and_holder_pins.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../../migrations/0008_operator_tokens.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../../migrations/0009_electronic_seals.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../../migrations/0010_preauth.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../../migrations/0012_refunds.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../../migrations/0014_preauth_shares.sql"),
    },
];

/// The PostgreSQL form of a portable migration: `BLOB` columns become `BYTEA`.
fn for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("BLOB") {
        let before_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        let after_ok = rest[i + 4..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        out.push_str(&rest[..i]);
        out.push_str(if before_ok && after_ok {
            "BYTEA"
        } else {
            "BLOB"
        });
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    out
}

/// The schema version this server knows: the newest of its migrations.
pub fn latest() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuse a database a newer server has migrated: this server would misread tables it does
/// not know, and its older migrations are no way back.
fn check_not_newer(found: i64) -> Result<(), DbError> {
    if found > latest() {
        return Err(DbError::NewerSchema {
            found,
            known: latest(),
        });
    }
    Ok(())
}

const LOCK_KEY: i64 = 0x6269_646b_6579; // "bidkey"

pub(super) fn run(conn: &mut Conn) -> Result<(), DbError> {
    let err = |e: String| DbError::Migration(e);
    match conn {
        Conn::Sqlite(c, _) => {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .map_err(|e| err(e.to_string()))?;
            let found: i64 = c
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| err(e.to_string()))?;
            check_not_newer(found)?;
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
                    tx.execute_batch(m.sql)
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
        Conn::Postgres(pg) => {
            let c = pg.client();
            for m in MIGRATIONS {
                let mut tx = c.transaction().map_err(|e| err(e.to_string()))?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                    .map_err(|e| err(e.to_string()))?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .map_err(|e| err(e.to_string()))?;
                let found: i64 = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                        &[],
                    )
                    .map_err(|e| err(e.to_string()))?
                    .get(0);
                check_not_newer(found)?;
                let done: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM schema_migrations WHERE version = $1",
                        &[&m.version],
                    )
                    .map_err(|e| err(e.to_string()))?
                    .get(0);
                if done == 0 {
                    tx.batch_execute(&for_postgres(m.sql))
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

#[cfg(test)]
mod tests {
    #[test]
    fn blob_becomes_bytea_only_as_a_word() {
        assert_eq!(
            super::for_postgres("a BLOB NOT NULL, blobby BLOB_X, x BLOB)"),
            "a BYTEA NOT NULL, blobby BLOB_X, x BYTEA)"
        );
    }
}

//! Backups of the SQLite store: `bidkey-server backup --to FILE` while the server runs, and
//! `bidkey-server restore --from FILE` with it stopped. Both go through SQLite's online
//! backup API (rusqlite's `backup`), never a file copy: a copy of a database in WAL mode
//! taken while it is written is torn, and a copied-back file next to a stale `-wal` is
//! corrupt. The key files of the data directory are not in the database; they are backed up
//! apart (docs/operations.md). PostgreSQL is backed up with `pg_dump`.

use crate::db::{DbError, DbUrl, schema_version_known};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backups of PostgreSQL are made with pg_dump and restored with pg_restore (docs/operations.md)"
    )]
    Postgres,
    #[error("{0} already exists: choose a new file name (a backup never overwrites)")]
    Exists(PathBuf),
    #[error("{path}: {why}")]
    Sqlite { path: PathBuf, why: String },
    #[error("{0} is not a Bidkey database (no schema_migrations table)")]
    NotBidkey(PathBuf),
    #[error("{path} failed its integrity check: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("{0}")]
    Db(#[from] DbError),
}

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |e| BackupError::Sqlite {
        path: path.to_owned(),
        why: e.to_string(),
    }
}

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub pages: i64,
    pub schema_version: i64,
}

fn sqlite_path(url: &DbUrl) -> Result<&Path, BackupError> {
    match url {
        DbUrl::Sqlite(p) => Ok(p),
        DbUrl::Postgres(_) => Err(BackupError::Postgres),
    }
}

/// Copy all pages at once, retrying while a writer holds the database.
fn copy_all(from: &Connection, to: &mut Connection, path: &Path) -> Result<(), BackupError> {
    let backup = Backup::new(from, to).map_err(sqlite_err(path))?;
    // One step of all pages copies one consistent snapshot: a step taken in pieces restarts
    // whenever the server writes in between.
    for _ in 0..200 {
        match backup.step(-1).map_err(sqlite_err(path))? {
            StepResult::Done => return Ok(()),
            StepResult::Busy | StepResult::Locked | StepResult::More => {
                std::thread::sleep(Duration::from_millis(25));
            }
            _ => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    Err(BackupError::Sqlite {
        path: path.to_owned(),
        why: "the database stayed busy for 5 s".into(),
    })
}

/// `PRAGMA integrity_check` and the schema version of an open database.
fn checked(c: &Connection, path: &Path) -> Result<Copied, BackupError> {
    let verdict: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sqlite_err(path))?;
    if verdict != "ok" {
        return Err(BackupError::Corrupt {
            path: path.to_owned(),
            why: verdict,
        });
    }
    let has_table: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(path))?;
    if has_table == 0 {
        return Err(BackupError::NotBidkey(path.to_owned()));
    }
    let schema_version: i64 = c
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(path))?;
    let pages: i64 = c
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(sqlite_err(path))?;
    Ok(Copied {
        pages,
        schema_version,
    })
}

/// Back up the database at `db` into the new file `to`, online: the server may be serving.
/// The copy is written beside `to` and renamed into place once checked, readable by the
/// owner only.
pub fn backup(db: &DbUrl, to: &Path) -> Result<Copied, BackupError> {
    let from_path = sqlite_path(db)?;
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let from = Connection::open_with_flags(
        from_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(from_path))?;
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    crate::write_private(&partial, b"").map_err(|e| BackupError::Sqlite {
        path: partial.clone(),
        why: e.to_string(),
    })?;
    let result = (|| {
        let mut out = Connection::open(&partial).map_err(sqlite_err(&partial))?;
        copy_all(&from, &mut out, from_path)?;
        let copied = checked(&out, &partial)?;
        drop(out);
        std::fs::rename(&partial, to).map_err(|e| BackupError::Sqlite {
            path: to.to_owned(),
            why: e.to_string(),
        })?;
        Ok(copied)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Replace the database at `db` by the backup `from` (stop the server first). The backup is
/// checked before anything is touched: intact, a Bidkey database, not from a newer server.
/// The restored database is then migrated to this server's schema.
pub fn restore(from: &Path, db: &DbUrl) -> Result<Copied, BackupError> {
    let to_path = sqlite_path(db)?;
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(from))?;
    let copied = checked(&source, from)?;
    if copied.schema_version > schema_version_known() {
        return Err(DbError::NewerSchema {
            found: copied.schema_version,
            known: schema_version_known(),
        }
        .into());
    }
    if let Some(dir) = to_path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| BackupError::Sqlite {
            path: dir.to_owned(),
            why: e.to_string(),
        })?;
    }
    let mut target = Connection::open(to_path).map_err(sqlite_err(to_path))?;
    copy_all(&source, &mut target, to_path)?;
    drop(target);
    // Bring an older backup up to this server's schema now, not at the next start.
    crate::db::Db::open(db, 1)?.close();
    Ok(copied)
}

/// The files of the data directory a backup must be kept with (everything but the database).
pub fn key_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("bidkey.sqlite3"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_sqlite_only_and_never_overwrite() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(matches!(
            backup(
                &DbUrl::Postgres("postgres://x/y".into()),
                &dir.path().join("b")
            ),
            Err(BackupError::Postgres)
        ));
        let db = DbUrl::Sqlite(dir.path().join("bidkey.sqlite3"));
        crate::db::Db::open(&db, 1).expect("created").close();
        let to = dir.path().join("b.sqlite3");
        let c = backup(&db, &to).expect("backed up");
        assert_eq!(c.schema_version, schema_version_known());
        assert!(matches!(backup(&db, &to), Err(BackupError::Exists(_))));
        // Not a database at all.
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not sqlite").expect("write");
        assert!(restore(&junk, &db).is_err());
    }
}

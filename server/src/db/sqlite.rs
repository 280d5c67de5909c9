//! The SQLite backend (rusqlite, bundled SQLite) in WAL mode.

use super::value::{Row, Value};
use super::{Backend, DbError, Tx};
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::path::Path;
use std::time::Duration;

pub(crate) fn open(path: &Path) -> Result<rusqlite::Connection, DbError> {
    let conn = rusqlite::Connection::open(path).map_err(|e| DbError::Connect(e.to_string()))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| DbError::Connect(e.to_string()))?;
    conn.execute_batch(
        // Each pool connection caches up to 64 MiB of pages (SQLite's default is 2 MiB), so
        // a busy server reads its hot rows without a system call per page.
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
         PRAGMA cache_size=-65536;",
    )
    .map_err(|e| DbError::Connect(e.to_string()))?;
    Ok(conn)
}

/// SQL is written with PostgreSQL's `$1` placeholders; SQLite takes the same numbers as `?1`.
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut in_quote = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_quote = !in_quote;
        }
        if c == '$' && !in_quote && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Bytes(b) => SqlValue::Blob(b.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Result<Value, DbError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| DbError::Decode("invalid UTF-8 in text column".into()))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(_) => return Err(DbError::Decode("REAL columns are not used".into())),
    })
}

pub(crate) fn map_err(e: rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => DbError::Conflict(e.to_string()),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Retry,
            _ => DbError::Query(e.to_string()),
        },
        _ => DbError::Query(e.to_string()),
    }
}

pub(crate) struct SqliteTx<'a>(pub(crate) &'a rusqlite::Connection);

impl Tx for SqliteTx<'_> {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.0.prepare_cached(&translate(sql)).map_err(map_err)?;
        let n = stmt.column_count();
        let bound: Vec<SqlValue> = params.iter().map(to_sql).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound.iter()))
            .map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(map_err)? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(from_sql(r.get_ref(i).map_err(map_err)?)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut stmt = self.0.prepare_cached(&translate(sql)).map_err(map_err)?;
        let bound: Vec<SqlValue> = params.iter().map(to_sql).collect();
        let n = stmt
            .execute(rusqlite::params_from_iter(bound.iter()))
            .map_err(map_err)?;
        Ok(n as u64)
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_translate_outside_quotes() {
        assert_eq!(
            super::translate("SELECT a FROM t WHERE x = $1 AND y = '$2' AND z = $10"),
            "SELECT a FROM t WHERE x = ?1 AND y = '$2' AND z = ?10"
        );
    }
}

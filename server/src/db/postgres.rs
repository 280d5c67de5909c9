//! The PostgreSQL backend (the synchronous `postgres` client on the pool's own threads).

use super::value::{Row, Value};
use super::{Backend, DbError, Tx};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;
use std::error::Error as StdError;

/// A connection and its prepared statements: each SQL text is parsed by the server once per
/// connection instead of once per use (a round trip saved on every statement).
pub(crate) struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub(crate) fn connect(url: &str) -> Result<PgConn, DbError> {
        let client = super::pgtls::connect(url)?;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
        })
    }

    /// Whether the connection has died (the server went away); the pool then makes a new
    /// one before its next transaction.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    pub(crate) fn parts(
        &mut self,
    ) -> (
        &mut postgres::Client,
        &mut HashMap<String, postgres::Statement>,
    ) {
        (&mut self.client, &mut self.statements)
    }
}

#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Value, DbError> {
    let ty = row.columns()[i].type_().clone();
    let dec = |e: postgres::Error| DbError::Decode(e.to_string());
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(dec)?
            .map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(dec)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(dec)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(dec)?
            .map(|v| Value::Int(v.into())),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(dec)?
            .map(Value::Bytes),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map_err(dec)?
            .map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

pub(crate) fn map_err(e: postgres::Error) -> DbError {
    use postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            DbError::Retry
        }
        Some(c) if *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::FOREIGN_KEY_VIOLATION => {
            DbError::Conflict(e.to_string())
        }
        // Connection exceptions (08…) and operator intervention (57…: the server shutting
        // down, a session terminated): the database is unavailable, not the query wrong.
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57") => {
            DbError::Connect(e.to_string())
        }
        _ if e.is_closed() => DbError::Connect(e.to_string()),
        // No answer at all: the socket failed under the query.
        None if std::error::Error::source(&e)
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()) =>
        {
            DbError::Connect(e.to_string())
        }
        _ => DbError::Query(e.to_string()),
    }
}

/// Statements on a transaction, or on the bare connection (each statement then commits on
/// its own, at PostgreSQL's default read committed).
pub(crate) struct PgTx<'a, C: postgres::GenericClient> {
    pub(crate) tx: &'a mut C,
    pub(crate) statements: &'a mut HashMap<String, postgres::Statement>,
}

impl<C: postgres::GenericClient> PgTx<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(map_err)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

impl<C: postgres::GenericClient> Tx for PgTx<'_, C> {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let stmt = self.statement(sql)?;
        let rows = self.tx.query(&stmt, &refs).map_err(map_err)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| column(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let stmt = self.statement(sql)?;
        self.tx.execute(&stmt, &refs).map_err(map_err)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}

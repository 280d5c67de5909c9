//! Storage: one interface over SQLite (the default, a file) and PostgreSQL (for many server
//! processes). Domain code is plain synchronous functions over [`Tx`]; [`Db::write`] and
//! [`Db::read`] run such a function inside one transaction on a pool thread, so the async
//! HTTP workers never block on the database and every state change is all-or-nothing.

mod migrate;
pub(crate) mod pgtls;

pub use migrate::latest as schema_version_known;
mod postgres;
mod sqlite;
mod value;

pub use value::{Row, Value};

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

/// Storage errors. `Conflict` is a unique or foreign-key violation (the caller maps it to a
/// domain error); `Retry` is a serialization failure or busy database, retried by [`Db`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database query failed: {0}")]
    Query(String),
    #[error("constraint violated: {0}")]
    Conflict(String),
    #[error("database busy, transaction should be retried")]
    Retry,
    #[error("unexpected column value: {0}")]
    Decode(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database pool has shut down")]
    Closed,
    #[error(
        "the database's schema is version {found}, newer than this server's {known}: run the newer server, or restore a backup made by this version"
    )]
    NewerSchema { found: i64, known: i64 },
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://user@host:port/db`).
    Postgres(String),
}

impl DbUrl {
    /// `postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:PATH` or a bare path
    /// selects SQLite.
    pub fn parse(s: &str) -> DbUrl {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            DbUrl::Postgres(s.to_owned())
        } else {
            DbUrl::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }
}

/// One transaction's view of the database.
pub trait Tx {
    /// Run a query; SQL uses `$1, $2, …` placeholders on both backends.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    /// Run a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    fn backend(&self) -> Backend;

    /// Exactly one row or `None`; more than one is an error.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        let mut rows = self.query(sql, params)?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop()),
            n => Err(DbError::Decode(format!("expected one row, got {n}"))),
        }
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

enum Conn {
    /// A SQLite connection and the lock its writers share: SQLite admits one writer at a
    /// time, and waiting on an in-process lock is immediate where SQLite's busy handler
    /// would sleep and retry.
    Sqlite(rusqlite::Connection, Arc<Mutex<()>>),
    Postgres(Box<postgres::PgConn>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
    /// No transaction: each statement commits on its own.
    Autocommit,
}

/// A pool of database connections, each on its own thread.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
    backend: Backend,
    workers: Arc<Vec<thread::JoinHandle<()>>>,
    use_: Arc<PoolCounters>,
}

#[derive(Debug, Default)]
struct PoolCounters {
    busy: AtomicUsize,
    queued: AtomicUsize,
}

/// How the pool is used at one moment (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections (one thread each).
    pub size: usize,
    /// Connections running a transaction now.
    pub busy: usize,
    /// Transactions waiting for a free connection.
    pub queued: usize,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Attempts of a transaction that keeps meeting serialization failures (about 3 s of pauses).
const MAX_RETRIES: usize = 12;

impl Db {
    /// Connect, run pending migrations, and start `pool_size` connection threads.
    pub fn open(url: &DbUrl, pool_size: usize) -> Result<Db, DbError> {
        let writer = Arc::new(Mutex::new(()));
        let mut conns = Vec::new();
        for _ in 0..pool_size.max(1) {
            conns.push(connect(url, &writer)?);
        }
        if let Some(first) = conns.first_mut() {
            migrate::run(first)?;
        }
        let backend = match url {
            DbUrl::Sqlite(_) => Backend::Sqlite,
            DbUrl::Postgres(_) => Backend::Postgres,
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(conns.len());
        for mut conn in conns {
            let rx = Arc::clone(&rx);
            let url = url.clone();
            // Named so profilers and the opening bench can tell database time apart.
            let worker = thread::Builder::new()
                .name("bidkey-db".into())
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => break,
                        };
                        match job {
                            Ok(job) => {
                                reconnect_if_closed(&url, &mut conn);
                                job(&mut conn)
                            }
                            Err(_) => break,
                        }
                    }
                    // SQLite folds its log back into the file when the last connection
                    // closes; closed at the same moment, each would see the other still
                    // open and leave the log. One at a time, under the writers' lock.
                    let lock = match &conn {
                        Conn::Sqlite(_, w) => Some(Arc::clone(w)),
                        Conn::Postgres(_) => None,
                    };
                    let _closing = lock.as_ref().map(|l| l.lock());
                    drop(conn);
                })
                .map_err(|e| DbError::Connect(format!("database thread: {e}")))?;
            workers.push(worker);
        }
        Ok(Db {
            jobs: tx,
            backend,
            workers: Arc::new(workers),
            use_: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version of the database now (the newest migration applied).
    pub async fn schema_version(&self) -> Result<i64, DbError> {
        self.read(|tx| {
            tx.query_opt(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .map(|r| r.i64(0))
            .transpose()
            .map(|v| v.unwrap_or(0))
        })
        .await
    }

    /// The pool's size and what it is doing now.
    pub fn pool_use(&self) -> PoolUse {
        PoolUse {
            size: self.workers.len(),
            busy: self.use_.busy.load(Ordering::Relaxed),
            queued: self.use_.queued.load(Ordering::Relaxed),
        }
    }

    /// Close the connections and wait for their threads, when this is the last handle of the
    /// pool (SQLite checkpoints its log as its connections close). Returns whether it was;
    /// otherwise the pool closes when the last handle goes.
    pub fn close(self) -> bool {
        let Db { jobs, workers, .. } = self;
        drop(jobs);
        match Arc::try_unwrap(workers) {
            Ok(workers) => {
                for w in workers {
                    let _ = w.join();
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Run `f` in a read-write transaction, retried on serialization failures. `f` may run
    /// more than once, so it must not have effects outside the transaction.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(Mode::Write, f).await
    }

    /// Run `f` without a transaction: each statement commits on its own. For counters that
    /// many requests bump at once (a platform's rate limit during a bid opening): in a
    /// serializable transaction every concurrent update of the same row but one fails and is
    /// retried, while a lone upsert only waits for the row. `f` may run more than once.
    pub async fn autocommit<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(Mode::Autocommit, f).await
    }

    /// Run `f` in a transaction that only reads.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(Mode::Read, f).await
    }

    /// Run `f` on a pool thread, retried on serialization failures. Between attempts the
    /// connection goes back to the pool: the pause is spent here, not on a database thread.
    async fn run<R, E, F>(&self, mode: Mode, f: F) -> Result<R, E>
    where
        F: FnMut(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let f = Arc::new(Mutex::new(f));
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let (done, result) = tokio::sync::oneshot::channel();
            let f = Arc::clone(&f);
            let counters = Arc::clone(&self.use_);
            let job: Job = Box::new(move |conn: &mut Conn| {
                counters.queued.fetch_sub(1, Ordering::Relaxed);
                counters.busy.fetch_add(1, Ordering::Relaxed);
                let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
                let _ = done.send(run_once(conn, mode, &mut *f));
                counters.busy.fetch_sub(1, Ordering::Relaxed);
            });
            self.use_.queued.fetch_add(1, Ordering::Relaxed);
            if self.jobs.send(job).is_err() {
                self.use_.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(E::from(DbError::Closed));
            }
            match result.await.map_err(|_| E::from(DbError::Closed))? {
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) => return Err(e),
                Err(DbError::Retry) => continue,
                Err(e) => return Err(E::from(e)),
            }
        }
        Err(E::from(DbError::Retry))
    }
}

/// A PostgreSQL connection that died (the database restarted, a network cut) is replaced
/// before the next transaction; while the database stays away the old one stays closed and
/// the transaction fails with [`DbError::Connect`] (a typed 503), so the pool recovers by
/// itself once the database answers again.
fn reconnect_if_closed(url: &DbUrl, conn: &mut Conn) {
    if let (Conn::Postgres(c), DbUrl::Postgres(s)) = (&mut *conn, url)
        && c.is_closed()
    {
        match postgres::PgConn::connect(s) {
            Ok(fresh) => {
                tracing::info!("database connection re-established");
                **c = fresh;
            }
            Err(e) => tracing::debug!(error = %e, "database still unreachable"),
        }
    }
}

fn connect(url: &DbUrl, writer: &Arc<Mutex<()>>) -> Result<Conn, DbError> {
    match url {
        DbUrl::Sqlite(path) => sqlite::open(path).map(|c| Conn::Sqlite(c, Arc::clone(writer))),
        DbUrl::Postgres(s) => postgres::PgConn::connect(s).map(|c| Conn::Postgres(Box::new(c))),
    }
}

/// The pause before attempt `attempt` (1-based): exponential from 10 ms, capped at 320 ms,
/// and jittered to 50–150 % so that transactions that collided do not collide again.
fn backoff(attempt: usize) -> std::time::Duration {
    let base = 5u64 << attempt.min(6);
    let jitter = bidkey_crypto::rng::bytes::<1>()
        .map(|b| u64::from(b[0]))
        .unwrap_or(128);
    std::time::Duration::from_micros(base * (500 + jitter * 1000 / 256))
}

/// One attempt. The outer `Result` is the transaction machinery (retryable or fatal); the
/// inner one is `f`'s verdict. A `DbError::Retry` raised inside `f` also asks for a retry.
fn run_once<R, E, F>(conn: &mut Conn, mode: Mode, f: &mut F) -> Result<Result<R, E>, DbError>
where
    F: FnMut(&mut dyn Tx) -> Result<R, E>,
    E: From<DbError>,
{
    let mut retry_flag = RetryProbe::default();
    match conn {
        Conn::Sqlite(c, writer) if mode == Mode::Autocommit => {
            let _writing = writer.lock().unwrap_or_else(|p| p.into_inner());
            without_transaction(sqlite::SqliteTx(c), f)
        }
        Conn::Postgres(pg) if mode == Mode::Autocommit => {
            let (c, statements) = pg.parts();
            without_transaction(postgres::PgTx { tx: c, statements }, f)
        }
        Conn::Sqlite(c, writer) => {
            let _writing = if mode == Mode::Write {
                Some(writer.lock().unwrap_or_else(|p| p.into_inner()))
            } else {
                None
            };
            let begin = if mode == Mode::Write {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN DEFERRED"
            };
            c.execute_batch(begin).map_err(sqlite::map_err)?;
            let mut tx = ProbeTx {
                inner: sqlite::SqliteTx(c),
                probe: &mut retry_flag,
            };
            let out = f(&mut tx);
            let commit = out.is_ok() && !retry_flag.0;
            let end = if commit { "COMMIT" } else { "ROLLBACK" };
            c.execute_batch(end).map_err(sqlite::map_err)?;
            if retry_flag.0 {
                return Err(DbError::Retry);
            }
            Ok(out)
        }
        Conn::Postgres(pg) => {
            let (c, statements) = pg.parts();
            // Writers are serializable. A reader sees one snapshot (repeatable read): it
            // decides nothing that is written, so it needs no predicate locks, which would
            // cost PostgreSQL work and make writers fail on read-write conflicts.
            let builder = match mode {
                Mode::Write | Mode::Autocommit => c
                    .build_transaction()
                    .isolation_level(::postgres::IsolationLevel::Serializable),
                Mode::Read => c
                    .build_transaction()
                    .isolation_level(::postgres::IsolationLevel::RepeatableRead)
                    .read_only(true),
            };
            let mut t = builder.start().map_err(postgres::map_err)?;
            let out = {
                let mut tx = ProbeTx {
                    inner: postgres::PgTx {
                        tx: &mut t,
                        statements,
                    },
                    probe: &mut retry_flag,
                };
                f(&mut tx)
            };
            if retry_flag.0 {
                let _ = t.rollback();
                return Err(DbError::Retry);
            }
            if out.is_ok() {
                t.commit().map_err(postgres::map_err)?;
            } else {
                t.rollback().map_err(postgres::map_err)?;
            }
            Ok(out)
        }
    }
}

/// `f` on a bare connection (each statement commits on its own), retried like a transaction.
fn without_transaction<T: Tx, R, E, F>(inner: T, f: &mut F) -> Result<Result<R, E>, DbError>
where
    F: FnMut(&mut dyn Tx) -> Result<R, E>,
    E: From<DbError>,
{
    let mut retry_flag = RetryProbe::default();
    let mut tx = ProbeTx {
        inner,
        probe: &mut retry_flag,
    };
    let out = f(&mut tx);
    if retry_flag.0 {
        return Err(DbError::Retry);
    }
    Ok(out)
}

/// Notes whether any statement in the transaction asked for a retry, so that a domain
/// function that converted the `DbError::Retry` into its own error still gets retried.
#[derive(Default)]
struct RetryProbe(bool);

struct ProbeTx<'p, T: Tx> {
    inner: T,
    probe: &'p mut RetryProbe,
}

impl<T: Tx> ProbeTx<'_, T> {
    fn note<R>(&mut self, r: Result<R, DbError>) -> Result<R, DbError> {
        if matches!(r, Err(DbError::Retry)) {
            self.probe.0 = true;
        }
        r
    }
}

impl<T: Tx> Tx for ProbeTx<'_, T> {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let r = self.inner.query(sql, params);
        self.note(r)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let r = self.inner.execute(sql, params);
        self.note(r)
    }

    fn backend(&self) -> Backend {
        self.inner.backend()
    }
}

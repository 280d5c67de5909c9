//! One PostgreSQL connection on a thread of its own (ADR 0029).
//!
//! The `postgres` crate's client runs its own runtime and may not be driven from an async
//! worker thread, while the gateway's store is called from its handlers as plain functions
//! (as SQLite is). So the client lives on a dedicated thread and each call is a job sent to
//! it; the caller waits for the answer as it waits for the SQLite lock. A connection found
//! closed (the database restarted) is opened again before the next job.

use crate::error::{GatewayError, Result};
use postgres::{Client, NoTls};
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// The handle to the connection's thread; the thread ends when this is dropped.
pub struct PgConn {
    jobs: mpsc::Sender<Job>,
}

impl PgConn {
    /// Connect to `url` (`postgres://…`); the password, if any, is never logged.
    pub fn connect(url: &str) -> Result<PgConn> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let url = zeroize::Zeroizing::new(url.to_owned());
        std::thread::Builder::new()
            .name("gateway-store-pg".into())
            .spawn(move || {
                let mut client = match Client::connect(&url, NoTls) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in rx {
                    if client.is_closed() {
                        match Client::connect(&url, NoTls) {
                            Ok(c) => client = c,
                            Err(e) => tracing::warn!(error = %e, "store: reconnect failed"),
                        }
                    }
                    job(&mut client);
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| GatewayError::Internal("store thread ended".into()))??;
        Ok(PgConn { jobs })
    }

    /// Run `f` on the connection and wait for its answer.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |c| {
            let _ = tx.send(f(c));
        });
        self.jobs
            .send(job)
            .map_err(|_| GatewayError::Internal("store thread ended".into()))?;
        rx.recv()
            .map_err(|_| GatewayError::Internal("store job ended without an answer".into()))?
            .map_err(GatewayError::from)
    }
}

//! Relay wake-ups between server processes on one PostgreSQL, by `LISTEN`/`NOTIFY`.
//!
//! Each process publishes the keys it wakes locally (`req:<id>`, `inbox:<account>`) on
//! channel [`CHANNEL`] from a thread of its own, after the change committed, and a second
//! thread listens and wakes its local waiters for keys that other processes published. A
//! long poll then needs no periodic re-read of the database while the feed is up; while it is
//! down the waiters fall back to frequent re-reads, and when it comes back every waiter
//! re-reads once, since notifications sent in between are lost.

use super::notify::Waiters;
use fallible_iterator::FallibleIterator;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

pub const CHANNEL: &str = "bidkey_relay";
/// Keys sent in one `NOTIFY` round trip at most.
const BATCH: usize = 256;
/// How long the listener blocks before it checks whether its server is gone.
const POLL: Duration = Duration::from_secs(1);
/// Pause before reconnecting after the database went away.
const RECONNECT: Duration = Duration::from_secs(1);

/// The publishing side, held by the notifier; the threads end with the server.
#[derive(Debug)]
pub struct Feed {
    publish: mpsc::Sender<String>,
    up: Arc<AtomicBool>,
}

impl Feed {
    /// Start publishing and listening on the database at `url` for the waiters `waiters`.
    pub fn start(url: &str, waiters: &Arc<Waiters>) -> Feed {
        // Our own notifications come back to us; the origin tag lets the listener skip them.
        let origin = bidkey_crypto::rng::bytes::<6>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("{:x}", std::process::id()));
        let (tx, rx) = mpsc::channel();
        let up = Arc::new(AtomicBool::new(false));
        let (u, o) = (url.to_owned(), origin.clone());
        let _ = thread::Builder::new()
            .name("bidkey-relay-pub".into())
            .spawn(move || publish(&u, &o, rx));
        let (u, w, flag) = (url.to_owned(), Arc::downgrade(waiters), up.clone());
        let _ = thread::Builder::new()
            .name("bidkey-relay-sub".into())
            .spawn(move || listen(&u, &origin, &w, &flag));
        Feed { publish: tx, up }
    }

    /// Tell the other processes about `key` (after its change committed).
    pub fn publish(&self, key: &str) {
        let _ = self.publish.send(key.to_owned());
    }

    /// Whether this process currently hears the others.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

fn connect(url: &str) -> Option<postgres::Client> {
    match crate::db::pgtls::connect(url) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "relay feed: cannot connect");
            thread::sleep(RECONNECT);
            None
        }
    }
}

/// Send queued keys in batches until the notifier is dropped.
fn publish(url: &str, origin: &str, keys: mpsc::Receiver<String>) {
    let mut client: Option<postgres::Client> = None;
    while let Ok(first) = keys.recv() {
        let mut batch = vec![format!("{origin}|{first}")];
        while batch.len() < BATCH {
            match keys.try_recv() {
                Ok(k) => batch.push(format!("{origin}|{k}")),
                Err(_) => break,
            }
        }
        if client.as_ref().is_none_or(postgres::Client::is_closed) {
            client = connect(url);
        }
        if let Some(c) = client.as_mut() {
            // Lost on failure: the other processes' waiters re-read when their feed recovers.
            let sent = c.execute(
                "SELECT pg_notify($1, k) FROM unnest($2::text[]) AS k",
                &[&CHANNEL, &batch],
            );
            if let Err(e) = sent {
                tracing::warn!(error = %e, "relay feed: notify failed");
                client = None;
            }
        }
    }
}

/// Wake local waiters for other processes' keys until the waiters are gone.
fn listen(url: &str, origin: &str, waiters: &Weak<Waiters>, up: &AtomicBool) {
    let own = format!("{origin}|");
    while waiters.strong_count() > 0 {
        let Some(mut client) = connect(url) else {
            continue;
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(error = %e, "relay feed: LISTEN failed");
            thread::sleep(RECONNECT);
            continue;
        }
        up.store(true, Ordering::Relaxed);
        // Whatever was published while we were not listening is lost: everyone re-reads.
        if let Some(w) = waiters.upgrade() {
            w.wake_all();
        }
        while !client.is_closed() {
            let mut notes = client.notifications();
            let mut iter = notes.timeout_iter(POLL);
            loop {
                match iter.next() {
                    Ok(Some(n)) => {
                        if n.payload().starts_with(&own) {
                            continue;
                        }
                        let key = n.payload().split_once('|').map_or(n.payload(), |(_, k)| k);
                        match waiters.upgrade() {
                            Some(w) => w.wake(key),
                            None => return,
                        }
                    }
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
            if waiters.strong_count() == 0 {
                return;
            }
        }
        up.store(false, Ordering::Relaxed);
        tracing::warn!("relay feed: connection lost, waiters fall back to re-reading");
    }
}

//! Wake-ups for long polls. A change in this process wakes its waiters at once; a change in
//! another server process on the same PostgreSQL arrives through the [`super::feed`]
//! (`LISTEN`/`NOTIFY`). A waiter also re-reads the database when nothing woke it: every
//! [`RECHECK`] without a feed (SQLite; or PostgreSQL while the feed is down), every
//! [`RECHECK_WITH_FEED`] as a safety net while it is up, so thousands of waiting platforms do
//! not each read the database twice a second.

use super::feed::Feed;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often a long poll re-reads the database when nothing woke it and no feed is up.
pub const RECHECK: Duration = Duration::from_millis(500);
/// The same while other processes' changes arrive through the feed.
pub const RECHECK_WITH_FEED: Duration = Duration::from_secs(10);

/// Waiters keyed by what they wait for (`req:<id>`, `inbox:<account>`).
#[derive(Debug, Default)]
pub struct Waiters {
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    map: HashMap<String, Weak<Notify>>,
    /// Size at which finished waits are swept out (doubling, so sweeping stays cheap).
    sweep_at: usize,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(&self, key: &str) -> Arc<Notify> {
        let mut keys = self.lock();
        if let Some(n) = keys.map.get(key).and_then(Weak::upgrade) {
            return n;
        }
        if keys.map.len() >= keys.sweep_at {
            keys.map.retain(|_, w| w.strong_count() > 0);
            keys.sweep_at = (keys.map.len() * 2).max(64);
        }
        let n = Arc::new(Notify::new());
        keys.map.insert(key.to_owned(), Arc::downgrade(&n));
        n
    }

    /// Wake everyone in this process waiting on `key`.
    pub fn wake(&self, key: &str) {
        let n = self.lock().map.get(key).and_then(Weak::upgrade);
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    /// Wake every waiter (each re-reads what it waits for).
    pub fn wake_all(&self) {
        let all: Vec<Arc<Notify>> = self.lock().map.values().filter_map(Weak::upgrade).collect();
        for n in all {
            n.notify_waiters();
        }
    }
}

/// A long poll released because the server is stopping: the client retries (on another
/// process, or on this one once restarted) instead of waiting for a connection that closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShuttingDown;

/// The relay's wake-ups: local waiters, and the feed to other processes when there is one.
#[derive(Debug, Clone)]
pub struct Notifier {
    waiters: Arc<Waiters>,
    feed: Option<Arc<Feed>>,
    /// Set once when the server starts stopping; every long poll watches it.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// Long polls waiting now (for `/metrics`).
    waiting: Arc<std::sync::atomic::AtomicI64>,
}

impl Default for Notifier {
    fn default() -> Notifier {
        Notifier {
            waiters: Arc::default(),
            feed: None,
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
            waiting: Arc::default(),
        }
    }
}

/// Counts a long poll as waiting while it lives.
struct Waiting<'a>(&'a std::sync::atomic::AtomicI64);

impl<'a> Waiting<'a> {
    fn new(n: &'a std::sync::atomic::AtomicI64) -> Waiting<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Notifier {
    /// Wake-ups shared with the other server processes on the PostgreSQL at `url`.
    pub fn with_postgres(url: &str) -> Notifier {
        let waiters = Arc::new(Waiters::default());
        let feed = Feed::start(url, &waiters);
        Notifier {
            waiters,
            feed: Some(Arc::new(feed)),
            ..Notifier::default()
        }
    }

    /// Release every long poll now and any started later with [`ShuttingDown`].
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Long polls waiting now.
    pub fn waiting(&self) -> i64 {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wake everyone waiting on `key`, here and in the other processes. Call after the change
    /// committed.
    pub fn notify(&self, key: &str) {
        self.waiters.wake(key);
        if let Some(feed) = &self.feed {
            feed.publish(key);
        }
    }

    /// Whether other processes' changes currently arrive through the feed.
    pub fn feed_is_up(&self) -> bool {
        self.feed.as_ref().is_some_and(|f| f.is_up())
    }

    /// How long a waiter may sleep before it re-reads on its own.
    fn recheck(&self) -> Duration {
        if self.feed_is_up() {
            RECHECK_WITH_FEED
        } else {
            RECHECK
        }
    }

    /// Call `check` until it returns `Some`, or `deadline` passes (then one last call's
    /// answer, `None` if still nothing). `check` runs again on every wake-up for `key` and at
    /// least every [`RECHECK`] (or [`RECHECK_WITH_FEED`]). When the server starts stopping,
    /// the wait ends at once with [`ShuttingDown`].
    pub async fn wait_for<T, E, F, Fut>(
        &self,
        key: &str,
        deadline: Instant,
        mut check: F,
    ) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
        E: From<ShuttingDown>,
    {
        let notify = self.waiters.subscribe(key);
        let mut closing = self.closing.subscribe();
        let _counted = Waiting::new(&self.waiting);
        loop {
            if *closing.borrow_and_update() {
                return Err(ShuttingDown.into());
            }
            // Registered before the read, so a change committed during it is not missed.
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(v) = check().await? {
                return Ok(Some(v));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = (deadline - now).min(self.recheck());
            tokio::select! {
                _ = tokio::time::timeout(nap, woken) => {}
                // A closed sender cannot happen while `self` lives; either way, look again.
                _ = closing.changed() => {}
            }
        }
    }
}

pub fn request_key(id: &str) -> String {
    format!("req:{id}")
}

pub fn inbox_key(account_id: &str) -> String {
    format!("inbox:{account_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn notify_wakes_a_waiter_before_the_recheck() {
        let n = Notifier::default();
        let flag = Arc::new(AtomicBool::new(false));
        let (n2, f2) = (n.clone(), flag.clone());
        let waiter = tokio::spawn(async move {
            let start = Instant::now();
            let got = n2
                .wait_for("req:a", start + Duration::from_secs(5), || {
                    let v = f2.load(Ordering::SeqCst);
                    async move { Ok::<_, ShuttingDown>(v.then_some(())) }
                })
                .await;
            (got, start.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        flag.store(true, Ordering::SeqCst);
        n.notify("req:a");
        let (got, took) = waiter.await.expect("joined");
        assert_eq!(got, Ok(Some(())));
        assert!(took < Duration::from_millis(400), "took {took:?}");
    }

    #[tokio::test]
    async fn deadline_ends_the_wait() {
        let n = Notifier::default();
        let got = n
            .wait_for("x", Instant::now() + Duration::from_millis(100), || async {
                Ok::<Option<()>, ShuttingDown>(None)
            })
            .await;
        assert_eq!(got, Ok(None));
    }

    #[tokio::test]
    async fn closing_releases_waiters_and_refuses_new_ones() {
        let n = Notifier::default();
        let n2 = n.clone();
        // A day-long wait: only the close can end it within the test.
        let waiter = tokio::spawn(async move {
            n2.wait_for(
                "inbox:a",
                Instant::now() + Duration::from_secs(86_400),
                || async { Ok::<Option<()>, ShuttingDown>(None) },
            )
            .await
        });
        while n.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        n.close();
        assert_eq!(waiter.await.expect("joined"), Err(ShuttingDown));
        assert_eq!(n.waiting(), 0);
        let later = n
            .wait_for(
                "inbox:b",
                Instant::now() + Duration::from_secs(86_400),
                || async { Ok::<Option<()>, ShuttingDown>(Some(())) },
            )
            .await;
        assert_eq!(later, Err(ShuttingDown));
    }
}

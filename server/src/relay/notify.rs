//! Wake-ups for long polls. A change in this process wakes its waiters at once; a change in
//! another server process on the same PostgreSQL arrives through the [`super::feed`]
//! (`LISTEN`/`NOTIFY`). A waiter also re-reads the database when nothing woke it: every
//! [`RECHECK`] without a feed (SQLite; or PostgreSQL while the feed is down), every
//! [`RECHECK_WITH_FEED`] as a safety net while it is up, so thousands of waiting platforms do
//! not each read the database twice a second.

use super::feed::Feed;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What the long polls of one process did, so that a test can know a poll was asleep
/// before it makes the change, and what ended the nap, instead of sleeping and timing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WaitCounts {
    /// Naps begun: a waiter found nothing and went to sleep.
    pub naps: u64,
    /// Naps ended by a wake-up for the waiter's key (not by the re-read timer).
    pub wakeups: u64,
    /// Waits that found their change on a re-read after a nap ended by the timer, before
    /// the deadline.
    pub found_on_recheck: u64,
    /// Naps ended by the deadline.
    pub deadlines: u64,
}

#[derive(Debug, Default)]
struct WaitLog {
    counts: Mutex<WaitCounts>,
    changed: Notify,
    /// Re-read interval set by a test, in milliseconds; 0 for the defaults.
    recheck_ms: AtomicU64,
}

impl WaitLog {
    fn count(&self, f: impl FnOnce(&mut WaitCounts)) {
        f(&mut self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_waiters();
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
    /// What the long polls did (tests wait on it instead of sleeping).
    log: Arc<WaitLog>,
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
            log: Arc::default(),
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
        let set = self.log.recheck_ms.load(Ordering::Relaxed);
        if set > 0 {
            Duration::from_millis(set)
        } else if self.feed_is_up() {
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
        // Whether the last nap was ended by the re-read timer before the deadline.
        let mut rechecking = false;
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
                if rechecking {
                    self.log.count(|c| c.found_on_recheck += 1);
                }
                return Ok(Some(v));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = (deadline - now).min(self.recheck());
            self.log.count(|c| c.naps += 1);
            tokio::select! {
                ended = tokio::time::timeout(nap, woken) => {
                    rechecking = if ended.is_ok() {
                        self.log.count(|c| c.wakeups += 1);
                        false
                    } else if Instant::now() < deadline {
                        true
                    } else {
                        self.log.count(|c| c.deadlines += 1);
                        false
                    };
                }
                // A closed sender cannot happen while `self` lives; either way, look again.
                _ = closing.changed() => {}
            }
        }
    }

    /// What the waiters of this process did so far (tests).
    pub fn wait_counts(&self) -> WaitCounts {
        *self.log.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Return once at least `naps` naps have begun in this process: a test calls this
    /// before it makes the change a long poll waits for, so the poll is known to be asleep.
    pub async fn until_asleep(&self, naps: u64) {
        loop {
            let changed = self.log.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.wait_counts().naps >= naps {
                return;
            }
            changed.await;
        }
    }

    /// Re-read every `every` instead of [`RECHECK`] / [`RECHECK_WITH_FEED`] (tests: a long
    /// interval makes a wake-up the only way a poll can answer before its deadline).
    pub fn set_recheck(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
        self.log.recheck_ms.store(ms, Ordering::Relaxed);
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

    fn waiting_on(
        n: &Notifier,
        flag: &Arc<AtomicBool>,
        secs: u64,
    ) -> tokio::task::JoinHandle<Result<Option<()>, ShuttingDown>> {
        let (n2, f2) = (n.clone(), flag.clone());
        tokio::spawn(async move {
            n2.wait_for("req:a", Instant::now() + Duration::from_secs(secs), || {
                let v = f2.load(Ordering::SeqCst);
                async move { Ok::<_, ShuttingDown>(v.then_some(())) }
            })
            .await
        })
    }

    #[tokio::test]
    async fn notify_wakes_a_waiter_before_the_recheck() {
        let n = Notifier::default();
        // No re-read before the deadline: only the wake-up can end the wait with the value.
        n.set_recheck(Duration::from_secs(3600));
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = waiting_on(&n, &flag, 3600);
        n.until_asleep(1).await;
        flag.store(true, Ordering::SeqCst);
        n.notify("req:a");
        assert_eq!(waiter.await.expect("joined"), Ok(Some(())));
        let counts = n.wait_counts();
        assert_eq!((counts.naps, counts.wakeups), (1, 1), "{counts:?}");
    }

    #[tokio::test]
    async fn a_change_nobody_announces_is_found_by_the_recheck() {
        let n = Notifier::default();
        n.set_recheck(Duration::from_millis(10));
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = waiting_on(&n, &flag, 3600);
        n.until_asleep(1).await;
        flag.store(true, Ordering::SeqCst);
        assert_eq!(waiter.await.expect("joined"), Ok(Some(())));
        let counts = n.wait_counts();
        assert_eq!(
            (counts.wakeups, counts.found_on_recheck),
            (0, 1),
            "{counts:?}"
        );
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

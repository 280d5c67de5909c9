//! Wake-ups for long polls inside one process. A waiter also re-reads the database every
//! [`RECHECK`], so a change made by another server process on the same PostgreSQL is seen
//! within that delay; the notifier only makes the common single-process case immediate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often a long poll re-reads the database when nothing woke it.
pub const RECHECK: Duration = Duration::from_millis(500);

/// Waiters keyed by what they wait for (`req:<id>`, `inbox:<account>`).
#[derive(Debug, Default, Clone)]
pub struct Notifier {
    keys: Arc<Mutex<HashMap<String, Weak<Notify>>>>,
}

impl Notifier {
    fn subscribe(&self, key: &str) -> Arc<Notify> {
        let mut keys = match self.keys.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        keys.retain(|_, w| w.strong_count() > 0);
        if let Some(n) = keys.get(key).and_then(Weak::upgrade) {
            return n;
        }
        let n = Arc::new(Notify::new());
        keys.insert(key.to_owned(), Arc::downgrade(&n));
        n
    }

    /// Wake everyone waiting on `key`.
    pub fn notify(&self, key: &str) {
        let n = match self.keys.lock() {
            Ok(k) => k.get(key).and_then(Weak::upgrade),
            Err(poisoned) => poisoned.into_inner().get(key).and_then(Weak::upgrade),
        };
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    /// Call `check` until it returns `Some`, or `deadline` passes (then one last call's
    /// answer, `None` if still nothing). `check` runs again on every wake-up for `key` and at
    /// least every [`RECHECK`].
    pub async fn wait_for<T, E, F, Fut>(
        &self,
        key: &str,
        deadline: Instant,
        mut check: F,
    ) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
    {
        let notify = self.subscribe(key);
        loop {
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
            let nap = (deadline - now).min(RECHECK);
            let _ = tokio::time::timeout(nap, woken).await;
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
                    async move { Ok::<_, ()>(v.then_some(())) }
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
                Ok::<Option<()>, ()>(None)
            })
            .await;
        assert_eq!(got, Ok(None));
    }
}

//! Fixed-window rate limits kept in the database, so they hold across server processes.

use crate::db::{Db, Tx};
use crate::error::{Result, ServerError};
use crate::params;

/// Count one hit in `bucket`; refuse when more than `max` fall in the current window.
pub fn hit(tx: &mut dyn Tx, bucket: &str, now: i64, window: i64, max: i64) -> Result<()> {
    let start = now - now.rem_euclid(window);
    // One statement whether the window is new or not (both stores have upserts).
    let row = tx.query_opt(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
         RETURNING hits",
        &params![bucket, start],
    )?;
    let hits = row.map(|r| r.i64(0)).transpose()?.unwrap_or(1);
    if hits == 1 {
        // The first hit of a window: earlier windows of the bucket are over.
        tx.execute(
            "DELETE FROM rate_limits WHERE bucket = $1 AND window_start < $2",
            &params![bucket, start],
        )?;
    }
    if hits > max {
        Err(ServerError::RateLimited {
            retry_after: (start + window - now).max(1) as u64,
        })
    } else {
        Ok(())
    }
}

/// [`hit`] on its own, before the request's transaction, each statement committing at once:
/// for a bucket that many requests share at the same moment (a platform's scan requests at
/// a bid opening), which inside serializable transactions would make all but one of them
/// conflict and retry.
pub async fn hit_alone(db: &Db, bucket: String, now: i64, window: i64, max: i64) -> Result<()> {
    db.autocommit(move |tx| hit(tx, &bucket, now, window, max))
        .await
}

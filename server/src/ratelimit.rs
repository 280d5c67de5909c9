//! Fixed-window rate limits kept in the database, so they hold across server processes.

use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;

/// Count one hit in `bucket`; refuse when more than `max` fall in the current window.
pub fn hit(tx: &mut dyn Tx, bucket: &str, now: i64, window: i64, max: i64) -> Result<()> {
    let start = now - now.rem_euclid(window);
    let n = tx.execute(
        "UPDATE rate_limits SET hits = hits + 1 WHERE bucket = $1 AND window_start = $2",
        &params![bucket, start],
    )?;
    if n == 0 {
        tx.execute(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)",
            &params![bucket, start],
        )?;
        tx.execute(
            "DELETE FROM rate_limits WHERE bucket = $1 AND window_start < $2",
            &params![bucket, start],
        )?;
        return Ok(());
    }
    let row = tx.query_opt(
        "SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2",
        &params![bucket, start],
    )?;
    let hits = row.map(|r| r.i64(0)).transpose()?.unwrap_or(0);
    if hits > max {
        Err(ServerError::RateLimited {
            retry_after: (start + window - now).max(1) as u64,
        })
    } else {
        Ok(())
    }
}

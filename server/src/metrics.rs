//! Request latency per route, measured inside the server from the moment the router has
//! matched a request until its response is ready: what the operator watches
//! (`GET /v1/operator/metrics`) and what the bid-opening benchmark reports as server-side
//! latency.
//!
//! Each route keeps a log-linear histogram (16 buckets per power of two, so a quantile is
//! off by at most 1/16 of its value) in atomics: recording takes no lock once the route has
//! been seen.

use crate::auth::Operator;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Sub-buckets per power of two (2^4).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for 2^40 µs (12 days); longer values land in the last one.
const BUCKETS: usize = ((40 - SUB_BITS as usize + 1) + 1) * SUB as usize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/operator/metrics", get(report))
}

/// The bucket of a latency of `us` microseconds.
fn bucket_of(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros();
    let sub = (us >> (octave - SUB_BITS)) & (SUB - 1);
    let i = ((octave - SUB_BITS + 1) as u64 * SUB + sub) as usize;
    i.min(BUCKETS - 1)
}

/// The largest latency (µs) that falls in bucket `i`: quantiles are reported as this
/// upper bound, never below the true value.
fn bucket_upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let octave = i / SUB - 1 + u64::from(SUB_BITS);
    let sub = i % SUB;
    let width = 1u64 << (octave - u64::from(SUB_BITS));
    ((SUB + sub) << (octave - u64::from(SUB_BITS))) + width - 1
}

struct RouteStats {
    buckets: Vec<AtomicU64>,
    errors: AtomicU64,
}

impl RouteStats {
    fn new() -> RouteStats {
        RouteStats {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            errors: AtomicU64::new(0),
        }
    }
}

/// Latency histograms of every route served so far, shared by all handlers.
#[derive(Clone, Default)]
pub struct Metrics {
    routes: Arc<RwLock<HashMap<String, Arc<RouteStats>>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Metrics {
    /// Count one request of `route` that took `took`; `failed` for a 5xx answer.
    pub fn record(&self, route: &str, took: Duration, failed: bool) {
        let stats = self.stats(route);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        stats.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        if failed {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stats(&self, route: &str) -> Arc<RouteStats> {
        let known = match self.routes.read() {
            Ok(r) => r.get(route).cloned(),
            Err(p) => p.into_inner().get(route).cloned(),
        };
        if let Some(s) = known {
            return s;
        }
        let mut w = match self.routes.write() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        w.entry(route.to_owned())
            .or_insert_with(|| Arc::new(RouteStats::new()))
            .clone()
    }

    /// A copy of every histogram now; subtract an earlier one with [`Snapshot::since`].
    pub fn snapshot(&self) -> Snapshot {
        let routes = match self.routes.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        };
        Snapshot {
            routes: routes
                .into_iter()
                .map(|(k, s)| {
                    let h = Histogram {
                        counts: s
                            .buckets
                            .iter()
                            .map(|b| b.load(Ordering::Relaxed))
                            .collect(),
                        errors: s.errors.load(Ordering::Relaxed),
                    };
                    (k, h)
                })
                .collect(),
        }
    }
}

/// The histograms of all routes at one moment, keyed `"METHOD /path/{param}"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub routes: BTreeMap<String, Histogram>,
}

impl Snapshot {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let routes = self
            .routes
            .iter()
            .map(|(k, h)| {
                let d = match earlier.routes.get(k) {
                    Some(e) => h.since(e),
                    None => h.clone(),
                };
                (k.clone(), d)
            })
            .filter(|(_, h)| h.count() > 0)
            .collect();
        Snapshot { routes }
    }

    /// All routes whose key `keep` accepts, as one histogram.
    pub fn merged(&self, keep: impl Fn(&str) -> bool) -> Histogram {
        let mut out = Histogram::empty();
        for (_, h) in self.routes.iter().filter(|(k, _)| keep(k)) {
            out.add(h);
        }
        out
    }
}

/// One route's latency distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    errors: u64,
}

impl Histogram {
    pub fn empty() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            errors: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Requests answered with a 5xx status.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn since(&self, earlier: &Histogram) -> Histogram {
        Histogram {
            counts: self
                .counts
                .iter()
                .zip(&earlier.counts)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }

    fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.errors += other.errors;
    }

    /// The latency below which a fraction `q` (0..=1) of the requests fell, in µs (the
    /// upper bound of its bucket); 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        // The rank of the q-quantile, 1-based: the smallest r with r ≥ q·n.
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_upper(i);
            }
        }
        bucket_upper(BUCKETS - 1)
    }

    pub fn max_us(&self) -> u64 {
        self.counts
            .iter()
            .rposition(|c| *c > 0)
            .map(bucket_upper)
            .unwrap_or(0)
    }
}

/// The middleware (a `route_layer`, so the matched route is known): time the handler.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => format!("{} {}", req.method(), p.as_str()),
        None => format!("{} (unmatched)", req.method()),
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    metrics.record(&route, start.elapsed(), resp.status().is_server_error());
    resp
}

/// One route in the operator's report.
#[derive(Debug, Serialize)]
pub struct RouteReport {
    pub route: String,
    pub count: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// `GET /v1/operator/metrics`: every route served since this process started.
async fn report(State(st): State<AppState>, _op: Operator) -> Result<Json<Vec<RouteReport>>> {
    let snap = st.metrics.snapshot();
    Ok(Json(
        snap.routes
            .into_iter()
            .filter(|(_, h)| h.count() > 0)
            .map(|(route, h)| RouteReport {
                count: h.count(),
                errors: h.errors(),
                p50_us: h.quantile_us(0.50),
                p90_us: h.quantile_us(0.90),
                p99_us: h.quantile_us(0.99),
                max_us: h.max_us(),
                route,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lies_within_its_bucket_and_buckets_ascend() {
        let mut last_upper = None;
        for i in 0..BUCKETS - 1 {
            let up = bucket_upper(i);
            if let Some(prev) = last_upper {
                assert!(up > prev, "bucket {i}");
                // The first value of bucket i is just past the previous upper bound.
                assert_eq!(bucket_of(prev + 1), i, "start of bucket {i}");
            }
            assert_eq!(bucket_of(up), i, "end of bucket {i}");
            last_upper = Some(up);
        }
    }

    #[test]
    fn quantiles_err_upwards_by_less_than_a_sixteenth() {
        for v in [
            1u64, 15, 16, 17, 100, 999, 1_000, 12_345, 250_000, 9_999_999,
        ] {
            let up = bucket_upper(bucket_of(v));
            assert!(up >= v, "{v}");
            assert!((up - v) * SUB <= v, "{v} → {up}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let m = Metrics::default();
        // 1..=1000 ms, each once.
        for ms in 1..=1000u64 {
            m.record("GET /x", Duration::from_millis(ms), ms == 1000);
        }
        let h = m.snapshot().routes["GET /x"].clone();
        assert_eq!(h.count(), 1000);
        assert_eq!(h.errors(), 1);
        let p50 = h.quantile_us(0.5);
        let p99 = h.quantile_us(0.99);
        assert!((500_000..=500_000 + 500_000 / 16).contains(&p50), "{p50}");
        assert!((990_000..=990_000 + 990_000 / 16).contains(&p99), "{p99}");
        assert!(h.max_us() >= 1_000_000);
    }

    #[test]
    fn a_snapshot_since_another_holds_only_what_came_between() {
        let m = Metrics::default();
        m.record("GET /a", Duration::from_micros(10), false);
        let before = m.snapshot();
        m.record("GET /a", Duration::from_micros(5_000), false);
        m.record("POST /b", Duration::from_micros(7), true);
        let d = m.snapshot().since(&before);
        assert_eq!(d.routes["GET /a"].count(), 1);
        assert!(d.routes["GET /a"].quantile_us(0.5) >= 5_000);
        assert_eq!(d.routes["POST /b"].errors(), 1);
        assert_eq!(d.merged(|_| true).count(), 2);
        assert_eq!(d.merged(|k| k.starts_with("POST")).count(), 1);
        assert_eq!(Histogram::empty().quantile_us(0.99), 0);
    }
}

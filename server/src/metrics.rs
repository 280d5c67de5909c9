//! What a monitoring system scrapes (`GET /metrics`, Prometheus text format) and what the
//! operator and the bid-opening benchmark read (`GET /v1/operator/metrics`, per-route
//! latency quantiles as JSON). Both come from one [`prometheus`] registry per server: request
//! counts by route and status, latency histograms by route, PIN failures, long polls
//! waiting, the relay's queue, the database pool's use, and the process (CPU, memory, open
//! files) on Linux.
//!
//! Latency buckets grow by 2^¼ from 64 µs to about 67 s, so a quantile read from them (the
//! upper bound of its bucket, never below the true value) is at most a quarter too high:
//! fine enough for the benchmark's p99, coarse enough to keep a route's series short.

use crate::auth::Operator;
use crate::error::{Result, ServerError, Typed};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use prometheus::core::Collector;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency buckets: 64 µs · 2^(k/4) for k = 0..=80.
const STEPS: u32 = 80;

/// The upper bound of each finite bucket, in µs.
fn bounds_us() -> Vec<u64> {
    (0..=STEPS)
        .map(|k| (64.0 * 2f64.powf(f64::from(k) / 4.0)).round() as u64)
        .collect()
}

/// Buckets including the last, unbounded one.
fn bucket_count() -> usize {
    STEPS as usize + 2
}

/// The value reported for a quantile in bucket `i` (µs): its upper bound; for the unbounded
/// bucket, twice the last bound.
fn bucket_upper(i: usize) -> u64 {
    let b = bounds_us();
    match b.get(i) {
        Some(v) => *v,
        None => b.last().copied().unwrap_or(0) * 2,
    }
}

/// On the operator listener only (ADR 0020).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/metrics", get(report))
        .route("/metrics", get(scrape))
}

struct Inner {
    registry: Registry,
    latency: HistogramVec,
    requests: IntCounterVec,
    pin_failures: IntCounterVec,
    in_flight: IntGauge,
    long_polls: IntGauge,
    relay_queue: IntGauge,
    pool: IntGaugeVec,
}

/// The server's metrics, shared by all handlers.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// A metric definition the code itself makes; failing is a programming error caught by the
/// unit tests, so it must not take a server down: it falls back to an unregistered copy.
fn registered<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "metric not registered");
    }
    c
}

impl Metrics {
    #[allow(clippy::expect_used)] // Fixed names and labels: checked by the tests below.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let secs: Vec<f64> = bounds_us().iter().map(|us| *us as f64 / 1e6).collect();
        let latency = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "bidkey_http_request_duration_seconds",
                    "Time from routing a request to its answer being ready, by route.",
                )
                .buckets(secs),
                &["method", "route"],
            )
            .expect("histogram"),
        );
        let requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "bidkey_http_requests_total",
                    "Requests answered, by route and status.",
                ),
                &["method", "route", "status"],
            )
            .expect("counter"),
        );
        let pin_failures = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "bidkey_pin_failures_total",
                    "Co-signing refused for the PIN: wrong_pin (a try counted) or key_locked.",
                ),
                &["code"],
            )
            .expect("counter"),
        );
        let in_flight = registered(
            &registry,
            IntGauge::new(
                "bidkey_http_requests_in_flight",
                "Requests routed and not yet answered (long polls included).",
            )
            .expect("gauge"),
        );
        let long_polls = registered(
            &registry,
            IntGauge::new("bidkey_relay_long_polls", "Relay long polls waiting now.")
                .expect("gauge"),
        );
        let relay_queue = registered(
            &registry,
            IntGauge::new(
                "bidkey_relay_queue",
                "Relay requests neither answered nor expired (read at scrape time).",
            )
            .expect("gauge"),
        );
        let pool = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "bidkey_db_pool_connections",
                    "Database connections: size, busy (in a transaction), queued (transactions waiting).",
                ),
                &["state"],
            )
            .expect("gauge"),
        );
        #[cfg(target_os = "linux")]
        if let Err(e) = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::error!(error = %e, "process metrics not registered");
        }
        Metrics {
            inner: Arc::new(Inner {
                registry,
                latency,
                requests,
                pin_failures,
                in_flight,
                long_polls,
                relay_queue,
                pool,
            }),
        }
    }

    /// Count one answered request of `method route` with `status` that took `took`.
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let i = &self.inner;
        i.latency
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
        i.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
    }

    /// Count a refusal for the PIN.
    pub fn pin_failure(&self, code: ErrorCode) {
        let label = match code {
            ErrorCode::WrongPin => "wrong_pin",
            ErrorCode::KeyLocked => "key_locked",
            _ => return,
        };
        self.inner.pin_failures.with_label_values(&[label]).inc();
    }

    /// Everything, in the Prometheus text format, after setting the gauges read now.
    pub fn render(&self, now: Gauges) -> String {
        let i = &self.inner;
        i.long_polls.set(now.long_polls);
        i.relay_queue.set(now.relay_queue);
        i.pool
            .with_label_values(&["size"])
            .set(now.pool.size as i64);
        i.pool
            .with_label_values(&["busy"])
            .set(now.pool.busy as i64);
        i.pool
            .with_label_values(&["queued"])
            .set(now.pool.queued as i64);
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&i.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics not encoded");
        }
        out
    }

    /// A copy of every route's latency histogram now; subtract an earlier one with
    /// [`Snapshot::since`].
    pub fn snapshot(&self) -> Snapshot {
        let mut routes = BTreeMap::new();
        for family in self.inner.latency.collect() {
            for m in family.get_metric() {
                let h = m.get_histogram();
                let mut counts = Vec::with_capacity(bucket_count());
                let mut below = 0;
                for b in h.get_bucket() {
                    let c = b.cumulative_count();
                    counts.push(c.saturating_sub(below));
                    below = c;
                }
                counts.push(h.get_sample_count().saturating_sub(below));
                counts.resize(bucket_count(), 0);
                routes.insert(key(m.get_label()), Histogram { counts, errors: 0 });
            }
        }
        for family in self.inner.requests.collect() {
            for m in family.get_metric() {
                let labels = m.get_label();
                let server_error = labels
                    .iter()
                    .any(|l| l.name() == "status" && l.value().starts_with('5'));
                if server_error && let Some(h) = routes.get_mut(&key(labels)) {
                    h.errors += m.get_counter().get_value() as u64;
                }
            }
        }
        Snapshot { routes }
    }
}

/// `"METHOD /route"` from a sample's labels.
fn key(labels: &[prometheus::proto::LabelPair]) -> String {
    let get = |n: &str| {
        labels
            .iter()
            .find(|l| l.name() == n)
            .map(|l| l.value())
            .unwrap_or("")
    };
    format!("{} {}", get("method"), get("route"))
}

/// What is read at scrape time rather than counted as it happens.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub long_polls: i64,
    pub relay_queue: i64,
    pub pool: crate::db::PoolUse,
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

/// One route's latency distribution (requests per bucket, not cumulative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    errors: u64,
}

impl Histogram {
    pub fn empty() -> Histogram {
        Histogram {
            counts: vec![0; bucket_count()],
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
        bucket_upper(bucket_count() - 1)
    }

    pub fn max_us(&self) -> u64 {
        self.counts
            .iter()
            .rposition(|c| *c > 0)
            .map(bucket_upper)
            .unwrap_or(0)
    }
}

/// The middleware (a `route_layer`, so the matched route is known): time the handler, count
/// the answer, and count refusals for the PIN (read from the typed error the handler made).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None => "(unmatched)".to_owned(),
    };
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let _in_flight = InFlight::new(&metrics.inner.in_flight);
    let resp = next.run(req).await;
    metrics.record(&method, &route, resp.status().as_u16(), start.elapsed());
    if let Some(Typed(body)) = resp.extensions().get::<Typed>() {
        metrics.pin_failure(body.code);
    }
    resp
}

/// Counts a request in flight while it lives (also when the client goes away mid-request).
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn new(g: &'a IntGauge) -> InFlight<'a> {
        g.inc();
        InFlight(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
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

/// `GET /metrics`: the Prometheus scrape, for the operator's token (a scrape job's
/// `authorization` credentials): route names and queue sizes are not for the public.
async fn scrape(State(st): State<AppState>, _op: Operator) -> Result<Response> {
    let now = st.clock.now();
    let relay_queue = st
        .db
        .read(move |tx| {
            tx.query_opt(
                "SELECT COUNT(*) FROM scan_requests WHERE status <> 'answered' AND expires_at > $1",
                &crate::params![now],
            )?
            .map(|r| r.i64(0))
            .transpose()
            .map(|v| v.unwrap_or(0))
        })
        .await
        .map_err(ServerError::Db)?;
    let text = st.metrics.render(Gauges {
        long_polls: st.relay.waiting(),
        relay_queue,
        pool: st.db.pool_use(),
    });
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_ascend_and_err_upwards_by_at_most_a_quarter() {
        let b = bounds_us();
        assert_eq!(b.len(), STEPS as usize + 1);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(b[0], 64);
        assert!(b[b.len() - 1] > 60_000_000, "{}", b[b.len() - 1]);
        for v in [64u64, 65, 100, 999, 1_000, 12_345, 250_000, 9_999_999] {
            let m = Metrics::new();
            m.record("GET", "/x", 200, Duration::from_micros(v));
            let up = m.snapshot().routes["GET /x"].quantile_us(0.5);
            assert!(up >= v, "{v} → {up}");
            assert!((up - v) * 4 <= v, "{v} → {up}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let m = Metrics::new();
        // 1..=1000 ms, each once; the slowest failed.
        for ms in 1..=1000u64 {
            let status = if ms == 1000 { 500 } else { 200 };
            m.record("GET", "/x", status, Duration::from_millis(ms));
        }
        let h = m.snapshot().routes["GET /x"].clone();
        assert_eq!(h.count(), 1000);
        assert_eq!(h.errors(), 1);
        let p50 = h.quantile_us(0.5);
        let p99 = h.quantile_us(0.99);
        assert!((500_000..=500_000 + 500_000 / 4).contains(&p50), "{p50}");
        assert!((990_000..=990_000 + 990_000 / 4).contains(&p99), "{p99}");
        assert!(h.max_us() >= 1_000_000);
    }

    #[test]
    fn a_snapshot_since_another_holds_only_what_came_between() {
        let m = Metrics::new();
        m.record("GET", "/a", 200, Duration::from_micros(10));
        let before = m.snapshot();
        m.record("GET", "/a", 200, Duration::from_micros(5_000));
        m.record("POST", "/b", 503, Duration::from_micros(7));
        let d = m.snapshot().since(&before);
        assert_eq!(d.routes["GET /a"].count(), 1);
        assert!(d.routes["GET /a"].quantile_us(0.5) >= 5_000);
        assert_eq!(d.routes["POST /b"].errors(), 1);
        assert_eq!(d.merged(|_| true).count(), 2);
        assert_eq!(d.merged(|k| k.starts_with("POST")).count(), 1);
        assert_eq!(Histogram::empty().quantile_us(0.99), 0);
    }

    #[test]
    fn the_scrape_names_every_series() {
        let m = Metrics::new();
        m.record("POST", "/x/cosign/{id}", 400, Duration::from_millis(3));
        m.pin_failure(ErrorCode::WrongPin);
        m.pin_failure(ErrorCode::BadRequest);
        let text = m.render(Gauges {
            long_polls: 3,
            relay_queue: 7,
            pool: crate::db::PoolUse {
                size: 4,
                busy: 1,
                queued: 0,
            },
        });
        for line in [
            r#"bidkey_http_requests_total{method="POST",route="/x/cosign/{id}",status="400"} 1"#,
            r#"bidkey_http_request_duration_seconds_count{method="POST",route="/x/cosign/{id}"} 1"#,
            r#"bidkey_pin_failures_total{code="wrong_pin"} 1"#,
            "bidkey_relay_long_polls 3",
            "bidkey_relay_queue 7",
            r#"bidkey_db_pool_connections{state="size"} 4"#,
            r#"bidkey_db_pool_connections{state="busy"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("bad_request"));
        #[cfg(target_os = "linux")]
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    }
}

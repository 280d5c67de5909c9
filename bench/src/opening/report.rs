//! The bench's tables (Markdown, so they paste into `docs/benchmarks.md`).

use super::hall::Opening;
use super::{StoreRun, store_name};
use bidkey_server::metrics::Histogram;
use std::fmt::Write;
use std::time::Duration;

/// The server route of the co-decryption step.
pub const CO_DECRYPT: &str = "POST /v1/cosign/decrypt";

/// Long polls wait for the other side by design; their latency is not the server's work.
pub fn is_long_poll(route: &str) -> bool {
    route.ends_with("/result") || route.ends_with("/inbox")
}

/// Nearest-rank quantile of `values` (sorted or not); zero when empty.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut v = values.to_vec();
    v.sort();
    let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).max(1);
    v[rank - 1]
}

impl Opening {
    pub fn completed(&self) -> usize {
        self.end_to_end.len()
    }

    pub fn decrypts_per_sec(&self) -> f64 {
        self.completed() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The co-decryption route's histogram.
    pub fn co_decrypt(&self) -> Histogram {
        self.server.merged(|r| r == CO_DECRYPT)
    }

    /// Every request of the opening except the platform's long polls.
    pub fn requests(&self) -> Histogram {
        self.server.merged(|r| !is_long_poll(r))
    }

    /// CPU milliseconds per completed decryption spent by `role`.
    pub fn cpu_ms_per_decrypt(&self, role: &str) -> f64 {
        self.cpu.get(role).as_secs_f64() * 1e3 / self.completed().max(1) as f64
    }
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1e3)
}

fn ms_d(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// One row per opening: throughput, server-side latency, end-to-end latency, CPU.
pub fn summary(runs: &[StoreRun]) -> String {
    let mut s = String::new();
    s.push_str(
        "| store | bidders | at once | decrypts/s | co-decrypt p50 / p99 ms | all requests p50 / p99 ms \
         | bidder end-to-end p50 / p99 ms | server CPU ms/decrypt | PostgreSQL CPU ms/decrypt \
         | phones CPU ms/decrypt | platform CPU ms/decrypt | failed |\n",
    );
    s.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for run in runs {
        for o in &run.openings {
            let (cd, all) = (o.co_decrypt(), o.requests());
            let pg = if o.cpu.get("postgres").is_zero() {
                "n/a".to_owned()
            } else {
                format!("{:.2}", o.cpu_ms_per_decrypt("postgres"))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {} / {} | {} / {} | {} / {} | {:.2} | {} | {:.2} | {:.2} | {} |",
                store_name(run.store),
                o.bidders,
                o.at_once,
                o.decrypts_per_sec(),
                ms(cd.quantile_us(0.5)),
                ms(cd.quantile_us(0.99)),
                ms(all.quantile_us(0.5)),
                ms(all.quantile_us(0.99)),
                ms_d(quantile(&o.end_to_end, 0.5)),
                ms_d(quantile(&o.end_to_end, 0.99)),
                o.cpu_ms_per_decrypt("server"),
                pg,
                o.cpu_ms_per_decrypt("phones"),
                o.cpu_ms_per_decrypt("platform"),
                o.failures.len(),
            );
        }
    }
    s
}

/// Per route of one opening: requests per decryption and server-side latency.
pub fn routes(run: &StoreRun, o: &Opening) -> String {
    let mut s = format!(
        "{} · {} bidders · {:.1} s\n\n| route | requests/decrypt | p50 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|\n",
        store_name(run.store),
        o.bidders,
        o.wall.as_secs_f64()
    );
    let done = o.completed().max(1) as f64;
    for (route, h) in &o.server.routes {
        let _ = writeln!(
            s,
            "| `{route}`{} | {:.2} | {} | {} | {} |",
            if is_long_poll(route) {
                " (long poll)"
            } else {
                ""
            },
            h.count() as f64 / done,
            ms(h.quantile_us(0.5)),
            ms(h.quantile_us(0.99)),
            ms(h.max_us()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn long_polls_are_told_apart() {
        assert!(is_long_poll("GET /v1/relay/requests/{id}/result"));
        assert!(is_long_poll("GET /v1/relay/inbox"));
        assert!(!is_long_poll(CO_DECRYPT));
    }
}

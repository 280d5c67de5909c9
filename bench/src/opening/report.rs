//! The bench's tables (Markdown, so they paste into `docs/benchmarks.md`).

use super::{Measured, Mode, StoreRun, store_name};
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
pub fn quantile(values: &[u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).max(1);
    v[rank - 1]
}

impl Measured {
    pub fn opened(&self) -> usize {
        self.outcome.online_us.len() + self.outcome.preauth_us.len()
    }

    pub fn wall(&self) -> Duration {
        Duration::from_micros(self.outcome.wall_us)
    }

    pub fn opened_per_sec(&self) -> f64 {
        self.opened() as f64 / self.wall().as_secs_f64().max(1e-9)
    }

    /// Every bid's latency, scanned or released.
    pub fn per_bid_us(&self) -> Vec<u64> {
        let o = &self.outcome;
        o.online_us.iter().chain(&o.preauth_us).copied().collect()
    }

    /// The co-decryption route's histogram.
    pub fn co_decrypt(&self) -> Histogram {
        self.server.merged(|r| r == CO_DECRYPT)
    }

    /// CPU milliseconds of `d` per bid opened.
    pub fn ms_per_bid(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e3 / self.opened().max(1) as f64
    }

    /// CPU milliseconds of the clients process's `role` threads per bid opened.
    pub fn clients_ms_per_bid(&self, role: &str) -> f64 {
        let us: u64 = self
            .outcome
            .cpu_us
            .iter()
            .filter(|(r, _)| r == role)
            .map(|(_, v)| *v)
            .sum();
        self.ms_per_bid(Duration::from_micros(us))
    }
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1e3)
}

fn ms0(us: u64) -> String {
    format!("{:.0}", us as f64 / 1e3)
}

/// One row per opening: throughput, per-bid latency, server-side co-decryption latency, CPU
/// of each process per bid.
pub fn summary(runs: &[StoreRun]) -> String {
    let mut s = String::new();
    s.push_str(
        "| store | mode | bids | at once | opened/s | all opened in s | per bid p50 / p99 ms \
         | co-decrypt (server) p50 / p99 ms | server CPU ms/bid | server CPU ms/co-decrypt \
         | PostgreSQL CPU ms/bid | phones CPU ms/bid | platform CPU ms/bid | failed |\n",
    );
    s.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for run in runs {
        for m in &run.openings {
            let per_bid = m.per_bid_us();
            let cd = m.co_decrypt();
            let pg = if m.postgres_cpu.is_zero() {
                "n/a".to_owned()
            } else {
                format!("{:.2}", m.ms_per_bid(m.postgres_cpu))
            };
            // Only an all-scan opening has the server's whole CPU in co-decryptions.
            let per_co_decrypt = if m.mode == Mode::Online {
                format!("{:.2}", m.ms_per_bid(m.server_cpu))
            } else {
                "—".to_owned()
            };
            let co_decrypt = if cd.count() == 0 {
                "—".to_owned()
            } else {
                format!("{} / {}", ms(cd.quantile_us(0.5)), ms(cd.quantile_us(0.99)))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.0} | {:.1} | {} / {} | {} | {:.2} | {} | {} | {:.2} | {:.2} | {} |",
                store_name(run.store),
                m.mode.name(),
                m.outcome.bidders,
                m.outcome.at_once,
                m.opened_per_sec(),
                m.wall().as_secs_f64(),
                ms0(quantile(&per_bid, 0.5)),
                ms0(quantile(&per_bid, 0.99)),
                co_decrypt,
                m.ms_per_bid(m.server_cpu),
                per_co_decrypt,
                pg,
                m.clients_ms_per_bid("phones"),
                m.clients_ms_per_bid("platform"),
                m.outcome.failures.len(),
            );
        }
    }
    s
}

/// Per route of one opening: requests per bid and server-side latency.
pub fn routes(run: &StoreRun, m: &Measured) -> String {
    let mut s = format!(
        "{} · {} · {} bids · {:.1} s\n\n| route | requests/bid | p50 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|\n",
        store_name(run.store),
        m.mode.name(),
        m.outcome.bidders,
        m.wall().as_secs_f64()
    );
    let done = m.opened().max(1) as f64;
    for (route, h) in &m.server.routes {
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
        let v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn long_polls_are_told_apart() {
        assert!(is_long_poll("GET /v1/relay/requests/{id}/result"));
        assert!(is_long_poll("GET /v1/relay/inbox"));
        assert!(!is_long_poll(CO_DECRYPT));
    }
}

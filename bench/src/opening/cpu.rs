//! CPU time by who spent it: a whole process (`/proc/PID/stat`), the threads of this
//! process grouped by name (in the clients process: the phones' runtime, the platform's
//! runtime), and the PostgreSQL server processes. Read from `/proc` before and after a run.

use std::collections::BTreeMap;
use std::time::Duration;

/// Who a thread works for, from its name (`/proc/self/task/*/comm`, at most 15 bytes).
pub fn role_of(thread_name: &str) -> &'static str {
    if thread_name.starts_with("bk-server")
        || thread_name.starts_with("bidkey-db")
        || thread_name.starts_with("bidkey-relay")
    {
        "server"
    } else if thread_name.starts_with("bk-phones") {
        "phones"
    } else if thread_name.starts_with("bk-platform") {
        "platform"
    } else {
        "other"
    }
}

/// CPU time per role at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSample(pub BTreeMap<&'static str, Duration>);

impl CpuSample {
    pub fn now() -> CpuSample {
        let mut out: BTreeMap<&'static str, Duration> = BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                {
                    *out.entry(role_of(name.trim())).or_default() += Duration::from_nanos(ns);
                }
            }
        }
        let pg = postgres_cpu();
        if !pg.is_zero() {
            out.insert("postgres", pg);
        }
        CpuSample(out)
    }

    /// CPU spent per role between `earlier` and this sample (threads that ended in between
    /// are lost; the bench's threads live through a run).
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        CpuSample(
            self.0
                .iter()
                .map(|(k, v)| (*k, v.saturating_sub(earlier.get(k))))
                .collect(),
        )
    }

    pub fn get(&self, role: &str) -> Duration {
        self.0.get(role).copied().unwrap_or_default()
    }
}

/// User + system time of process `pid`, all its threads, zero if it is gone.
pub fn process_cpu(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_ticks(&s).map(|(_, t)| t))
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}

/// User + system time of every process named `postgres` (the cluster the bench started;
/// the machine runs no other).
pub fn postgres_cpu() -> Duration {
    let ticks = ticks_per_second();
    let mut total = 0u64;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    for p in procs.flatten() {
        let is_pid = p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit());
        if !is_pid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        if let Some(t) = postgres_ticks(&stat) {
            total += t;
        }
    }
    Duration::from_secs_f64(total as f64 / ticks as f64)
}

/// utime + stime of a `/proc/PID/stat` line if its command is `postgres`.
fn postgres_ticks(stat: &str) -> Option<u64> {
    stat_ticks(stat)
        .filter(|(c, _)| *c == "postgres")
        .map(|(_, t)| t)
}

/// The command and utime + stime of a `/proc/PID/stat` line. The command is in parentheses
/// and may contain spaces, so fields are counted after the last `)`.
fn stat_ticks(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the command: state(3) ppid(4) … utime(14) stime(15), numbered from 1.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on; `getconf` says if not.
fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_of_postgres_only() {
        let pg =
            "4242 (postgres) S 4000 4242 4242 0 -1 4194560 700 0 0 0 153 47 0 0 20 0 1 0 99 1 2";
        assert_eq!(postgres_ticks(pg), Some(200));
        let other = "77 (opening bench) R 1 77 77 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1";
        assert_eq!(postgres_ticks(other), None);
    }

    #[test]
    fn this_process_spends_cpu() {
        let a = process_cpu(std::process::id());
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu(std::process::id()) > a);
        assert_eq!(process_cpu(u32::MAX), Duration::ZERO);
    }

    #[test]
    fn threads_by_name() {
        assert_eq!(role_of("bk-server-3"), "server");
        assert_eq!(role_of("bidkey-db"), "server");
        assert_eq!(role_of("bidkey-relay-sub"), "server");
        assert_eq!(role_of("bk-phones"), "phones");
        assert_eq!(role_of("bk-platform"), "platform");
        assert_eq!(role_of("tokio-runtime-w"), "other");
    }

    #[test]
    fn this_thread_is_counted() {
        let a = CpuSample::now();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let d = CpuSample::now().since(&a);
        assert!(d.0.values().any(|v| !v.is_zero()), "{d:?}");
    }
}

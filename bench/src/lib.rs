//! Benchmarks. [`opening`] is `opening-bench` (a bid opening under load); the rest of this
//! file helps `crypto-bench`: a timer with warm-up, and parsers for the machine-readable
//! (`-mr`) output of `openssl speed`.
//!
//! The machine is shared, so by default both sides are timed in CPU time of the running
//! thread: our loops by the kernel's on-CPU nanoseconds (`/proc/thread-self/schedstat`),
//! OpenSSL by `openssl speed`'s default (user CPU time). [`Clock::Wall`] times both in
//! wall-clock time instead (`openssl speed -elapsed`), which is right on an idle machine.

pub mod opening;

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to warm up and how long to measure each operation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Which clock rates are per second of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// CPU time of this thread (user + system), from `/proc/thread-self/schedstat`.
    Cpu,
    /// Wall-clock time.
    Wall,
}

impl Clock {
    /// [`Clock::Cpu`] when this kernel reports per-thread CPU time, else [`Clock::Wall`].
    pub fn best_available() -> Self {
        if thread_cpu_time().is_some() {
            Clock::Cpu
        } else {
            Clock::Wall
        }
    }

    fn now(self) -> Duration {
        match self {
            Clock::Cpu => thread_cpu_time().unwrap_or_default(),
            Clock::Wall => wall_epoch().elapsed(),
        }
    }
}

fn wall_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds this thread has run on a CPU, as the kernel counts them (it brings the
/// count up to date at scheduler ticks, so it can read 0 just after a thread starts).
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Operations completed in a measured interval.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ops: u64,
    /// The interval on the clock the measurement used.
    pub elapsed: Duration,
    /// The same interval in wall-clock time.
    pub wall: Duration,
}

impl Timing {
    /// Operations per second of the measuring clock.
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// Run `op` for `budget.warmup`, then in batches until `budget.measure` has passed on
/// `clock`.
///
/// Batches are sized from the warm-up to take about a millisecond each, so reading the
/// clock costs nothing measurable even for fast operations.
pub fn measure<T>(budget: Budget, clock: Clock, mut op: impl FnMut() -> T) -> Timing {
    let start = clock.now();
    let mut warm_ops = 0u64;
    while warm_ops == 0 || clock.now() - start < budget.warmup {
        black_box(op());
        warm_ops += 1;
    }
    let per_op = (clock.now() - start).as_secs_f64() / warm_ops as f64;
    let batch = ((1e-3 / per_op.max(1e-9)) as u64).clamp(1, 1_000_000);

    let wall_start = Instant::now();
    let start = clock.now();
    let mut ops = 0u64;
    loop {
        for _ in 0..batch {
            black_box(op());
        }
        ops += batch;
        let elapsed = clock.now() - start;
        if elapsed >= budget.measure {
            return Timing {
                ops,
                elapsed,
                wall: wall_start.elapsed(),
            };
        }
    }
}

/// Run `openssl speed -mr [-elapsed] -seconds N ARGS..` and return its standard output.
///
/// `-elapsed` (wall-clock rates) is passed for [`Clock::Wall`]; without it OpenSSL
/// divides by its user CPU time.
pub fn openssl_speed(clock: Clock, seconds: u32, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("openssl");
    cmd.arg("speed").arg("-mr");
    if clock == Clock::Wall {
        cmd.arg("-elapsed");
    }
    let out = cmd
        .args(["-seconds", &seconds.max(1).to_string()])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "openssl speed {} failed ({}): {}",
            args.join(" "),
            out.status,
            stderr.lines().next().unwrap_or("")
        ));
    }
    Ok(stdout)
}

/// `openssl version` (first line), or why it could not be run.
pub fn openssl_version() -> String {
    match Command::new("openssl").arg("version").output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Err(e) => format!("openssl not runnable: {e}"),
    }
}

/// Sign and verify rates from `openssl speed -mr` for one public-key algorithm.
///
/// Its summary line is `+F<n>:<index>:<bits>[:<name>]:<sign/s>:<verify/s>` (`+F4` for
/// ECDSA, `+F7` for SM2 in 3.0, with a curve name only for some). With several
/// algorithms in one run the line whose name or bits match `want` is taken; the last two
/// fields are the rates either way.
pub fn parse_sign_verify(output: &str, want: &str) -> Option<(f64, f64)> {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| is_pkey_summary(l))
        .collect();
    let line = match lines.as_slice() {
        [only] => *only,
        many => many
            .iter()
            .find(|l| l.split(':').any(|f| f.eq_ignore_ascii_case(want)))?,
    };
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 5 {
        return None;
    }
    let sign = fields[fields.len() - 2].parse().ok()?;
    let verify = fields[fields.len() - 1].parse().ok()?;
    Some((sign, verify))
}

fn is_pkey_summary(line: &str) -> bool {
    line.strip_prefix("+F")
        .and_then(|rest| rest.split(':').next())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Bytes per second for `cipher` at block size `size` from `openssl speed -mr -evp`.
///
/// `+H:<size>:<size>..` lists the block sizes and `+F:<index>:<CIPHER>:<B/s>:<B/s>..` the
/// rates in the same order.
pub fn parse_cipher(output: &str, cipher: &str, size: usize) -> Option<f64> {
    let mut sizes: Vec<usize> = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("+H:") {
            sizes = rest.split(':').filter_map(|s| s.parse().ok()).collect();
        } else if let Some(rest) = line.strip_prefix("+F:") {
            let mut fields = rest.split(':');
            let _index = fields.next()?;
            let name = fields.next()?;
            if !name.eq_ignore_ascii_case(cipher) {
                continue;
            }
            let rates: Vec<f64> = fields.filter_map(|s| s.parse().ok()).collect();
            let pos = sizes.iter().position(|&s| s == size)?;
            return rates.get(pos).copied();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM2: &str = "+DTP:256:sign:CurveSM2:1\n+R10:2128:256:CurveSM2:1.00\n\
        +DTP:256:verify:CurveSM2:1\n+R11:2265:256:CurveSM2:1.00\n\
        +F7:0:256:CurveSM2:2128.000000:2265.000000\n";
    const ECDSA: &str = "+DTP:256:sign:ecdsa:1\n+R5:34016:256:0.87\n+DTP:256:verify:ecdsa:1\n\
        +R6:12804:256:0.95\n+F4:3:256:39098.850575:13477.894737\n";
    const AES: &str = "+DT:AES-256-GCM:1:1048576\n+R:3436:AES-256-GCM:0.940000\n\
        +H:1048576\n+F:25:AES-256-GCM:3832879931.91\n";
    const MANY: &str = "+H:16:64:1048576\n+F:22:SM4-CTR:1.0:2.0:112503466.67\n";

    #[test]
    fn parses_sign_verify_lines() {
        assert_eq!(parse_sign_verify(SM2, "CurveSM2"), Some((2128.0, 2265.0)));
        assert_eq!(
            parse_sign_verify(ECDSA, "256"),
            Some((39098.850575, 13477.894737))
        );
        let both = format!("{ECDSA}{SM2}");
        assert_eq!(parse_sign_verify(&both, "CurveSM2"), Some((2128.0, 2265.0)));
        assert_eq!(parse_sign_verify("garbage\n+F:1:x:2\n", "256"), None);
    }

    #[test]
    fn parses_cipher_lines() {
        assert_eq!(
            parse_cipher(AES, "aes-256-gcm", 1048576),
            Some(3832879931.91)
        );
        assert_eq!(parse_cipher(MANY, "SM4-CTR", 1048576), Some(112503466.67));
        assert_eq!(parse_cipher(MANY, "SM4-CTR", 8192), None);
        assert_eq!(parse_cipher(AES, "SM4-CTR", 1048576), None);
    }

    #[test]
    fn measure_counts_operations() {
        let budget = Budget {
            warmup: Duration::from_millis(5),
            measure: Duration::from_millis(20),
        };
        for clock in [Clock::Wall, Clock::best_available()] {
            let mut n = 0u64;
            let t = measure(budget, clock, || n += 1);
            assert!(t.ops > 0 && t.elapsed >= budget.measure);
            assert!(n >= t.ops);
        }
    }
}

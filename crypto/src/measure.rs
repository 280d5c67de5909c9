//! Helpers for the ignored speed tests (`cargo test --release … -- --ignored`), which time
//! code on this shared machine by the thread's on-CPU time, not the wall clock.

/// On-CPU nanoseconds of this thread so far (0 where `/proc` has no schedstat).
pub(crate) fn cpu_ns() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
}

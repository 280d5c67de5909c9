//! The library half of `bidkey-cli`: the `bidkey demo` story ([`demo`]), kept here so the
//! end-to-end tests (`tests/`, package `bidkey-e2e`) run exactly what the command runs, and
//! the one way the CLI writes to stdout ([`stdout`]). The wallet commands themselves live in
//! the binary (`main.rs`).

// Every line goes through `stdout`, which ends quietly on a closed pipe.
#![deny(clippy::print_stdout)]

pub mod demo;
pub mod locale;
pub mod stdout;

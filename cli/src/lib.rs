//! The library half of `bidkey-cli`: the `bidkey demo` story ([`demo`]), kept here so the
//! end-to-end tests (`tests/`, package `bidkey-e2e`) run exactly what the command runs. The
//! wallet commands themselves live in the binary (`main.rs`).

pub mod demo;

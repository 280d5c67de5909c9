#!/usr/bin/env bash
# README's test command: every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
bindings/run-kotlin-tests.sh

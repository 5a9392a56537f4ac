#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, builds the
# binary the end-to-end tests drive, then runs all test suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests run target/debug/clm-bridge: build it first.
cargo build --locked -p clm-bridge
cargo test --locked --workspace --no-fail-fast

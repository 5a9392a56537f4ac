#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, builds the
# binary the end-to-end tests drive, then runs all test suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests run target/debug/clm-bridge: build it first.
cargo build --locked -p clm-bridge
cargo test --locked --workspace --no-fail-fast

# The fuzz targets build and run clean for a short while (longer runs: scripts/fuzz.sh 600).
FUZZ_SANITIZER=none ./scripts/fuzz.sh 20

#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, builds the
# binary the end-to-end tests drive, then runs all test suites and a short fuzzing smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# The end-to-end tests run target/debug/clm-bridge: build it first.
cargo build --locked -p clm-bridge
status=0
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?

# The fuzz targets build and run clean for a short while (longer runs: scripts/fuzz.sh 600).
FUZZ_SANITIZER=none ./scripts/fuzz.sh 20 || status=$?

# One closing line for the whole run: the sum of every cargo test summary above.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"

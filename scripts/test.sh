#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, builds the
# binary the end-to-end tests drive, then runs all test suites and a short fuzzing smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# The end-to-end tests talk to real servers on loopback: install and start them (the
# variables they need go into the environment of the tests), and stop them at the end.
./scripts/test-servers.sh start
trap 'rm -f "$log"; ./scripts/test-servers.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. target/test-servers/env
set +a

# The end-to-end tests run target/debug/clm-bridge: build it first.
cargo build --locked --workspace --all-targets
status=0
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?

# The fuzz targets build and run clean for a short while (longer runs: scripts/fuzz.sh 600).
FUZZ_SANITIZER=none ./scripts/fuzz.sh 20 || status=$?

# One closing line for the whole run: the sum of every cargo test summary above.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"

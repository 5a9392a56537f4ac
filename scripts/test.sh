#!/usr/bin/env bash
# The whole test run, as CI runs it (as root on Debian; a fresh machine needs only a Rust
# toolchain): installs what the tests need, starts the test servers, runs every test suite
# (cargo builds the binary the end-to-end tests in bridge/tests/e2e drive), then a short
# fuzzing smoke run. Ends with one line: `tests: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every program the run needs, installed up front (one apt-get update) and checked before
# anything starts: a missing one fails here, not after minutes of other work.
./scripts/test-deps.sh

log="$(mktemp)"
# Set before the first server starts, so a failing start or a Ctrl-C stops every server.
trap 'status=$?; ./scripts/test-servers.sh stop || true; rm -f "$log"; exit "$status"' EXIT
./scripts/test-servers.sh start
set -a
# shellcheck disable=SC1091
. target/test-servers/env
set +a

status=0
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?

# The fuzz targets build and run clean for a short while (longer runs: scripts/fuzz.sh 600).
FUZZ_SANITIZER=none ./scripts/fuzz.sh 20 || status=$?

# The failures again, after the fuzzing output, so that the last lines of a failed run name
# them: each failed test's name and the end of what it printed.
if grep -q '^---- .* stdout ----$' "$log"; then
    echo "failed tests, the last 25 lines each printed:"
    awk '/^---- .* stdout ----$/ { if (name != "") flush(); name = $2; n = 0; next }
         /^(failures:|test result:)/ { if (name != "") flush(); name = ""; next }
         name != "" { lines[n++ % 25] = $0; total = n }
         function flush(   i, start) {
             print "== " name
             start = (total > 25) ? total - 25 : 0
             for (i = start; i < total; i++) print "   " lines[i % 25]
             total = 0
         }' "$log"
fi

# One closing line for the whole run: the sum of every cargo test summary above.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"

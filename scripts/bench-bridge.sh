#!/usr/bin/env bash
# Measures the bridge daemon with the filesystem drop adapter (issue 3, "Measured") and prints
# each figure next to its target. A missed target is reported, never an error: the script fails
# (exit 2) only when something cannot run.
#
#   (a) ingest: BENCH_COUNT (100 000) pointer files already in a drop folder; `clm-bridge run`
#       is started and timed until its output holds a line for every one of them (then
#       `history --json` is counted too). Target: >= 20 000 messages/s.
#   (b) latency: with the daemon running, BENCH_LATENCY_COUNT (1 000) files are written one by
#       one (hidden temp file + rename, one every BENCH_INTERVAL_MS), each rename timestamped;
#       each daemon output line is timestamped as it is read. Target: p50 < 50 ms.
#   (c) memory: VmRSS of the idle daemon once it has settled, on an empty folder and on the
#       folder of (a) after a restart (100 000 files seen). Target: < 30 MiB.
#
# Files are named by their digest, as `send` writes them, so the daemon reads each one as soon
# as it sees it (files named otherwise wait out the adapter's settle time, 200 ms).
#
# Usage: scripts/bench-bridge.sh
# Settings: BENCH_COUNT (100000), BENCH_LATENCY_COUNT (1000), BENCH_INTERVAL_MS (20),
#   BENCH_FORMAT (native|clm202, default native), BENCH_POLL (drop poll interval, default 2s),
#   BENCH_TIMEOUT (s to wait for the ingest, default 600), BENCH_KEEP=1 keeps the work dir.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

count="${BENCH_COUNT:-100000}"
latency_count="${BENCH_LATENCY_COUNT:-1000}"
interval_ms="${BENCH_INTERVAL_MS:-20}"
poll="${BENCH_POLL:-2s}"
timeout_s="${BENCH_TIMEOUT:-600}"
export BENCH_FORMAT="${BENCH_FORMAT:-native}"
export BENCH_CHAT="bench"
export BENCH_SECRET="bench chat secret"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase: 7 ravens juggle quinoa"

fail() {
    echo "bench-bridge.sh: $*" >&2
    exit 2
}

(( BASH_VERSINFO[0] >= 5 )) || fail "bash 5 is needed (\$EPOCHREALTIME)"
command -v cargo >/dev/null 2>&1 || fail "cargo is needed: install Rust from https://rustup.rs"

echo "== building (release)"
# BENCH_CARGO_FLAGS: extra cargo flags, e.g. "--no-default-features --features drop" for a
# build without the network transports.
# shellcheck disable=SC2086
cargo build --release -q -p clm-bridge --bin clm-bridge --example gen_drop_files ${BENCH_CARGO_FLAGS:-} ||
    fail "the release build failed"
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-target}"
bin="$target_dir/release/clm-bridge"
gen="$target_dir/release/examples/gen_drop_files"
"$bin" run --help >/dev/null 2>&1 || fail "this clm-bridge has no \`run\` command yet"
run_args=(run)
if "$bin" run --help 2>/dev/null | grep -q -- '--json'; then
    run_args+=(--json)
else
    echo "note: \`run\` has no --json: lines are counted, but latencies cannot be matched"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench-bridge.XXXXXX")"
daemon_pid=""
cleanup() {
    stop_daemon
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then
        echo "work dir kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# A bridge in $work/$1 with one chat and one drop folder ($work/$1/drop).
make_bridge() {
    local home="$work/$1"
    mkdir -p "$home/drop"
    printf '[drop.bench]\npath = "%s"\npoll_interval = "%s"\n' "$home/drop" "$poll" >"$home/config.toml"
    bridge "$1" init --name bencher 2>/dev/null || fail "init failed"
    local chat_args=(chat add "$BENCH_CHAT" --format "$BENCH_FORMAT" --secret-env BENCH_SECRET)
    bridge "$1" "${chat_args[@]}" >/dev/null 2>&1 || fail "chat add failed: ${chat_args[*]}"
}

bridge() {
    local home="$work/$1"
    shift
    "$bin" --data-dir "$home/data" --config "$home/config.toml" "$@"
}

# Starts the daemon of bridge $1, its stdout to $2 (stamped with the time of reading each line
# when $3 is "stamped"), its stderr to $work/$1/daemon.log.
# The binary is started directly (not through `bridge`), so that $! is its own process id.
start_daemon() {
    local home="$work/$1"
    local args=(--data-dir "$home/data" --config "$home/config.toml" "${run_args[@]}")
    if [[ "${3:-}" == stamped ]]; then
        "$bin" "${args[@]}" 2>"$home/daemon.log" > >(
            while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$2"
        ) &
    else
        "$bin" "${args[@]}" >"$2" 2>"$home/daemon.log" &
    fi
    daemon_pid=$!
}

stop_daemon() {
    [[ -n "$daemon_pid" ]] || return 0
    if kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$daemon_pid" 2>/dev/null; then
            echo "note: the daemon did not stop within 10 s of SIGTERM: killed"
            kill -KILL "$daemon_pid" 2>/dev/null || true
        fi
    fi
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
}

lines_in() {
    if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi
}

# Waits until file $1 has at least $2 lines (or $3 seconds pass, or the daemon dies).
wait_for_lines() {
    local deadline=$((SECONDS + $3))
    while (($(lines_in "$1") < $2)); do
        kill -0 "$daemon_pid" 2>/dev/null || { echo "note: the daemon exited early; its log:"; tail -5 "$work"/*/daemon.log; return 1; }
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# User and system CPU seconds the daemon has used so far.
cpu_seconds() {
    local ticks
    ticks="$(getconf CLK_TCK)"
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
    sed 's/.*) //' "/proc/$daemon_pid/stat" 2>/dev/null |
        awk -v t="$ticks" '{ printf "user %.2f s, system %.2f s\n", $12 / t, $13 / t }'
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo 0
}

# Idle means after the daemon's periodic memory release (every 10 s, the first 5 s after start):
# waits BENCH_IDLE_WAIT seconds (default 8), then until VmRSS holds still for 3 samples 0.5 s
# apart (at most 15 s more); prints it.
settled_rss_kib() {
    local last=-1 same=0 now
    sleep "${BENCH_IDLE_WAIT:-8}"
    for _ in $(seq 30); do
        sleep 0.5
        now="$(rss_kib)"
        if [[ "$now" == "$last" ]]; then same=$((same + 1)); else same=0; fi
        last="$now"
        ((same < 3)) || break
    done
    echo "$last"
}

report_rss() {
    awk -v k="$2" -v what="$1" 'BEGIN {
        mib = k / 1024
        printf "%s: VmRSS %.1f MiB (target < 30 MiB: %s)\n", what, mib, (mib < 30 ? "met" : "MISSED")
    }'
}

echo "format $BENCH_FORMAT, poll interval $poll, work dir $work"
echo

# --- (c) idle memory, empty folder; then (b) latency on the same running daemon.
make_bridge live
start_daemon live "$work/live/lines" stamped
idle_kib="$(settled_rss_kib)"
echo "== (c) idle daemon, empty drop folder"
report_rss "idle, empty folder" "$idle_kib"
echo

echo "== (b) drop-to-output latency: $latency_count files, one every $interval_ms ms"
"$gen" backlog "$work/live/drop" 1 2>/dev/null || fail "gen_drop_files failed"
if ! wait_for_lines "$work/live/lines" 1 30; then
    echo "the daemon printed nothing for a warm-up file within 30 s: latency not measured"
else
    "$gen" trickle "$work/live/drop" "$latency_count" "$interval_ms" "$work/live/written.tsv" ||
        fail "gen_drop_files trickle failed"
    wait_for_lines "$work/live/lines" $((latency_count + 1)) 30 ||
        echo "note: $(( $(lines_in "$work/live/lines") - 1 )) of $latency_count lines arrived within 30 s"
    if report="$("$gen" latency "$work/live/written.tsv" "$work/live/lines")"; then
        echo "$report"
        awk -v r="$report" 'BEGIN {
            match(r, /p50=[0-9.]+/); p50 = substr(r, RSTART + 4, RLENGTH - 4)
            printf "p50 %.1f ms (target < 50 ms: %s)\n", p50, (p50 < 50 ? "met" : "MISSED")
        }'
    else
        echo "latency could not be computed (see above)"
    fi
fi
stop_daemon
echo

# --- (a) ingest of a backlog, on a fresh bridge.
echo "== (a) ingest: $count pointer files already in the drop folder"
make_bridge backlog
"$gen" backlog "$work/backlog/drop" "$count" || fail "gen_drop_files failed"
start="$EPOCHREALTIME"
start_daemon backlog "$work/backlog/lines"
first=""
deadline=$((SECONDS + timeout_s))
while :; do
    seen="$(lines_in "$work/backlog/lines")"
    if [[ -z "$first" ]] && ((seen > 0)); then first="$EPOCHREALTIME"; fi
    ((seen >= count)) && break
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        echo "note: the daemon exited early; its log:"
        tail -5 "$work/backlog/daemon.log"
        break
    fi
    ((SECONDS < deadline)) || { echo "note: timed out after $timeout_s s"; break; }
    sleep 0.05
done
end="$EPOCHREALTIME"
cpu="$(cpu_seconds)"
seen="$(lines_in "$work/backlog/lines")"
stored="$(bridge backlog history --json 2>/dev/null | wc -l)" || stored="?"
awk -v n="$seen" -v total="$count" -v s="$start" -v f="${first:-$end}" -v e="$end" -v stored="$stored" 'BEGIN {
    all = e - s; startup = f - s; rest = e - f
    printf "%d of %d messages printed in %.2f s (first after %.2f s: vault KDF, store, folder listing)\n", n, total, all, startup
    printf "history holds %s messages\n", stored
    rate = (all > 0 ? n / all : 0)
    printf "ingest: %.0f messages/s overall, %.0f/s after the first (target >= 20000/s: %s)\n", rate, (rest > 0 ? n / rest : 0), (rate >= 20000 ? "met" : "MISSED")
}'
echo "daemon CPU time up to then: ${cpu:-unknown} ($(nproc) cores)"
echo

echo "== (c) idle daemon after the ingest ($count files seen)"
report_rss "idle after ingest" "$(settled_rss_kib)"
stop_daemon
start_daemon backlog "$work/backlog/lines-restart"
report_rss "idle after a restart on the same folder" "$(settled_rss_kib)"
new_after_restart="$(lines_in "$work/backlog/lines-restart")"
echo "messages printed again after the restart: $new_after_restart (expected 0)"
stop_daemon

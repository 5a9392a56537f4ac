#!/usr/bin/env bash
# Measures the daemon's local API (issue 12, §2) against a release build and prints each figure
# next to its target. A missed target is reported, never an error: the script fails (exit 2)
# only when something cannot run.
#
#   (a) the CLI without a daemon: BENCH_CLI_COUNT (20) runs each of `send --chat bench TEXT` and
#       `history --json`, each under `/usr/bin/time` (peak RSS); the wall time is taken around
#       it with $EPOCHREALTIME (`time`'s own %e counts only hundredths of a second). p50 and max
#       wall, max peak RSS. These open the vault (passphrase KDF) and the store themselves: no
#       target, the figures are the baseline.
#   (b) the same runs through a running daemon (the CLI finds <data dir>/api.sock), without
#       $CLM_BRIDGE_PASSPHRASE in their environment: they cannot open the vault themselves.
#       Targets: wall < 20 ms, peak RSS < 15 MB (10^6 bytes).
#   (c) event latency: BENCH_LATENCY_COUNT (200) clm202 pointers dropped one at a time into the
#       watched drop folder (`api_bench latency`); the time until a subscriber's `message`
#       notification. api_bench names its files `TEXT.json`, not by digest as `send` does, so
#       the daemon reads each one only once it has settled: the folder's settle_time is
#       BENCH_SETTLE (default 10ms, the least allowed; the adapter's default is 200ms, which
#       then adds about 200 ms to every figure here and slows (e)).
#   (d) `send` round trips over the API (`api_bench send`), BENCH_SEND_COUNT (200).
#   (e) BENCH_FLOOD_COUNT (10 000) pointers dropped at once, one subscriber (`api_bench flood`):
#       the time until it saw every one, each once, event ids contiguous.
#   (f) the daemon's idle memory (VmRSS once settled), just after its start and after (c)-(e).
#
# The node: one clm202 chat "bench" routed to a drop folder of its own (outbox/), which the
# daemon watches too (its own sends come back there, as in a shared folder), and the drop folder
# inbox/ that (c) and (e) write to.
#
# Usage: scripts/bench-api.sh
# Settings: BENCH_CLI_COUNT (20), BENCH_LATENCY_COUNT (200), BENCH_SEND_COUNT (200),
#   BENCH_FLOOD_COUNT (10000), BENCH_POLL (drop poll interval, default 2s), BENCH_SETTLE (settle
#   time of the folder (c) and (e) write to, default 10ms), BENCH_TIMEOUT (s for
#   each api_bench run, default 600), BENCH_IDLE_WAIT (s before the idle memory is sampled,
#   default 8), BENCH_CARGO_FLAGS (extra cargo flags), BENCH_BUILD=0 (no build: the binaries
#   already in the target dir's release/ are measured), BENCH_KEEP=1 keeps the work dir.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

cli_count="${BENCH_CLI_COUNT:-20}"
latency_count="${BENCH_LATENCY_COUNT:-200}"
send_count="${BENCH_SEND_COUNT:-200}"
flood_count="${BENCH_FLOOD_COUNT:-10000}"
poll="${BENCH_POLL:-2s}"
settle="${BENCH_SETTLE:-10ms}"
timeout_s="${BENCH_TIMEOUT:-600}"
chat="bench"
export BENCH_SECRET="bench chat secret"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase: 7 ravens juggle quinoa"

fail() {
    echo "bench-api.sh: $*" >&2
    exit 2
}

(( BASH_VERSINFO[0] >= 5 )) || fail "bash 5 is needed (\$EPOCHREALTIME)"
command -v cargo >/dev/null 2>&1 || fail "cargo is needed: install Rust from https://rustup.rs"
[[ -x /usr/bin/time ]] || fail "GNU time is needed as /usr/bin/time (Debian/Ubuntu: apt-get install time)"
command -v timeout >/dev/null 2>&1 || fail "timeout (coreutils) is needed"

if [[ "${BENCH_BUILD:-1}" != 0 ]]; then
    echo "== building (release)"
    # BENCH_CARGO_FLAGS: extra cargo flags, e.g. "--no-default-features --features drop" for a
    # build without the network transports.
    # shellcheck disable=SC2086
    cargo build --release -q -p clm-bridge --bin clm-bridge --example api_bench ${BENCH_CARGO_FLAGS:-} ||
        fail "the release build failed"
fi
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-target}"
bin="$target_dir/release/clm-bridge"
api_bench="$target_dir/release/examples/api_bench"
[[ -x "$bin" && -x "$api_bench" ]] || fail "no $bin or $api_bench after the build"
"$bin" status --help >/dev/null 2>&1 || fail "this clm-bridge has no \`status\` command (no API) yet"

work="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench-api.XXXXXX")"
data="$work/data"
socket="$data/api.sock"
inbox="$work/inbox"
outbox="$work/outbox"
daemon_pid=""
cleanup() {
    stop_daemon || true
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then
        echo "work dir kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

bridge() {
    "$bin" --data-dir "$data" --config "$work/config.toml" "$@"
}

# The daemon, started directly (not through `bridge`) so that $! is its own process id; stdout
# to $work/daemon.out, stderr to $work/daemon.log.
start_daemon() {
    "$bin" --data-dir "$data" --config "$work/config.toml" run --json \
        >"$work/daemon.out" 2>"$work/daemon.log" </dev/null &
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
    local status=0
    wait "$daemon_pid" 2>/dev/null || status=$?
    daemon_pid=""
    return "$status"
}

daemon_alive() {
    [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null
}

daemon_died() {
    echo "note: the daemon exited early; the end of its log:"
    tail -5 "$work/daemon.log"
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
        printf "%s: VmRSS %.1f MiB (no API target; issue 3, idle daemon: < 30 MiB: %s)\n", what, mib, (mib < 30 ? "met" : "MISSED")
    }'
}

# Runs `clm-bridge ARGS...` BENCH_CLI_COUNT times, the Nth run's "@N@" in ARGS replaced by N;
# appends "WALL_MS RSS_KIB STATUS" per run to file $1 (the command's stderr to $1.err).
# $2: "keep" to keep $CLM_BRIDGE_PASSPHRASE in the commands' environment, "drop" to remove it.
cli_runs() {
    local out="$1" passphrase="$2"
    shift 2
    local env_args=()
    [[ "$passphrase" == drop ]] && env_args=(-u CLM_BRIDGE_PASSPHRASE)
    : >"$out"
    local i start end status args
    for i in $(seq "$cli_count"); do
        args=("${@//@N@/$i}")
        start="$EPOCHREALTIME"
        status=0
        env "${env_args[@]}" /usr/bin/time -f '%e %M' -o "$work/time.out" \
            "$bin" --data-dir "$data" --config "$work/config.toml" "${args[@]}" \
            </dev/null >/dev/null 2>>"$out.err" || status=$?
        end="$EPOCHREALTIME"
        # The last line: `time` writes "Command exited with non-zero status N" first then.
        awk -v s="$start" -v e="$end" -v st="$status" 'END { printf "%.3f %d %d\n", (e - s) * 1000, $2, st }' \
            "$work/time.out" >>"$out"
    done
}

# Prints the figures of a file of cli_runs; $1 the label, $3 "targets" to judge them.
cli_report() {
    local label="$1" file="$2" targets="${3:-}"
    sort -n "$file" | awk -v label="$label" -v targets="$targets" '
        function verdict(ok) { return ok ? "met" : "MISSED" }
        { wall[NR] = $1; if ($2 > rss) rss = $2; if ($3 != 0) { failed++; last = $3 } }
        END {
            p50 = wall[int((NR - 1) * 0.5 + 0.5) + 1]; max = wall[NR]; mb = rss * 1024 / 1e6
            if (targets == "targets") {
                printf "%-8s wall p50 %.1f ms (target < 20 ms: %s), max %.1f ms (%s); peak RSS max %.1f MB (target < 15 MB: %s)\n",
                    label ":", p50, verdict(p50 < 20), max, verdict(max < 20), mb, verdict(mb < 15)
            } else {
                printf "%-8s wall p50 %.1f ms, max %.1f ms; peak RSS max %.1f MB\n", label ":", p50, max, mb
            }
            if (failed) printf "note: %d of %d runs exited with a non-zero status (the last %d)\n", failed, NR, last
        }'
    if [[ -s "$file.err" ]] && grep -qv '^clm-bridge: sent over' "$file.err"; then
        echo "note: their standard error said, among other things:"
        grep -v '^clm-bridge: sent over' "$file.err" | sort | uniq -c | sort -rn | head -3
    fi
}

# Runs api_bench ARGS... with a time limit; prints its output, or a note.
run_api_bench() {
    local status=0
    timeout "$timeout_s" "$api_bench" "$@" 2>"$work/api_bench.err" || status=$?
    if ((status == 124)); then
        echo "note: api_bench $1 did not finish within $timeout_s s"
    elif ((status != 0)); then
        echo "note: api_bench $1 failed (status $status):"
        tail -3 "$work/api_bench.err"
    fi
    daemon_alive || daemon_died
}

# --- the node
mkdir -p "$inbox" "$outbox"
printf '[drop.inbox]\npath = "%s"\npoll_interval = "%s"\nsettle_time = "%s"\n\n[drop.outbox]\npath = "%s"\npoll_interval = "%s"\n' \
    "$inbox" "$poll" "$settle" "$outbox" "$poll" >"$work/config.toml"
bridge init --name bench >/dev/null 2>&1 || fail "init failed"
bridge chat add "$chat" --format clm202 --secret-env BENCH_SECRET >/dev/null 2>&1 || fail "chat add failed"
bridge chat route "$chat" --via drop.outbox >/dev/null 2>&1 || fail "chat route failed"
echo "$("$bin" --version | head -1) ($("$bin" --version | sed -n 's/^transports: //p')), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "drop poll interval $poll, settle time of inbox/ $settle; work dir $work"
echo

# --- (a) without a daemon
echo "== (a) the CLI without a daemon: $cli_count runs each (it opens the vault and the store)"
cli_runs "$work/send-direct" keep send --chat "$chat" "direct send @N@"
cli_runs "$work/history-direct" keep history --json
cli_report send "$work/send-direct"
cli_report history "$work/history-direct"
echo "(history of $(bridge history --json 2>/dev/null | wc -l) messages)"
echo

# --- the daemon
start_daemon
deadline=$((SECONDS + 30))
until [[ -S "$socket" ]] && env -u CLM_BRIDGE_PASSPHRASE "$bin" --data-dir "$data" \
    --config "$work/config.toml" status 2>/dev/null </dev/null | grep -q '^daemon: running'; do
    daemon_alive || { daemon_died; fail "the daemon did not start"; }
    ((SECONDS < deadline)) || fail "the daemon's API was not up within 30 s"
    sleep 0.05
done

echo "== (f) idle daemon, just started"
report_rss "idle after start" "$(settled_rss_kib)"
echo

# --- (b) through the daemon
echo "== (b) the CLI through the daemon: $cli_count runs each, no passphrase in their environment"
cli_runs "$work/send-daemon" drop send --chat "$chat" "daemon send @N@"
cli_runs "$work/history-daemon" drop history --json
cli_report send "$work/send-daemon" targets
cli_report history "$work/history-daemon" targets
echo "(history of $(env -u CLM_BRIDGE_PASSPHRASE "$bin" --data-dir "$data" --config "$work/config.toml" \
    history --json 2>/dev/null </dev/null | wc -l) messages)"
daemon_alive || daemon_died
echo

echo "== (c) event latency, drop file -> subscriber: $latency_count pointers one at a time (settle time $settle)"
run_api_bench latency "$socket" "$inbox" "$chat" "$BENCH_SECRET" "$latency_count"
echo

echo "== (d) API send round trips: $send_count"
run_api_bench send "$socket" "$chat" "$send_count"
echo

echo "== (e) $flood_count events to one subscriber"
run_api_bench flood "$socket" "$inbox" "$chat" "$BENCH_SECRET" "$flood_count"
echo

echo "== (f) idle daemon after (b)-(e)"
daemon_alive && report_rss "idle after the runs" "$(settled_rss_kib)"
echo "messages stored: $(env -u CLM_BRIDGE_PASSPHRASE "$bin" --data-dir "$data" --config "$work/config.toml" \
    history --json 2>/dev/null </dev/null | wc -l)"
if daemon_alive; then
    status=0
    stop_daemon || status=$?
    echo "daemon stopped by SIGTERM: exit status $status"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

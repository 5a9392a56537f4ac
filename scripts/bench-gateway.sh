#!/usr/bin/env bash
# Measures a gateway (issue 13) between two drop folders against a release build, and prints
# the figures. The script fails (exit 2) only when something cannot run.
#
#   (a) latency: BENCH_LATENCY_COUNT (200) pointers written one at a time into folder a; the time
#       until the gateway's relay of each appears in folder b. p50, p99 and max.
#   (b) throughput: BENCH_FLOOD_COUNT (10 000) pointers written into a at once; the time until b
#       holds every relay: relays per second.
#   (c) the daemon's peak memory (VmHWM) over the run.
#
# Pointers are well-formed clm202 pointers of no chat the gateway knows (it knows none), written
# under the names `send` gives (clm- + digest), so the folder reads each at once, as it reads
# another bridge's. The gateway's unknown_per_route is raised past the counts.
#
# Usage: scripts/bench-gateway.sh
# Settings: BENCH_LATENCY_COUNT (200), BENCH_FLOOD_COUNT (10000), BENCH_TIMEOUT (s per phase,
#   default 600), BENCH_CARGO_FLAGS (extra cargo flags), BENCH_BUILD=0 (measure the binary
#   already in the target dir's release/), BENCH_KEEP=1 keeps the work dir.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

latency_count="${BENCH_LATENCY_COUNT:-200}"
flood_count="${BENCH_FLOOD_COUNT:-10000}"
timeout_s="${BENCH_TIMEOUT:-600}"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase: 7 ravens juggle quinoa"

fail() {
    echo "bench-gateway.sh: $*" >&2
    exit 2
}

command -v cargo >/dev/null 2>&1 || fail "cargo is needed: install Rust from https://rustup.rs"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed"

target_dir="${CARGO_TARGET_DIR:-target}"
if [[ "${BENCH_BUILD:-1}" != 0 ]]; then
    echo "building clm-bridge (release, drop folders only) ..." >&2
    # shellcheck disable=SC2086
    cargo build --locked --release -p clm-bridge --no-default-features --features drop ${BENCH_CARGO_FLAGS:-} >&2 \
        || fail "the release build failed"
fi
binary="$target_dir/release/clm-bridge"
[[ -x "$binary" ]] || fail "no binary at $binary"

work="$(mktemp -d)"
daemon_pid=""
cleanup() {
    [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [[ "${BENCH_KEEP:-0}" == 1 ]] && echo "work dir kept: $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/a" "$work/b"
cat > "$work/config.toml" <<EOF
[drop.a]
path = "$work/a"
[drop.b]
path = "$work/b"
[gateway.bench]
routes = ["drop.a", "drop.b"]
unknown_per_route = 10000000
EOF
bridge() { "$binary" --data-dir "$work/data" --config "$work/config.toml" "$@"; }
bridge init --name gateway >/dev/null 2>&1 || fail "init failed"
# The binary itself in the background (not a shell function), so $! is the daemon's PID.
"$binary" --data-dir "$work/data" --config "$work/config.toml" run >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
for _ in $(seq 600); do
    grep -q "clm-bridge is running" "$work/daemon.err" && break
    kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon ended: $(tail -n 5 "$work/daemon.err")"
    sleep 0.05
done

timeout "$((2 * timeout_s))" python3 - "$work" "$latency_count" "$flood_count" "$timeout_s" "$daemon_pid" <<'PY' \
    || fail "a phase did not finish: $(tail -n 5 "$work/daemon.err")"
import hashlib, json, os, secrets, sys, time

work, latency_count, flood_count, timeout_s, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
a, b = os.path.join(work, "a"), os.path.join(work, "b")

def pointer(n):
    # A clm202 pointer as the bridge writes it (Python json.dumps separators, keys e, n, d).
    return json.dumps({"e": 1763700000 + n, "n": f"bench-{n}", "d": secrets.token_hex(48)})

def name(text):
    return "clm-" + hashlib.sha256(text.encode()).hexdigest()[:32] + ".json"

def drop(folder, text):
    path = os.path.join(folder, name(text))
    with open(os.path.join(folder, "." + name(text) + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(folder, "." + name(text) + ".tmp"), path)

def wait(predicate, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"{what}: not done within {timeout_s} s")
        time.sleep(0.0005)

latencies = []
for n in range(latency_count):
    text = pointer(n)
    target = os.path.join(b, name(text))
    start = time.monotonic()
    drop(a, text)
    wait(lambda: os.path.exists(target), f"relay {n}")
    latencies.append((time.monotonic() - start) * 1000)
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"(a) drop -> drop relay latency over {latency_count}: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms")

texts = [pointer(latency_count + n) for n in range(flood_count)]
before = len(os.listdir(b))
start = time.monotonic()
for text in texts:
    drop(a, text)
written = time.monotonic() - start
wait(lambda: len(os.listdir(b)) >= before + flood_count, "the flood")
elapsed = time.monotonic() - start
print(f"(b) {flood_count} pointers written in {written:.2f} s; all relayed after {elapsed:.2f} s: {flood_count / elapsed:.0f} relays/s")
with open(f"/proc/{pid}/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
print(f"(c) daemon peak memory: {int(peak) / 1024:.1f} MiB")
PY

#!/usr/bin/env bash
# Measures the bridge daemon under a flood of junk pointers ("Safe in the open": bounded under
# hostile input) and prints each figure next to its target. A missed target is reported, never
# an error: the script fails (exit 2) only when something cannot run.
#
#   (a) drop folder: while the daemon runs, BENCH_FLOOD_FILES (200) files of
#       BENCH_FLOOD_PER_FILE (5 000) junk pointers (clm202-shaped, no chat opens them: 1 000 000
#       in all) are written into the folder it watches; halfway through, one real message.
#       Figures: how long the real message waited (its file renamed into place -> its line
#       printed), the daemon's memory (VmRSS sampled during the flood; VmHWM, which includes the
#       vault's Argon2id unlock at start; idle afterwards), how long the flood took to read, the
#       data dir's size, the pointers kept as pending, and the peak memory of a `chat add`
#       afterwards (it retries every pending pointer). Targets: data dir < 64 MiB, daemon
#       < 100 MiB, chat add < 150 MiB.
#   (b) e-mail: one mail of BENCH_MAIL_MB (25) MB of junk pointers is delivered over LMTP to the
#       test Dovecot (scripts/servers/mail.sh; its variables from target/test-servers/env or the
#       environment), then a real mail; the same figures.
#
# Usage: scripts/bench-flood.sh
# Settings: BENCH_BIN (a clm-bridge binary to measure instead of building this tree, e.g. an
#   older one: it must read the same settings), BENCH_FLOOD_FILES, BENCH_FLOOD_PER_FILE,
#   BENCH_MAIL_MB, BENCH_SKIP_MAIL=1, BENCH_KEEP=1 keeps the work dir, BENCH_CARGO_FLAGS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

files="${BENCH_FLOOD_FILES:-200}"
per_file="${BENCH_FLOOD_PER_FILE:-5000}"
mail_mb="${BENCH_MAIL_MB:-25}"
export BENCH_FORMAT=clm202
export BENCH_CHAT="bench"
export BENCH_SECRET="bench chat secret"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase"

fail() {
    echo "bench-flood.sh: $*" >&2
    exit 2
}

(( BASH_VERSINFO[0] >= 5 )) || fail "bash 5 is needed (\$EPOCHREALTIME)"
command -v cargo >/dev/null 2>&1 || fail "cargo is needed: install Rust from https://rustup.rs"
[[ -x /usr/bin/time ]] || fail "/usr/bin/time is needed (Debian: apt-get install time)"

echo "== building (release)"
# shellcheck disable=SC2086
cargo build --release -q -p clm-bridge --bin clm-bridge --example gen_drop_files ${BENCH_CARGO_FLAGS:-} ||
    fail "the release build failed"
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-target}"
bin="${BENCH_BIN:-$target_dir/release/clm-bridge}"
gen="$target_dir/release/examples/gen_drop_files"
[[ -x "$bin" ]] || fail "no binary at $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench-flood.XXXXXX")"
daemon_pid=""
sampler_pid=""
cleanup() {
    [[ -z "$sampler_pid" ]] || kill "$sampler_pid" 2>/dev/null || true
    stop_daemon
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

bridge() {
    local home="$work/$1"
    shift
    "$bin" --data-dir "$home/data" --config "$home/config.toml" "$@"
}

# A bridge in $work/$1 with chat "bench" (clm202) and settings $2.
make_bridge() {
    mkdir -p "$work/$1"
    printf '%s\n' "$2" >"$work/$1/config.toml"
    bridge "$1" init --name bencher 2>/dev/null || fail "init failed"
    bridge "$1" chat add "$BENCH_CHAT" --format clm202 --secret-env BENCH_SECRET >/dev/null 2>&1 ||
        fail "chat add failed"
}

# Starts the daemon of bridge $1; each output line is stamped with the time it was read.
start_daemon() {
    local home="$work/$1"
    "$bin" --data-dir "$home/data" --config "$home/config.toml" run --json 2>"$home/daemon.log" > >(
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$home/lines"
    ) &
    daemon_pid=$!
    for _ in $(seq 600); do
        grep -q "is running" "$home/daemon.log" 2>/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon did not start: $(tail -3 "$home/daemon.log")"
        sleep 0.05
    done
    # VmRSS every 100 ms, the largest kept.
    ( peak=0
      while kill -0 "$daemon_pid" 2>/dev/null; do
          now="$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo 0)"
          ((now > peak)) && peak=$now && echo "$peak" >"$home/rss-peak"
          sleep 0.1
      done ) &
    sampler_pid=$!
}

stop_daemon() {
    [[ -n "$daemon_pid" ]] || return 0
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
    [[ -z "$sampler_pid" ]] || { kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; }
    sampler_pid=""
}

status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo 0; }
cpu_ticks() { sed 's/.*) //' "/proc/$daemon_pid/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

# Waits until the daemon has used almost no CPU for 2 s; prints when it was last busy.
wait_idle() {
    local last now
    last="$(cpu_ticks)"
    while :; do
        sleep 2
        now="$(cpu_ticks)"
        ((now - last < 10)) && break
        last=$now
    done
}

# Waits until the daemon printed a line holding $2 (bridge $1), at most $3 s.
wait_line() {
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$work/$1/lines" 2>/dev/null; do
        kill -0 "$daemon_pid" 2>/dev/null || { echo "note: the daemon exited: $(tail -3 "$work/$1/daemon.log")"; return 1; }
        ((SECONDS < deadline)) || { echo "note: no line with $2 within $3 s"; return 1; }
        sleep 0.05
    done
}

# The stamp of the line holding $2 in bridge $1's output.
line_stamp() { grep "$2" "$work/$1/lines" | head -1 | cut -d' ' -f1; }

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "met" : "MISSED") }'; }

# Figures after a flood into bridge $1 that started at $2 (EPOCHREALTIME).
report() {
    local name="$1" started="$2" home="$work/$1"
    wait_idle
    local ended="$EPOCHREALTIME"
    local hwm rss idle data
    hwm="$(status_kib VmHWM)"
    rss="$(cat "$home/rss-peak" 2>/dev/null || echo 0)"
    sleep "${BENCH_IDLE_WAIT:-12}"
    idle="$(status_kib VmRSS)"
    data="$(du -sk "$home/data" | cut -f1)"
    awk -v s="$started" -v e="$ended" 'BEGIN { printf "flood read in %.1f s (until the daemon went idle)\n", e - s }'
    echo "daemon VmRSS peak during the flood $(mib "$rss") (target < 100 MiB: $(verdict "$rss" 102400)); VmHWM $(mib "$hwm") (includes the vault unlock's Argon2id at start); idle afterwards $(mib "$idle")"
    echo "data dir $(mib "$data") (target < 64 MiB: $(verdict "$data" 65536))"
    grep -E "disk full|busy|stopped by an error" "$home/daemon.log" | head -3 || true
    stop_daemon
    if bridge "$name" pending list >/dev/null 2>"$home/pending"; then
        echo "pending: $(head -1 "$home/pending" | sed 's/^clm-bridge: //')"
    fi
    /usr/bin/time -f "%M" -o "$home/chat-add-rss" \
        "$bin" --data-dir "$home/data" --config "$home/config.toml" chat add later --format clm202 \
        --secret-env BENCH_SECRET >/dev/null 2>"$home/chat-add.log" || echo "note: chat add failed: $(tail -2 "$home/chat-add.log")"
    local add
    add="$(tail -1 "$home/chat-add-rss")"
    echo "chat add afterwards: peak $(mib "$add") (target < 150 MiB: $(verdict "$add" 153600)); $(grep -o '[0-9]* pending pointer(s) opened; [0-9]* still pending' "$home/chat-add.log" || true)"
}

echo "binary $bin, work dir $work"
echo

# --- (a) drop folder
echo "== (a) drop folder: $files files x $per_file junk pointers ($((files * per_file)) in all), one real message halfway"
mkdir -p "$work/drop/folder"
make_bridge drop "$(printf '[drop.flood]\npath = "%s"\npoll_interval = "2s"\n' "$work/drop/folder")"
start_daemon drop
started="$EPOCHREALTIME"
half=$((files / 2))
"$gen" junk "$work/drop/folder" "$half" "$per_file" 0 || fail "gen_drop_files junk failed (an older gen_drop_files?)"
"$gen" trickle "$work/drop/folder" 1 0 "$work/drop/written.tsv" || fail "gen_drop_files trickle failed"
"$gen" junk "$work/drop/folder" "$((files - half))" "$per_file" "$half" || fail "gen_drop_files junk failed"
echo "junk written in $(awk -v s="$started" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", e - s }')"
if wait_line drop '"text":"latency 0"' 600; then
    "$gen" latency "$work/drop/written.tsv" "$work/drop/lines" | sed 's/^latency_ms/real message waited (ms):/'
fi
report drop "$started"
echo

# --- (b) e-mail
if [[ "${BENCH_SKIP_MAIL:-}" == 1 ]]; then exit 0; fi
if [[ -z "${CLM_TEST_LMTP_PORT:-}" && -f target/test-servers/env ]]; then set -a; . target/test-servers/env; set +a; fi
if [[ -z "${CLM_TEST_LMTP_PORT:-}" && -f /work/main/target/test-servers/env ]]; then set -a; . /work/main/target/test-servers/env; set +a; fi
[[ -n "${CLM_TEST_LMTP_PORT:-}" ]] || fail "no mail servers: run scripts/test-servers.sh start (or BENCH_SKIP_MAIL=1)"
echo "== (b) e-mail: one $mail_mb MB mail of junk pointers, then a real mail"
address="flood-$(date +%s)$$@$CLM_TEST_MAIL_DOMAIN"
printf '%s\n' "$CLM_TEST_MAIL_PASSWORD" >"$work/password"
make_bridge mail "[email.flood]
address = \"$address\"
password_file = \"$work/password\"
smtp_host = \"127.0.0.1\"
smtp_port = $CLM_TEST_SMTP_PORT
smtp_security = \"none\"
smtp_auth = false
imap_host = \"127.0.0.1\"
imap_port = $CLM_TEST_IMAP_PORT
imap_security = \"none\""
real="$(bridge mail encode --format clm202 --chat "$BENCH_CHAT" --from mum --secret-env BENCH_SECRET -- "real mail")"
start_daemon mail
started="$EPOCHREALTIME"
accepted="$(python3 - "$CLM_TEST_LMTP_PORT" "$address" "$mail_mb" "$real" <<'PY'
import os, smtplib, sys, time
port, to, mb, real = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
lines, size, n = [], 0, 0
while size < mb * 1_000_000:
    line = '{"e":%d,"n":"mail-junk-%d","d":"%s"}' % (1763700000 + n, n, os.urandom(32).hex())
    lines.append(line); size += len(line) + 2; n += 1
junk = ("From: flood@example.org\r\nTo: %s\r\nSubject: junk\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" % to
        + "\r\n".join(lines) + "\r\n").encode()
mail = ("From: mum@example.org\r\nTo: %s\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n" % (to, real)).encode()
with smtplib.LMTP("127.0.0.1", port) as lmtp:
    lmtp.sendmail("flood@example.org", [to], junk)
    lmtp.sendmail("mum@example.org", [to], mail)
    print(time.time())
PY
)" || fail "LMTP delivery failed"
if wait_line mail '"text":"real mail"' 600; then
    awk -v a="$accepted" -v s="$(line_stamp mail '"text":"real mail"')" \
        'BEGIN { printf "real mail waited %.0f ms (delivered right after the junk mail -> its line printed)\n", (s - a) * 1000 }'
fi
report mail "$started"

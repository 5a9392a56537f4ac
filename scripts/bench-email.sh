#!/usr/bin/env bash
# Measures the e-mail transport (issue 4, "Measured") against the loopback Postfix + Dovecot of
# scripts/servers/mail.sh, with a release build, and prints each figure next to its target.
#
#   (a) latency: the daemon idles (IMAP IDLE) on a mailbox; BENCH_LATENCY_COUNT (200) mails
#       holding one clm202 pointer each are sent over SMTP to Postfix one at a time; each latency
#       runs from Postfix's 250 reply to DATA to the daemon's output line for it (Postfix ->
#       LMTP -> Dovecot -> IDLE -> fetch -> store). Target: p50 < 1 s.
#   (b) backlog: BENCH_BACKLOG_COUNT (10 000) pointer mails are put into a fresh mailbox over
#       LMTP before the daemon's first start; the daemon is timed from "running" until it has
#       printed a line for every one. Target: >= 500 mails/s.
#
# The sending and timing is scripts/mail-tool.py (Python's smtplib). Usage: scripts/bench-email.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

latency_count="${BENCH_LATENCY_COUNT:-200}"
backlog_count="${BENCH_BACKLOG_COUNT:-10000}"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase"
export BENCH_CHAT_SECRET="bench chat secret"

echo "== building (release)" >&2
# BENCH_FEATURES=email builds a binary with the e-mail transport alone (a much shorter build).
if [[ -n "${BENCH_FEATURES:-}" ]]; then
    cargo build --release -q -p clm-bridge --bin clm-bridge --no-default-features --features "$BENCH_FEATURES"
else
    cargo build --release -q -p clm-bridge --bin clm-bridge
fi
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/clm-bridge"

echo "== mail servers" >&2
# Servers already running (their variables in the environment) are used as they are, never
# restarted: others may be using them. Else this script starts its own.
if [[ -z "${CLM_TEST_SMTP_PORT:-}" ]]; then
    state="$PWD/target/test-servers/mail"
    mkdir -p "$state"
    eval "$(scripts/servers/mail.sh start "$state" | sed 's/^/export /')"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench-email.XXXXXX")"
trap 'rm -rf "$work"' EXIT
run_id="$(date +%s)$$"
printf '%s\n' "$CLM_TEST_MAIL_PASSWORD" > "$work/password"

# A bridge reading `address`, with chat "Bench".
bridge() {
    local name="$1" address="$2"
    mkdir -p "$work/$name"
    cat > "$work/$name/config.toml" << TOML
[email.bench]
address = "$address"
password_file = "$work/password"
smtp_host = "127.0.0.1"
smtp_port = $CLM_TEST_SMTP_PORT
smtp_security = "none"
smtp_auth = false
imap_host = "127.0.0.1"
imap_port = $CLM_TEST_IMAP_PORT
imap_security = "none"
TOML
    "$bin" --data-dir "$work/$name/data" --config "$work/$name/config.toml" init --name "$name" > /dev/null
    "$bin" --data-dir "$work/$name/data" --config "$work/$name/config.toml" \
        chat add Bench --format clm202 --secret-env BENCH_CHAT_SECRET > /dev/null
}
daemon() {
    echo "$bin" --data-dir "$work/$1/data" --config "$work/$1/config.toml" run --json
}

echo "== (a) latency: $latency_count mails, SMTP accept -> daemon output (target p50 < 1 s)"
latency_to="bench-latency-$run_id@$CLM_TEST_MAIL_DOMAIN"
bridge latency "$latency_to"
# shellcheck disable=SC2046
python3 scripts/mail-tool.py latency --smtp-port "$CLM_TEST_SMTP_PORT" --to "$latency_to" --chat Bench \
    --secret "$BENCH_CHAT_SECRET" --count "$latency_count" -- $(daemon latency)

echo "== (b) backlog: $backlog_count mails waiting before the first start (target >= 500 mails/s)"
backlog_to="bench-backlog-$run_id@$CLM_TEST_MAIL_DOMAIN"
bridge backlog "$backlog_to"
python3 scripts/mail-tool.py bulk --lmtp-port "$CLM_TEST_LMTP_PORT" --to "$backlog_to" --chat Bench \
    --secret "$BENCH_CHAT_SECRET" --count "$backlog_count" --prefix backlog
# shellcheck disable=SC2046
python3 scripts/mail-tool.py backlog --count "$backlog_count" -- $(daemon backlog)

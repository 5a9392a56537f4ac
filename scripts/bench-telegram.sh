#!/usr/bin/env bash
# Measures the Telegram transport against the telegram-test-api emulator: post-to-history
# latency. A user posts BENCH_COUNT (200) pointers one by one (one every BENCH_INTERVAL_MS) in a
# chat the bot reads; each post is timestamped just before it is sent to the emulator, and each
# message line of `clm-bridge run --json` when the driver reads it (the daemon prints a line
# once the message is stored). Prints p50, p99 and max, and the count.
#
# The emulator answers getUpdates at once instead of holding the request (real Telegram holds
# it until an update arrives), so the adapter polls again after its idle_poll_interval: set to
# BENCH_IDLE (10ms) here, which bounds what is measured from below; the default (1s) would
# dominate the figure. Against Telegram the loop is woken by the update itself.
#
# Usage: scripts/bench-telegram.sh
# Settings: BENCH_COUNT (200), BENCH_INTERVAL_MS (50), BENCH_IDLE (10ms), BENCH_FORMAT
#   (clm202|native, default clm202), BENCH_KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

count="${BENCH_COUNT:-200}"
interval_ms="${BENCH_INTERVAL_MS:-50}"
idle="${BENCH_IDLE:-10ms}"
format="${BENCH_FORMAT:-clm202}"
export CLM_BRIDGE_PASSPHRASE="bench vault passphrase: 7 ravens juggle quinoa"
export BENCH_SECRET="bench chat secret"

fail() {
    echo "bench-telegram.sh: $*" >&2
    exit 2
}
command -v node >/dev/null 2>&1 || fail "node is needed (apt-get install nodejs npm)"

echo "== building (release)" >&2
cargo build --release -q -p clm-bridge --bin clm-bridge || fail "the release build failed"
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-target}/release/clm-bridge"

work="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench-telegram.XXXXXX")"
cleanup() {
    scripts/servers/telegram.sh stop "$work/emulator" >/dev/null 2>&1 || true
    [[ "${BENCH_KEEP:-}" == 1 ]] && echo "work dir kept: $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

echo "== starting the emulator" >&2
url="$(scripts/servers/telegram.sh start "$work/emulator" | sed -n 's/^CLM_TEST_TELEGRAM_URL=//p')"
[[ -n "$url" ]] || fail "the emulator did not start"

token="7001:bench-telegram"
printf '%s\n' "$token" > "$work/token"
cat > "$work/config.toml" <<TOML
[telegram.bench]
token_file = "$work/token"
api_url = "$url"
allowed_chats = [-7001]
idle_poll_interval = "$idle"
TOML
data=(--data-dir "$work/data" --config "$work/config.toml")
"$bin" "${data[@]}" init --name bench >/dev/null
"$bin" "${data[@]}" chat add bench --format "$format" --secret-env BENCH_SECRET >/dev/null

echo "== encoding $count pointers ($format)" >&2
for i in $(seq "$count"); do
    "$bin" encode --format "$format" --chat bench --from ann --secret-env BENCH_SECRET -- "bench message $i"
done > "$work/pointers"

cat > "$work/driver.js" <<'JS'
// Starts the daemon, posts each pointer as a user, and times each until the daemon prints it.
const { spawn } = require('child_process');
const http = require('http');
const fs = require('fs');
const readline = require('readline');
const [bin, dataDir, config, url, token, intervalMs, pointersFile] = process.argv.slice(2);
const pointers = fs.readFileSync(pointersFile, 'utf8').split('\n').filter(Boolean);
const posted = new Map();
const latencies = [];

function post(body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(`${url}/sendMessage`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(data);
  });
}

const daemon = spawn(bin, ['--data-dir', dataDir, '--config', config, 'run', '--json'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
let started;
const running = new Promise((resolve) => { started = resolve; });
daemon.stderr.on('data', (chunk) => {
  stderr += chunk;
  if (stderr.includes('clm-bridge is running')) started();
});
let done;
const finished = new Promise((resolve) => { done = resolve; });
readline.createInterface({ input: daemon.stdout }).on('line', (line) => {
  const at = process.hrtime.bigint();
  const text = JSON.parse(line).text;
  if (posted.has(text)) {
    latencies.push(Number(at - posted.get(text)) / 1e6);
    posted.delete(text);
    if (latencies.length === pointers.length) done();
  }
});
daemon.on('exit', (code) => { if (latencies.length < pointers.length) {
  console.error(`daemon exited (${code}):\n${stderr}`); process.exit(2); } });

(async () => {
  await running;
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < pointers.length; i++) {
    const text = `bench message ${i + 1}`;
    const message = { botToken: token, from: { id: 5, is_bot: false, first_name: 'ann' },
      chat: { id: -7001, type: 'supergroup', title: 'bench' }, date: Math.floor(Date.now() / 1000),
      text: pointers[i] };
    posted.set(text, process.hrtime.bigint());
    await post(message);
    await new Promise((r) => setTimeout(r, Number(intervalMs)));
  }
  const guard = setTimeout(() => { console.error(`timed out; ${latencies.length} of ${pointers.length}`); process.exit(2); }, 60000);
  await finished;
  clearTimeout(guard);
  daemon.kill('SIGTERM');
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  console.log(`telegram post-to-history latency over ${latencies.length} posts: ` +
    `p50 ${pick(0.5).toFixed(1)} ms, p99 ${pick(0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`);
})();
JS

echo "== posting $count pointers, one every ${interval_ms} ms" >&2
node "$work/driver.js" "$bin" "$work/data" "$work/config.toml" "$url" "$token" "$interval_ms" "$work/pointers"

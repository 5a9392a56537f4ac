#!/usr/bin/env bash
# telegram-test-api (an npm Bot API emulator) on 127.0.0.1, for the Telegram end-to-end tests.
#
#   scripts/servers/telegram.sh start STATE_DIR   installs it (once, under target/), starts it
#                                                  (or reuses the one running), prints
#                                                  CLM_TEST_TELEGRAM_URL=http://127.0.0.1:PORT
#   scripts/servers/telegram.sh stop STATE_DIR
#
# The emulator answers the Bot API at URL/botTOKEN/METHOD for any token, and has a client API
# to act as a user: POST URL/sendMessage (a whole message object with "botToken") posts to a
# bot; POST URL/getUpdates {"token","chatId"} returns what the bot sent to a chat (once);
# POST URL/getUpdatesHistory {"token"} returns everything. Tests give each test its own token.
set -euo pipefail
cd "$(dirname "$0")/../.."
action="${1:?usage: $0 start|stop STATE_DIR}"
state="${2:?usage: $0 start|stop STATE_DIR}"
version="4.2.1"
install_dir="$PWD/target/telegram-test-api"
mkdir -p "$state"
pid_file="$state/emulator.pid"
port_file="$state/emulator.port"

running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

stop() {
  if running; then
    kill "$(cat "$pid_file")" 2>/dev/null || true
    for _ in $(seq 50); do running || break; sleep 0.1; done
  fi
  rm -f "$pid_file" "$port_file"
}

case "$action" in
  stop)
    stop
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
    ;;
esac

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "telegram: node and npm are needed (apt-get install nodejs npm)" >&2
  exit 1
}

module="$install_dir/node_modules/telegram-test-api"
if ! grep -q "\"version\": \"$version\"" "$module/package.json" 2>/dev/null; then
  echo "telegram: installing telegram-test-api@$version into $install_dir" >&2
  mkdir -p "$install_dir"
  [[ -f "$install_dir/package.json" ]] || echo '{"name":"clm-telegram-emulator","private":true}' > "$install_dir/package.json"
  (cd "$install_dir" && npm install --no-audit --no-fund --loglevel=error "telegram-test-api@$version" >&2)
fi

if running && [[ -s "$port_file" ]]; then
  echo "telegram: reusing the emulator on port $(cat "$port_file")" >&2
else
  stop
  cat > "$state/launch.js" <<'JS'
// Finds a free loopback port, starts the emulator on it (messages kept a day), then writes the
// port where the start script waits for it.
const net = require('net');
const fs = require('fs');
const [modulePath, portFile] = process.argv.slice(2);
const TelegramServer = require(modulePath);
const probe = net.createServer();
probe.listen(0, '127.0.0.1', () => {
  const { port } = probe.address();
  probe.close(async () => {
    const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 86400 });
    await server.start();
    fs.writeFileSync(portFile, String(port));
  });
});
JS
  setsid node "$state/launch.js" "$module" "$port_file" \
    < /dev/null > "$state/emulator.log" 2>&1 &
  echo $! > "$pid_file"
  for _ in $(seq 200); do
    [[ -s "$port_file" ]] && break
    running || { echo "telegram: the emulator exited; see $state/emulator.log" >&2; cat "$state/emulator.log" >&2; exit 1; }
    sleep 0.05
  done
  [[ -s "$port_file" ]] || { echo "telegram: the emulator did not start in 10 s" >&2; exit 1; }
fi

port="$(cat "$port_file")"
# It answers the Bot API (any token): getMe.
node -e '
  const http = require("http");
  http.get(process.argv[1], (res) => { let body = ""; res.on("data", (c) => body += c);
    res.on("end", () => process.exit(JSON.parse(body).ok ? 0 : 1)); }).on("error", () => process.exit(1));
' "http://127.0.0.1:$port/botprobe/getMe" || { echo "telegram: the emulator does not answer" >&2; exit 1; }
echo "telegram: emulator up on 127.0.0.1:$port" >&2
echo "CLM_TEST_TELEGRAM_URL=http://127.0.0.1:$port"

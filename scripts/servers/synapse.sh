#!/usr/bin/env bash
# Synapse (the reference Matrix homeserver) on 127.0.0.1, for the Matrix end-to-end tests.
#
#   scripts/servers/synapse.sh start STATE_DIR     installs it (once, a venv under target/), starts it
#                                                   (or reuses the one running) and prints
#                                                   CLM_TEST_MATRIX_URL=http://127.0.0.1:PORT
#                                                   CLM_TEST_MATRIX_SHARED_SECRET=...
#                                                   CLM_TEST_MATRIX_REGISTER=<register_new_matrix_user>
#                                                   CLM_TEST_MATRIX_STATE=STATE_DIR
#   scripts/servers/synapse.sh restart STATE_DIR   stops it and starts it again on the same port
#                                                   (a test restarts a server of its own, in its
#                                                   own STATE_DIR, to check reconnects)
#   scripts/servers/synapse.sh stop STATE_DIR
#
# Users: `$CLM_TEST_MATRIX_REGISTER -u NAME -p PASSWORD --no-admin -k $CLM_TEST_MATRIX_SHARED_SECRET
# $CLM_TEST_MATRIX_URL` registers one (tests give each test its own users and rooms).
#
# Rate limits are raised far above what the tests do, so no test waits on them. To exercise
# M_LIMIT_EXCEEDED, lower one user's limits with the admin API
# (POST /_synapse/admin/v1/users/USER/override_ratelimit, from an admin user).
set -euo pipefail
action="${1:?usage: $0 start|restart|stop STATE_DIR}"
state="${2:?usage: $0 start|restart|stop STATE_DIR}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
cd "$(dirname "$0")/../.."
# CLM_TEST_SYNAPSE_VENV: an installed venv to use (a test running a server of its own).
venv="${CLM_TEST_SYNAPSE_VENV:-$PWD/target/synapse-venv}"
pid_file="$state/synapse.pid"
port_file="$state/synapse.port"
secret_file="$state/shared-secret"
config="$state/homeserver.yaml"

running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pid_file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

answers() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/_matrix/client/versions" >/dev/null 2>&1
}

install() {
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import synapse' 2>/dev/null; then
    return
  fi
  echo "synapse: installing matrix-synapse into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check matrix-synapse >&2
}

write_config() {
  local port="$1"
  [[ -s "$secret_file" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret_file"
  cat > "$state/log.yaml" <<YAML
version: 1
formatters:
  plain:
    format: '%(asctime)s %(levelname)s %(name)s: %(message)s'
handlers:
  file:
    class: logging.FileHandler
    filename: $state/homeserver.log
    formatter: plain
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
YAML
  # Generous limits: the tests send bursts (50 messages, a bench of 200) from a few users.
  local relaxed="{per_second: 1000, burst_count: 10000}"
  cat > "$config" <<YAML
server_name: localhost
pid_file: $state/homeserver.pid
public_baseurl: http://127.0.0.1:$port/
listeners:
  - port: $port
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: $state/homeserver.db
log_config: $state/log.yaml
media_store_path: $state/media
signing_key_path: $state/signing.key
registration_shared_secret: "$(cat "$secret_file")"
enable_registration: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
max_upload_size: 50M
presence:
  enabled: false
rc_message: $relaxed
rc_registration: $relaxed
rc_login:
  address: $relaxed
  account: $relaxed
  failed_attempts: $relaxed
rc_joins:
  local: $relaxed
  remote: $relaxed
rc_invites:
  per_room: $relaxed
  per_user: $relaxed
  per_issuer: $relaxed
rc_key_requests: $relaxed
rc_admin_redaction: $relaxed
rc_media_create: $relaxed
rc_delayed_event_mgmt: $relaxed
YAML
}

launch() {
  local port="$1"
  write_config "$port"
  "$venv/bin/python" -m synapse.app.homeserver -c "$config" --generate-keys >&2
  # Detached: its own session, no terminal, output to the state dir.
  setsid "$venv/bin/python" -m synapse.app.homeserver -c "$config" \
    </dev/null >>"$state/stdout.log" 2>&1 &
  echo $! > "$pid_file"
  for _ in $(seq 600); do
    if answers "$port"; then return 0; fi
    if ! running; then
      echo "synapse: exited while starting; see $state/stdout.log and $state/homeserver.log" >&2
      tail -n 20 "$state/stdout.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "synapse: no answer on port $port after 60 s" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

print_env() {
  echo "CLM_TEST_MATRIX_URL=http://127.0.0.1:$(cat "$port_file")"
  echo "CLM_TEST_MATRIX_SHARED_SECRET=$(cat "$secret_file")"
  echo "CLM_TEST_MATRIX_REGISTER=$venv/bin/register_new_matrix_user"
  echo "CLM_TEST_MATRIX_STATE=$state"
}

case "$action" in
  stop)
    stop
    ;;
  restart)
    install
    stop
    [[ -s "$port_file" ]] || free_port > "$port_file"
    launch "$(cat "$port_file")"
    print_env
    ;;
  start)
    install
    if running && [[ -s "$port_file" ]] && answers "$(cat "$port_file")"; then
      echo "synapse: reusing the server on port $(cat "$port_file")" >&2
    else
      stop
      free_port > "$port_file"
      launch "$(cat "$port_file")"
    fi
    print_env
    ;;
  *)
    echo "usage: $0 start|restart|stop STATE_DIR" >&2
    exit 2
    ;;
esac

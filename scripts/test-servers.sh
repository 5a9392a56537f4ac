#!/usr/bin/env bash
# Installs and starts (or stops) the real servers the end-to-end tests talk to, all on loopback:
# Postfix + Dovecot (email), Synapse (Matrix), telegram-test-api (Telegram).
#
#   scripts/test-servers.sh start   installs what is missing (scripts/test-deps.sh), starts every
#                                   server, and writes target/test-servers/env: the variables
#                                   the tests read; if one fails, those already up are stopped
#   scripts/test-servers.sh stop    stops them
#
# Each server has its own script in scripts/servers/NAME.sh taking `start STATE_DIR` or
# `stop STATE_DIR`; `start` prints KEY=VALUE lines (ports, users, paths) on standard output.
# A server that cannot start is an error: the tests that need it must fail, not skip.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
state="$PWD/target/test-servers"
action="${1:-start}"
mkdir -p "$state"

stop_all() {
  for script in scripts/servers/*.sh; do
    name="$(basename "$script" .sh)"
    "$script" stop "$state/$name" || echo "test-servers: $name did not stop cleanly" >&2
  done
}

case "$action" in
  start)
    ./scripts/test-deps.sh
    : > "$state/env"
    # A server that fails to start (or Ctrl-C) leaves none of the others running.
    trap 'stop_all' ERR
    trap 'stop_all; exit 130' INT TERM
    for script in scripts/servers/*.sh; do
      name="$(basename "$script" .sh)"
      echo "test-servers: starting $name" >&2
      mkdir -p "$state/$name"
      if ! "$script" start "$state/$name" > "$state/$name.env"; then
        echo "test-servers: $name did not start (logs in $state/$name); stopping the others" >&2
        stop_all
        exit 1
      fi
      cat "$state/$name.env" >> "$state/env"
    done
    trap - ERR INT TERM
    echo "test-servers: all up; variables in $state/env" >&2
    ;;
  stop)
    stop_all
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

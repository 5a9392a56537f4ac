#!/usr/bin/env bash
# Installs (once) and checks every program the test run needs, before anything starts: a fresh
# Debian with only a Rust toolchain gets them all from one `apt-get update` and one install.
#
#   scripts/test-deps.sh           install what is missing (as root, Debian), then check all
#   scripts/test-deps.sh --check   only check; list what is missing and exit 1 if anything is
#
# What needs what: Postfix and Dovecot (the e-mail tests), python3 with venv and curl (Synapse,
# mail.sh, mail-tool.py), node and npm (the Telegram Bot API emulator), cc, c++ and make
# (ring, bundled SQLite, libFuzzer for cargo-fuzz), systemd-analyze (the check of the systemd
# unit), pgrep and kill (procps: server scripts, the demo), script (a terminal for the prompt
# tests), tmux (a terminal for the terminal UI's test).
set -euo pipefail

# Debian package, then the check that it is there (commands are looked up as files, so a
# shell builtin such as `kill` does not count).
packages=(
  "python3|type -P python3"
  "python3-venv|python3 -c 'import ensurepip, venv'"
  "curl|type -P curl"
  "ca-certificates|test -s /etc/ssl/certs/ca-certificates.crt"
  "nodejs|type -P node"
  "npm|type -P npm"
  "build-essential|type -P cc && type -P c++ && type -P make"
  "postfix|type -P postfix"
  "dovecot-imapd|test -x /usr/lib/dovecot/imap && type -P dovecot"
  "dovecot-lmtpd|test -x /usr/lib/dovecot/lmtp"
  "systemd|type -P systemd-analyze"
  "procps|type -P pgrep && type -P kill"
  "bsdutils|type -P script"
  "util-linux|type -P runuser && type -P setsid"
  "tmux|type -P tmux"
)

missing() {
  local entry
  for entry in "${packages[@]}"; do
    if ! (eval "${entry#*|}") > /dev/null 2>&1; then
      echo "${entry%%|*}"
    fi
  done
}

mapfile -t wanted < <(missing)
if ((${#wanted[@]})) && [[ "${1:-}" != "--check" ]]; then
  if [[ "$(id -u)" != 0 ]] || ! type -P apt-get > /dev/null; then
    echo "test-deps: missing ${wanted[*]}: install them (Debian: apt-get install ${wanted[*]}), or run as root on Debian" >&2
    exit 1
  fi
  echo "test-deps: installing ${wanted[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${wanted[@]}" >&2
  mapfile -t wanted < <(missing)
fi
for tool in cargo rustc; do
  type -P "$tool" > /dev/null || wanted+=("$tool (a Rust toolchain: rustup)")
done
if ((${#wanted[@]})); then
  echo "test-deps: still missing: ${wanted[*]}" >&2
  exit 1
fi
echo "test-deps: every tool is there" >&2

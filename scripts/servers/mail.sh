#!/usr/bin/env bash
# Postfix (SMTP in, on a high loopback port) delivering over LMTP to Dovecot (IMAP out), for the
# e-mail end-to-end tests and scripts/bench-email.sh. Both run as root with config, queue, mail
# and logs of their own under STATE_DIR; nothing under /etc is changed.
#
#   scripts/servers/mail.sh start STATE_DIR   installs what is missing (apt-get), (re)starts both,
#                                             prints KEY=VALUE lines on stdout
#   scripts/servers/mail.sh stop STATE_DIR
#
# Mailboxes: a catch-all. Every address @$CLM_TEST_MAIL_DOMAIN exists (Dovecot's static userdb
# with allow_all_users) and logs in to IMAP with the one password $CLM_TEST_MAIL_PASSWORD, so each
# test simply uses addresses of its own (e.g. `<test name>-a@DOMAIN`); its mailbox is created on
# first delivery or login. Mail to any other domain is refused by Postfix with a 5xx (no relaying).
#
# Printed: CLM_TEST_SMTP_PORT (Postfix), CLM_TEST_IMAP_PORT and CLM_TEST_LMTP_PORT (Dovecot),
# CLM_TEST_MAIL_DOMAIN, CLM_TEST_MAIL_PASSWORD, CLM_TEST_MAIL_STATE.
#
# Tests that stop Dovecot or rebuild a mailbox start an instance of their own (another
# STATE_DIR: its own ports, processes and mail) and never touch the shared one:
#   scripts/servers/mail.sh stop-dovecot|restart-dovecot STATE_DIR
#   scripts/servers/mail.sh rebuild-mailbox STATE_DIR USER   (Dovecot stopped, USER's INBOX loses
#       its UID list and indexes, Dovecot started: its mails are numbered anew under a new
#       UIDVALIDITY, as after a restore or a server migration)
set -euo pipefail

action="${1:-}"
state="${2:-}"
if [[ -z "$action" || -z "$state" ]]; then
  echo "usage: $0 start|stop|stop-dovecot|restart-dovecot|rebuild-mailbox STATE_DIR [USER]" >&2
  exit 2
fi
mkdir -p "$state"
state="$(cd "$state" && pwd)"
domain="clm.test"
password="clm-test-password"
# Postfix and Dovecot processes run as their own users (postfix, mail, dovenull): their queue,
# mail and sockets must be reachable by them. When STATE_DIR is not (a checkout under /root,
# mode 0700), or is so deep that Dovecot's sockets below it would pass the 107 bytes a Unix
# socket's path may hold (a deep checkout, a long test name), they go to a directory of their
# own under /var/tmp instead.
run_root="$state"
if ! runuser -u nobody -- test -x "$state" 2> /dev/null || (( ${#state} > 64 )); then
  run_root="/var/tmp/clm-test-mail-$(printf '%s' "$state" | sha1sum | cut -c1-12)"
  mkdir -p "$run_root"
  chmod 0755 "$run_root"
fi
dovecot_conf="$state/dovecot/dovecot.conf"
postfix_dir="$state/postfix/etc"

log() { echo "mail.sh: $*" >&2; }

install_missing() {
  if command -v dovecot > /dev/null && command -v postfix > /dev/null \
    && [[ -x /usr/lib/dovecot/lmtp && -x /usr/lib/dovecot/imap ]]; then
    return
  fi
  log "installing postfix, dovecot-imapd, dovecot-lmtpd"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    postfix dovecot-imapd dovecot-lmtpd >&2
}

# A free loopback TCP port, remembered in $state/ports so a restart keeps the same one.
port_for() {
  local name="$1" saved
  saved="$(sed -n "s/^$name=//p" "$state/ports" 2> /dev/null || true)"
  if [[ -n "$saved" ]]; then
    echo "$saved"
    return
  fi
  saved="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "$name=$saved" >> "$state/ports"
  echo "$saved"
}

stop_dovecot() {
  if [[ -f "$run_root/dovecot/run/master.pid" ]]; then
    local pid
    pid="$(cat "$run_root/dovecot/run/master.pid")"
    if kill -0 "$pid" 2> /dev/null; then
      # Its IMAP processes outlive the master (clients stay connected across a restart): end
      # them too, by their ids, so a stop really drops every connection.
      local children
      children="$(pgrep -P "$pid" || true)"
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
      for child in $children; do kill "$child" 2> /dev/null || true; done
    fi
    rm -f "$run_root/dovecot/run/master.pid"
  fi
}

stop_postfix() {
  if [[ -f "$postfix_dir/main.cf" ]]; then
    postfix -c "$postfix_dir" stop > /dev/null 2>&1 || true
    local pidfile="$run_root/postfix/queue/pid/master.pid"
    for _ in $(seq 100); do
      [[ -f "$pidfile" ]] && kill -0 "$(tr -d ' ' < "$pidfile")" 2> /dev/null || break
      sleep 0.05
    done
  fi
}

wait_for_port() {
  local port="$1" what="$2"
  for _ in $(seq 200); do
    if python3 - "$port" << 'EOF' 2> /dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
banner = s.recv(200)
sys.exit(0 if banner[:1] in (b"*", b"2") else 1)
EOF
    sleep 0.05
  done
  log "$what does not answer on 127.0.0.1:$port"
  return 1
}

write_dovecot_config() {
  mkdir -p "$run_root/dovecot/run" "$run_root/dovecot/lib" "$run_root/log" "$run_root/mail"
  chown mail:mail "$run_root/mail"
  mkdir -p "$state/dovecot"
  chmod 0755 "$run_root" "$run_root/dovecot" "$run_root/mail"
  cat > "$dovecot_conf" << EOF
# Written by scripts/servers/mail.sh: loopback test server, catch-all mailboxes.
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $run_root/dovecot/run
state_dir = $run_root/dovecot/lib
instance_name = clm-test-dovecot
log_path = $run_root/log/dovecot.log
info_log_path = $run_root/log/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:$run_root/mail/%d/%n
mail_fsync = never
mailbox_list_index = yes
maildir_very_dirty_syncs = yes
imap_idle_notify_interval = 2 mins
protocol imap {
  mail_max_userip_connections = 500
}
passdb {
  driver = static
  args = password=$password
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$run_root/mail/%d/%n allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
  process_min_avail = 1
  service_count = 0
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
  unix_listener lmtp {
    mode = 0600
  }
  process_min_avail = 1
}
service anvil {
  chroot =
}
service imap {
  process_limit = 1024
}
EOF
}

write_postfix_config() {
  mkdir -p "$postfix_dir" "$run_root/postfix/queue" "$run_root/postfix/data" "$run_root/log/postfix"
  chown postfix "$run_root/postfix/data"
  cat > "$postfix_dir/main.cf" << EOF
# Written by scripts/servers/mail.sh: loopback test server delivering to Dovecot over LMTP.
compatibility_level = 3.6
queue_directory = $run_root/postfix/queue
data_directory = $run_root/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.$domain
mydomain = $domain
myorigin = $domain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = $domain
virtual_transport = lmtp:inet:127.0.0.1:$lmtp_port
# No relaying at all: mail to any other domain is refused at RCPT with 554 (a permanent error).
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
in_flow_delay = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
message_size_limit = 52428800
lmtp_destination_concurrency_limit = 20
lmtp_destination_recipient_limit = 1
# Tests stop Dovecot on purpose: retry deferred mail within seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = $run_root/log/postfix/postfix.log
maillog_file_prefixes = $run_root/log/postfix
EOF
  cat > "$postfix_dir/master.cf" << EOF
# Written by scripts/servers/mail.sh. No chroot: the queue directory holds no copy of /etc.
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

start_dovecot() {
  stop_dovecot
  # The launcher forks the master and waits on inherited descriptors: detach them all.
  dovecot -c "$dovecot_conf" < /dev/null > "$run_root/log/dovecot.start" 2>&1
  wait_for_port "$imap_port" "Dovecot IMAP"
  wait_for_port "$lmtp_port" "Dovecot LMTP"
}

case "$action" in
  start)
    install_missing
    smtp_port="$(port_for smtp)"
    imap_port="$(port_for imap)"
    lmtp_port="$(port_for lmtp)"
    stop_postfix
    write_dovecot_config
    write_postfix_config
    start_dovecot
    postfix -c "$postfix_dir" set-permissions > /dev/null 2>&1 || true
    if ! postfix -c "$postfix_dir" start < /dev/null > "$run_root/log/postfix.start" 2>&1; then
      log "postfix did not start:"
      cat "$run_root/log/postfix.start" "$run_root/log/postfix/postfix.log" >&2 2> /dev/null || true
      exit 1
    fi
    wait_for_port "$smtp_port" "Postfix SMTP"
    log "Postfix on 127.0.0.1:$smtp_port -> LMTP 127.0.0.1:$lmtp_port -> Dovecot IMAP 127.0.0.1:$imap_port"
    echo "CLM_TEST_SMTP_PORT=$smtp_port"
    echo "CLM_TEST_IMAP_PORT=$imap_port"
    echo "CLM_TEST_LMTP_PORT=$lmtp_port"
    echo "CLM_TEST_MAIL_DOMAIN=$domain"
    echo "CLM_TEST_MAIL_PASSWORD=$password"
    echo "CLM_TEST_MAIL_STATE=$state"
    ;;
  stop-dovecot)
    stop_dovecot
    ;;
  restart-dovecot)
    imap_port="$(port_for imap)"
    lmtp_port="$(port_for lmtp)"
    start_dovecot
    ;;
  rebuild-mailbox)
    user="${3:?rebuild-mailbox needs a user}"
    imap_port="$(port_for imap)"
    lmtp_port="$(port_for lmtp)"
    stop_dovecot
    maildir="$run_root/mail/${user#*@}/${user%@*}"
    [[ -d "$maildir" ]] || { log "no mailbox $maildir"; exit 1; }
    # dovecot-uidvalidity* stays: it makes the new UIDVALIDITY differ from the old one.
    find "$maildir" -maxdepth 1 \( -name dovecot-uidlist -o -name 'dovecot.index*' \
      -o -name 'dovecot.list.index*' \) -delete
    start_dovecot
    ;;
  stop)
    stop_postfix
    stop_dovecot
    ;;
  *)
    echo "usage: $0 start|stop|stop-dovecot|restart-dovecot|rebuild-mailbox STATE_DIR [USER]" >&2
    exit 2
    ;;
esac

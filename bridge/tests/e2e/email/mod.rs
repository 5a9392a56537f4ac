//! The email transport end to end, against a real server on loopback (scripts/test-servers.sh):
//! Postfix takes mail over SMTP and delivers it over LMTP to Dovecot, which the bridges read over
//! IMAP. Every address @$CLM_TEST_MAIL_DOMAIN exists (a catch-all), so each test uses addresses
//! of its own. Mails written by other software come from scripts/mail-tool.py (Python's
//! smtplib, imaplib and `email` package).
//!
//! Tests that stop Dovecot or rebuild a mailbox run servers of their own ([`OwnServers`]), so
//! the shared ones are never disturbed. `recovery.rs`: restarts, kills, rebuilt mailboxes and
//! commits; `limits.rs`: hostile mail; `doctor.rs`: `clm-bridge doctor` with e-mail accounts.

mod doctor;
mod limits;
mod outbox;
mod recovery;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bridge_chats::json_lines;
use crate::daemons::{Daemon, HANG_GUARD, Node, text};
use crate::support::scratch_dir;

/// The mail servers as scripts/servers/mail.sh started them.
pub(crate) struct Servers {
    smtp: u16,
    imap: u16,
    lmtp: u16,
    domain: String,
    password: String,
    state: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run scripts/test-servers.sh start, then `set -a; . target/test-servers/env`"
        )
    })
}

/// The shared servers, from the environment.
pub(crate) fn servers() -> Servers {
    Servers::from_variables(var)
}

impl Servers {
    fn from_variables(var: impl Fn(&str) -> String) -> Servers {
        let port = |name: &str| var(name).parse::<u16>().unwrap_or_else(|_| panic!("{name} is not a port"));
        Servers {
            smtp: port("CLM_TEST_SMTP_PORT"),
            imap: port("CLM_TEST_IMAP_PORT"),
            lmtp: port("CLM_TEST_LMTP_PORT"),
            domain: var("CLM_TEST_MAIL_DOMAIN"),
            password: var("CLM_TEST_MAIL_PASSWORD"),
            state: var("CLM_TEST_MAIL_STATE"),
        }
    }

    /// What Dovecot sent to `user`'s IMAP sessions that ended, in bytes (its `out=` log field).
    fn bytes_sent_to(&self, user: &str) -> Option<u64> {
        let config = std::fs::read_to_string(Path::new(&self.state).join("dovecot/dovecot.conf")).ok()?;
        let log = config.lines().find_map(|line| line.strip_prefix("log_path = "))?;
        let sessions: Vec<u64> = std::fs::read_to_string(log.trim())
            .ok()?
            .lines()
            .filter(|line| line.contains(&format!("imap({user})")) && line.contains("Disconnected"))
            .filter_map(|line| line.split(" out=").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        (!sessions.is_empty()).then(|| sessions.iter().sum())
    }
}

/// Postfix and Dovecot of one test alone (scripts/servers/mail.sh with a state dir of its own:
/// its own ports, processes and mailboxes), for tests that stop Dovecot or rebuild a mailbox.
/// Stopped when dropped.
struct OwnServers {
    servers: Servers,
}

impl OwnServers {
    fn start(test: &str) -> OwnServers {
        let state = scratch_dir(&format!("{test}/mail-servers"));
        let output = Command::new(mail_sh()).arg("start").arg(&state).output().expect("mail.sh runs");
        assert!(output.status.success(), "mail.sh start: {}", String::from_utf8_lossy(&output.stderr));
        let printed = String::from_utf8(output.stdout).expect("UTF-8");
        let value = |name: &str| {
            printed
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("mail.sh printed no {name}"))
                .to_owned()
        };
        OwnServers { servers: Servers::from_variables(value) }
    }

    /// `scripts/servers/mail.sh ACTION STATE_DIR [ARGS]` on these servers.
    fn mail_sh(&self, action: &str, args: &[&str]) {
        let status = Command::new(mail_sh())
            .arg(action)
            .arg(&self.servers.state)
            .args(args)
            .status()
            .expect("mail.sh runs");
        assert!(status.success(), "mail.sh {action} failed");
    }
}

impl Drop for OwnServers {
    fn drop(&mut self) {
        let _ = Command::new(mail_sh()).arg("stop").arg(&self.servers.state).status();
    }
}

fn mail_sh() -> PathBuf {
    repo_root().join("scripts/servers/mail.sh")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repository").to_path_buf()
}

/// Runs scripts/mail-tool.py; returns its stdout.
fn mail_tool(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(repo_root().join("scripts/mail-tool.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "mail-tool.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Settings of a bridge whose one e-mail account is `address` (password from a file).
pub(crate) fn settings(servers: &Servers, test: &str, address: &str, extra: &str) -> String {
    let secrets = scratch_dir(&format!("{test}/secrets-{address}"));
    let password_file = secrets.join("password");
    std::fs::write(&password_file, format!("{}\n", servers.password)).expect("password file");
    format!(
        "[email.mail]\naddress = \"{address}\"\npassword_file = \"{}\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {}\nsmtp_security = \"none\"\nsmtp_auth = false\nimap_host = \"127.0.0.1\"\n\
         imap_port = {}\nimap_security = \"none\"\ntimeout = \"20s\"\n{extra}\n",
        password_file.display(),
        servers.smtp,
        servers.imap,
    )
}

/// Two bridges, ann and ben, each with a mail address of its own (`PREFIX-ann`, `PREFIX-ben`)
/// and the clm202 chat "Pair" they share: `(ann's node, ann's address, ben's node, ben's address)`.
fn pair(servers: &Servers, test: &str, prefix: &str) -> (Node, String, Node, String) {
    let (ann, ben) = (address(servers, &format!("{prefix}-ann")), address(servers, &format!("{prefix}-ben")));
    let a = Node::with_settings(test, "ann", &settings(servers, test, &ann, ""));
    let b = Node::with_settings(test, "ben", &settings(servers, test, &ben, ""));
    for node in [&a, &b] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    (a, ann, b, ben)
}

/// An address of this test run: mailboxes outlive a run (the server keeps them), so each run
/// uses new ones.
pub(crate) fn address(servers: &Servers, local: &str) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
        format!("{:x}{:x}", since.as_secs(), std::process::id())
    });
    format!("{local}-{run}@{}", servers.domain)
}

/// Puts `count` pointer mails of chat `chat` (texts "PREFIX 0" ...) into `to`'s INBOX over LMTP.
fn bulk(servers: &Servers, to: &str, chat: &str, secret: &str, count: usize, prefix: &str) {
    let (lmtp, count) = (servers.lmtp.to_string(), count.to_string());
    let args = ["bulk", "--lmtp-port", &lmtp, "--to", to, "--chat", chat, "--secret", secret];
    mail_tool(&[&args[..], &["--count", &count, "--prefix", prefix]].concat());
}

/// Waits until the daemon printed `count` messages.
fn wait_for_count(daemon: &mut Daemon, count: usize) {
    daemon.wait_until(&format!("{count} messages"), |stdout, _| json_lines(stdout).len() >= count);
}

/// Polls `check` (a hang guard, not a timing assertion).
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The mailbox of `user` as `{folder: [{subject, flags}]}`.
pub(crate) fn mailbox(servers: &Servers, user: &str) -> Value {
    let out = mail_tool(&[
        "state",
        "--imap-port",
        &servers.imap.to_string(),
        "--user",
        user,
        "--password",
        &servers.password,
    ]);
    serde_json::from_str(&out).expect("state is JSON")
}

#[test]
fn a_bridge_mails_another_and_gets_a_reply() {
    let test = "email_send_and_reply";
    let servers = servers();
    let (a, ann, b, ben) = pair(&servers, test, "reply");
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();
    b.cli(&["chat", "route", "Pair", "--via", &format!("email.mail:{ann}")]).succeeds();
    let mut a_daemon = a.start_daemon();
    let mut b_daemon = b.start_daemon();

    a.cli(&["send", "--chat", "Pair", "hello ben, by mail"]).succeeds();
    b_daemon.wait_for_texts(&["hello ben, by mail"]);
    b.cli(&["send", "--chat", "Pair", "hello ann, a reply"]).succeeds();
    a_daemon.wait_for_texts(&["hello ann, a reply"]);

    let (a_ended, b_ended) = (a_daemon.stop(), b_daemon.stop());
    assert_eq!((a_ended.code, b_ended.code), (Some(0), Some(0)), "{}\n{}", a_ended.stderr, b_ended.stderr);
    let shown = |lines: &[Value]| -> Vec<(String, String, String)> {
        lines.iter().map(|m| (text(m, "from"), text(m, "text"), text(m, "transport"))).collect()
    };
    assert_eq!(shown(&b_ended.lines), [("ann".into(), "hello ben, by mail".into(), "email.mail".into())]);
    assert_eq!(shown(&a_ended.lines), [("ben".into(), "hello ann, a reply".into(), "email.mail".into())]);
    assert_eq!(b_ended.lines[0]["origin"], ann, "the origin is the sender's address");
    // The mail is an ordinary one: left unread by default, subject neutral.
    let inbox = &mailbox(&servers, &ben)["INBOX"];
    assert_eq!(inbox.as_array().map(Vec::len), Some(1), "{inbox}");
    assert_eq!(inbox[0]["subject"], "Message");
    assert!(!inbox[0]["flags"].to_string().contains("Seen"), "{inbox}");
    for node in [&a, &b] {
        node.assert_nothing_readable(&[
            &ann,
            &ben,
            "pair secret",
            "hello ben, by mail",
            "hello ann, a reply",
        ]);
    }
}

#[test]
fn mail_sent_while_stopped_arrives_once_and_a_restart_repeats_nothing() {
    let test = "email_while_stopped";
    let servers = servers();
    let (a, _, b, ben) = pair(&servers, test, "stopped");
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();

    a.cli(&["send", "--chat", "Pair", "first"]).succeeds();
    let mut b_daemon = b.start_daemon();
    b_daemon.wait_for_texts(&["first"]);
    let ended = b_daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);

    for text in ["while stopped 1", "while stopped 2"] {
        a.cli(&["send", "--chat", "Pair", text]).succeeds();
    }
    // Delivered to the mailbox before B starts again.
    eventually("both mails in ben's inbox", || {
        mailbox(&servers, &ben)["INBOX"].as_array().is_some_and(|mails| mails.len() == 3)
    });
    let mut b_daemon = b.start_daemon();
    b_daemon.wait_for_texts(&["while stopped 1", "while stopped 2"]);
    let ended = b_daemon.stop();
    let mut texts: Vec<String> = ended.lines.iter().map(|m| text(m, "text")).collect();
    texts.sort();
    assert_eq!(texts, ["while stopped 1", "while stopped 2"], "only the new ones, each once");

    // Again: nothing is repeated; only what is new is shown.
    let mut b_daemon = b.start_daemon();
    a.cli(&["send", "--chat", "Pair", "after the restart"]).succeeds();
    b_daemon.wait_for_texts(&["after the restart"]);
    let ended = b_daemon.stop();
    let texts: Vec<String> = ended.lines.iter().map(|m| text(m, "text")).collect();
    assert_eq!(texts, ["after the restart"]);
    assert_eq!(b.message_count(), 4);
}

#[test]
fn a_thousand_mails_waiting_before_the_first_start_are_each_stored_once() {
    let test = "email_backlog";
    let servers = servers();
    let ben = address(&servers, "backlog-ben");
    let b = Node::with_settings(test, "ben", &settings(&servers, test, &ben, "fetch_batch = 200"));
    b.add_chat("Bulk", "clm202", "bulk secret");
    bulk(&servers, &ben, "Bulk", "bulk secret", 1000, "bulk");
    let mut daemon = b.start_daemon();
    wait_for_count(&mut daemon, 1000);
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let texts: BTreeSet<String> = ended.lines.iter().map(|m| text(m, "text")).collect();
    assert_eq!(ended.lines.len(), 1000, "each mail shown once");
    assert_eq!(texts, (0..1000).map(|i| format!("bulk {i}")).collect::<BTreeSet<_>>());
    assert_eq!(b.message_count(), 1000);

    // A restart resumes after the last UID: only a new mail is shown.
    let mut daemon = b.start_daemon();
    mail_tool(&[
        "forms",
        "--smtp-port",
        &servers.smtp.to_string(),
        "--to",
        &ben,
        "--chat",
        "Bulk",
        "--secret",
        "bulk secret",
        "--prefix",
        "later",
    ]);
    wait_for_count(&mut daemon, 5);
    let ended = daemon.stop();
    assert!(ended.lines.iter().all(|m| text(m, "text").starts_with("later ")), "{:?}", ended.lines);
    assert_eq!(b.message_count(), 1005);
}

#[test]
fn mails_written_by_pythons_email_package_are_all_detected() {
    let test = "email_mime_forms";
    let servers = servers();
    let ben = address(&servers, "forms-ben");
    // IDLE re-issued every 300 ms here (25 min by default): mail still arrives in between.
    let b = Node::with_settings(test, "ben", &settings(&servers, test, &ben, "idle_renew = \"300ms\""));
    b.add_chat("Forms", "clm202", "forms secret");
    let mut daemon = b.start_daemon();
    mail_tool(&[
        "forms",
        "--smtp-port",
        &servers.smtp.to_string(),
        "--to",
        &ben,
        "--chat",
        "Forms",
        "--secret",
        "forms secret",
        "--prefix",
        "form",
    ]);
    let expected = ["form qp", "form base64", "form alternative", "form html", "form quoted"];
    daemon.wait_for_texts(&expected);
    let ended = daemon.stop();
    let mut texts: Vec<String> = ended.lines.iter().map(|m| text(m, "text")).collect();
    texts.sort();
    let mut expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(texts, expected, "each form once (the alternative's two parts are one pointer)");
    assert!(ended.lines.iter().all(|m| text(m, "from") == "python"));
}

/// Sends one pointer mail (by the bridge `a`) and one mail without pointers to `to`, and waits
/// until `daemon` showed the pointer.
fn pointer_and_plain_mail(servers: &Servers, a: &Node, daemon: &mut Daemon, to: &str, text: &str) {
    a.cli(&["send", "--chat", "Pair", "--via", &format!("email:{to}"), text]).succeeds();
    mail_tool(&[
        "plain",
        "--smtp-port",
        &servers.smtp.to_string(),
        "--to",
        to,
        "--text",
        "just a note, no pointer",
    ]);
    daemon.wait_for_texts(&[text]);
}

#[test]
fn after_actions_seen_and_move_touch_only_mails_with_pointers() {
    let test = "email_after_action";
    let servers = servers();
    let ann = address(&servers, "after-ann");
    let (seen, moved) = (address(&servers, "after-seen"), address(&servers, "after-move"));
    let a = Node::with_settings(test, "ann", &settings(&servers, test, &ann, ""));
    let b_seen =
        Node::with_settings(test, "seen", &settings(&servers, test, &seen, "after_action = \"seen\""));
    let b_move = Node::with_settings(
        test,
        "move",
        &settings(&servers, test, &moved, "after_action = \"move:Clm Done\""),
    );
    for node in [&a, &b_seen, &b_move] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    let mut seen_daemon = b_seen.start_daemon();
    let mut move_daemon = b_move.start_daemon();
    pointer_and_plain_mail(&servers, &a, &mut seen_daemon, &seen, "mark me seen");
    pointer_and_plain_mail(&servers, &a, &mut move_daemon, &moved, "move me");

    let flags = |mail: &Value| {
        mail["flags"].as_array().expect("flags").iter().map(|f| f.to_string()).collect::<Vec<_>>()
    };
    eventually("the pointer mail is flagged seen, the plain one not", || {
        let state = mailbox(&servers, &seen);
        let inbox = state["INBOX"].as_array().cloned().unwrap_or_default();
        inbox.len() == 2
            && inbox.iter().all(|mail| {
                let is_seen = flags(mail).iter().any(|f| f.contains("\\\\Seen"));
                is_seen == (mail["subject"] == "Message")
            })
    });
    eventually("the pointer mail is moved, the plain one left", || {
        let state = mailbox(&servers, &moved);
        let inbox = state["INBOX"].as_array().cloned().unwrap_or_default();
        let done = state["Clm Done"].as_array().cloned().unwrap_or_default();
        inbox.len() == 1
            && inbox[0]["subject"] == "No pointer here"
            && !flags(&inbox[0]).iter().any(|f| f.contains("Seen"))
            && done.len() == 1
            && done[0]["subject"] == "Message"
    });
    // After a restart nothing is shown again (the moved mail is gone from INBOX, the cursor
    // is past the others).
    let ended = (seen_daemon.stop(), move_daemon.stop());
    assert_eq!((ended.0.lines.len(), ended.1.lines.len()), (1, 1));
    let mut again = b_move.start_daemon();
    pointer_and_plain_mail(&servers, &a, &mut again, &moved, "move me too");
    let texts: Vec<String> = again.stop().lines.iter().map(|m| text(m, "text")).collect();
    assert_eq!(texts, ["move me too"]);
}

#[test]
fn refused_and_unreachable_sends_wait_in_the_outbox() {
    let test = "email_outbox";
    let servers = servers();
    let (ann, ben) = (address(&servers, "outbox-ann"), address(&servers, "outbox-ben"));
    // A port nothing listens on: the SMTP server is "down".
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let up = settings(&servers, test, &ann, "");
    let down = up.replace(&format!("smtp_port = {}", servers.smtp), &format!("smtp_port = {closed}"));
    assert_ne!(up, down);
    let a = Node::with_settings(test, "ann", &down);
    let b = Node::with_settings(test, "ben", &settings(&servers, test, &ben, ""));
    for node in [&a, &b] {
        node.add_chat("Pair", "clm202", "pair secret");
    }

    // Postfix refuses a recipient it does not deliver for with 554: kept, marked failed.
    std::fs::write(&a.config, &up).expect("settings");
    let refused =
        a.cli(&["send", "--chat", "Pair", "--via", "email:nobody@elsewhere.invalid", "refused"]).run();
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(refused.stderr.contains("554"), "the server's refusal is reported: {}", refused.stderr);
    let outbox = json_lines(&a.cli(&["outbox", "list", "--json"]).succeeds());
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0]["state"], "failed");
    a.cli(&["outbox", "drop", &outbox[0]["id"].to_string()]).succeeds();

    // The SMTP server is down: queued, then delivered by the daemon once it is back.
    std::fs::write(&a.config, &down).expect("settings");
    let queued =
        a.cli(&["send", "--chat", "Pair", "--via", &format!("email:{ben}"), "queued while down"]).run();
    assert_eq!(queued.code, Some(3), "queued, not yet delivered: {}", queued.stderr);
    assert!(queued.stderr.contains("queued in the outbox"), "{}", queued.stderr);
    let outbox = json_lines(&a.cli(&["outbox", "list", "--json"]).succeeds());
    assert_eq!((outbox.len(), outbox[0]["state"].as_str()), (1, Some("queued")), "{outbox:?}");

    std::fs::write(&a.config, &up).expect("settings");
    a.cli(&["outbox", "retry", "--all"]).succeeds();
    let mut b_daemon = b.start_daemon();
    let a_daemon = a.start_daemon();
    eventually("the outbox is emptied", || {
        json_lines(&a.cli(&["outbox", "list", "--json"]).succeeds()).is_empty()
    });
    b_daemon.wait_for_texts(&["queued while down"]);
    let (a_ended, b_ended) = (a_daemon.stop(), b_daemon.stop());
    assert_eq!(a_ended.code, Some(0), "{}", a_ended.stderr);
    assert_eq!(b_ended.lines.len(), 1, "{:?}", b_ended.lines);
}

#[test]
fn one_bridge_reads_several_accounts_and_a_refused_login_stops_only_its_own() {
    let test = "email_accounts";
    let servers = servers();
    let ann = address(&servers, "accounts-ann");
    let (one, two, broken) = (
        address(&servers, "accounts-one"),
        address(&servers, "accounts-two"),
        address(&servers, "accounts-bad"),
    );
    let a = Node::with_settings(test, "ann", &settings(&servers, test, &ann, ""));
    let wrong_password = scratch_dir(&format!("{test}/wrong")).join("password");
    std::fs::write(&wrong_password, "not the password\n").expect("password file");
    let bad = settings(&servers, test, &broken, "").replace("[email.mail]", "[email.broken]");
    let bad = bad.replace(
        &bad.lines().find(|line| line.starts_with("password_file")).expect("password line").to_owned(),
        &format!("password_file = \"{}\"", wrong_password.display()),
    );
    let b_settings = [
        settings(&servers, test, &one, "").replace("[email.mail]", "[email.one]"),
        settings(&servers, test, &two, "").replace("[email.mail]", "[email.two]"),
        bad,
    ]
    .concat();
    let b = Node::with_settings(test, "ben", &b_settings);
    for node in [&a, &b] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    let mut daemon = b.start_daemon();
    a.cli(&["send", "--chat", "Pair", "--via", &format!("email:{one}"), "to account one"]).succeeds();
    a.cli(&["send", "--chat", "Pair", "--via", &format!("email:{two}"), "to account two"]).succeeds();
    daemon.wait_for_texts(&["to account one", "to account two"]);
    daemon.wait_for_log("refused the login");
    let ended = daemon.stop();
    let mut shown: Vec<(String, String)> =
        ended.lines.iter().map(|m| (text(m, "transport"), text(m, "text"))).collect();
    shown.sort();
    assert_eq!(
        shown,
        [("email.one".into(), "to account one".into()), ("email.two".into(), "to account two".into())]
    );
    assert!(ended.stderr.contains("email.broken refused"), "{}", ended.stderr);
    assert!(!ended.stderr.contains("not the password"), "no password in the logs");
}

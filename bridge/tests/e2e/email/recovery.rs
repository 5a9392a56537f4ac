//! Restarts, kills and rebuilt mailboxes: each mail is shown once, none is skipped, and a mail
//! is touched upstream only after the bridge committed it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{
    OwnServers, address, bulk, eventually, mail_tool, mailbox, pair, servers, settings, wait_for_count,
};
use crate::daemons::{Node, text};

/// The texts a daemon printed, sorted.
fn sorted_texts(lines: &[serde_json::Value]) -> Vec<String> {
    let mut texts: Vec<String> = lines.iter().map(|m| text(m, "text")).collect();
    texts.sort();
    texts
}

#[test]
fn dovecot_restarted_while_idling_loses_nothing() {
    let test = "email_dovecot_restart";
    let own = OwnServers::start(test);
    let (a, _, b, ben) = pair(&own.servers, test, "restart");
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();
    let mut daemon = b.start_daemon();
    a.cli(&["send", "--chat", "Pair", "before the restart"]).succeeds();
    daemon.wait_for_texts(&["before the restart"]);

    own.mail_sh("stop-dovecot", &[]);
    // Postfix accepts it and keeps it queued while Dovecot is down.
    a.cli(&["send", "--chat", "Pair", "while dovecot is down"]).succeeds();
    own.mail_sh("restart-dovecot", &[]);
    a.cli(&["send", "--chat", "Pair", "after the restart"]).succeeds();
    daemon.wait_for_texts(&["while dovecot is down", "after the restart"]);
    let ended = daemon.stop();
    assert_eq!(
        sorted_texts(&ended.lines),
        ["after the restart", "before the restart", "while dovecot is down"],
        "each once: {}",
        ended.stderr
    );
    assert!(ended.stderr.contains("restarting it"), "the drop was noticed: {}", ended.stderr);
}

#[test]
fn a_rebuilt_mailbox_shows_nothing_twice_and_new_mail_once() {
    let test = "email_uidvalidity";
    let own = OwnServers::start(test);
    let servers = &own.servers;
    let (a, _, b, ben) = pair(servers, test, "rebuilt");
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();
    for text in ["one", "two", "three"] {
        a.cli(&["send", "--chat", "Pair", text]).succeeds();
    }
    let mut daemon = b.start_daemon();
    daemon.wait_for_texts(&["one", "two", "three"]);
    assert_eq!(daemon.stop().lines.len(), 3);

    // While the bridge is stopped the oldest mail goes and the folder is rebuilt: the two left
    // are numbered 1 and 2 under a new UIDVALIDITY, so the next mail gets UID 3, the very UID
    // the stored cursor names.
    let imap = servers.imap.to_string();
    mail_tool(&["expunge-first", "--imap-port", &imap, "--user", &ben, "--password", &servers.password]);
    own.mail_sh("rebuild-mailbox", &[&ben]);
    a.cli(&["send", "--chat", "Pair", "after the rebuild"]).succeeds();
    eventually("the new mail in ben's inbox", || {
        mailbox(servers, &ben)["INBOX"].as_array().is_some_and(|mails| mails.len() == 3)
    });

    let mut daemon = b.start_daemon();
    daemon.wait_for_texts(&["after the rebuild"]);
    let ended = daemon.stop();
    assert_eq!(sorted_texts(&ended.lines), ["after the rebuild"], "nothing old again: {}", ended.stderr);
    assert!(ended.stderr.contains("UIDVALIDITY changed"), "{}", ended.stderr);
    assert_eq!(b.message_count(), 4);
}

/// Holds SQLite's write lock on a database until dropped (a second writer: the bridge's store
/// then fails, retrying, as it would on a full or failing disk).
struct WriteLock(Child);

impl WriteLock {
    fn take(database: &Path) -> WriteLock {
        let script = "import sqlite3, sys\n\
                      db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)\n\
                      db.execute('BEGIN EXCLUSIVE')\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped")).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "locked");
        WriteLock(child)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

#[test]
fn a_mail_is_moved_only_after_its_commit() {
    let test = "email_commit_first";
    let servers = servers();
    let (ann, ben) = (address(&servers, "commit-ann"), address(&servers, "commit-ben"));
    let a = Node::with_settings(test, "ann", &settings(&servers, test, &ann, ""));
    let b = Node::with_settings(test, "ben", &settings(&servers, test, &ben, "after_action = \"move:Done\""));
    for node in [&a, &b] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();
    let folder_sizes = || {
        let state = mailbox(&servers, &ben);
        let count = |folder: &str| state[folder].as_array().map_or(0, Vec::len);
        (count("INBOX"), count("Done"))
    };
    let mut daemon = b.start_daemon();
    a.cli(&["send", "--chat", "Pair", "stored"]).succeeds();
    daemon.wait_for_texts(&["stored"]);
    eventually("the stored mail is moved", || folder_sizes() == (0, 1));

    // The store fails (another writer holds the database): the mail is fetched and handed
    // over, never committed. Killed then, the bridge must have left it alone.
    let lock = WriteLock::take(&b.home.data.join("history.sqlite3"));
    a.cli(&["send", "--chat", "Pair", "not stored"]).succeeds();
    daemon.wait_for_log("database busy");
    let ended = daemon.kill9();
    drop(lock);
    assert_eq!(sorted_texts(&ended.lines), ["stored"]);
    assert_eq!(folder_sizes(), (1, 1), "the uncommitted mail is still in INBOX");
    let inbox = mailbox(&servers, &ben)["INBOX"].clone();
    assert!(!inbox[0]["flags"].to_string().contains("Seen"), "and unread: {inbox}");

    // Once stored, it is shown and moved.
    let mut daemon = b.start_daemon();
    daemon.wait_for_texts(&["not stored"]);
    eventually("the mail is moved once stored", || folder_sizes() == (0, 2));
    assert_eq!(sorted_texts(&daemon.stop().lines), ["not stored"]);
}

#[test]
fn mails_sent_around_a_kill_9_are_each_shown_once() {
    let test = "email_kill9";
    let servers = servers();
    let (a, _, b, ben) = pair(&servers, test, "kill9");
    a.cli(&["chat", "route", "Pair", "--via", &format!("email:{ben}")]).succeeds();

    // Killed in the middle of a backlog: every mail is stored by one run or the other, once
    // (one killed between its commit and its output line is stored and not shown: counted in
    // history, not in lines).
    bulk(&servers, &ben, "Pair", "pair secret", 300, "backlog");
    let mut daemon = b.spawn_daemon();
    wait_for_count(&mut daemon, 50);
    let first = daemon.kill9();
    let daemon = b.start_daemon();
    eventually("the whole backlog stored", || b.message_count() == 300);

    // Killed while idling: what is sent meanwhile arrives after the restart.
    a.cli(&["send", "--chat", "Pair", "before the kill"]).succeeds();
    let mut daemon = daemon;
    daemon.wait_for_texts(&["before the kill"]);
    let second = daemon.kill9();
    for text in ["while killed 1", "while killed 2"] {
        a.cli(&["send", "--chat", "Pair", text]).succeeds();
    }
    let mut daemon = b.start_daemon();
    a.cli(&["send", "--chat", "Pair", "after the restart"]).succeeds();
    daemon.wait_for_texts(&["while killed 1", "while killed 2", "after the restart"]);
    let third = daemon.stop();
    assert_eq!(sorted_texts(&third.lines), ["after the restart", "while killed 1", "while killed 2"]);

    let shown = [first.lines, second.lines, third.lines].concat();
    let mut texts = sorted_texts(&shown);
    texts.dedup();
    assert_eq!(texts.len(), shown.len(), "nothing shown twice");
    let stored: Vec<String> = b.history().into_iter().map(|(_, _, _, text)| text).collect();
    let mut expected: Vec<String> = (0..300).map(|i| format!("backlog {i}")).collect();
    expected.extend(
        ["after the restart", "before the kill", "while killed 1", "while killed 2"].map(String::from),
    );
    expected.sort();
    let mut stored_sorted = stored;
    stored_sorted.sort();
    assert_eq!(stored_sorted, expected, "each stored, once");
}

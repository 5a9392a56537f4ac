//! Hostile mail: bounded before it is read, and never in the way of real mail.

use super::{address, eventually, mail_tool, servers, settings};
use crate::daemons::{Node, text};

const LIMIT: u64 = 100_000;
const BIG: u64 = 1_000_000;

#[test]
fn a_mail_over_max_mail_bytes_is_never_downloaded_and_the_rest_flows() {
    let test = "email_oversized";
    let servers = servers();
    let ben = address(&servers, "oversized-ben");
    let b = Node::with_settings(
        test,
        "ben",
        &settings(&servers, test, &ben, &format!("max_mail_bytes = {LIMIT}")),
    );
    b.add_chat("Big", "clm202", "big secret");
    let smtp = servers.smtp.to_string();
    let send = |text: &str, size: u64, subject: &str| {
        let size = size.to_string();
        let common = ["big", "--smtp-port", &smtp, "--to", &ben, "--chat", "Big", "--secret", "big secret"];
        mail_tool(&[&common[..], &["--text", text, "--size", &size, "--subject", subject]].concat());
    };
    send("small before", 10, "Small");
    // A subject that would forge a log line if it were logged raw.
    send("too big", BIG, "Big mail\u{1b}[2J");
    send("small after", 10, "Small");

    let mut daemon = b.start_daemon();
    daemon.wait_for_texts(&["small before", "small after"]);
    daemon.wait_for_log("skipped a mail larger than max_mail_bytes");
    let ended = daemon.stop();
    let mut texts: Vec<String> = ended.lines.iter().map(|m| text(m, "text")).collect();
    texts.sort();
    assert_eq!(texts, ["small after", "small before"], "{}", ended.stderr);
    let warnings: Vec<&str> =
        ended.stderr.lines().filter(|l| l.contains("larger than max_mail_bytes")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {}", ended.stderr);
    assert!(warnings[0].contains("not downloaded") && warnings[0].contains("Big mail"), "{}", warnings[0]);
    assert!(!ended.stderr.contains('\u{1b}'), "escaped: {}", warnings[0]);

    // Dovecot's account of what it sent this mailbox's sessions: the small mails, never the big one.
    let mut sent = None;
    eventually("Dovecot logged the session", || {
        sent = servers.bytes_sent_to(&ben);
        sent.is_some()
    });
    let sent = sent.unwrap_or_default();
    assert!(sent < LIMIT, "{sent} bytes sent to the bridge, the big mail is {BIG}");

    // Passed for good: after a restart only what is new is read, without a warning.
    let mut daemon = b.start_daemon();
    send("small later", 10, "Small");
    daemon.wait_for_texts(&["small later"]);
    let ended = daemon.stop();
    assert_eq!(ended.lines.len(), 1);
    assert!(!ended.stderr.contains("max_mail_bytes"), "{}", ended.stderr);
    assert_eq!(b.message_count(), 3);
}

//! `clm-bridge doctor` with e-mail accounts, through the binary: a working account, a refused
//! login, a password that cannot be read, a server that refuses connections and one that never
//! answers (`--timeout`), next to a drop folder.
//!
//! Dovecot slows every login from an address after a refused one (its auth penalty, up to
//! 15 s), so the refused login and the test that times a working account run servers of their
//! own, and the others give their checks time.

use std::net::TcpListener;

use serde_json::Value;

use super::{OwnServers, Servers, address, servers, settings};
use crate::bridge_chats::json_lines;
use crate::daemons::Node;
use crate::support::doctor_lines;

/// `(status, check, detail)` of each text line of doctor's output.
fn parsed(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|line| {
            let (status, rest) =
                line.split_once("  ").unwrap_or_else(|| panic!("not a doctor line: {line:?}"));
            let (check, detail) = rest.trim_start().split_once("  ").unwrap_or((rest, ""));
            (status.trim().to_owned(), check.trim().to_owned(), detail.trim().to_owned())
        })
        .collect()
}

/// Settings of one account `[email.SECTION]` of `servers` (the right password).
fn account(servers: &Servers, test: &str, section: &str, local: &str) -> String {
    settings(servers, test, &address(servers, local), "")
        .replace("[email.mail]", &format!("[email.{section}]"))
}

/// `settings` with its `password_file` line (the first) replaced by `line`.
fn with_password_line(settings: &str, line: &str) -> String {
    let old = settings.lines().find(|l| l.starts_with("password_file")).expect("a password line");
    settings.replacen(old, line, 1)
}

/// `settings` with SMTP and IMAP both at `port` on loopback.
fn at_port(settings: &str, port: u16) -> String {
    settings
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((key @ ("smtp_port" | "imap_port"), _)) => format!("{key} = {port}"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn doctor_passes_a_working_email_account_with_one_line_per_step() {
    let test = "email_doctor_working";
    let node = Node::with_settings(test, "ann", &account(&servers(), test, "work", "doctor-working"));
    let out = node.cli(&["doctor", "--timeout", "60"]).run();
    out.assert_code(0);
    let steps: Vec<String> = doctor_lines(&out.stdout, "email.work")
        .into_iter()
        .map(|(status, detail)| format!("{status} {}", detail.split(':').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        steps,
        ["ok SMTP connection", "ok SMTP login", "ok IMAP login", "ok IMAP IDLE", "ok IMAP folder `INBOX`"],
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("none configured"), "an e-mail account is a transport: {}", out.stdout);
}

#[test]
fn doctor_names_a_refused_email_login_and_never_shows_the_password() {
    let test = "email_doctor_refused";
    let own = OwnServers::start(test);
    let wrong = "a-wrong-password-4711";
    let password_file = crate::support::scratch_dir(&format!("{test}/wrong")).join("password");
    std::fs::write(&password_file, format!("{wrong}\n")).expect("password file");
    let config = with_password_line(
        &account(&own.servers, test, "work", "doctor-refused"),
        &format!("password_file = \"{}\"", password_file.display()),
    );
    let node = Node::with_settings(test, "ann", &config);
    let out = node.cli(&["doctor"]).run();
    out.assert_code(2);
    let failed: Vec<String> = doctor_lines(&out.stdout, "email.work")
        .into_iter()
        .filter(|(status, _)| status == "FAIL")
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(failed.len(), 1, "{}", out.stdout);
    assert!(failed[0].starts_with("IMAP login: ") && failed[0].contains("refused the login"), "{failed:?}");
    assert_eq!(out.stderr, "clm-bridge: 1 check(s) failed\n");

    let json = node.cli(&["doctor", "--json"]).run();
    json.assert_code(2);
    for out in [&out.stdout, &out.stderr, &json.stdout, &json.stderr] {
        assert!(!out.contains(wrong), "the password is never shown: {out}");
    }
    let refused: Vec<Value> = json_lines(&json.stdout)
        .into_iter()
        .filter(|check| check["check"] == "email.work" && check["status"] == "fail")
        .collect();
    assert_eq!(refused.len(), 1, "{}", json.stdout);
}

#[test]
fn doctor_bounds_a_silent_server_by_its_timeout_and_still_reports_the_others() {
    let test = "email_doctor_timeout";
    let own = OwnServers::start(test);
    let servers = &own.servers;
    // Accepts connections (the kernel does, from the backlog) and never says a word: SMTP and
    // IMAP both wait for a greeting that does not come.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let silent_port = silent.local_addr().expect("its address").port();
    let closed_port = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("it").port();
    let drop_folder = crate::support::scratch_dir(&format!("{test}/drop"));
    let config = [
        format!("[drop.usb]\npath = {:?}\n", drop_folder.to_str().expect("UTF-8")),
        account(servers, test, "live", "doctor-live"),
        with_password_line(
            &account(servers, test, "nopass", "doctor-nopass"),
            "password_file = \"/nonexistent/pw\"",
        ),
        at_port(&account(servers, test, "silent", "doctor-silent"), silent_port),
        at_port(&account(servers, test, "closed", "doctor-closed"), closed_port),
    ]
    .concat();
    let node = Node::with_settings(test, "ann", &config);

    // The bound shows in what doctor says (the silent account's line below), not in a stopwatch.
    let out = node.cli(&["doctor", "--timeout", "1"]).run();
    out.assert_code(2);
    let accounts: Vec<String> = parsed(&out.stdout)
        .into_iter()
        .map(|(_, check, _)| check)
        .filter(|check| check.contains('.'))
        .fold(Vec::new(), |mut seen, check| {
            if seen.last() != Some(&check) {
                seen.push(check);
            }
            seen
        });
    assert_eq!(
        accounts,
        ["drop.usb", "email.closed", "email.live", "email.nopass", "email.silent"],
        "config order: {}",
        out.stdout
    );
    assert!(doctor_lines(&out.stdout, "drop.usb").iter().all(|(s, _)| s == "ok"), "{}", out.stdout);
    assert!(doctor_lines(&out.stdout, "email.live").iter().all(|(s, _)| s == "ok"), "{}", out.stdout);
    let silent_lines = doctor_lines(&out.stdout, "email.silent");
    assert_eq!(silent_lines.len(), 1, "{}", out.stdout);
    assert_eq!(silent_lines[0].0, "FAIL");
    assert!(silent_lines[0].1.starts_with("timed out after 1s"), "{silent_lines:?}");
    let nopass = doctor_lines(&out.stdout, "email.nopass");
    assert_eq!(nopass.len(), 1, "{}", out.stdout);
    assert!(nopass[0].0 == "FAIL" && nopass[0].1.contains("[email.nopass] password"), "{nopass:?}");
    assert!(nopass[0].1.contains("/nonexistent/pw"), "says where it looked: {nopass:?}");
    let closed = doctor_lines(&out.stdout, "email.closed");
    assert!(closed.iter().any(|(s, d)| s == "FAIL" && d.starts_with("SMTP connection: ")), "{closed:?}");
    assert!(closed.iter().any(|(s, d)| s == "FAIL" && d.starts_with("IMAP login: ")), "{closed:?}");
    drop(silent);
}

#[test]
fn doctor_json_lines_parse_and_say_status_check_and_detail() {
    let test = "email_doctor_json";
    let closed_port = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("it").port();
    let servers = servers();
    let config = [
        account(&servers, test, "live", "doctor-json"),
        at_port(&account(&servers, test, "closed", "doctor-json-closed"), closed_port),
    ]
    .concat();
    let node = Node::with_settings(test, "ann", &config);
    let out = node.cli(&["doctor", "--json", "--timeout", "60"]).run();
    out.assert_code(2);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    for line in &lines {
        let object = line.as_object().expect("an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["check", "detail", "status"], "{line}");
        assert!(["ok", "warn", "fail"].contains(&line["status"].as_str().expect("a string")), "{line}");
    }
    let live: Vec<&Value> = lines.iter().filter(|line| line["check"] == "email.live").collect();
    assert_eq!(live.len(), 5, "{}", out.stdout);
    assert!(live.iter().all(|line| line["status"] == "ok"), "{}", out.stdout);
    assert!(lines.iter().any(|line| line["check"] == "email.closed" && line["status"] == "fail"));
}

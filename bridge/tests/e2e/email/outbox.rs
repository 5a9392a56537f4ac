//! The outbox over real mail servers: the daemon's own backoff delivers what `send` could not,
//! and a `send` killed while it delivers is delivered by the daemon, once.

use std::net::TcpListener;

use super::*;

/// Settings whose e-mail account sends to SMTP port `smtp` (the real servers otherwise), with
/// retries and claims short enough for a test.
fn settings_via(servers: &Servers, test: &str, address: &str, smtp: u16) -> String {
    let real = settings(servers, test, address, "");
    let outbox = "[outbox]\nfirst_retry = \"1s\"\nmax_retry = \"2s\"\nclaim = \"3s\"\n";
    format!(
        "{}{outbox}",
        real.replace(&format!("smtp_port = {}", servers.smtp), &format!("smtp_port = {smtp}"))
    )
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

fn outbox(node: &Node) -> Vec<Value> {
    json_lines(&node.cli(&["outbox", "list", "--json"]).succeeds())
}

#[test]
fn the_daemon_delivers_what_send_left_in_the_outbox_by_its_own_backoff() {
    let servers = servers();
    let test = "outbox_backoff";
    let (ann_address, ben_address) = (address(&servers, "backoff-ann"), address(&servers, "backoff-ben"));
    let ann = Node::with_settings(test, "ann", &settings_via(&servers, test, &ann_address, closed_port()));
    let ben = Node::with_settings(test, "ben", &settings(&servers, test, &ben_address, ""));
    for node in [&ann, &ben] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    let route = format!("email.mail:{ben_address}");
    ann.cli(&["chat", "route", "Pair", "--via", &route]).succeeds();
    let sent = ann.cli(&["send", "--chat", "Pair", "later, by itself"]).run();
    assert!(sent.stderr.contains("queued in the outbox"), "{}", sent.stderr);
    assert_eq!(outbox(&ann).len(), 1);

    // The server is back (the settings now name its real port): nobody runs `outbox retry`.
    std::fs::write(&ann.config, settings_via(&servers, test, &ann_address, servers.smtp)).expect("settings");
    let ann_daemon = ann.start_daemon();
    let mut ben_daemon = ben.start_daemon();
    ben_daemon.wait_for_texts(&["later, by itself"]);
    eventually("the outbox empty", || outbox(&ann).is_empty());
    ann_daemon.stop();
    let ended = ben_daemon.stop();
    assert_eq!(crate::daemons::shown(&ended.lines).len(), 1);
}

#[test]
fn a_send_killed_while_it_delivers_is_delivered_by_the_daemon_once() {
    let servers = servers();
    let test = "outbox_killed_send";
    // Accepts SMTP connections and never answers: `send` hangs in its delivery.
    let hole = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let hole_port = hole.local_addr().expect("its address").port();
    let (ann_address, ben_address) = (address(&servers, "killed-ann"), address(&servers, "killed-ben"));
    let ann = Node::with_settings(test, "ann", &settings_via(&servers, test, &ann_address, hole_port));
    let ben = Node::with_settings(test, "ben", &settings(&servers, test, &ben_address, ""));
    for node in [&ann, &ben] {
        node.add_chat("Pair", "clm202", "pair secret");
    }
    ann.cli(&["chat", "route", "Pair", "--via", &format!("email.mail:{ben_address}")]).succeeds();

    let mut send = ann.cli(&["send", "--chat", "Pair", "exactly once"]).spawn();
    // The connection reaches the hole only after the message and its delivery were recorded.
    let (connection, _) = hole.accept().expect("send connects");
    send.kill().expect("SIGKILL");
    send.wait().expect("reaped");
    drop(connection);
    let queued = outbox(&ann);
    assert_eq!(queued.len(), 1, "the delivery outlives the killed send: {queued:?}");
    assert!(
        ann.history().iter().any(|(_, direction, _, text)| direction == "sent" && text == "exactly once")
    );

    // The daemon takes the delivery once the dead send's claim runs out, over the real server.
    std::fs::write(&ann.config, settings_via(&servers, test, &ann_address, servers.smtp)).expect("settings");
    let mut ben_daemon = ben.start_daemon();
    let ann_daemon = ann.start_daemon();
    ben_daemon.wait_for_texts(&["exactly once"]);
    eventually("the outbox empty", || outbox(&ann).is_empty());
    ann_daemon.stop();
    let ended = ben_daemon.stop();
    assert_eq!(crate::daemons::shown(&ended.lines), [crate::daemons::triple("Pair", "ann", "exactly once")]);
    let inbox = mailbox(&servers, &ben_address);
    assert_eq!(inbox["INBOX"].as_array().map(Vec::len), Some(1), "one mail, not two: {inbox}");
}

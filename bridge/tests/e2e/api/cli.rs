//! The CLI through a running daemon: the same output and exit status as without one, no
//! passphrase needed, and `status` telling which it is.

use serde_json::Value;

use super::ApiNode;
use crate::bridge_chats::PASSPHRASE;
use crate::support::{Bridge, Output, bridge};

/// The secret of the chats the script adds.
const OTHER_SECRET: &str = "a secret for the work chat";

/// A command of `node` with its settings and no passphrase.
fn bare(node: &ApiNode, args: &[&str]) -> Bridge {
    let mut full = vec!["--data-dir", node.node.home.data.to_str().expect("UTF-8")];
    full.extend_from_slice(args);
    bridge(full).env("CLM_BRIDGE_CONFIG", node.node.config.to_str().expect("UTF-8"))
}

/// Output with what differs between two runs by nature (times, epochs, random pointers, links,
/// file names by digest) replaced by placeholders.
fn normalised(text: &str) -> String {
    let masks = [
        (r#"\{"e":.*\}"#, "POINTER"),
        (r"clm:[0-9a-z]+", "clm:LINK"),
        (r"clm-[0-9a-f]{32}\.json", "FILE"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME"),
        (r"\b\d{10}\b", "EPOCH"),
    ];
    masks.iter().fold(text.to_owned(), |text, (pattern, mask)| {
        regex::Regex::new(pattern).expect("a pattern").replace_all(&text, *mask).into_owned()
    })
}

/// One step of the script: arguments, environment and standard input.
struct Step {
    args: Vec<&'static str>,
    env: Vec<(&'static str, String)>,
    stdin: String,
}

fn step(args: &[&'static str]) -> Step {
    Step { args: args.to_vec(), env: Vec::new(), stdin: String::new() }
}

fn run(bridge: Bridge, step: &Step) -> Output {
    let mut bridge = bridge.stdin(step.stdin.as_bytes());
    for (name, value) in &step.env {
        bridge = bridge.env(name, value);
    }
    bridge.run()
}

#[test]
fn the_cli_through_a_daemon_says_what_it_says_without_one_and_needs_no_passphrase() {
    // Two bridges alike (the same sender name), one served by a daemon.
    let local = ApiNode::new("api_cli_parity_alone", "alice", "");
    let remote = ApiNode::new("api_cli_parity_served", "alice", "");
    let _daemon = remote.start();
    // An invite of a chat made elsewhere, and a pointer of a chat neither knows yet.
    let elsewhere = ApiNode::new("api_cli_parity_elsewhere", "carol", "");
    let invite = elsewhere.node.cli(&["chat", "new", "Cousins", "--json", "--no-qr"]).succeeds();
    let link =
        serde_json::from_str::<Value>(&invite).expect("invite JSON")["link"].as_str().unwrap().to_owned();
    let early = local.node.home.write("early.json", &later_pointer("early bird"));
    for node in [&local, &remote] {
        node.node.cli(&["scan", &early]).run().assert_code(1);
    }
    let steps = script(&link);
    for step in &steps {
        let alone = run(local.node.cli(&step.args), step);
        let served = run(bare(&remote, &step.args), step);
        let what = step.args.join(" ");
        assert_eq!(served.code, alone.code, "{what}: exit status; served: {served:?}; alone: {alone:?}");
        assert_eq!(normalised(&served.stdout), normalised(&alone.stdout), "{what}: standard output");
        assert_eq!(normalised(&served.stderr), normalised(&alone.stderr), "{what}: standard error");
    }
    // Without a daemon the same commands need the passphrase: the daemon is what answered.
    let refused = bare(&local, &["history"]).run();
    assert_eq!(refused.code, Some(2));
    assert!(refused.stderr.contains("no vault passphrase"), "{}", refused.stderr);
}

/// What is run on both bridges, in order: every command that goes through a daemon, with
/// errors as well as successes.
fn script(link: &str) -> Vec<Step> {
    let with_secret = |args: &[&'static str]| Step {
        args: args.to_vec(),
        env: vec![("CLM_E2E_OTHER", OTHER_SECRET.to_owned())],
        stdin: String::new(),
    };
    vec![
        step(&["chat", "list"]),
        step(&["chat", "list", "--json"]),
        step(&["chat", "show", "Family"]),
        step(&["chat", "show", "Family", "--json"]),
        step(&["chat", "show", "Nope"]),
        with_secret(&["chat", "add", "Later", "--format", "clm202", "--secret-env", "CLM_E2E_OTHER"]),
        with_secret(&[
            "chat",
            "add",
            "Work",
            "--format",
            "clm202",
            "--secret-env",
            "CLM_E2E_OTHER",
            "--json",
        ]),
        with_secret(&["chat", "add", "Work", "--format", "clm202", "--secret-env", "CLM_E2E_OTHER"]),
        step(&["history", "--json"]),
        step(&["chat", "route", "Work", "--via", "drop.outbox"]),
        step(&["chat", "route", "Work", "--via", "drop.outbox"]),
        step(&["chat", "route", "Work", "--via", "drop.nowhere"]),
        step(&["chat", "route", "Work", "--via", "drop.nowhere", "--remove"]),
        step(&["chat", "route", "Work", "--via", "drop.nowhere", "--remove"]),
        step(&["chat", "rename", "Work", "Office"]),
        step(&["send", "--chat", "Family", "hello one"]),
        Step { args: vec!["send", "--chat", "Family"], env: Vec::new(), stdin: "from stdin\n".into() },
        step(&["send", "--chat", "Office", "--via", "drop.outbox", "--print", "printed too"]),
        step(&["send", "--chat", "Later", "no route"]),
        step(&["send", "--chat", "Later", "--print", "no route but printed"]),
        step(&["send", "--chat", "Nope", "x"]),
        step(&["send", "--chat", "Family", ""]),
        step(&["history"]),
        step(&["history", "--chat", "Family"]),
        step(&["trash", "1", "99"]),
        step(&["history", "--trashed"]),
        step(&["restore", "1", "99"]),
        step(&["trash", "2", "3"]),
        step(&["purge", "2", "4"]),
        step(&["purge", "--all-trashed"]),
        step(&["history"]),
        step(&["outbox", "list"]),
        step(&["outbox", "list", "--json"]),
        step(&["outbox", "retry", "--all"]),
        step(&["outbox", "drop", "5"]),
        step(&["chat", "invite", "Family", "--json", "--no-qr"]),
        step(&["chat", "invite", "Office", "--routes", "--no-qr"]),
        Step { args: vec!["chat", "join", "--json"], env: Vec::new(), stdin: format!("{link}\n") },
        step(&["chat", "new", "Club", "--via", "drop.outbox", "--via", "drop.nowhere", "--json", "--no-qr"]),
        step(&["chat", "remove", "Club"]),
        step(&["chat", "remove", "Family"]),
        step(&["chat", "remove", "Office", "--purge"]),
        step(&["chat", "list", "--json"]),
    ]
}

/// A pointer of chat "Later" (clm202, [`OTHER_SECRET`]) from bob.
fn later_pointer(text: &str) -> String {
    let chat = clm_core::Clm202Chat::new(OTHER_SECRET, "Later");
    clm_core::Pointer::Clm202(chat.encode("bob", text, 1_763_700_000, "n0").expect("encodes")).to_json()
}

#[test]
fn status_tells_whether_a_daemon_runs_and_needs_no_passphrase() {
    let node = ApiNode::new("api_status", "alice", "");
    let alone = bare(&node, &["status"]).succeeds();
    assert!(alone.starts_with("daemon: not running"), "{alone}");
    assert!(alone.contains("chats: 1\n") && alone.contains("messages: 0 (0 in the trash)\n"), "{alone}");
    let json: Value = serde_json::from_str(&bare(&node, &["status", "--json"]).succeeds()).expect("JSON");
    assert_eq!((json["daemon"].clone(), json["counts"]["chats"].clone()), (Value::Null, Value::from(1)));
    let daemon = node.start();
    node.drop_message("bob", "one", "one");
    let mut client = node.client();
    client.subscribe(Some(0)).expect("subscribe");
    while !matches!(client.next_event().expect("event"), clm_bridge::api::Event::Message(_)) {}
    let served = bare(&node, &["status"]).succeeds();
    assert!(served.starts_with("daemon: running (pid "), "{served}");
    assert!(
        served.contains("  drop.inbox: up since ") && served.contains("messages: 1 (0 in the trash)\n"),
        "{served}"
    );
    let json: Value = serde_json::from_str(&bare(&node, &["status", "--json"]).succeeds()).expect("JSON");
    assert!(json["daemon"]["pid"].as_u64().is_some(), "{json}");
    assert_eq!(json["transports"].as_array().map(Vec::len), Some(2), "{json}");
    assert!(daemon.stop().code == Some(0));
    let after = bare(&node, &["status"]).succeeds();
    assert!(after.starts_with("daemon: not running") && after.contains("messages: 1 "), "{after}");
    let _ = PASSPHRASE;
}

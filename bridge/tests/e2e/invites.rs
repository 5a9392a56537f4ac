//! Two people, one chat, no secret typed by hand: `chat new`, `chat invite`, `chat join`; and
//! native v2 chats from typed secrets (weak ones refused), over a shared folder.

use serde_json::Value;

use crate::daemons::{Node, triple};
use crate::support::scratch_dir;

/// Two bridges on one shared drop folder.
fn pair(test: &str) -> (Node, Node) {
    let shared = scratch_dir(test).join("shared");
    std::fs::create_dir_all(&shared).expect("shared folder");
    let settings =
        format!("[drop.shared]\npath = {:?}\npoll_interval = \"100ms\"\n", shared.display().to_string());
    (Node::with_settings(test, "ann", &settings), Node::with_settings(test, "ben", &settings))
}

#[test]
fn a_chat_made_by_one_is_joined_by_the_other_from_its_invite_and_carries_messages() {
    let (ann, ben) = pair("invite_pair");
    let made = ann.cli(&["chat", "new", "Family", "--via", "drop.shared", "--json", "--no-qr"]).succeeds();
    let invite: Value = serde_json::from_str(made.trim()).expect("one JSON object");
    assert_eq!((invite["chat"].as_str(), invite["format"].as_str()), (Some("Family"), Some("native2")));
    assert_eq!(invite["routes"], serde_json::json!(["drop.shared"]));
    let link = invite["link"].as_str().expect("a link").to_owned();
    assert!(link.starts_with("clm:"), "{link}");
    // `chat invite` shows the same chat's invite again, on demand only.
    let again: Value =
        serde_json::from_str(ann.cli(&["chat", "invite", "Family", "--routes", "--json"]).succeeds().trim())
            .unwrap();
    assert_eq!(again["link"].as_str(), Some(link.as_str()));

    // Ben joins from standard input: the secret never appears on a command line.
    let mut ben_daemon = ben.start_daemon();
    let joined = ben.cli(&["chat", "join", "-", "--accept-routes"]).stdin(format!("{link}\n")).run();
    joined.assert_code(0);
    assert!(joined.stderr.contains("joined chat \"Family\" (native2)"), "{}", joined.stderr);
    assert!(joined.stderr.contains("route \"drop.shared\" added"), "{}", joined.stderr);

    let mut ann_daemon = ann.start_daemon();
    ann.cli(&["send", "--chat", "Family", "hello from ann"]).succeeds();
    ben_daemon.wait_for_texts(&["hello from ann"]);
    ben.cli(&["send", "--chat", "Family", "and back from ben"]).succeeds();
    ann_daemon.wait_for_texts(&["and back from ben"]);
    let (ben_ended, ann_ended) = (ben_daemon.stop(), ann_daemon.stop());
    assert_eq!(crate::daemons::shown(&ben_ended.lines), [triple("Family", "ann", "hello from ann")]);
    assert_eq!(crate::daemons::shown(&ann_ended.lines), [triple("Family", "ben", "and back from ben")]);
}

#[test]
fn a_tampered_or_truncated_invite_is_refused_and_adds_nothing() {
    let (ann, ben) = pair("invite_tampered");
    let made = ann.cli(&["chat", "new", "Work", "--json", "--no-qr"]).succeeds();
    let link = serde_json::from_str::<Value>(made.trim()).unwrap()["link"].as_str().unwrap().to_owned();
    let mut tampered = link.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = link[..link.len() - 5].to_owned();
    for bad in [tampered, truncated, "clm:".to_owned(), "hello".to_owned()] {
        let refused = ben.cli(&["chat", "join", "-"]).stdin(bad.clone()).run();
        refused.assert_code(2);
        assert!(refused.stderr.contains("invite"), "{bad}: {}", refused.stderr);
    }
    assert!(ben.cli(&["chat", "list", "--json"]).succeeds().trim().is_empty(), "no chat was added");
}

#[test]
fn a_weak_typed_native2_secret_is_refused_unless_accepted_and_secrets_are_not_shared_across_formats() {
    let (ann, _) = pair("invite_weak");
    let weak = ann.cli(&["chat", "add", "Weak", "--secret-env", "S"]).env("S", "family123").run();
    weak.assert_code(2);
    assert!(
        weak.stderr.contains("too easy to guess") && weak.stderr.contains("--weak-secret"),
        "{}",
        weak.stderr
    );
    assert!(!weak.stderr.contains("family123"), "the secret is never echoed");
    ann.cli(&["chat", "add", "Weak", "--weak-secret", "--secret-env", "S"]).env("S", "family123").succeeds();
    // The same secret for a clm202 chat would let anyone test guesses of it at SHA-256 speed.
    let shared = ann
        .cli(&["chat", "add", "Legacy", "--format", "clm202", "--secret-env", "S"])
        .env("S", "family123")
        .run();
    shared.assert_code(2);
    assert!(shared.stderr.contains("already uses this secret"), "{}", shared.stderr);
}

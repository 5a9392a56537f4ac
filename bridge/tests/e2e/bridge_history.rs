//! History through the real binary: filters, trash, restore and purge, and a wrong vault
//! passphrase that must change nothing.

use serde_json::Value;

use crate::bridge_chats::{Home, json_lines};
use crate::support::encode;

/// The keys of a `history --json` line, in the order the binary writes them.
const HISTORY_KEYS: [&str; 11] = [
    "id",
    "chat",
    "direction",
    "from",
    "text",
    "epoch",
    "format",
    "truncated",
    "stored_at",
    "trashed",
    "arrivals",
];

/// A bridge with chats A and B (clm202, cheap to add) and three messages: two in A, one in B.
fn home_with_messages(test: &str) -> (Home, String) {
    let home = Home::new(test);
    home.init("me");
    home.add_chat("A", "clm202", "secret a", &[]).assert_code(0);
    home.add_chat("B", "clm202", "secret b", &[]).assert_code(0);
    let pointers = [
        encode("clm202", "A", "ann", "secret a", &["--epoch", "1763700000"], "first in A"),
        encode("clm202", "B", "ben", "secret b", &["--epoch", "1763700060"], "only in B"),
        encode("clm202", "A", "ann", "secret a", &["--epoch", "1763700120"], "second in A"),
    ];
    let inbox = home.write("inbox.txt", &pointers.join("\n"));
    home.run(&["scan", &inbox]).succeeds();
    (home, inbox)
}

fn texts(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["text"].as_str().expect("text")).collect()
}

fn ids(entries: &[Value]) -> Vec<i64> {
    entries.iter().map(|e| e["id"].as_i64().expect("id")).collect()
}

#[test]
fn history_lists_and_filters_messages() {
    let (home, inbox) = home_with_messages("history_lists_and_filters_messages");
    let output = home.run(&["history", "--json"]).succeeds();
    for line in output.lines() {
        let positions: Vec<usize> =
            HISTORY_KEYS.iter().map(|key| line.find(&format!("\"{key}\":")).expect(key)).collect();
        assert!(positions.is_sorted(), "keys out of order: {line}");
    }
    let all = json_lines(&output);
    assert_eq!(texts(&all), ["first in A", "only in B", "second in A"]);
    let first = &all[0];
    assert_eq!(first.as_object().expect("object").len(), HISTORY_KEYS.len());
    assert_eq!(
        (&first["chat"], &first["direction"], &first["from"], &first["format"]),
        (&Value::from("A"), &Value::from("received"), &Value::from("ann"), &Value::from("clm202"))
    );
    assert_eq!(
        (&first["epoch"], &first["truncated"], &first["trashed"]),
        (&1_763_700_000.into(), &false.into(), &Value::Null)
    );
    assert_eq!(first["arrivals"][0]["transport"], "scan");
    assert_eq!(first["arrivals"][0]["origin"], inbox.as_str());
    assert!(first["stored_at"].as_i64().expect("stored_at") > 1_700_000_000);

    assert_eq!(texts(&home.history(&["--chat", "A"])), ["first in A", "second in A"]);
    assert_eq!(texts(&home.history(&["--chat", "B"])), ["only in B"]);
    home.run(&["history", "--chat", "C"]).run().assert_code(2);

    // --since is the local storage time: everything was stored after 2000 and before 2999.
    for since in ["0", "2000-01-01", "2000-01-01T12:30:00Z"] {
        assert_eq!(home.history(&["--since", since]).len(), 3, "{since}");
    }
    for since in ["2999-01-01", "32472144000"] {
        assert!(home.history(&["--since", since]).is_empty(), "{since}");
    }
    let stored_at = first["stored_at"].as_i64().expect("stored_at").to_string();
    assert_eq!(home.history(&["--since", &stored_at, "--chat", "B"]).len(), 1);
    let bad = home.run(&["history", "--since", "last tuesday"]).run();
    bad.assert_code(2);
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);

    // Text: `#ID TIME CHAT FROM: TEXT`, the time being the sender's epoch in UTC.
    let text = home.run(&["history", "--chat", "B"]).succeeds();
    assert_eq!(text, format!("#{} 2025-11-21T04:41:00Z B ben: only in B\n", all[1]["id"]));
}

#[test]
fn trash_restore_and_purge_touch_only_what_they_should() {
    let (home, inbox) = home_with_messages("trash_restore_and_purge_touch_only_what_they_should");
    let all = ids(&home.history(&[]));
    let [a1, b, a2] = all[..] else { panic!("three messages: {all:?}") };
    let (a1, b, a2) = (a1.to_string(), b.to_string(), a2.to_string());

    home.run(&["trash", &a1]).succeeds();
    assert_eq!(texts(&home.history(&[])), ["only in B", "second in A"]);
    let trash = home.history(&["--trashed"]);
    assert_eq!(texts(&trash), ["first in A"]);
    assert!(trash[0]["trashed"].as_i64().is_some(), "{}", trash[0]);
    let twice = home.run(&["trash", &a1, "999"]).run();
    twice.assert_code(0);
    assert!(
        twice.stderr.contains("0 message(s) moved") && twice.stderr.contains("2 skipped"),
        "{}",
        twice.stderr
    );

    home.run(&["restore", &a1]).succeeds();
    assert_eq!(home.history(&[]).len(), 3);
    assert!(home.history(&["--trashed"]).is_empty());

    // Purge never deletes a message that is not in the trash.
    let refused = home.run(&["purge", &b]).run();
    refused.assert_code(0);
    assert!(
        refused.stderr.contains("0 message(s) deleted") && refused.stderr.contains("trash"),
        "{}",
        refused.stderr
    );
    assert_eq!(home.history(&[]).len(), 3);

    home.run(&["trash", &b, &a2]).succeeds();
    home.run(&["purge", &b]).succeeds();
    assert_eq!(texts(&home.history(&["--trashed"])), ["second in A"]);
    home.run(&["purge", "--all-trashed"]).succeeds();
    assert!(home.history(&["--trashed"]).is_empty());
    assert_eq!(texts(&home.history(&[])), ["first in A"]);

    home.run(&["purge"]).run().assert_code(2);
    home.run(&["purge", &a1, "--all-trashed"]).run().assert_code(2);
    home.run(&["trash"]).run().assert_code(2);
    assert_eq!(home.history(&[]).len(), 1);

    // Purged messages stay purged: scanned again (a drop folder read anew, a mail delivered
    // again), they do not come back, as new or at all.
    let rescanned = json_lines(&home.run(&["scan", "--json", &inbox]).succeeds());
    let new: Vec<bool> = rescanned.iter().map(|l| l["new"].as_bool().expect("new")).collect();
    assert_eq!(new, [false], "only the message still in history opens");
    assert_eq!(home.history(&[]).len(), 1);
}

/// Every file of the data dir with its size and SHA-256, the shared-memory index aside (SQLite
/// rebuilds it on every open): to show that a command changed not one byte on disk.
fn files_of(dir: &std::path::Path) -> std::collections::BTreeMap<String, (usize, String)> {
    std::fs::read_dir(dir)
        .expect("data dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file() && !path.to_string_lossy().ends_with("-shm"))
        .map(|path| (path.display().to_string(), std::fs::read(&path).expect("readable")))
        .filter(|(path, bytes)| !(path.ends_with("-wal") && bytes.is_empty()))
        .map(|(path, bytes)| (path, (bytes.len(), clm_core::hex::encode(&clm_core::sha256(&[&bytes])))))
        .collect()
}

#[test]
fn wrong_passphrase_changes_nothing() {
    let (home, inbox) = home_with_messages("wrong_passphrase_changes_nothing");
    let later = encode("clm202", "Later", "lee", "secret later", &[], "pending one");
    let pending = home.write("pending.txt", &later);
    home.run(&["scan", &pending]).run().assert_code(1);
    home.run(&["trash", "1"]).succeeds();
    // Something in the outbox: a send over a drop route whose folder is missing.
    let config = home.write("config.toml", "[drop.gone]\npath = \"/nonexistent/clm-e2e/gone\"\n");
    home.run(&["--config", &config, "send", "--chat", "A", "--via", "drop.gone", "queued"]).run();
    let invite = home.run(&["chat", "invite", "A", "--json", "--no-qr"]).succeeds();
    let link = serde_json::from_str::<Value>(invite.trim()).expect("JSON")["link"]
        .as_str()
        .expect("a link")
        .to_owned();
    let before = home.snapshot();
    let bytes_before = files_of(&home.data);
    let clm_db = home.write("clm.db", "not a database, and never read: the vault is opened first");

    let wrong = "wrong passphrase";
    let runs: [&[&str]; 21] = [
        &["init", "--name", "mallory"],
        &["chat", "add", "Later", "--format", "clm202", "--secret-env", "S"],
        &["chat", "new", "Mallory", "--no-qr"],
        &["chat", "invite", "A", "--no-qr"],
        &["chat", "join", "-"],
        &["chat", "rename", "A", "Z"],
        &["chat", "remove", "B", "--purge"],
        &["chat", "route", "A", "--via", "drop.usb"],
        &["chat", "list"],
        &["scan", &inbox],
        &["scan", &pending],
        &["receive"],
        &["trash", "2"],
        &["restore", "1"],
        &["purge", "--all-trashed"],
        &["history"],
        &["send", "--chat", "A", "--print", "never sent"],
        &["outbox", "retry", "--all"],
        &["outbox", "drop", "1"],
        &["passphrase", "change"],
        &["import-clm", &clm_db, "--secret-env", "S"],
    ];
    for args in runs {
        let output = home
            .with_passphrase(wrong, args)
            .env("S", "secret later")
            .env("CLM_BRIDGE_NEW_PASSPHRASE", "a new one")
            .stdin(if args[1..].first() == Some(&"join") { link.as_str() } else { later.as_str() })
            .run();
        output.assert_code(2);
        assert_eq!(output.stdout, "", "{args:?}");
        if args[0] != "import-clm" {
            assert_eq!(
                output.stderr, "clm-bridge: wrong passphrase: it does not open this vault\n",
                "{args:?}"
            );
        }
        assert_eq!(files_of(&home.data), bytes_before, "{args:?} changed the data dir");
    }
    assert_eq!(home.snapshot(), before);

    // The pending pointer is still pending: its chat opens it now.
    let added = home.add_chat("Later", "clm202", "secret later", &["--json"]);
    added.assert_code(0);
    assert_eq!(json_lines(&added.stdout)[0]["text"], "pending one");
}

//! `import-clm` (a CLM v2.0.1 database built here with CLM's schema, its pointers made with
//! clm-core's clm201 code) and `doctor`, through the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clm_core::{Clm201Chat, Pointer};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::support::{Bridge, bridge, scratch_dir};

const PASSPHRASE: &str = "e2e vault passphrase";
const SEED: &str = "the master seed of alice";
const USER: &str = "alice";

/// CLM's verifier of the master seed: base64(HMAC-SHA256("clm-auth-key", "user:seed")).
/// Computed with Python's hmac/base64 modules for these two strings, as `clm/auth.py` does.
const ALICE_PUBLIC_KEY: &str = "LFO46frQrlxhsljZOrUy0Eawsqy4XJFO+tGP9QbzeCk=";

/// A bridge data dir in `dir`: a command line with `--data-dir` and the passphrase set.
fn in_bridge(data: &Path, args: &[&str]) -> Bridge {
    let mut all = vec!["--data-dir", data.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    bridge(all).env("CLM_BRIDGE_PASSPHRASE", PASSPHRASE)
}

fn init(data: &Path) {
    in_bridge(data, &["init", "--name", "alice-bridge"]).succeeds();
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Every file of a folder and its bytes: to show that a command changed nothing there.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("data dir exists")
        .map(|entry| entry.expect("entry").path())
        .map(|path| (path.clone(), std::fs::read(&path).expect("readable")))
        .collect()
}

/// Writes a CLM v2.0.1 database (the schema of its `clm/database.py`, config as key-value
/// rows) with chats 0-2 (CLM's defaults), 5 "Family" and 6 "Work", and messages.
fn clm_database(path: &Path) {
    let conn = Connection::open(path).expect("CLM db");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE chats (id TEXT PRIMARY KEY, name TEXT NOT NULL, seed_suffix TEXT NOT NULL,
             created_at INTEGER DEFAULT (strftime('%s', 'now')));
         CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
             chat_id TEXT NOT NULL, epoch_index INTEGER NOT NULL, message TEXT NOT NULL,
             payload TEXT NOT NULL, timestamp INTEGER NOT NULL, datetime TEXT NOT NULL,
             created_at INTEGER DEFAULT (strftime('%s', 'now')), is_deleted INTEGER DEFAULT 0,
             FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE);
         INSERT INTO chats (id, name, seed_suffix) VALUES ('0', '⚡️ Urgent', 'urgent'),
             ('1', '💬 General chat', 'general'), ('2', '🤫 Secrets', 'secrets'),
             ('5', 'Family', 'chat_5'), ('6', 'Work', 'work-2025');",
    )
    .expect("schema");
    conn.execute("INSERT INTO config VALUES ('username', ?1), ('public_key', ?2)", [USER, ALICE_PUBLIC_KEY])
        .expect("config");
    let messages = [
        ("received", "5", "bob", "dinner at eight?", 1_760_000_000, false),
        ("sent", "5", USER, "yes, see you there", 1_760_000_060, false),
        ("received", "6", "carol", "the report is late", 1_760_000_120, true),
        ("received", "1", "dave", "hello everyone", 1_760_000_180, false),
    ];
    for (kind, chat_id, from, text, epoch, deleted) in messages {
        let suffix: String = conn
            .query_row("SELECT seed_suffix FROM chats WHERE id = ?1", [chat_id], |row| row.get(0))
            .expect("chat exists");
        let chat = Clm201Chat::new(SEED, chat_id, Some(&suffix)).expect("chat keys");
        let payload = Pointer::Clm201(chat.encode(from, text, epoch).expect("encodes")).to_json();
        conn.execute(
            "INSERT INTO messages (type, chat_id, epoch_index, message, payload, timestamp, datetime, is_deleted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?3, 'then', ?6)",
            params![kind, chat_id, epoch, format!("{from}: {text}"), payload, deleted],
        )
        .expect("message");
    }
    // A row whose payload is damaged: reported, the rest imported.
    conn.execute(
        "INSERT INTO messages (type, chat_id, epoch_index, message, payload, timestamp, datetime)
         VALUES ('received', '6', 1760000240, 'erin: cut short', '{\"c\": \"6\", \"e\": 17', 1760000240, 'then')",
        [],
    )
    .expect("damaged row");
}

/// (chat, direction, from, text) of `history --json` lines.
fn messages(lines: &[Value]) -> Vec<(String, String, String, String)> {
    lines
        .iter()
        .map(|m| {
            let field = |key: &str| m[key].as_str().unwrap_or_else(|| panic!("{key} in {m}")).to_owned();
            (field("chat"), field("direction"), field("from"), field("text"))
        })
        .collect()
}

fn tuple(chat: &str, direction: &str, from: &str, text: &str) -> (String, String, String, String) {
    (chat.into(), direction.into(), from.into(), text.into())
}

#[test]
fn import_clm_brings_chats_and_history_over_once() {
    let dir = scratch_dir("import_clm_once");
    let data = dir.join("data");
    std::fs::create_dir(dir.join("clm")).expect("CLM folder");
    let clm_db = dir.join("clm/clm.db");
    clm_database(&clm_db);
    let clm_before = snapshot(&dir.join("clm"));
    init(&data);

    let import = || {
        in_bridge(&data, &["import-clm", "--json", "--secret-env", "CLM_SEED", clm_db.to_str().unwrap()])
            .env("CLM_SEED", SEED)
            .run()
    };
    let first = import();
    first.assert_code(0);
    assert!(first.stderr.contains("CLM message 5 (chat \"6\") not imported: its payload is not a pointer"));
    assert!(!first.stderr.contains("cut short"), "no message text on stderr: {}", first.stderr);
    let chats = json_lines(&first.stdout);
    let summary: Vec<(&str, &str, &str, u64, u64, u64, u64)> = chats
        .iter()
        .map(|c| {
            (
                c["clm_chat_id"].as_str().unwrap(),
                c["chat"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["new"].as_u64().unwrap(),
                c["known"].as_u64().unwrap(),
                c["trashed"].as_u64().unwrap(),
                c["skipped"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("0", "⚡️ Urgent", "created", 0, 0, 0, 0),
            ("1", "💬 General chat", "created", 1, 0, 0, 0),
            ("2", "🤫 Secrets", "created", 0, 0, 0, 0),
            ("5", "Family", "created", 2, 0, 0, 0),
            ("6", "Work", "created", 1, 0, 1, 1),
        ]
    );

    let history = json_lines(&in_bridge(&data, &["history", "--json"]).succeeds());
    assert_eq!(
        messages(&history),
        [
            tuple("Family", "received", "bob", "dinner at eight?"),
            tuple("Family", "sent", USER, "yes, see you there"),
            tuple("💬 General chat", "received", "dave", "hello everyone"),
        ]
    );
    assert_eq!(history[0]["arrivals"][0]["transport"], "import-clm");
    assert_eq!(history[0]["format"], "clm201");
    let trash = json_lines(&in_bridge(&data, &["history", "--trashed", "--json"]).succeeds());
    assert_eq!(messages(&trash), [tuple("Work", "received", "carol", "the report is late")]);

    // Again: the same chats are found, nothing is stored twice.
    let second = import();
    second.assert_code(0);
    for chat in json_lines(&second.stdout) {
        assert_eq!(chat["status"], "existing", "{chat}");
        assert_eq!(chat["new"], 0, "{chat}");
    }
    let history_again = json_lines(&in_bridge(&data, &["history", "--json"]).succeeds());
    assert_eq!(history_again, history);
    assert_eq!(snapshot(&dir.join("clm")), clm_before, "CLM's folder is untouched (no -wal, no -shm)");
}

#[test]
fn import_clm_refuses_a_wrong_master_seed_and_changes_nothing() {
    let dir = scratch_dir("import_clm_wrong_seed");
    let data = dir.join("data");
    let clm_db = dir.join("clm.db");
    clm_database(&clm_db);
    init(&data);
    let before = snapshot(&data);

    let out = in_bridge(&data, &["import-clm", "--secret-env", "CLM_SEED", clm_db.to_str().unwrap()])
        .env("CLM_SEED", "the master seed of alice ")
        .run();
    out.assert_code(2);
    assert_eq!(out.stderr, "clm-bridge: the master seed does not match this CLM database\n");
    assert_eq!(out.stdout, "");
    assert_eq!(snapshot(&data), before, "the bridge's files are unchanged");
}

#[test]
fn import_clm_refuses_what_is_not_a_clm_database() {
    let dir = scratch_dir("import_clm_not_clm");
    let data = dir.join("data");
    init(&data);
    let other = dir.join("other.db");
    Connection::open(&other).expect("db").execute_batch("CREATE TABLE notes (x)").expect("table");
    for (path, expected) in [
        (other.clone(), "is not a CLM v2.0.1 database: table config"),
        (dir.join("absent.db"), "cannot open the CLM database"),
    ] {
        let out = in_bridge(&data, &["import-clm", "--secret-env", "CLM_SEED", path.to_str().unwrap()])
            .env("CLM_SEED", SEED)
            .run();
        out.assert_code(2);
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
    }
}

fn write_config(dir: &Path, drop_folder: &Path) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(&config, format!("[drop.usb]\npath = {:?}\n", drop_folder.to_str().unwrap()))
        .expect("config");
    config
}

#[test]
fn doctor_passes_a_healthy_bridge() {
    let dir = scratch_dir("doctor_healthy");
    let data = dir.join("data");
    let drop_folder = dir.join("drop");
    std::fs::create_dir(&drop_folder).expect("drop folder");
    init(&data);
    let config = write_config(&dir, &drop_folder);

    let text = in_bridge(&data, &["--config", config.to_str().unwrap(), "doctor"]).succeeds();
    let lines: Vec<&str> = text.lines().collect();
    let checks: Vec<&str> = lines.iter().map(|line| line.get(6..16).unwrap_or("").trim()).collect();
    assert_eq!(
        checks,
        ["config", "data dir", "data files", "store", "vault", "identity", "drop.usb"],
        "{text}"
    );
    assert!(lines.iter().all(|line| line.starts_with("ok  ")), "{text}");
    assert!(lines[0].contains(config.to_str().unwrap()), "the config file used is named: {text}");

    let json =
        json_lines(&in_bridge(&data, &["--config", config.to_str().unwrap(), "doctor", "--json"]).succeeds());
    assert_eq!(json.len(), 7);
    assert!(json.iter().all(|check| check["status"] == "ok"), "{json:?}");
    assert_eq!(std::fs::read_dir(&drop_folder).expect("drop folder").count(), 0, "the probe file is gone");
}

#[test]
fn doctor_fails_on_a_wrong_passphrase_and_an_absent_drop_folder() {
    let dir = scratch_dir("doctor_failing");
    let data = dir.join("data");
    init(&data);
    let config = write_config(&dir, &dir.join("unplugged"));

    let out = bridge(["--data-dir", data.to_str().unwrap(), "--config", config.to_str().unwrap(), "doctor"])
        .env("CLM_BRIDGE_PASSPHRASE", "not the passphrase")
        .run();
    out.assert_code(2);
    let failed: Vec<&str> = out.stdout.lines().filter(|line| line.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 2, "{}", out.stdout);
    assert!(failed[0].starts_with("FAIL  vault"), "{}", out.stdout);
    assert!(
        failed[1].starts_with("FAIL  drop.usb") && failed[1].contains("does not exist"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "clm-bridge: 2 check(s) failed\n");

    let none = bridge(["--data-dir", dir.join("nothing").to_str().unwrap(), "doctor", "--json"]).run();
    none.assert_code(2);
    let checks = json_lines(&none.stdout);
    assert_eq!(checks[1]["check"], "data dir");
    assert_eq!(checks[1]["status"], "fail");
}

//! The stateful bridge through the real binary: `init`, `chat`, `scan`, `receive` and pending
//! pointers. Each test has its own data directory; the vault passphrase is given to each child
//! in `$CLM_BRIDGE_PASSPHRASE` only.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Bridge, Output, bridge, encode, scratch_dir};

/// The vault passphrase of every test bridge.
pub const PASSPHRASE: &str = "e2e vault passphrase: 7 ravens juggle quinoa";

/// The environment variable `chat add` reads the chat secret from.
const SECRET_ENV: &str = "CLM_E2E_CHAT_SECRET";

/// The keys of a `scan --json` line, in the order the binary writes them: the one JSON shape
/// of an opened message (as the daemon's `--json`), plus `new`.
pub const SCAN_KEYS: [&str; 10] =
    ["id", "chat", "from", "text", "epoch", "format", "truncated", "transport", "origin", "new"];

/// A bridge's data directory, and a scratch directory for input files next to it.
#[derive(Debug)]
pub struct Home {
    /// Scratch files of the test.
    pub dir: PathBuf,
    /// The data directory (`--data-dir`).
    pub data: PathBuf,
}

impl Home {
    /// A fresh scratch directory for `test`; the data dir is not created (that is `init`'s job).
    pub fn new(test: &str) -> Home {
        let dir = scratch_dir(test);
        let data = dir.join("data");
        Home { dir, data }
    }

    /// A command against this bridge, with the right passphrase.
    pub fn run(&self, args: &[&str]) -> Bridge {
        self.with_passphrase(PASSPHRASE, args)
    }

    /// A command against this bridge, with `passphrase`.
    pub fn with_passphrase(&self, passphrase: &str, args: &[&str]) -> Bridge {
        let data = self.data.to_str().expect("UTF-8 scratch path");
        let mut full = vec!["--data-dir", data];
        full.extend_from_slice(args);
        bridge(full).env("CLM_BRIDGE_PASSPHRASE", passphrase)
    }

    /// `init --name NAME`, which must succeed.
    pub fn init(&self, name: &str) {
        self.run(&["init", "--name", name]).succeeds();
    }

    /// `chat add NAME --format FORMAT --secret-env ... EXTRA...`.
    pub fn add_chat(&self, name: &str, format: &str, secret: &str, extra: &[&str]) -> Output {
        let mut args = vec!["chat", "add", name, "--format", format, "--secret-env", SECRET_ENV];
        args.extend_from_slice(extra);
        self.run(&args).env(SECRET_ENV, secret).run()
    }

    /// Writes a scratch file and returns its path as text.
    pub fn write(&self, name: &str, contents: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path.to_str().expect("UTF-8 scratch path").to_owned()
    }

    /// `history --json EXTRA...`, parsed.
    pub fn history(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["history", "--json"];
        args.extend_from_slice(extra);
        json_lines(&self.run(&args).succeeds())
    }

    /// Everything the bridge shows of its state: chats, history and trash.
    pub fn snapshot(&self) -> String {
        ["chat list --json", "history --json", "history --json --trashed"]
            .iter()
            .map(|args| self.run(&args.split(' ').collect::<Vec<_>>()).succeeds())
            .collect::<Vec<_>>()
            .join("---\n")
    }
}

/// Parses one JSON object per line.
pub fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}")))
        .collect()
}

/// Parses `scan --json` output, checking each line has exactly [`SCAN_KEYS`] in order.
pub fn scan_lines(stdout: &str) -> Vec<Value> {
    let lines = json_lines(stdout);
    for (value, line) in lines.iter().zip(stdout.lines()) {
        assert_eq!(value.as_object().map(serde_json::Map::len), Some(SCAN_KEYS.len()), "{line}");
        let positions: Vec<usize> =
            SCAN_KEYS.iter().map(|key| line.find(&format!("\"{key}\":")).expect(key)).collect();
        assert!(positions.is_sorted(), "keys out of order: {line}");
    }
    lines
}

/// `(chat, text, new)` of each scan line.
fn opened(lines: &[Value]) -> Vec<(String, String, bool)> {
    lines
        .iter()
        .map(|l| {
            let text = |key: &str| l[key].as_str().unwrap_or_else(|| panic!("{key} in {l}")).to_owned();
            (text("chat"), text("text"), l["new"].as_bool().expect("new is a boolean"))
        })
        .collect()
}

fn triples(items: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    items.iter().map(|(chat, text, new)| ((*chat).to_owned(), (*text).to_owned(), *new)).collect()
}

#[test]
fn init_creates_a_private_bridge_and_only_renames_after() {
    let home = Home::new("init_creates_a_private_bridge_and_only_renames_after");
    let before = home.run(&["chat", "list"]).run();
    before.assert_code(2);
    assert!(before.stderr.contains("clm-bridge init"), "{}", before.stderr);

    let first = home.run(&["init", "--name", "alice"]).run();
    first.assert_code(0);
    assert!(first.stderr.contains("you send as \"alice\""), "{}", first.stderr);
    assert!(home.data.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&home.data).expect("data dir").permissions().mode();
        assert_eq!(mode & 0o077, 0, "data dir mode {mode:o}");
    }

    let renamed = home.run(&["init", "--name", "bob"]).run();
    renamed.assert_code(0);
    assert!(renamed.stderr.contains("now send as \"bob\" (was \"alice\")"), "{}", renamed.stderr);

    let wrong = home.with_passphrase("not the passphrase", &["init", "--name", "eve"]).run();
    wrong.assert_code(2);
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    let again = home.run(&["init", "--name", "bob"]).run();
    again.assert_code(0);
    assert!(again.stderr.contains("already send as \"bob\""), "eve was stored: {}", again.stderr);

    for bad in ["a: b", "two\nlines", ""] {
        home.run(&["init", "--name", bad]).run().assert_code(2);
    }
}

#[test]
fn chats_of_every_format_store_each_message_once() {
    let home = Home::new("chats_of_every_format_store_each_message_once");
    home.init("me");
    home.add_chat("Family", "native", "family secret", &[]).assert_code(0);
    home.add_chat("Cousins", "clm202", "cousins secret", &[]).assert_code(0);
    home.add_chat("Work", "clm201", "master seed", &["--chat-id", "7", "--seed-suffix", "work"])
        .assert_code(0);
    home.add_chat("urgent", "clm201", "master seed", &[]).assert_code(0);

    let pointers = [
        encode("native", "Family", "carol", "family secret", &[], "dinner at 7?"),
        encode("clm202", "Cousins", "dan", "cousins secret", &[], "party on friday"),
        encode(
            "clm201",
            "Work",
            "erin",
            "master seed",
            &["--chat-id", "7", "--seed-suffix", "work"],
            "standup",
        ),
        encode("clm201", "urgent", "erin", "master seed", &[], "call me"),
    ];
    let inbox = home.write("inbox.txt", &format!("Got these:\n\n{}\n\nbye\n", pointers.join("\n> ")));
    let expected = [
        ("Family", "dinner at 7?", true),
        ("Cousins", "party on friday", true),
        ("Work", "standup", true),
        ("urgent", "call me", true),
    ];

    let first = home.run(&["scan", "--json", &inbox]).succeeds();
    let lines = scan_lines(&first);
    assert_eq!(opened(&lines), triples(&expected));
    let formats: Vec<&str> = lines.iter().map(|l| l["format"].as_str().expect("format")).collect();
    assert_eq!(formats, ["native", "clm202", "clm201", "clm201"]);
    assert_eq!(lines[0]["from"], "carol");

    // Again, and from a second path: every message printed, none new, none stored twice.
    let known: Vec<_> = expected.iter().map(|(chat, text, _)| (*chat, *text, false)).collect();
    assert_eq!(opened(&scan_lines(&home.run(&["scan", "--json", &inbox]).succeeds())), triples(&known));
    let copy = home.write("copy.eml", &std::fs::read_to_string(&inbox).expect("inbox"));
    assert_eq!(opened(&scan_lines(&home.run(&["scan", "--json", &copy]).succeeds())), triples(&known));

    let history = home.history(&[]);
    assert_eq!(history.len(), 4);
    for entry in &history {
        let origins: Vec<&str> = entry["arrivals"]
            .as_array()
            .expect("arrivals")
            .iter()
            .map(|a| a["origin"].as_str().unwrap())
            .collect();
        assert_eq!(origins.len(), 2, "{entry}");
        assert!(origins.contains(&inbox.as_str()) && origins.contains(&copy.as_str()), "{entry}");
    }

    // Text output: time, chat, sender and text, marked when known.
    let text = home.run(&["scan", &inbox]).succeeds();
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.lines().next().unwrap().ends_with(" Family carol: dinner at 7? (already in history)"),
        "{text}"
    );

    let chats = json_lines(&home.run(&["chat", "list", "--json"]).succeeds());
    let names: Vec<&str> = chats.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Cousins", "Family", "Work", "urgent"]);
    assert!(chats.iter().all(|c| c["messages"] == 1), "{chats:?}");
    let urgent = &chats[3];
    assert_eq!((&urgent["chat_id"], &urgent["seed_suffix"]), (&Value::from("0"), &Value::from("urgent")));
}

#[test]
fn pending_pointer_opens_when_its_chat_is_added() {
    let home = Home::new("pending_pointer_opens_when_its_chat_is_added");
    home.init("me");
    let pointer = encode("native", "Later", "frank", "later secret", &[], "see you later");
    let file = home.write("later.txt", &pointer);

    let scanned = home.run(&["scan", "--json", &file]).run();
    scanned.assert_code(1);
    assert_eq!(scanned.stdout, "");
    assert!(scanned.stderr.contains("kept as pending"), "{}", scanned.stderr);
    assert!(!scanned.stderr.contains("see you later"), "{}", scanned.stderr);
    assert!(home.history(&[]).is_empty());

    // A chat that does not open it leaves it pending.
    let other = home.add_chat("Other", "clm202", "other secret", &["--json"]);
    other.assert_code(0);
    assert_eq!(other.stdout, "");

    let added = home.add_chat("Later", "native", "later secret", &["--json"]);
    added.assert_code(0);
    assert_eq!(opened(&scan_lines(&added.stdout)), triples(&[("Later", "see you later", true)]));
    assert!(added.stderr.contains("1 pending pointer(s) opened; 0 still pending"), "{}", added.stderr);

    let history = home.history(&["--chat", "Later"]);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["from"], "frank");
    assert_eq!(history[0]["arrivals"][0]["transport"], "scan");
    assert_eq!(history[0]["arrivals"][0]["origin"], file.as_str());

    let again = home.run(&["scan", "--json", &file]).succeeds();
    assert_eq!(opened(&scan_lines(&again)), triples(&[("Later", "see you later", false)]));
}

#[test]
fn receive_reads_a_pasted_message() {
    let home = Home::new("receive_reads_a_pasted_message");
    home.init("me");
    home.add_chat("Cousins", "clm202", "cousins secret", &[]).assert_code(0);
    let pointer = encode("clm202", "Cousins", "dan", "cousins secret", &[], "pasted");

    let received = home.run(&["receive", "--json"]).stdin(format!("dan wrote:\n{pointer}\n")).run();
    received.assert_code(0);
    assert_eq!(opened(&scan_lines(&received.stdout)), triples(&[("Cousins", "pasted", true)]));
    let history = home.history(&[]);
    assert_eq!(history[0]["arrivals"][0]["transport"], "receive");
    assert_eq!(history[0]["arrivals"][0]["origin"], "stdin");

    let nothing = home.run(&["receive"]).stdin("just some words\n").run();
    nothing.assert_code(1);
    assert_eq!(nothing.stdout, "");
}

#[test]
fn chats_are_renamed_routed_and_removed() {
    let home = Home::new("chats_are_renamed_routed_and_removed");
    home.init("me");
    home.add_chat("Family", "native", "family secret", &[]).assert_code(0);
    let first = home.write("first.txt", &encode("native", "Family", "carol", "family secret", &[], "one"));
    home.run(&["scan", &first]).succeeds();

    let renamed = home.run(&["chat", "rename", "Family", "Fam"]).run();
    renamed.assert_code(0);
    home.run(&["chat", "show", "Family"]).run().assert_code(2);
    // The secret survives the rename: new pointers still open, under the new name.
    let second = home.write("second.txt", &encode("native", "Family", "carol", "family secret", &[], "two"));
    let lines = scan_lines(&home.run(&["scan", "--json", &second]).succeeds());
    assert_eq!(opened(&lines), triples(&[("Fam", "two", true)]));
    let chats: Vec<Value> = home.history(&[]).iter().map(|e| e["chat"].clone()).collect();
    assert_eq!(chats, ["Fam", "Fam"]);

    // A taken name is refused; a clm202 rename warns that the name travels in the messages.
    home.add_chat("Cousins", "clm202", "cousins secret", &[]).assert_code(0);
    home.run(&["chat", "rename", "Cousins", "Fam"]).run().assert_code(2);
    let clm202 = home.run(&["chat", "rename", "Cousins", "Kin"]).run();
    clm202.assert_code(0);
    assert!(clm202.stderr.contains("part of each message"), "{}", clm202.stderr);

    let config = routed_settings(&home);
    let route = |args: &[&str]| home.run(&[&["--config", &config, "chat", "route"], args].concat());
    route(&["Fam", "--via", "drop.usb"]).succeeds();
    route(&["Fam", "--via", "email.work:bob@example.org"]).succeeds();
    route(&["Fam", "--via", "drop.usb"]).succeeds(); // already there: fine
    let show = json_lines(&home.run(&["chat", "show", "Fam", "--json"]).succeeds());
    assert_eq!(show[0]["routes"], serde_json::json!(["drop.usb", "email.work:bob@example.org"]));
    assert_eq!(show[0]["messages"], 2);
    route(&["Fam", "--via", "drop.usb", "--remove"]).succeeds();
    route(&["Fam", "--via", "drop.usb", "--remove"]).run().assert_code(2);
    route(&["Fam", "--via", "pigeon.coop"]).run().assert_code(2);
    route(&["Nobody", "--via", "drop.usb"]).run().assert_code(2);
    let show = home.run(&["chat", "show", "Fam"]).succeeds();
    assert!(show.contains("routes: email.work:bob@example.org\n"), "{show}");
    assert!(show.contains("messages: 2 (0 in the trash)\n"), "{show}");

    let refused = home.run(&["chat", "remove", "Fam"]).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("purge"), "{}", refused.stderr);
    assert_eq!(home.history(&[]).len(), 2);
    home.run(&["chat", "remove", "Fam", "--purge"]).succeeds();
    home.run(&["chat", "remove", "Kin"]).succeeds();
    assert_eq!(home.run(&["chat", "list"]).succeeds(), "");
    assert!(home.history(&[]).is_empty());
    home.run(&["chat", "remove", "Fam"]).run().assert_code(2);
}

/// A settings file with a `[drop.usb]` and an `[email.work]` section (never used to send).
fn routed_settings(home: &Home) -> String {
    let path = home.dir.join("routed.toml");
    let usb = home.dir.join("usb");
    let settings = format!(
        "[drop.usb]\npath = {usb:?}\n\n[email.work]\naddress = \"me@example.org\"\n\
         password_env = \"CLM_TEST_UNSET_PASSWORD\"\nsmtp_host = \"smtp.example.org\"\n"
    );
    std::fs::write(&path, settings).expect("settings written");
    path.to_str().expect("UTF-8 scratch path").to_owned()
}

#[test]
fn regression_chat_route_accepted_routes_that_send_then_refused() {
    let home = Home::new("regression_chat_route_accepted_routes_that_send_then_refused");
    home.init("me");
    home.add_chat("Fam", "native", "family secret", &[]).assert_code(0);
    let config = routed_settings(&home);
    let route = |via: &str| home.run(&["--config", &config, "chat", "route", "Fam", "--via", via]).run();
    for (via, why) in [
        ("drop.usb:../../etc", "without separators"),
        ("drop.usb:..", "leave the drop folder"),
        ("drop.usb:a/b", "without separators"),
        ("drop.shared", "no [drop.shared] section"),
        ("telegram:abc", "telegram"),
        ("matrix:room", "matrix"),
        ("email.work:not-an-address", "not-an-address"),
    ] {
        let refused = route(via);
        refused.assert_code(2);
        assert!(refused.stderr.contains(why), "{via}: {}", refused.stderr);
    }
    let show = json_lines(&home.run(&["chat", "show", "Fam", "--json"]).succeeds());
    assert_eq!(show[0]["routes"], serde_json::json!([]), "nothing refused was stored");
    route("drop.usb:sub").assert_code(0);
    route("email.work:bob@example.org,carol@example.net").assert_code(0);
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn secrets_and_texts_stay_off_the_disk_and_out_of_chat_show() {
    let home = Home::new("secrets_and_texts_stay_off_the_disk_and_out_of_chat_show");
    let secrets = ["canary-native-7c1e", "canary-clm202-4b9d", "canary-seed-2f8a"];
    let texts = ["canary text one 91d3", "canary text two 5a0e", "canary text three e6b7"];
    let sender = "canary-sender-0c4f";
    home.init("me");
    home.add_chat("Family", "native", secrets[0], &[]).assert_code(0);
    home.add_chat("Cousins", "clm202", secrets[1], &[]).assert_code(0);
    let pointers = [
        encode("native", "Family", sender, secrets[0], &[], texts[0]),
        encode("clm202", "Cousins", sender, secrets[1], &[], texts[1]),
        encode("clm201", "Work", sender, secrets[2], &["--chat-id", "7"], texts[2]),
    ];
    let inbox = home.write("inbox.txt", &pointers.join("\n"));
    home.run(&["scan", &inbox]).succeeds();
    // The clm201 message waits as a pending pointer, then opens when its chat comes.
    home.add_chat("Work", "clm201", secrets[2], &["--chat-id", "7"]).assert_code(0);
    std::fs::remove_file(&inbox).expect("remove the input, which holds the pointers only anyway");
    assert_eq!(home.history(&[]).len(), 3);
    home.run(&["trash", "1"]).succeeds();

    let mut outputs = Vec::new();
    for name in ["Family", "Cousins", "Work"] {
        for extra in [&[][..], &["--json"]] {
            let mut args = vec!["chat", "show", name];
            args.extend_from_slice(extra);
            let output = home.run(&args).run();
            output.assert_code(0);
            outputs.push(output.stdout + output.stderr.as_str());
        }
    }
    outputs.push(home.run(&["chat", "list", "--json"]).succeeds());
    for output in &outputs {
        for secret in secrets {
            assert!(!output.contains(secret), "secret shown: {output}");
        }
    }

    let files = files_under(&home.data);
    assert!(files.iter().any(|f| f.ends_with("history.sqlite3")), "no database among {files:?}");
    let contains = |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // Chat names are sealed too: nothing a person typed is found in any file.
    for file in &files {
        let bytes = std::fs::read(file).expect("read data file");
        for needle in secrets.iter().chain(&texts).chain([&sender]).chain(&["Family", "Cousins", "Work"]) {
            assert!(!contains(&bytes, needle), "{needle:?} in clear in {}", file.display());
        }
    }
}

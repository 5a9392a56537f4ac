//! Exit statuses: 0 opened, 1 nothing opened, 2 usage or I/O error; errors on stderr, prefixed.

use crate::support::{bridge, decode, encode, pointer_json, scratch_dir};

const SECRET: &str = "exit code secret";

fn assert_error_line(stderr: &str, needle: &str) {
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("clm-bridge: "), "prefixed: {stderr:?}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr:?}");
}

#[test]
fn wrong_secret_opens_nothing() {
    let input: String = [("clm201", "urgent"), ("clm202", "c"), ("native", "c")]
        .iter()
        .map(|(format, chat)| {
            encode(format, chat, "bob", SECRET, &[], "a message long enough to fail") + "\n"
        })
        .collect();
    let output = decode("another secret", &[], input);
    output.assert_code(1);
    assert_eq!(output.stdout, "");
    assert_eq!(output.stderr.lines().count(), 3, "{}", output.stderr);
    assert!(
        output.stderr.lines().all(|line| line.starts_with("clm-bridge: ") && line.contains("not opened"))
    );
}

#[test]
fn one_opened_among_unopened_is_success() {
    let mine = encode("clm202", "c", "bob", SECRET, &[], "mine");
    let theirs = encode("clm202", "c", "bob", "their secret", &[], "theirs");
    let output = decode(SECRET, &[], format!("{theirs}\n{mine}\n"));
    output.assert_code(0);
    assert_eq!(output.lines().len(), 1);
    assert_eq!(output.lines()[0]["text"], "mine");
    assert!(output.stderr.contains("not opened"), "{}", output.stderr);
}

#[test]
fn input_without_pointer_opens_nothing() {
    let output = decode(SECRET, &[], "just words, {\"json\": \"but no pointer\"} here\n");
    output.assert_code(1);
    assert_eq!(output.stdout, "");
    assert_error_line(&output.stderr, "no pointer found");
}

#[test]
fn empty_input_opens_nothing() {
    decode(SECRET, &[], "").assert_code(1);
}

#[test]
fn format_filter_skips_other_formats() {
    let pointer = encode("clm202", "c", "bob", SECRET, &[], "hi");
    let output = decode(SECRET, &["--format", "clm201"], &pointer);
    output.assert_code(1);
    assert_error_line(&output.stderr, "skipped (--format clm201)");
}

#[test]
fn altered_native_ciphertext_is_not_opened() {
    let pointer = encode("native", "c", "bob", SECRET, &[], "pay 10 euros");
    let value = pointer_json(&pointer);
    let data = value["d"].as_str().expect("d is a string");
    // Change the first character: it carries the top bits of the first ciphertext byte.
    let altered_first = if data.starts_with('A') { "B" } else { "A" };
    let altered = pointer.replacen(data, &format!("{altered_first}{}", &data[1..]), 1);
    assert_ne!(altered, pointer);

    let output = decode(SECRET, &[], &altered);
    output.assert_code(1);
    assert_eq!(output.stdout, "", "nothing of an altered pointer is shown");
    assert_error_line(&output.stderr, "authentication failed");

    // The unaltered pointer still opens: the failure above is the alteration's.
    decode(SECRET, &[], &pointer).assert_code(0);
}

#[test]
fn missing_secret_variable_is_a_usage_error() {
    let output = bridge(["decode", "--secret-env", "CLM_E2E_UNSET"]).stdin("{}").run();
    output.assert_code(2);
    assert_eq!(output.stdout, "");
    assert_error_line(&output.stderr, "CLM_E2E_UNSET");

    let encode =
        bridge(["encode", "--format", "clm202", "--chat", "c", "--from", "b", "--secret-env", "NOPE", "hi"])
            .run();
    encode.assert_code(2);
    assert_eq!(encode.stdout, "");
    assert_error_line(&encode.stderr, "environment variable NOPE");
}

#[test]
fn no_secret_source_without_terminal_is_a_usage_error() {
    let output = bridge(["decode"]).stdin("x").run();
    output.assert_code(2);
    assert_error_line(&output.stderr, "--secret-env");
}

#[test]
fn unreadable_file_is_an_io_error() {
    let dir = scratch_dir("unreadable_file_is_an_io_error");
    let missing = dir.join("missing.txt");
    for path in [&missing, &dir] {
        let output = bridge(["decode", "--secret-env", "S", path.to_str().expect("UTF-8 path")])
            .env("S", SECRET)
            .run();
        output.assert_code(2);
        assert_eq!(output.stdout, "");
        assert_error_line(&output.stderr, "cannot read file");
    }
}

#[test]
fn decode_reads_a_file_argument_and_dash_as_stdin() {
    let dir = scratch_dir("decode_reads_a_file_argument_and_dash_as_stdin");
    let pointer = encode("clm202", "c", "bob", SECRET, &[], "from a file");
    let file = dir.join("input.txt");
    std::fs::write(&file, format!("see {pointer}\n")).expect("write input");
    let output = bridge(["decode", "--secret-env", "S", file.to_str().expect("UTF-8 path")])
        .env("S", SECRET)
        .stdin("no pointer on stdin")
        .run();
    output.assert_code(0);
    assert_eq!(output.lines()[0]["text"], "from a file");

    let dash = bridge(["decode", "--secret-env", "S", "-"]).env("S", SECRET).stdin(&pointer).run();
    dash.assert_code(0);
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        // clap's own errors.
        &["decode", "--secret-env", "S", "--no-such-flag"],
        &["frobnicate"],
        &["encode", "--format", "clm203", "--chat", "c", "--from", "b", "--secret-env", "S", "hi"],
        &["encode", "--chat", "c", "--from", "b", "--secret-env", "S", "hi"],
        &[
            "encode",
            "--format",
            "native",
            "--chat",
            "c",
            "--from",
            "b",
            "--secret-env",
            "S",
            "--epoch",
            "-1",
            "hi",
        ],
        &["decode", "--secret-env", "S", "--secret-file", "/dev/null"],
        // Ours.
        &["encode", "--format", "clm201", "--chat", "Work", "--from", "b", "--secret-env", "S", "hi"],
        &[
            "encode",
            "--format",
            "native",
            "--chat",
            "c",
            "--from",
            "b",
            "--secret-env",
            "S",
            "--nonce",
            "abc",
            "hi",
        ],
        &[
            "encode",
            "--format",
            "clm202",
            "--chat",
            "c",
            "--from",
            "b",
            "--secret-env",
            "S",
            "--chat-id",
            "1",
            "hi",
        ],
        &[
            "encode",
            "--format",
            "clm201",
            "--chat",
            "urgent",
            "--from",
            "b",
            "--secret-env",
            "S",
            "--nonce",
            "n",
            "hi",
        ],
        &["decode", "--format", "native", "--secret-env", "S", "--seed-suffix", "x"],
        &["decode", "--secret-env", "not a name"],
    ];
    for args in cases {
        let output = bridge(*args).env("S", SECRET).stdin("").run();
        assert_eq!(output.code, Some(2), "{args:?}: {}", output.stderr);
        assert_eq!(output.stdout, "", "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?} explains itself");
    }
}

#[test]
fn encode_errors_exit_2() {
    let long_sender = "x".repeat(256);
    let output = bridge([
        "encode",
        "--format",
        "native",
        "--chat",
        "c",
        "--from",
        &long_sender,
        "--secret-env",
        "S",
        "hi",
    ])
    .env("S", SECRET)
    .run();
    output.assert_code(2);
    assert_error_line(&output.stderr, "cannot encode");
}

#[test]
fn help_exits_0() {
    let output = bridge(["decode", "--help"]).run();
    output.assert_code(0);
    assert!(output.stdout.contains("--secret-env"), "{}", output.stdout);
}

/// A bridge whose chat Family is routed to a drop folder (`drop.usb`), which the caller may
/// pull out.
fn bridge_with_a_stick(test: &str) -> (crate::bridge_chats::Home, String, std::path::PathBuf) {
    let home = crate::bridge_chats::Home::new(test);
    let stick = home.dir.join("stick");
    std::fs::create_dir(&stick).expect("stick");
    let config = home.write(
        "config.toml",
        &format!("[drop.usb]\npath = {:?}\n\n[chats.Family]\nroutes = [\"drop.usb\"]\n", stick.display()),
    );
    home.run(&["--config", &config, "init", "--name", "me"]).succeeds();
    home.run(&["--config", &config, "chat", "add", "Family", "--format", "clm202", "--secret-env", "S"])
        .env("S", SECRET)
        .succeeds();
    (home, config, stick)
}

#[test]
fn send_that_only_queued_exits_3_and_delivered_exits_0() {
    let (home, config, stick) = bridge_with_a_stick("send_that_only_queued_exits_3_and_delivered_exits_0");
    home.run(&["--config", &config, "send", "--chat", "Family", "delivered"]).run().assert_code(0);
    std::fs::remove_dir_all(&stick).expect("pull the stick out");
    let queued = home.run(&["--config", &config, "send", "--chat", "Family", "queued"]).run();
    queued.assert_code(3);
    assert!(queued.stderr.contains("queued in the outbox"), "{}", queued.stderr);
    // Recorded as sent all the same.
    assert_eq!(home.history(&["--chat", "Family"]).len(), 2);
}

#[test]
fn trash_restore_and_outbox_drop_of_missing_ids_are_errors() {
    let (home, config, stick) =
        bridge_with_a_stick("trash_restore_and_outbox_drop_of_missing_ids_are_errors");
    // A received message first, so that message ids and outbox ids differ below.
    let received = encode("clm202", "Family", "bob", SECRET, &[], "hello");
    home.run(&["scan", "-"]).stdin(received).succeeds();
    home.run(&["--config", &config, "send", "--chat", "Family", "one"]).succeeds();
    let id = home.history(&[])[0]["id"].as_i64().expect("id").to_string();

    let trash = home.run(&["trash", &id, "99"]).run();
    trash.assert_code(2);
    assert!(trash.stderr.contains("1 message(s) moved to the trash"), "{}", trash.stderr);
    assert_error_line(trash.stderr.lines().last().unwrap_or_default(), "no message #99 in history");
    home.run(&["trash", &id]).succeeds();
    let restore = home.run(&["restore", "99"]).run();
    restore.assert_code(2);
    assert_error_line(restore.stderr.lines().last().unwrap_or_default(), "no message #99");
    home.run(&["restore", &id]).succeeds();

    std::fs::remove_dir_all(&stick).expect("pull the stick out");
    home.run(&["--config", &config, "send", "--chat", "Family", "two"]).run().assert_code(3);
    let outbox = home.run(&["outbox", "list", "--json"]).succeeds();
    let delivery: serde_json::Value =
        serde_json::from_str(outbox.lines().next().expect("one delivery")).expect("JSON");
    let delivery_id = delivery["id"].as_i64().expect("outbox id").to_string();
    let message_id = delivery["message_id"].as_i64().expect("message id").to_string();
    assert_ne!(message_id, delivery_id);
    // A message id is not an outbox id, and the error says so.
    let wrong = home.run(&["outbox", "drop", &message_id]).run();
    wrong.assert_code(2);
    assert!(wrong.stderr.contains("not message ids"), "{}", wrong.stderr);
    let missing = home.run(&["outbox", "drop", "999"]).run();
    missing.assert_code(2);
    assert_error_line(missing.stderr.lines().last().unwrap_or_default(), "no delivery #999 in the outbox");
    home.run(&["outbox", "drop", &delivery_id]).succeeds();
    assert_eq!(home.run(&["outbox", "list"]).succeeds(), "");
}

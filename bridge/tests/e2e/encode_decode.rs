//! encode -> decode round trips through the binary, for every format.

use serde_json::{Value, json};

use crate::support::{bridge, decode, encode, pointer_json};

const SECRET: &str = "round-trip secret ✓";
const EPOCH: &str = "1763700000";
const FROM: &str = "Алиса 🐇";

/// Texts that break naive implementations: empty, non-ASCII, emoji sequences, right-to-left,
/// NUL, the formats' own separators, JSON and shell metacharacters.
const HARD_TEXTS: &[&str] = &[
    "",
    "Привет, мир! 🌌",
    "👩‍👩‍👧‍👦 🏳️‍🌈 family",
    "שלום עולם / مرحبا بالعالم",
    "nul\0in\0the middle\0",
    "x |¶| y |¶|",
    "key: value: more: ",
    "line1\nline2\r\n\t\"quoted\" {json} \\ end",
    "-starts with a dash",
    "ends with a newline\n",
];

/// Encodes every hard text, decodes them all from one input (pointers among words), and
/// checks each line.
fn round_trip(format: &str, chat: &str, encode_extra: &[&str], decode_extra: &[&str], expected_chat: Value) {
    let mut input = String::from("Pointers follow.\n");
    for (i, text) in HARD_TEXTS.iter().enumerate() {
        let pointer = encode(format, chat, FROM, SECRET, &[&["--epoch", EPOCH], encode_extra].concat(), text);
        input.push_str(&format!("message {i}: {pointer} -- sent\n"));
    }
    let output = decode(SECRET, &[&["--format", format], decode_extra].concat(), &input);
    output.assert_code(0);
    assert_eq!(output.stderr, "", "every pointer opened");
    let expected: Vec<Value> = HARD_TEXTS
        .iter()
        .map(|text| {
            json!({"format": format, "chat": expected_chat, "from": FROM, "text": text,
                   "epoch": 1_763_700_000u64, "truncated": false})
        })
        .collect();
    assert_eq!(output.lines(), expected);
}

#[test]
fn clm201_round_trips_every_text() {
    round_trip("clm201", "urgent", &[], &[], json!("0"));
}

#[test]
fn clm201_round_trip_shows_the_chat_name_when_given() {
    round_trip("clm201", "general", &[], &["--chat", "general"], json!("general"));
}

#[test]
fn clm202_round_trips_every_text_with_the_chat_name() {
    round_trip("clm202", "Family", &[], &["--chat", "Family"], json!("Family"));
}

#[test]
fn clm202_round_trips_every_text_with_the_secret_alone() {
    round_trip("clm202", "🔐 Secrets", &[], &[], json!("🔐 Secrets"));
}

#[test]
fn native_round_trips_every_text() {
    round_trip("native", "Team", &[], &["--chat", "Team"], json!("Team"));
}

#[test]
fn native_without_chat_name_shows_null() {
    let pointer = encode("native", "Team", FROM, SECRET, &[], "hi");
    let output = decode(SECRET, &[], &pointer);
    output.assert_code(0);
    assert_eq!(output.lines()[0]["chat"], Value::Null);
    assert_eq!(output.lines()[0]["text"], "hi");
}

#[test]
fn clm202_chat_name_with_separator_splits_exactly_with_chat() {
    let pointer = encode("clm202", "a|¶|b", "alice", SECRET, &[], "c|¶|d");
    let named = decode(SECRET, &["--chat", "a|¶|b"], &pointer);
    named.assert_code(0);
    let line = &named.lines()[0];
    assert_eq!(
        (&line["chat"], &line["from"], &line["text"]),
        (&json!("a|¶|b"), &json!("alice"), &json!("c|¶|d"))
    );
    // Without --chat the name can only be read up to the first separator: why --chat exists.
    let unnamed = decode(SECRET, &[], &pointer);
    unnamed.assert_code(0);
    assert_eq!(unnamed.lines()[0]["chat"], "a");
}

/// Runs encode with the message on standard input.
fn encode_stdin(format: &str, chat: &str, stdin: &str) -> String {
    let out = bridge([
        "encode",
        "--format",
        format,
        "--chat",
        chat,
        "--from",
        "bob",
        "--secret-env",
        "S",
        "--epoch",
        "7",
    ])
    .env("S", SECRET)
    .stdin(stdin)
    .succeeds();
    out.trim_end_matches('\n').to_owned()
}

#[test]
fn message_from_stdin_loses_exactly_one_newline() {
    let cases = [
        ("plain", "plain"),
        ("one newline\n", "one newline"),
        ("two newlines\n\n", "two newlines\n"),
        ("crlf\r\n", "crlf"),
        ("multi\nline\ntext\n", "multi\nline\ntext"),
        ("\n", ""),
    ];
    for format in ["clm201", "clm202", "native"] {
        let mut input = String::new();
        for (stdin, _) in cases {
            input.push_str(&encode_stdin(format, "secrets", stdin));
            input.push('\n');
        }
        let output = decode(SECRET, &[], &input);
        output.assert_code(0);
        let texts: Vec<Value> = output.lines().iter().map(|line| line["text"].clone()).collect();
        let expected: Vec<Value> = cases.iter().map(|(_, text)| json!(text)).collect();
        assert_eq!(texts, expected, "{format}");
    }
}

#[test]
fn non_utf8_message_on_stdin_is_refused() {
    let output = bridge(["encode", "--format", "clm202", "--chat", "c", "--from", "b", "--secret-env", "S"])
        .env("S", SECRET)
        .stdin(b"caf\xe9\n")
        .run();
    output.assert_code(2);
    assert!(output.stderr.starts_with("clm-bridge: "), "{}", output.stderr);
    assert!(output.stderr.contains("UTF-8"), "{}", output.stderr);
    assert_eq!(output.stdout, "");
}

#[test]
fn encode_prints_one_json_line_with_the_given_epoch() {
    for (format, chat) in [("clm201", "urgent"), ("clm202", "c"), ("native", "c")] {
        let pointer = encode(format, chat, "bob", SECRET, &["--epoch", "1234567890"], "hello");
        assert_eq!(pointer_json(&pointer)["e"], 1_234_567_890u64, "{format}");
    }
}

#[test]
fn default_epoch_is_now() {
    let seconds = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let before = seconds();
    let pointer = encode("clm202", "c", "bob", SECRET, &[], "hello");
    let after = seconds();
    let epoch = pointer_json(&pointer)["e"].as_u64().expect("numeric epoch");
    assert!((before..=after).contains(&epoch), "{before} <= {epoch} <= {after}");
}

#[test]
fn clm202_default_nonce_is_fresh_lowercase_hex() {
    let nonces: Vec<String> = (0..2)
        .map(|_| {
            let pointer = encode("clm202", "c", "bob", SECRET, &["--epoch", "1"], "same");
            pointer_json(&pointer)["n"].as_str().expect("string nonce").to_owned()
        })
        .collect();
    for nonce in &nonces {
        assert_eq!(nonce.len(), 32, "{nonce}");
        assert!(nonce.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{nonce}");
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[test]
fn native_nonce_is_random_unless_given() {
    let random: Vec<Value> = (0..2)
        .map(|_| pointer_json(&encode("native", "c", "bob", SECRET, &["--epoch", "1"], "same")))
        .collect();
    assert_ne!(random[0]["n"], random[1]["n"]);
    assert_ne!(random[0]["d"], random[1]["d"], "a fresh nonce gives a fresh keystream");

    let fixed = ["--epoch", "1", "--nonce", "000102030405060708090a0b0c0d0e0f"];
    let first = encode("native", "c", "bob", SECRET, &fixed, "same");
    let second = encode("native", "c", "bob", SECRET, &fixed, "same");
    assert_eq!(first, second, "fixed nonce and epoch: deterministic");
    // base64url of the bytes 0..16.
    assert_eq!(pointer_json(&first)["n"], "AAECAwQFBgcICQoLDA0ODw");
}

#[test]
fn clm202_explicit_nonce_is_any_string() {
    let pointer = encode("clm202", "c", "bob", SECRET, &["--nonce", "any \"string\" ¶ at all"], "hello");
    assert_eq!(pointer_json(&pointer)["n"], "any \"string\" ¶ at all");
    let output = decode(SECRET, &["--chat", "c"], &pointer);
    output.assert_code(0);
    assert_eq!(output.lines()[0]["text"], "hello");
}

#[test]
fn clm201_custom_chat_id_and_seed_suffix() {
    let pointer = encode(
        "clm201",
        "Work",
        "bob",
        SECRET,
        &["--chat-id", "7", "--seed-suffix", "work-suffix"],
        "quarterly",
    );
    assert_eq!(pointer_json(&pointer)["c"], "7");

    let opened =
        decode(SECRET, &["--chat", "Work", "--chat-id", "7", "--seed-suffix", "work-suffix"], &pointer);
    opened.assert_code(0);
    assert_eq!(opened.lines()[0]["chat"], "Work");
    assert_eq!(opened.lines()[0]["text"], "quarterly");

    // CLM's default suffix for chat 7 is chat_7: the wrong keystream.
    let default_suffix = decode(SECRET, &["--format", "clm201"], &pointer);
    default_suffix.assert_code(1);
    assert!(default_suffix.stderr.contains("not opened"), "{}", default_suffix.stderr);

    let other_chat = decode(SECRET, &["--chat-id", "8", "--seed-suffix", "work-suffix"], &pointer);
    other_chat.assert_code(1);
    assert!(other_chat.stderr.contains("chat id \"7\""), "{}", other_chat.stderr);
}

#[test]
fn several_formats_in_one_input_all_open_without_format() {
    let clm201 = encode("clm201", "secrets", "bob", SECRET, &[], "one");
    let clm202 = encode("clm202", "c", "bob", SECRET, &[], "two");
    let native = encode("native", "c", "bob", SECRET, &[], "three");
    // Several pointers on one line.
    let output = decode(SECRET, &[], format!("{clm201} {clm202} and {native}"));
    output.assert_code(0);
    let got: Vec<(Value, Value)> =
        output.lines().iter().map(|line| (line["format"].clone(), line["text"].clone())).collect();
    assert_eq!(
        got,
        [(json!("clm201"), json!("one")), (json!("clm202"), json!("two")), (json!("native"), json!("three"))]
    );
}

//! CLM's own vectors (core's file: one copy for every test) through the binary: decoded with exact text, and
//! re-encoded byte for byte.

use serde_json::{Value, json};

use crate::support::{decode, encode};

fn vectors(format: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("../../../core/tests/vectors/clm-pointers.json"))
        .expect("vector file is JSON");
    let list: Vec<Value> = all["pointers"]
        .as_array()
        .expect("a pointers list")
        .iter()
        .filter(|v| v["format"] == format)
        .cloned()
        .collect();
    assert!(!list.is_empty(), "no {format} vectors");
    list
}

fn field<'a>(vector: &'a Value, key: &str) -> &'a str {
    vector[key].as_str().unwrap_or_else(|| panic!("vector lacks {key}: {vector}"))
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// What a clm202 vector's message really is: the published sender may have cut the plaintext,
/// so the text is what `plaintext_bytes_hex` holds after `#name|¶|from|¶|`.
fn clm202_shown_text(vector: &Value) -> String {
    let plaintext =
        String::from_utf8(hex_decode(field(vector, "plaintext_bytes_hex"))).expect("UTF-8 plaintext");
    let prefix = format!("#{}|¶|{}|¶|", field(vector, "chat_name"), field(vector, "from"));
    plaintext.strip_prefix(&prefix).expect("plaintext starts with the chat prefix").to_owned()
}

#[test]
fn clm201_vectors_decode_with_exact_text() {
    let list = vectors("clm201");
    let input: String = list.iter().map(|v| format!("> {}\n", field(v, "pointer"))).collect();
    let output = decode(field(&list[0], "secret"), &["--format", "clm201"], &input);
    output.assert_code(0);
    assert_eq!(output.stderr, "");
    let expected: Vec<Value> = list
        .iter()
        .map(|v| {
            json!({"format": "clm201", "chat": v["chat_id"], "from": v["from"], "text": v["text"],
                   "epoch": v["epoch"], "truncated": false})
        })
        .collect();
    assert_eq!(output.lines(), expected);
}

#[test]
fn clm202_vectors_decode_with_exact_text() {
    let list = vectors("clm202");
    let input: String = list.iter().map(|v| format!("{}\n", field(v, "pointer"))).collect();
    let mut chats: Vec<(&str, &str)> =
        list.iter().map(|v| (field(v, "secret"), field(v, "chat_name"))).collect();
    chats.dedup();
    assert!(chats.len() >= 2, "vectors of several chats");
    for (secret, chat) in chats {
        let mine: Vec<&Value> = list.iter().filter(|v| v["secret"] == secret).collect();
        let expected: Vec<Value> = mine
            .iter()
            .map(|v| {
                json!({"format": "clm202", "chat": chat, "from": v["from"], "text": clm202_shown_text(v),
                       "epoch": v["epoch"], "truncated": false})
            })
            .collect();
        for extra in [&["--chat", chat][..], &[]] {
            let output = decode(secret, extra, &input);
            output.assert_code(0);
            assert_eq!(output.lines(), expected, "{chat} {extra:?}");
            // The other chats' pointers are reported, one line each, without their content.
            let others = list.len() - mine.len();
            assert_eq!(output.stderr.lines().count(), others, "{}", output.stderr);
            assert!(
                output.stderr.lines().all(|l| l.starts_with("clm-bridge: clm202 pointer at input bytes "))
            );
        }
    }
}

#[test]
fn clm202_vectors_cut_by_the_published_sender_show_what_is_there() {
    let cut: Vec<Value> = vectors("clm202").into_iter().filter(|v| v["truncated"] == true).collect();
    assert!(!cut.is_empty());
    for v in cut {
        let output = decode(field(&v, "secret"), &["--chat", field(&v, "chat_name")], field(&v, "pointer"));
        output.assert_code(0);
        let shown = output.lines()[0]["text"].as_str().expect("text").to_owned();
        let full = field(&v, "text");
        assert!(full.starts_with(&shown) && shown.len() < full.len(), "{shown:?} is a cut of {full:?}");
    }
}

#[test]
fn encode_reproduces_clm201_vectors_byte_exact() {
    for v in vectors("clm201") {
        let epoch = v["epoch"].to_string();
        let extra =
            ["--chat-id", field(&v, "chat_id"), "--seed-suffix", field(&v, "seed_suffix"), "--epoch", &epoch];
        let pointer =
            encode("clm201", "any", field(&v, "from"), field(&v, "secret"), &extra, field(&v, "text"));
        assert_eq!(pointer, field(&v, "pointer"));
    }
}

#[test]
fn encode_reproduces_clm202_vectors_byte_exact() {
    // Our encoder encrypts the whole plaintext; the cut vectors come from the published
    // sender's bug and are not reproduced on purpose.
    for v in vectors("clm202").into_iter().filter(|v| v["truncated"] == false) {
        let epoch = v["epoch"].to_string();
        let extra = ["--epoch", &epoch, "--nonce", field(&v, "nonce")];
        let pointer = encode(
            "clm202",
            field(&v, "chat_name"),
            field(&v, "from"),
            field(&v, "secret"),
            &extra,
            field(&v, "text"),
        );
        assert_eq!(pointer, field(&v, "pointer"));
    }
}

//! decode finds pointers wherever they travel: among words, in HTML, in whole mails.

use serde_json::{Value, json};

use crate::support::{bridge, decode, encode, fixture};

const SECRET: &str = "detection secret";

#[test]
fn pointer_among_words_on_a_line() {
    let pointer = encode("clm202", "Family", "alice", SECRET, &[], "dinner at 8?");
    let input = format!("alice wrote: look at this {pointer}, then reply.\nbye\n");
    let output = decode(SECRET, &[], input);
    output.assert_code(0);
    assert_eq!(output.lines()[0]["text"], "dinner at 8?");
}

#[test]
fn pointer_inside_an_html_snippet_with_entities() {
    let pointer = encode("native", "Team", "bob", SECRET, &[], "<b>not markup</b> & \"quotes\"");
    let snippet = format!(
        "<div class=\"message\"><p>New pointer:</p><p><code>{}</code></p></div>",
        pointer.replace('"', "&quot;")
    );
    assert!(snippet.contains("&quot;e&quot;"));
    let output = decode(SECRET, &["--chat", "Team"], snippet);
    output.assert_code(0);
    assert_eq!(output.lines()[0]["text"], "<b>not markup</b> & \"quotes\"");
}

#[test]
fn clm201_pointer_inside_html_entities() {
    let pointer = encode("clm201", "urgent", "bob", SECRET, &[], "Привет");
    let snippet = format!("<p>{}</p>", pointer.replace('"', "&quot;"));
    let output = decode(SECRET, &[], snippet);
    output.assert_code(0);
    assert_eq!(output.lines()[0]["text"], "Привет");
}

/// The same pointer in the quoted-printable text part (soft-broken inside the hex) and in the
/// base64 HTML part of a multipart/alternative mail: reported once.
#[test]
fn multipart_alternative_mail_reports_the_pointer_once() {
    let path = fixture("multipart-alternative.eml");
    let output = bridge(["decode", "--secret-env", "S", path.to_str().expect("UTF-8 path")])
        .env("S", "mom-bday-2025")
        .run();
    output.assert_code(0);
    assert_eq!(output.stderr, "");
    assert_eq!(
        output.lines(),
        [json!({"format": "clm202", "chat": "Family", "from": "alice", "text": "Привет, мир! 🌌",
                "epoch": 1_763_700_001u64, "truncated": false})]
    );
}

/// The text of the vector the mixed fixture's text part carries (Work, epoch 1763700039).
fn work_vector_text() -> Value {
    let all: Value = serde_json::from_str(include_str!("../../../core/tests/vectors/clm-pointers.json"))
        .expect("vector file is JSON");
    let vector = all["pointers"]
        .as_array()
        .expect("a pointers list")
        .iter()
        .find(|v| v["chat_name"] == "Work" && v["epoch"] == 1_763_700_039u64)
        .expect("the Work vector of epoch 1763700039");
    vector["text"].clone()
}

/// multipart/mixed: a format=flowed text part whose long hex value is hard-wrapped by the
/// "client", and an HTML attachment holding another chat's pointer.
#[test]
fn multipart_mixed_mail_with_wrapped_value_and_html_attachment() {
    let path = fixture("multipart-mixed-wrapped.eml");
    let mail = std::fs::read(&path).expect("fixture is readable");
    let from_stdin = |secret: &str| decode(secret, &[], &mail);

    let work = from_stdin("q1-project-alpha");
    work.assert_code(0);
    let line = &work.lines()[0];
    assert_eq!((&line["chat"], &line["epoch"]), (&json!("Work"), &json!(1_763_700_039u64)));
    assert_eq!(line["text"], work_vector_text());
    assert!(work.stderr.contains("mail part"), "the other pointer is reported: {}", work.stderr);

    let family = from_stdin("mom-bday-2025");
    family.assert_code(0);
    let chats: Vec<Value> = family.lines().iter().map(|l| l["chat"].clone()).collect();
    assert_eq!(chats, [json!("Family")]);
}

#[test]
fn rejected_candidates_are_reported_on_stderr() {
    let good = encode("clm202", "c", "bob", SECRET, &[], "ok");
    let input = format!("{{\"e\": 1, \"n\": \"x\", \"d\": \"not hex\"}}\n{good}\n");
    let output = decode(SECRET, &[], input);
    output.assert_code(0);
    assert_eq!(output.lines().len(), 1);
    assert!(
        output.stderr.starts_with("clm-bridge: rejected pointer-like text at input bytes 0.."),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("`d`"), "{}", output.stderr);
}

//! What `detect` finds, and where, in the kinds of text pointers travel in: chat messages, HTML,
//! quoted replies, wrapped lines and whole MIME mails. Every test states the exact pointers,
//! spans, origins and rejections it expects.
//!
//! The mails in `mail/*.eml` were written by Python's `email` package
//! (scripts/vectors/make_mail_fixtures.py), so their MIME encoding is a real library's.

use std::ops::Range;

use clm_core::detect::MAX_VALUE_CHARS;
use clm_core::{
    Clm201Chat, Clm202Chat, Detection, Format, Found, NativeKeys, Origin, Pointer, PointerError, Rejected,
    detect, parse,
};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde_json::Value;

// --- pointers ---------------------------------------------------------------------------------

/// A pointer text from the CLM vector file, picked by format, chat (id or name) and message start.
fn vector(format: &str, chat: &str, text_start: &str) -> String {
    let all: Value =
        serde_json::from_str(include_str!("vectors/clm-pointers.json")).expect("vector file is JSON");
    let chat_key = if format == "clm201" { "chat_id" } else { "chat_name" };
    all["pointers"]
        .as_array()
        .expect("pointers array")
        .iter()
        .find(|v| {
            v["format"] == format
                && v[chat_key] == chat
                && v["text"].as_str().is_some_and(|t| t.starts_with(text_start))
        })
        .and_then(|v| v["pointer"].as_str())
        .unwrap_or_else(|| panic!("no {format} vector for {chat} / {text_start}"))
        .to_owned()
}

fn clm201_hello() -> String {
    vector("clm201", "0", "hello")
}
fn clm201_long() -> String {
    vector("clm201", "2", "aaaa")
}
fn clm202_family_hello() -> String {
    vector("clm202", "Family", "hello")
}
fn clm202_family_long() -> String {
    vector("clm202", "Family", "aaaa")
}
fn clm202_work_ru() -> String {
    vector("clm202", "Work", "Привет")
}

fn native_keys() -> NativeKeys {
    NativeKeys::from_root(&[7; 32])
}

/// Also in scripts/vectors/make_mail_fixtures.py (`NATIVE_SHORT`).
fn native_short() -> String {
    let nonce = std::array::from_fn(|i| i as u8);
    let pointer = native_keys().encode("alice", "native hello from mail", 1795444840, nonce).unwrap();
    Pointer::Native(pointer).to_json()
}

/// Also in scripts/vectors/make_mail_fixtures.py (`NATIVE_LONG`).
fn native_long() -> String {
    let text = "A longer native message, long enough that mail clients wrap its base64 value. ".repeat(3);
    let pointer = native_keys().encode("bob", &text, 1795444841, [0xa5; 16]).unwrap();
    Pointer::Native(pointer).to_json()
}

/// The pointer a canonical text stands for.
fn pointer(json: &str) -> Pointer {
    parse(json).unwrap_or_else(|e| panic!("{json} does not parse: {e}"))
}

// --- text helpers -----------------------------------------------------------------------------

/// Byte range of the first occurrence of `needle` in `text`.
fn at(text: &str, needle: &str) -> Range<usize> {
    at_from(text, needle, 0)
}

fn at_from(text: &str, needle: &str, from: usize) -> Range<usize> {
    let start = from + text[from..].find(needle).unwrap_or_else(|| panic!("{needle:?} not in text"));
    start..start + needle.len()
}

fn found(json: &str, span: Range<usize>, origin: Origin) -> Found {
    Found { pointer: pointer(json), span, origin }
}

/// Where the `d` value's characters start in a pointer text.
fn d_value_start(json: &str) -> usize {
    let key = json.find("\"d\"").expect("a d key");
    key + json[key..].find(": \"").map_or_else(|| json[key..].find(":\"").unwrap() + 2, |i| i + 3)
}

/// Re-renders `json` with `sep` inserted into its `d` value every `every` characters.
fn wrap_d(json: &str, every: usize, sep: &str) -> String {
    let start = d_value_start(json);
    let end = start + json[start..].find('"').unwrap();
    let value = &json[start..end];
    let pieces: Vec<&str> = value.as_bytes().chunks(every).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("{}{}{}", &json[..start], pieces.join(sep), &json[end..])
}

/// Runs the detector and checks, for every pointer found in the input itself, that its span
/// slices back to text that `parse` reads as the same pointer.
fn detect_text(text: &str) -> Detection {
    let detection = detect(text.as_bytes());
    assert_slices_back(text.as_bytes(), &detection, Origin::Input);
    detection
}

fn assert_slices_back(text: &[u8], detection: &Detection, origin: Origin) {
    for f in detection.found.iter().filter(|f| f.origin == origin) {
        let slice = std::str::from_utf8(&text[f.span.clone()]).expect("span on char boundaries");
        assert_eq!(parse(slice).as_ref(), Ok(&f.pointer), "span {:?} = {slice:?}", f.span);
    }
}

fn html_quot(json: &str) -> String {
    json.replace('"', "&quot;")
}

// --- plain text -------------------------------------------------------------------------------

#[test]
fn plain_chat_text_with_words_around() {
    let json = clm201_hello();
    let text = format!("hey, look at this {json} pretty neat right?");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &json), Origin::Input)]);
    assert_eq!(detection.found[0].pointer.format(), Format::Clm201);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn several_pointers_on_one_line() {
    let (a, b, c) = (clm201_hello(), clm202_family_hello(), native_short());
    let text = format!("first {a} then{b}and finally:{c}!");
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![
            found(&a, at(&text, &a), Origin::Input),
            found(&b, at(&text, &b), Origin::Input),
            found(&c, at(&text, &c), Origin::Input),
        ]
    );
    let formats: Vec<Format> = detection.found.iter().map(|f| f.pointer.format()).collect();
    assert_eq!(formats, [Format::Clm201, Format::Clm202, Format::Native]);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn keys_in_any_order_and_any_spacing() {
    let canonical_201 = clm201_hello();
    let canonical_202 = clm202_family_hello();
    let canonical_native = native_short();
    let Pointer::Native(n) = pointer(&canonical_native) else { panic!("native") };
    let native_fields: Value = serde_json::from_str(&canonical_native).unwrap();
    let field = |k: &str| native_fields[k].as_str().unwrap().to_owned();

    let reordered_201 = "{ \"d\" :\"d7ab4dc2ca015f8cd8b2a36f\" ,\n  \"c\":\"0\",\n\t\"e\" :  1795444840 }";
    let chat_id_as_number = "{\"e\":1795444840,\"c\":0,\"d\":\"d7ab4dc2ca015f8cd8b2a36f\"}";
    let compact_202 = canonical_202.replace(": ", ":").replace(", ", ",");
    let reordered_202 = format!(
        "{{\r\n\"n\":\r\n\"0123456789abcdef\",\r\n\"d\":{},\r\n\"e\":1763700000\r\n}}",
        &compact_202[compact_202.find("\"d23c").unwrap()..compact_202.rfind('"').unwrap() + 1]
    );
    let reversed_native = format!(
        "{{\n  \"m\": \"{}\",\n  \"d\": \"{}\",\n  \"n\": \"{}\",\n  \"e\": {},\n  \"t\": \"{}\",\n  \"v\": 1\n}}",
        field("m"),
        field("d"),
        field("n"),
        n.epoch,
        field("t")
    );
    let text = format!(
        "a {reordered_201} b {reordered_202} c {reversed_native} d {compact_202} e {chat_id_as_number}"
    );
    let detection = detect_text(&text);
    // The compact clm202 and the numeric chat id are the same pointers as earlier ones: once each.
    assert_eq!(
        detection.found,
        vec![
            found(&canonical_201, at(&text, reordered_201), Origin::Input),
            found(&canonical_202, at(&text, &reordered_202), Origin::Input),
            found(&canonical_native, at(&text, &reversed_native), Origin::Input),
        ]
    );
    assert_eq!(detect_text(chat_id_as_number).found[0].pointer, pointer(&canonical_201));
    assert_eq!(detect_text(&compact_202).found[0].pointer, pointer(&canonical_202));
    assert_eq!(detection.rejected, vec![]);
}

// --- HTML -------------------------------------------------------------------------------------

#[test]
fn html_quot_entities_and_tags_around() {
    let (a, b) = (clm202_family_hello(), native_short());
    let text = format!("<div dir=\"ltr\"><p>{}</p><p><b>{}</b></p></div>", html_quot(&a), html_quot(&b));
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![
            found(&a, at(&text, &html_quot(&a)), Origin::Input),
            found(&b, at(&text, &html_quot(&b)), Origin::Input),
        ]
    );
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn html_numeric_quote_entities() {
    let (a, b) = (clm201_hello(), clm202_family_hello());
    let decimal = a.replace('"', "&#34;");
    let hexadecimal = b.replace('"', "&#x22;");
    let text = format!("<span>{decimal}</span> and <span>{hexadecimal}</span>");
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![
            found(&a, at(&text, &decimal), Origin::Input),
            found(&b, at(&text, &hexadecimal), Origin::Input)
        ]
    );
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn html_literal_quotes_inside_tags() {
    let json = clm201_long();
    let text = format!("<html><body><div><span style=\"x\">{json}</span></div></body></html>");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &json), Origin::Input)]);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn html_pre_code_block() {
    let json = native_long();
    let rendered = html_quot(&json);
    let text = format!("<p>Here:</p>\n<pre><code>{rendered}\n</code></pre>");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &rendered), Origin::Input)]);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn html_tags_between_keys() {
    // How a rich-text editor breaks a pointer over lines: `<br>` after each comma.
    let json = clm202_family_hello();
    let rendered = html_quot(&json).replace(", ", ",<br>\n");
    let text = format!("<div>{rendered}</div>");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &rendered), Origin::Input)]);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn html_wbr_and_br_inside_a_wrapped_value() {
    let (a, b) = (clm201_long(), native_long());
    let with_wbr = html_quot(&wrap_d(&a, 64, "<wbr>"));
    let with_br = html_quot(&wrap_d(&b, 50, "<br>\n"));
    let text = format!("<p>{with_wbr}</p>\n<p>{with_br}</p>");
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![found(&a, at(&text, &with_wbr), Origin::Input), found(&b, at(&text, &with_br), Origin::Input)]
    );
    assert_eq!(detection.rejected, vec![]);
}

// --- quoted replies and wrapping --------------------------------------------------------------

#[test]
fn quoted_reply_with_pointer_split_across_quoted_lines() {
    let json = clm201_hello();
    // Split between keys and inside the hex value.
    let quoted = json.replace("\"e\"", "\n> \"e\"").replace("ca015f", "ca\n> 015f");
    let text = format!("On Monday Alice wrote:\n> look:\n> {quoted}\n> bye\n\nThanks!");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &quoted), Origin::Input)]);
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn doubly_quoted_reply_with_wrapped_hex() {
    let (a, b) = (clm202_family_long(), clm201_long());
    let nested = wrap_d(&a, 70, "\n> > ");
    let quoted = wrap_d(&b, 72, "\r\n> ");
    let text = format!("> > {nested}\n> >\n> {quoted}\r\n> \r\nreply text");
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![found(&a, at(&text, &nested), Origin::Input), found(&b, at(&text, &quoted), Origin::Input)]
    );
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn whitespace_and_line_breaks_inside_long_values() {
    let (a, b, c) = (clm201_long(), clm202_work_ru(), native_long());
    let newlines = wrap_d(&a, 76, "\n");
    let mixed = wrap_d(&b, 16, " \t\r\n  \u{a0}");
    let spaced = wrap_d(&c, 10, " ");
    let text = format!("{newlines}\n{mixed}\n{spaced}");
    let detection = detect_text(&text);
    assert_eq!(
        detection.found,
        vec![
            found(&a, at(&text, &newlines), Origin::Input),
            found(&b, at(&text, &mixed), Origin::Input),
            found(&c, at(&text, &spaced), Origin::Input),
        ]
    );
    assert_eq!(detection.rejected, vec![]);
}

#[test]
fn the_same_pointer_twice_is_reported_once() {
    let json = clm202_work_ru();
    let wrapped = wrap_d(&json, 20, "\n> ");
    let text = format!("{json}\nagain: {json}\nquoted:\n> {wrapped}");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&json, at(&text, &json), Origin::Input)]);
    assert_eq!(detection.rejected, vec![]);
}

// --- what is not a pointer --------------------------------------------------------------------

#[test]
fn json_that_is_not_a_pointer_is_not_reported() {
    for text in [
        r#"{"a":1}"#,
        r#"settings: {"c": "0", "e": 1795444840, "d": "d7ab4dc2ca015f8cd8b2a36f", "x": 1}"#,
        r#"{"v":1,"e":1,"d":"abcd","q":2}"#,
        r#"{"e": "1795444840", "n": "x", "d": "abcd"}"#,
        "{}",
        "{",
        "}{",
    ] {
        assert_eq!(detect_text(text), Detection::default(), "{text}");
    }
}

#[test]
fn objects_of_pointer_keys_matching_no_format_are_rejected_not_found() {
    // Only keys pointers use, but no format's set of them: a pointer that lost a key, so the
    // detector reports it as rejected (never as found).
    for text in [r#"{"e":1,"d":"zz"}"#, r#"{"c": "0", "e": 1795444840}"#, r#"{"d": "abcd"}"#] {
        assert_eq!(
            detect_text(text),
            Detection {
                found: vec![],
                rejected: vec![Rejected {
                    span: 0..text.len(),
                    origin: Origin::Input,
                    error: PointerError::InvalidField { field: "{}", reason: "keys match no pointer format" },
                }]
            },
            "{text}"
        );
    }
}

#[test]
fn a_value_over_the_size_cap_is_rejected_and_detection_continues() {
    let huge =
        format!("{{\"c\": \"0\", \"e\": 1795444840, \"d\": \"{}\"}}", "ab".repeat(MAX_VALUE_CHARS / 2 + 1));
    let after = clm201_hello();
    let text = format!("big: {huge} then {after}");
    let detection = detect_text(&text);
    assert_eq!(detection.found, vec![found(&after, at(&text, &after), Origin::Input)]);
    assert_eq!(detection.rejected.len(), 1);
    let rejected = &detection.rejected[0];
    assert_eq!(rejected.error, PointerError::TooLarge { field: "d", max: MAX_VALUE_CHARS });
    assert_eq!(rejected.origin, Origin::Input);
    let huge_span = at(&text, &huge);
    assert_eq!(rejected.span.start, huge_span.start);
    // The reader consumed the whole value before giving up, so scanning resumed after it.
    assert!(rejected.span.end > huge_span.start + MAX_VALUE_CHARS, "{:?}", rejected.span);
    assert!(rejected.span.end <= huge_span.end, "{:?}", rejected.span);
}

#[test]
fn a_value_at_the_size_cap_is_not_too_large() {
    // Exactly MAX_VALUE_CHARS hex characters: as large as allowed.
    let text = format!("{{\"c\": \"0\", \"e\": 1, \"d\": \"{}\"}}", "ab".repeat(MAX_VALUE_CHARS / 2));
    let detection = detect(text.as_bytes());
    assert_eq!(detection.rejected, vec![]);
    assert_eq!(detection.found.len(), 1);
    assert_eq!(detection.found[0].span, 0..text.len());
}

#[test]
fn odd_length_hex_is_rejected() {
    let bad = r#"{"c": "0", "e": 1795444840, "d": "d7ab4dc2ca015f8cd8b2a36"}"#;
    let good = clm202_family_hello();
    let text = format!("{bad} {good}");
    let detection = detect_text(&text);
    assert_eq!(
        detection.rejected,
        vec![Rejected {
            span: at(&text, bad),
            origin: Origin::Input,
            error: PointerError::InvalidField { field: "d", reason: "not hex" },
        }]
    );
    assert_eq!(detection.found, vec![found(&good, at(&text, &good), Origin::Input)]);
    assert_eq!(parse(bad), Err(PointerError::InvalidField { field: "d", reason: "not hex" }));
}

#[test]
fn canonical_text_parses_back_whatever_the_nonce_or_chat_id() {
    // A clm202 nonce is any string and a clm201 chat id any non-empty one; our own encoder
    // writes them into the pointer text verbatim. Whatever it accepts, `parse` and `detect`
    // must give back: text such as `<b` or `&quot;` inside them must not switch the reader into
    // HTML mode, and a value the reader would not take must be refused by the encoder.
    let family = Clm202Chat::new("mom-bday-2025", "Family");
    let long = "n".repeat(2000);
    let mut encoded = Vec::new();
    for nonce in ["<b>", "a<b", "a</b", "<!--", "&quot;", "x&#34;y", "a&amp;b", long.as_str()] {
        if let Ok(pointer) = family.encode("alice", "hi", 1763700000, nonce) {
            encoded.push(Pointer::Clm202(pointer));
        }
    }
    for chat_id in ["<x", "a&lt;b", long.as_str()] {
        let chat = Clm201Chat::new("correct horse battery staple", chat_id, None);
        if let Ok(pointer) = chat.and_then(|chat| chat.encode("alice", "hi", 1795444840)) {
            encoded.push(Pointer::Clm201(pointer));
        }
    }
    let mut failures = Vec::new();
    for pointer in encoded {
        let json = pointer.to_json();
        let shown = || json.chars().take(80).collect::<String>();
        if parse(&json).as_ref() != Ok(&pointer) {
            failures.push(format!("parse {} -> {:?}", shown(), parse(&json).map(|p| p.to_json())));
        }
        let detection = detect(json.as_bytes());
        if detection.found != [Found { pointer, span: 0..json.len(), origin: Origin::Input }] {
            let got: Vec<String> = detection.found.iter().map(|f| f.pointer.to_json()).collect();
            failures.push(format!("detect {} -> {got:?} {:?}", shown(), detection.rejected));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn parse_wants_exactly_one_pointer() {
    assert_eq!(parse("nothing here"), Err(PointerError::NotFound));
    let two = format!("{} {}", clm201_hello(), native_short());
    assert_eq!(parse(&two), Err(PointerError::SeveralFound(2)));
}

#[test]
fn spans_slice_back_to_text_that_parse_accepts() {
    let text = format!(
        "x {} y\n> {}\n{} <b>{}</b>",
        wrap_d(&clm201_long(), 33, "\n> "),
        clm202_work_ru(),
        wrap_d(&native_long(), 9, " \r\n"),
        clm201_hello(),
    );
    let detection = detect(text.as_bytes());
    assert_eq!(detection.found.len(), 4);
    for f in &detection.found {
        assert_eq!(parse(&text[f.span.clone()]), Ok(f.pointer.clone()));
        assert_eq!(text.as_bytes()[f.span.start], b'{');
        assert_eq!(text.as_bytes()[f.span.end - 1], b'}');
    }
}

// --- MIME mails -------------------------------------------------------------------------------

/// The decoded texts the detector scans in a mail, numbered as `Origin::MailPart` numbers them:
/// text and HTML parts and text-like attachments, in parse order.
fn scanned_texts(eml: &[u8]) -> Vec<Vec<u8>> {
    fn walk(message: &mail_parser::Message<'_>, out: &mut Vec<Vec<u8>>) {
        for part in &message.parts {
            match &part.body {
                PartType::Text(text) | PartType::Html(text) => out.push(text.as_bytes().to_vec()),
                PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                    let textual = part.content_type().is_some_and(|ct| {
                        ct.ctype() == "text" || (ct.ctype() == "application" && ct.subtype() == Some("json"))
                    });
                    if textual {
                        out.push(bytes.to_vec());
                    }
                }
                PartType::Message(nested) => walk(nested, out),
                PartType::Multipart(_) => {}
            }
        }
    }
    let message = MessageParser::default().parse(eml).expect("fixture is a mail");
    let mut out = Vec::new();
    walk(&message, &mut out);
    out
}

/// How a pointer appears in a mail part: its quotes rendered as `quote`, possibly wrapped.
/// The span runs from its opening text (up to the `d` value) to its last 6 characters.
fn span_in(text: &[u8], json: &str, quote: &str) -> Range<usize> {
    let text = std::str::from_utf8(text).expect("decoded part is UTF-8");
    let head = json[..d_value_start(json)].replace('"', quote);
    let tail = json[json.len() - 6..].replace('"', quote);
    let start = at(text, &head).start;
    start..at_from(text, &tail, start).end
}

/// Detects in a mail fixture and checks the result against `expected`: (pointer text, part
/// number, how its quotes are rendered in that part).
fn check_mail(eml: &[u8], expected: &[(&str, usize, &str)]) {
    let detection = detect(eml);
    let texts = scanned_texts(eml);
    let wanted: Vec<Found> = expected
        .iter()
        .map(|&(json, part, quote)| found(json, span_in(&texts[part], json, quote), Origin::MailPart(part)))
        .collect();
    assert_eq!(detection.found, wanted);
    assert_eq!(detection.rejected, vec![]);
    for (part, text) in texts.iter().enumerate() {
        assert_slices_back(text, &detection, Origin::MailPart(part));
    }
}

#[test]
fn mail_quoted_printable_text() {
    check_mail(include_bytes!("mail/qp_plain.eml"), &[(&clm201_long(), 0, "\"")]);
}

#[test]
fn mail_base64_text() {
    check_mail(include_bytes!("mail/base64_plain.eml"), &[(&native_short(), 0, "\"")]);
}

#[test]
fn mail_alternative_reports_text_and_html_copies_once() {
    let eml = include_bytes!("mail/alternative.eml");
    // Both parts hold both pointers; the HTML copies are duplicates.
    let texts = scanned_texts(eml);
    assert_eq!(texts.len(), 2);
    assert!(std::str::from_utf8(&texts[1]).unwrap().contains(&html_quot(&native_short())));
    check_mail(eml, &[(&clm202_family_hello(), 0, "\""), (&native_short(), 0, "\"")]);
}

#[test]
fn mail_html_only() {
    check_mail(
        include_bytes!("mail/html_only.eml"),
        &[(&native_long(), 0, "&quot;"), (&clm201_hello(), 0, "&#34;")],
    );
}

#[test]
fn mail_format_flowed_with_soft_breaks_inside_values() {
    let expected = [(clm202_family_long(), 0, "\""), (native_long(), 0, "\"")];
    let expected: Vec<(&str, usize, &str)> = expected.iter().map(|(j, p, q)| (j.as_str(), *p, *q)).collect();
    check_mail(include_bytes!("mail/flowed.eml"), &expected);
    check_mail(include_bytes!("mail/flowed_delsp.eml"), &expected);
}

#[test]
fn mail_reply_quoting_pointers() {
    check_mail(
        include_bytes!("mail/reply_quoted.eml"),
        &[(&clm201_long(), 0, "\""), (&clm202_work_ru(), 0, "\"")],
    );
}

#[test]
fn mail_iso_8859_1_charset() {
    let eml = include_bytes!("mail/latin1.eml");
    let text = String::from_utf8(scanned_texts(eml).remove(0)).unwrap();
    assert!(text.starts_with("Voilà le pointeur du café crème : "), "{text}");
    check_mail(eml, &[(&clm202_work_ru(), 0, "\"")]);
    let span = &detect(eml).found[0].span;
    assert_eq!(span.start, "Voilà le pointeur du café crème : ".len());
}

#[test]
fn mail_pointers_in_text_and_json_attachments() {
    // Part 0 is the body, 1 the text/plain attachment, 2 the application/json one; the
    // application/octet-stream attachment is not scanned.
    check_mail(
        include_bytes!("mail/attachments.eml"),
        &[(&native_short(), 1, "\""), (&clm201_hello(), 2, "\"")],
    );
}

#[test]
fn mail_without_pointers_finds_nothing() {
    assert_eq!(detect(include_bytes!("mail/no_pointer.eml")), Detection::default());
}

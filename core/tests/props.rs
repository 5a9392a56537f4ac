//! Property tests: every format round-trips any message, the detector finds what was embedded
//! (however it was wrapped or HTML-escaped), arbitrary input never panics, keystreams are
//! position-independent, and a native pointer with any bit flipped never opens to another message.
//!
//! Case counts are modest so the suite takes seconds in a debug build; set PROPTEST_CASES to
//! run more. A failure prints the minimal input and its seed goes to `props.proptest-regressions`
//! beside this file: commit it, and the case runs first in every later run.

use std::ops::Range;

use clm_core::{
    Clm201Chat, Clm202Chat, EncodeError, Found, Keystream, Native2Keys, NativeKeys, Origin, Pointer, detect,
    parse,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    }
}

// --- strategies -------------------------------------------------------------------------------

/// Text the formats must carry: arbitrary Unicode (with and without control characters), and
/// pieces that are separators in some format or otherwise awkward.
fn message() -> impl Strategy<Value = String> {
    let awkward = prop_oneof![
        any::<String>(),
        Just("\0".to_owned()),
        Just("|¶|".to_owned()),
        Just("|¶".to_owned()),
        Just(": ".to_owned()),
        Just("\r\n".to_owned()),
        Just("🌌".to_owned()),
        Just("\u{202e}שלום مرحبا".to_owned()),
        Just("{\"d\": \"ab\"}".to_owned()),
    ];
    prop_oneof![
        prop::string::string_regex(".*").unwrap(),
        any::<String>(),
        prop::collection::vec(awkward, 0..8).prop_map(|pieces| pieces.concat()),
    ]
}

/// A sender name: like a message, but at most 255 bytes (the native format's limit).
fn sender() -> impl Strategy<Value = String> {
    message().prop_map(|mut s| {
        while s.len() > 255 {
            s.pop();
        }
        s
    })
}

/// Values that travel in clear inside the JSON (clm201 chat id, clm202 nonce): any character but
/// `<` and `&`, which an HTML-looking pointer text reads as markup (see detect.rs,
/// `canonical_text_parses_back_whatever_the_nonce_or_chat_id`), and at most 100 characters.
fn clear_value() -> impl Strategy<Value = String> {
    prop::string::string_regex("[^<&]{1,100}").unwrap()
}

/// A native nonce.
fn nonce16() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

// --- round trips ------------------------------------------------------------------------------

/// CLM v2.0.1 plaintext is `"{from}: {message}"`, split at the first `": "`: a sender that
/// contains `": "` cannot come back (a limit of the format), so the encoder must refuse it.
fn clm201_splits(from: &str) -> bool {
    !from.contains(": ")
}

/// CLM v2.0.2 plaintext is `"#{name}|¶|{from}|¶|{message}"`, the sender read up to the first
/// `|¶|` after the name: a sender containing `|¶|`, or ending so that its tail and the separator
/// form an earlier `|¶|` (`"x|¶"`), cannot come back, so the encoder must refuse it.
fn clm202_splits(from: &str) -> bool {
    format!("{from}|¶|").find("|¶|") == Some(from.len())
}

/// Encodes, writes the canonical text, parses it and opens it: the same sender, message and
/// epoch must come back. A sender the format cannot split must be refused instead.
fn clm201_round_trip(chat_id: &str, from: &str, text: &str, epoch: u64) -> Result<(), TestCaseError> {
    let chat = Clm201Chat::new("correct horse battery staple", chat_id, None).unwrap();
    let encoded = chat.encode(from, text, epoch);
    if !clm201_splits(from) {
        prop_assert!(matches!(encoded, Err(EncodeError::InvalidSender(_))), "sender {:?} accepted", from);
        return Ok(());
    }
    let json = Pointer::Clm201(encoded.unwrap()).to_json();
    let Ok(Pointer::Clm201(parsed)) = parse(&json) else {
        return Err(TestCaseError::fail(format!("{json} did not parse as clm201")));
    };
    let opened = chat.open(&parsed).unwrap();
    prop_assert_eq!((opened.from.as_str(), opened.text.as_str(), opened.epoch), (from, text, epoch));
    prop_assert!(!opened.truncated);
    Ok(())
}

fn clm202_round_trip(
    name: &str,
    nonce: &str,
    from: &str,
    text: &str,
    epoch: u64,
) -> Result<(), TestCaseError> {
    let chat = Clm202Chat::new("mom-bday-2025", name);
    let encoded = chat.encode(from, text, epoch, nonce);
    if !clm202_splits(from) {
        prop_assert!(matches!(encoded, Err(EncodeError::InvalidSender(_))), "sender {:?} accepted", from);
        return Ok(());
    }
    let json = Pointer::Clm202(encoded.unwrap()).to_json();
    let Ok(Pointer::Clm202(parsed)) = parse(&json) else {
        return Err(TestCaseError::fail(format!("{json} did not parse as clm202")));
    };
    let opened = chat.open(&parsed).unwrap();
    prop_assert_eq!((opened.from.as_str(), opened.text.as_str(), opened.epoch), (from, text, epoch));
    prop_assert_eq!(opened.chat_name.as_deref(), Some(name));
    prop_assert!(!opened.truncated);
    Ok(())
}

fn native_round_trip(from: &str, text: &str, epoch: u64, nonce: [u8; 16]) -> Result<(), TestCaseError> {
    let keys = NativeKeys::from_root(&[7; 32]);
    let json = Pointer::Native(keys.encode(from, text, epoch, nonce).unwrap()).to_json();
    let Ok(Pointer::Native(parsed)) = parse(&json) else {
        return Err(TestCaseError::fail(format!("{json} did not parse as native")));
    };
    let opened = keys.open(&parsed).unwrap();
    prop_assert_eq!((opened.from.as_str(), opened.text.as_str(), opened.epoch), (from, text, epoch));
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn clm201_round_trips(chat_id in clear_value(), from in sender(), text in message(), epoch in any::<u64>()) {
        clm201_round_trip(&chat_id, &from, &text, epoch)?;
    }

    #[test]
    fn clm202_round_trips(
        name in message(),
        nonce in clear_value(),
        from in sender(),
        text in message(),
        epoch in any::<u64>(),
    ) {
        // Any chat name, `|¶|` included: the chat's exact prefix is matched.
        clm202_round_trip(&name, &nonce, &from, &text, epoch)?;
    }

    #[test]
    fn native_round_trips(from in sender(), text in message(), epoch in any::<u64>(), nonce in nonce16()) {
        native_round_trip(&from, &text, epoch, nonce)?;
    }
}

/// One mebibyte of mixed-width characters (1-, 2-, 3- and 4-byte UTF-8, NUL, separators).
fn mebibyte_message() -> String {
    let unit = "a\0é€🌌|¶|: \n";
    let mut text = unit.repeat((1 << 20) / unit.len());
    while text.len() < 1 << 20 {
        text.push('x');
    }
    assert_eq!(text.len(), 1 << 20);
    text
}

#[test]
fn clm201_round_trips_a_mebibyte() {
    clm201_round_trip("7", "alice", &mebibyte_message(), 1795444840).unwrap();
}

#[test]
fn clm202_round_trips_a_mebibyte() {
    clm202_round_trip("Family", "0123456789abcdef", "alice", &mebibyte_message(), 1795444840).unwrap();
}

#[test]
fn clm_senders_the_format_cannot_split_are_refused_or_round_trip() {
    for from in ["x|¶", "|¶", "a|¶|b"] {
        clm202_round_trip("Family", "0123456789abcdef", from, "¶| message", 1763700000).unwrap();
    }
    for from in ["x: y", ": ", "x:"] {
        clm201_round_trip("0", from, " message", 1795444840).unwrap();
    }
}

#[test]
fn native_round_trips_a_mebibyte() {
    native_round_trip("alice", &mebibyte_message(), 1795444840, [9; 16]).unwrap();
}

// --- detect what you embed --------------------------------------------------------------------

/// A pointer of any format with a random message. Clear values use a plain alphabet so the
/// embedding, not the value, is what is tested.
fn any_pointer() -> impl Strategy<Value = Pointer> {
    let safe = "[a-z0-9_-]{1,24}";
    prop_oneof![
        (prop::string::string_regex(safe).unwrap(), "[a-z]{1,8}", message(), any::<u64>()).prop_map(
            |(chat_id, from, text, epoch)| {
                let chat = Clm201Chat::new("seed", &chat_id, None).unwrap();
                Pointer::Clm201(chat.encode(&from, &text, epoch).unwrap())
            }
        ),
        (prop::string::string_regex(safe).unwrap(), "[a-z]{1,8}", message(), any::<u64>()).prop_map(
            |(nonce, from, text, epoch)| {
                let chat = Clm202Chat::new("secret", "Family");
                Pointer::Clm202(chat.encode(&from, &text, epoch, &nonce).unwrap())
            }
        ),
        ("[a-z]{1,8}", message(), any::<u64>(), nonce16()).prop_map(|(from, text, epoch, nonce)| {
            Pointer::Native(NativeKeys::from_root(&[7; 32]).encode(&from, &text, epoch, nonce).unwrap())
        }),
        ("[a-z]{1,8}", message(), any::<u64>(), any::<[u8; 24]>()).prop_map(|(from, text, epoch, nonce)| {
            Pointer::Native2(Native2Keys::from_root(&[7; 32]).encode(&from, &text, epoch, nonce).unwrap())
        }),
    ]
}

/// Byte range of the `d` value's characters (inside its quotes) in a canonical pointer text.
fn d_value(json: &str) -> Range<usize> {
    let key = json.find("\"d\":").expect("a d key");
    let start = key + 4 + json[key + 4..].find('"').expect("opening quote") + 1;
    start..start + json[start..].find('"').expect("closing quote")
}

/// Arbitrary text with no `{` (where a pointer could start).
fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::string::string_regex("[^{]*").unwrap(),
        any::<String>().prop_map(|s| s.replace('{', "")),
        prop::collection::vec(
            prop_oneof![
                Just("\n> ".to_owned()),
                Just("\"d\": \"".to_owned()),
                Just("<b>".to_owned()),
                Just("&quot;".to_owned()),
                Just("}".to_owned()),
                Just(" ".to_owned()),
                "[a-f0-9]{0,12}",
            ],
            0..6
        )
        .prop_map(|pieces| pieces.concat()),
    ]
}

/// Whether the detector might read `text` as a mail (and report spans in decoded parts): a
/// mail's header block ends at a blank line, so text without one is never read as a mail.
fn could_be_a_mail(text: &str) -> bool {
    text.contains("\n\n") || text.contains("\n\r\n")
}

/// Lays out `fillers[0] p0 fillers[1] p1 ...`, returning the text and where each pointer went.
fn embed(fillers: &[String], renders: &[String]) -> (String, Vec<Range<usize>>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    for (i, render) in renders.iter().enumerate() {
        text.push_str(&fillers[i]);
        spans.push(text.len()..text.len() + render.len());
        text.push_str(render);
    }
    text.push_str(&fillers[renders.len()]);
    (text, spans)
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn detects_what_was_embedded(
        pointers in prop::collection::vec(any_pointer(), 1..=3),
        fillers in prop::collection::vec(filler(), 4),
    ) {
        let mut distinct = pointers.clone();
        distinct.dedup();
        prop_assume!(distinct.len() == pointers.len());
        let renders: Vec<String> = pointers.iter().map(Pointer::to_json).collect();
        let (text, spans) = embed(&fillers, &renders);
        prop_assume!(!could_be_a_mail(&text));
        let detection = detect(text.as_bytes());
        let expected: Vec<Found> = pointers
            .into_iter()
            .zip(spans)
            .map(|(pointer, span)| Found { pointer, span, origin: Origin::Input })
            .collect();
        prop_assert_eq!(detection.found, expected);
    }

    #[test]
    fn wrapped_values_still_parse(
        pointer in any_pointer(),
        breaks in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(vec![
                " ", "\n", "\r\n", "\t", "  ", "\n> ", "\r\n> > ", "\u{a0}", " \r\n",
            ])),
            1..12,
        ),
    ) {
        let json = pointer.to_json();
        let value = d_value(&json);
        // Insert from the last position backwards so earlier offsets stay valid.
        let mut cuts: Vec<(usize, &str)> =
            breaks.iter().map(|(at, gap)| (value.start + at.index(value.len() + 1), *gap)).collect();
        cuts.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
        let mut wrapped = json.clone();
        for (at, gap) in cuts {
            wrapped.insert_str(at, gap);
        }
        let text = format!("wrapped by a mail client:\n{wrapped}\n");
        let detection = detect(text.as_bytes());
        let start = text.find('{').unwrap();
        prop_assert_eq!(
            detection.found,
            vec![Found { pointer, span: start..start + wrapped.len(), origin: Origin::Input }]
        );
        prop_assert_eq!(detection.rejected, vec![]);
    }

    #[test]
    fn html_escaped_pointer_inside_random_tags_is_found(
        pointer in any_pointer(),
        tags in prop::collection::vec(("[a-z]{1,8}", "[a-z0-9 =]{0,12}"), 0..4),
        quotes in prop::collection::vec(prop::sample::select(vec!["&quot;", "&#34;", "&#x22;"]), 1..4),
        break_tag in prop::sample::select(vec!["", "<wbr>", "<br>\n", "<span></span>"]),
        before in "[^{<&]{0,20}",
        after in "[^{<&]{0,20}",
    ) {
        let json = pointer.to_json();
        let value = d_value(&json);
        // Quotes as entities (cycling through `quotes`), `break_tag` after each comma and every
        // 16 characters inside the `d` value.
        let mut rendered = String::new();
        let mut quote_index = 0;
        for (i, c) in json.char_indices() {
            match c {
                '"' => {
                    rendered.push_str(quotes[quote_index % quotes.len()]);
                    quote_index += 1;
                }
                ',' => {
                    rendered.push(',');
                    rendered.push_str(break_tag);
                }
                c => {
                    if value.contains(&i) && (i - value.start) % 16 == 15 {
                        rendered.push_str(break_tag);
                    }
                    rendered.push(c);
                }
            }
        }
        let open: String = tags.iter().map(|(name, attrs)| format!("<{name} {attrs}>")).collect();
        let close: String = tags.iter().rev().map(|(name, _)| format!("</{name}>")).collect();
        let text = format!("<p>{before}</p>{open}{rendered}{close}{after}");
        let start = text.find('{').unwrap();
        let detection = detect(text.as_bytes());
        prop_assert_eq!(
            detection.found,
            vec![Found { pointer, span: start..start + rendered.len(), origin: Origin::Input }]
        );
    }
}

// --- never panics -----------------------------------------------------------------------------

/// Pieces of pointers, HTML, quoting and mail headers, concatenated at random: reaches far more
/// of the reader than uniform bytes do.
fn pointer_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\"".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"\"c\": ".to_vec()),
        Just(b"\"e\": 1795444840".to_vec()),
        Just(b"\"n\": \"".to_vec()),
        Just(b"\"d\": \"".to_vec()),
        Just(b"\"v\":1".to_vec()),
        Just(b"\"t\":\"".to_vec()),
        Just(b"\"m\":\"".to_vec()),
        Just(b"&quot;".to_vec()),
        Just(b"&#34;".to_vec()),
        Just(b"&#x110000;".to_vec()),
        Just(b"&nbsp;".to_vec()),
        Just(b"<br>".to_vec()),
        Just(b"<".to_vec()),
        Just(b"\n> ".to_vec()),
        Just(b"\\u".to_vec()),
        Just(b"\\ud83c\\udf0c".to_vec()),
        Just(b"\\udc00".to_vec()),
        Just(b"\xc2\xa0".to_vec()),
        Just(b"From: a@b\r\nContent-Type: text/plain\r\n\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"=\r\n".to_vec()),
        "[0-9a-fA-F]{0,40}".prop_map(String::into_bytes),
        "[A-Za-z0-9_=-]{0,30}".prop_map(String::into_bytes),
        "[0-9]{1,25}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn check_detection_is_well_formed(input: &[u8]) -> Result<(), TestCaseError> {
    let detection = detect(input);
    for found in &detection.found {
        if found.origin == Origin::Input {
            prop_assert!(found.span.start < found.span.end && found.span.end <= input.len());
            prop_assert_eq!(input[found.span.start], b'{');
            prop_assert_eq!(input[found.span.end - 1], b'}');
        }
    }
    for rejected in &detection.rejected {
        if rejected.origin == Origin::Input {
            prop_assert!(rejected.span.start < rejected.span.end && rejected.span.end <= input.len());
        }
    }
    let mut digests: Vec<[u8; 32]> = detection.found.iter().map(|f| f.pointer.digest()).collect();
    digests.sort_unstable();
    digests.dedup();
    prop_assert_eq!(digests.len(), detection.found.len(), "a pointer reported twice");
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn detect_takes_any_bytes(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_detection_is_well_formed(&input)?;
    }

    #[test]
    fn detect_takes_pointer_soup(input in pointer_soup()) {
        check_detection_is_well_formed(&input)?;
    }

    #[test]
    fn parse_takes_any_string(text in any::<String>(), soup in pointer_soup()) {
        let _ = parse(&text);
        let _ = parse(&String::from_utf8_lossy(&soup));
    }
}

// --- keystream --------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn keystream_in_pieces_equals_one_fill(
        seed in prop::collection::vec(any::<u8>(), 0..80),
        pieces in prop::collection::vec(0usize..100, 0..40),
    ) {
        let total: usize = pieces.iter().sum();
        let mut whole = vec![0u8; total];
        Keystream::new(&seed).fill(&mut whole);

        let mut filled = vec![0u8; total];
        let mut applied = vec![0u8; total];
        let mut by_fill = Keystream::new(&seed);
        let mut by_apply = Keystream::new(&seed);
        let mut at = 0;
        for len in pieces {
            by_fill.fill(&mut filled[at..at + len]);
            by_apply.apply(&mut applied[at..at + len]);
            at += len;
        }
        prop_assert_eq!(&filled, &whole);
        prop_assert_eq!(&applied, &whole);
    }
}

// --- native integrity -------------------------------------------------------------------------

/// Flips bit `bit` of the canonical text of `original` and checks the result never opens to a
/// message other than the original one. Returns whether the flipped text still opened.
fn flipped_text_never_opens_to_another_message(
    keys: &NativeKeys,
    original: &Pointer,
    bit: usize,
) -> Result<bool, TestCaseError> {
    let mut bytes = original.to_json().into_bytes();
    bytes[bit / 8] ^= 1 << (bit % 8);
    let mut opened_any = false;
    for found in detect(&bytes).found {
        let Pointer::Native(flipped) = &found.pointer else { continue };
        if let Ok(opened) = keys.open(flipped) {
            // Only the untouched pointer may open, and then to the untouched message.
            prop_assert_eq!(&found.pointer, original, "bit {} changed the pointer yet it opened", bit);
            let Pointer::Native(p) = original else { unreachable!() };
            prop_assert_eq!(opened, keys.open(p).unwrap());
            opened_any = true;
        }
    }
    Ok(opened_any)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn native_bit_flips_never_open_to_another_message(
        from in sender(),
        text in message(),
        epoch in any::<u64>(),
        nonce in nonce16(),
        bit in any::<prop::sample::Index>(),
    ) {
        let keys = NativeKeys::from_root(&[7; 32]);
        let original = Pointer::Native(keys.encode(&from, &text, epoch, nonce).unwrap());
        let bits = original.to_json().len() * 8;
        let opened = flipped_text_never_opens_to_another_message(&keys, &original, bit.index(bits))?;
        prop_assert!(!opened, "a flipped pointer opened");
    }
}

#[test]
fn native_every_bit_flip_of_one_pointer_fails() {
    let keys = NativeKeys::from_root(&[7; 32]);
    let epoch = 1795444840;
    let original = Pointer::Native(keys.encode("alice", "hello, bit flips", epoch, [3; 16]).unwrap());
    let bits = original.to_json().len() * 8;
    let mut opened = Vec::new();
    for bit in 0..bits {
        if flipped_text_never_opens_to_another_message(&keys, &original, bit).unwrap() {
            opened.push(bit);
        }
    }
    assert_eq!(opened, Vec::<usize>::new(), "flips that still opened");
}

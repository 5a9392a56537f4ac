//! Vectors of the native format, version 2, from an independent Python implementation
//! (`scripts/vectors/native_v2_ref.py`: written from docs/PROTOCOL.md §7 with PyNaCl's
//! XChaCha20-Poly1305 and argon2-cffi). Must-fail cases are named `fail_*`.

use clm_core::format::native::period_of;
use clm_core::format::native2::TYPED_SECRET_SALT;
use clm_core::{
    ChatKeys, EncodeError, Format, Native2Keys, Native2Pointer, NativeKeys, OpenError, Opened, Pointer,
    PointerError, Recognition, Registry, generated_secret, hex, parse,
};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("vectors/native2.json")).expect("vector file is JSON");
    all.as_array().expect("vector file is a list").clone()
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_else(|| panic!("{}: no string `{key}`", case["name"]))
}

fn u64_of(case: &Value, key: &str) -> u64 {
    case[key].as_u64().unwrap_or_else(|| panic!("{}: no integer `{key}`", case["name"]))
}

fn fixed<const N: usize>(case: &Value, key: &str) -> [u8; N] {
    let bytes = hex::decode(str_of(case, key).as_bytes()).expect("hex");
    bytes.try_into().unwrap_or_else(|_| panic!("{}: `{key}` is not {N} bytes", case["name"]))
}

fn keys_of(case: &Value) -> Native2Keys {
    Native2Keys::from_root(&fixed(case, "root_hex"))
}

fn expect_of(case: &Value) -> &str {
    str_of(case, "expect")
}

fn ok_cases() -> Vec<Value> {
    cases().into_iter().filter(|c| expect_of(c) == "ok").collect()
}

fn fail_cases() -> Vec<Value> {
    let fails: Vec<Value> = cases().into_iter().filter(|c| expect_of(c) != "ok").collect();
    for case in &fails {
        assert!(
            str_of(case, "name").starts_with("fail_"),
            "{}: must-fail case without fail_ name",
            case["name"]
        );
    }
    fails
}

fn case_named(name: &str) -> Value {
    cases().into_iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no `{name}` case"))
}

fn encode_case(keys: &Native2Keys, case: &Value) -> Result<Native2Pointer, EncodeError> {
    keys.encode(str_of(case, "from"), str_of(case, "text"), u64_of(case, "epoch"), fixed(case, "nonce_hex"))
}

fn parse_native2(case: &Value) -> Result<Native2Pointer, PointerError> {
    match parse(str_of(case, "pointer"))? {
        Pointer::Native2(pointer) => Ok(pointer),
        other => panic!("{}: parsed as {}", case["name"], other.format()),
    }
}

fn assert_opened_as(case: &Value, opened: &Opened) {
    let name = &case["name"];
    assert_eq!(opened.format, Format::Native2, "{name}");
    assert_eq!((opened.chat_name.as_deref(), opened.truncated), (None, false), "{name}");
    assert_eq!(
        (opened.from.as_str(), opened.text.as_str()),
        (str_of(case, "from"), str_of(case, "text")),
        "{name}"
    );
    assert_eq!(opened.epoch, u64_of(case, "epoch"), "{name}");
}

#[test]
fn the_vectors_cover_what_the_format_must_handle() {
    let names: Vec<String> = cases().iter().map(|c| str_of(c, "name").to_owned()).collect();
    for required in [
        "typed_secret",
        "one_character",
        "hundred_characters",
        "body_256_bytes",
        "body_257_bytes",
        "sender_255_bytes",
        "epoch_max",
        "epoch_exactly_a_day_ahead",
        "large_100kib",
        "fail_altered_tag",
        "fail_altered_epoch",
        "fail_altered_nonce_first_byte",
        "fail_altered_aead_tag",
        "fail_header_version_1_in_ad",
        "fail_same_secret_other_salt",
        "fail_truncated_to_a_padded_length",
        "fail_extended_ciphertext",
        "fail_padding_not_zero",
        "fail_padded_to_the_wrong_length",
        "fail_text_not_utf8",
        "fail_version_3",
        "fail_version_2_with_mac",
        "fail_epoch_more_than_a_day_ahead",
        "fail_sender_256_bytes",
    ] {
        assert!(names.iter().any(|n| n == required), "no `{required}` case");
    }
    assert_eq!(str_of(&case_named("hundred_characters"), "text").chars().count(), 100);
    assert_eq!(str_of(&case_named("one_character"), "text").chars().count(), 1);
}

#[test]
fn ok_cases_encode_byte_exact() {
    for case in ok_cases() {
        let encoded = encode_case(&keys_of(&case), &case).unwrap();
        assert_eq!(Pointer::Native2(encoded).to_json(), str_of(&case, "pointer"), "{}", case["name"]);
    }
}

#[test]
fn ok_cases_parse_open_and_are_not_from_the_future() {
    for case in ok_cases() {
        let name = &case["name"];
        let pointer = parse_native2(&case).unwrap();
        assert_eq!(Pointer::Native2(pointer.clone()).to_json(), str_of(&case, "pointer"), "{name}");
        let keys = keys_of(&case);
        assert_eq!(pointer.tag, keys.tag_for_period(period_of(pointer.epoch)), "{name}");
        let opened = keys.open(&pointer).unwrap();
        assert_opened_as(&case, &opened);
        assert!(!opened.is_from_the_future(u64_of(&case, "now")), "{name}");
    }
}

#[test]
fn one_and_a_hundred_characters_give_one_pointer_length() {
    let short = str_of(&case_named("one_character"), "pointer").len();
    assert_eq!(str_of(&case_named("hundred_characters"), "pointer").len(), short);
    assert_eq!(str_of(&case_named("body_256_bytes"), "pointer").len(), short);
    assert!(str_of(&case_named("body_257_bytes"), "pointer").len() > short);
}

/// Argon2id is slow (64 MiB, three passes): two chats check `stretch` against argon2-cffi's
/// roots, a generated secret with its random salt and a typed secret with the fixed salt.
#[test]
fn stretch_matches_the_reference_roots_and_salts() {
    for chat in ["typed_secret", "ascii"] {
        let case = case_named(chat);
        let root = Native2Keys::stretch(str_of(&case, "secret").as_bytes(), &fixed(&case, "salt_hex"));
        assert_eq!(*root, fixed::<32>(&case, "root_hex"), "{chat}");
    }
    assert_eq!(fixed::<16>(&case_named("typed_secret"), "salt_hex"), TYPED_SECRET_SALT);
}

#[test]
fn generated_secrets_match_the_reference() {
    let case = case_named("ascii");
    let secret = generated_secret(&fixed(&case, "secret_random_hex"));
    assert_eq!(secret.as_str(), str_of(&case, "secret"));
}

fn pointer_error_is(case: &Value, error: &PointerError) -> bool {
    match (expect_of(case), error) {
        ("UnsupportedVersion", PointerError::UnsupportedVersion(version)) => {
            case["version"].as_u64() == Some(*version)
        }
        ("InvalidField", PointerError::InvalidField { field, .. }) => case["field"].as_str() == Some(*field),
        _ => false,
    }
}

fn open_error_is(expect: &str, error: &OpenError) -> bool {
    matches!(
        (expect, error),
        ("BadMac", OpenError::BadMac)
            | ("NotThisChat", OpenError::NotThisChat)
            | ("BadPlaintext", OpenError::BadPlaintext(_))
    )
}

#[test]
fn fail_cases_fail_with_the_named_error() {
    let fails = fail_cases();
    assert!(fails.len() >= 30);
    for case in fails {
        let name = &case["name"];
        let keys = keys_of(&case);
        match expect_of(&case) {
            "InvalidSender" => {
                assert!(case.get("pointer").is_none(), "{name}");
                let result = encode_case(&keys, &case);
                assert!(matches!(result, Err(EncodeError::InvalidSender(_))), "{name}: {result:?}");
            }
            "UnsupportedVersion" | "InvalidField" => {
                let error = parse(str_of(&case, "pointer")).expect_err("must not parse");
                assert!(pointer_error_is(&case, &error), "{name}: got {error:?}");
            }
            expect @ ("BadMac" | "NotThisChat" | "BadPlaintext") => {
                let pointer = parse_native2(&case).unwrap_or_else(|e| panic!("{name}: {e}"));
                match keys.open(&pointer) {
                    Err(error) => assert!(open_error_is(expect, &error), "{name}: got {error:?}"),
                    Ok(opened) => panic!("{name}: opened {opened:?}"),
                }
            }
            "FromTheFuture" => {
                let opened = keys.open(&parse_native2(&case).unwrap()).unwrap();
                assert_opened_as(&case, &opened);
                let now = u64_of(&case, "now");
                assert!(opened.is_from_the_future(now), "{name}");
                assert!(!opened.is_from_the_future(now + 1), "{name}: one second later it is a day ahead");
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
    }
}

/// Every v2 chat of the vectors, and beside each a v1 chat with the same root: one tag table
/// holds both versions, and neither version's chat claims the other's pointers.
fn registry_of_chats() -> Registry<String> {
    let mut registry = Registry::new();
    let mut chats: Vec<String> = Vec::new();
    for case in ok_cases() {
        let chat = str_of(&case, "chat").to_owned();
        if !chats.contains(&chat) {
            registry.insert(
                format!("v1 {chat}"),
                ChatKeys::Native(NativeKeys::from_root(&fixed(&case, "root_hex"))),
            );
            registry.insert(chat.clone(), ChatKeys::Native2(keys_of(&case)));
            chats.push(chat);
        }
    }
    assert!(chats.len() >= 3);
    registry
}

fn assert_registry_outcomes(registry: &mut Registry<String>) {
    for case in ok_cases() {
        match registry.recognize(&Pointer::Native2(parse_native2(&case).unwrap())) {
            Recognition::Opened { chat, message } => {
                assert_eq!(chat, str_of(&case, "chat"), "{}", case["name"]);
                assert_opened_as(&case, &message);
            }
            other => panic!("{}: {other:?}", case["name"]),
        }
    }
    let mut checked = 0;
    for case in fail_cases().into_iter().filter(|c| c.get("registry").is_some()) {
        let name = &case["name"];
        let pointer = Pointer::Native2(parse_native2(&case).unwrap());
        match (str_of(&case, "registry"), registry.recognize(&pointer)) {
            ("Broken", Recognition::Broken { chat, error }) => {
                assert_eq!(chat, str_of(&case, "chat"), "{name}");
                assert!(open_error_is(expect_of(&case), &error), "{name}: got {error:?}");
            }
            ("NotMine", Recognition::NotMine) => {}
            ("Opened", Recognition::Opened { chat, .. }) => assert_eq!(chat, str_of(&case, "chat"), "{name}"),
            (wanted, got) => panic!("{name}: wanted {wanted}, got {got:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn registry_opens_ok_cases_and_classifies_failures() {
    assert_registry_outcomes(&mut registry_of_chats());
    let mut windowed = registry_of_chats();
    windowed.set_now(1_795_444_840);
    assert_registry_outcomes(&mut windowed);
}

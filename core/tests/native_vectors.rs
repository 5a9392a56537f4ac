//! Vectors from independent Python implementations (scripts/vectors/): `native.json` from
//! `native_ref.py` (the native format written from its spec with hashlib, hmac and argon2-cffi)
//! and `clm202-truncated.json` from `clm202_truncated.py` (CLM v2.0.2's published sender, whose
//! keystream is sized in characters, and the decoder rule for what it cuts).

use clm_core::format::clm202::{encode_like_published_sender, open_with_secret};
use clm_core::{
    ChatKeys, Clm202Chat, EncodeError, Format, NativeKeys, OpenError, Opened, Pointer, PointerError,
    Recognition, Registry, hex, parse,
};
use serde_json::Value;

fn cases(file: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(file).expect("vector file is JSON");
    let list = all.as_array().expect("vector file is a list").clone();
    assert!(!list.is_empty());
    list
}

fn native_cases() -> Vec<Value> {
    cases(include_str!("vectors/native.json"))
}

fn truncated_cases() -> Vec<Value> {
    cases(include_str!("vectors/clm202-truncated.json"))
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_else(|| panic!("{}: no string `{key}`", case["name"]))
}

fn fixed<const N: usize>(case: &Value, key: &str) -> [u8; N] {
    let bytes = hex::decode(str_of(case, key).as_bytes()).expect("hex");
    bytes.try_into().unwrap_or_else(|_| panic!("{}: `{key}` is not {N} bytes", case["name"]))
}

fn keys_of(case: &Value) -> NativeKeys {
    NativeKeys::from_root(&fixed(case, "root_hex"))
}

fn epoch_of(case: &Value) -> u64 {
    case["epoch"].as_u64().unwrap_or_else(|| panic!("{}: no epoch", case["name"]))
}

fn expect_of(case: &Value) -> &str {
    str_of(case, "expect")
}

fn ok_cases() -> Vec<Value> {
    native_cases().into_iter().filter(|c| expect_of(c) == "ok").collect()
}

fn fail_cases() -> Vec<Value> {
    let fails: Vec<Value> = native_cases().into_iter().filter(|c| expect_of(c) != "ok").collect();
    for case in &fails {
        assert!(
            str_of(case, "name").starts_with("fail_"),
            "{}: must-fail case without fail_ name",
            case["name"]
        );
    }
    fails
}

fn encode_case(keys: &NativeKeys, case: &Value) -> Result<Pointer, EncodeError> {
    let nonce = fixed(case, "nonce_hex");
    keys.encode(str_of(case, "from"), str_of(case, "text"), epoch_of(case), nonce).map(Pointer::Native)
}

fn parse_native(case: &Value) -> Result<clm_core::NativePointer, PointerError> {
    match parse(str_of(case, "pointer"))? {
        Pointer::Native(pointer) => Ok(pointer),
        other => panic!("{}: parsed as {}", case["name"], other.format()),
    }
}

fn assert_opened_as(case: &Value, opened: &Opened) {
    let name = &case["name"];
    assert_eq!(opened.format, Format::Native, "{name}");
    assert_eq!(opened.chat_name, None, "{name}");
    assert_eq!(opened.from, str_of(case, "from"), "{name}");
    assert_eq!(opened.text, str_of(case, "text"), "{name}");
    assert_eq!(opened.epoch, epoch_of(case), "{name}");
    assert!(!opened.truncated, "{name}");
}

#[test]
fn the_vectors_cover_what_the_format_must_handle() {
    let names: Vec<String> = native_cases().iter().map(|c| str_of(c, "name").to_owned()).collect();
    for required in [
        "emoji",
        "rtl",
        "nul_bytes",
        "empty_text",
        "separators_inside",
        "empty_sender",
        "sender_255_bytes",
        "large_100kib",
        "fail_altered_ciphertext",
        "fail_altered_mac",
        "fail_altered_epoch",
        "fail_other_chat_secret",
        "fail_tag_other_period",
        "fail_unsupported_version",
        "fail_short_tag",
        "fail_bad_base64",
        "fail_sender_len_beyond_end",
    ] {
        assert!(names.iter().any(|n| n == required), "no `{required}` case");
    }
    let large = ok_cases().into_iter().find(|c| c["name"] == "large_100kib").unwrap();
    assert_eq!(str_of(&large, "text").len(), 100 * 1024);
    let longest = ok_cases().into_iter().find(|c| c["name"] == "sender_255_bytes").unwrap();
    assert_eq!(str_of(&longest, "from").len(), 255);
}

#[test]
fn ok_cases_encode_byte_exact() {
    for case in ok_cases() {
        let encoded = encode_case(&keys_of(&case), &case).unwrap();
        assert_eq!(encoded.to_json(), str_of(&case, "pointer"), "{}", case["name"]);
    }
}

#[test]
fn ok_cases_parse_and_open() {
    for case in ok_cases() {
        let pointer = parse_native(&case).unwrap();
        assert_eq!(Pointer::Native(pointer.clone()).to_json(), str_of(&case, "pointer"), "{}", case["name"]);
        let keys = keys_of(&case);
        assert_eq!(pointer.tag, keys.tag_for_period(clm_core::format::native::period_of(pointer.epoch)));
        assert_opened_as(&case, &keys.open(&pointer).unwrap());
    }
}

/// Argon2id is slow (64 MiB, three passes), so one case checks that `derive` yields the root
/// the Python reference computed with argon2-cffi: a Unicode secret, to cover its UTF-8 bytes.
#[test]
fn derive_matches_the_reference_argon2id_root() {
    let case = ok_cases().into_iter().find(|c| c["name"] == "rtl").unwrap();
    assert!(!str_of(&case, "secret").is_ascii());
    let derived = NativeKeys::derive(str_of(&case, "secret").as_bytes());
    assert_eq!(
        encode_case(&derived, &case).unwrap().to_json(),
        encode_case(&keys_of(&case), &case).unwrap().to_json()
    );
    assert_eq!(encode_case(&derived, &case).unwrap().to_json(), str_of(&case, "pointer"));
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
    assert!(fails.len() >= 10);
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
                let error = parse_native(&case).expect_err("must not parse");
                assert!(pointer_error_is(&case, &error), "{name}: got {error:?}");
            }
            expect @ ("BadMac" | "NotThisChat" | "BadPlaintext") => {
                let pointer = parse_native(&case).unwrap_or_else(|e| panic!("{name}: {e}"));
                match keys.open(&pointer) {
                    Err(error) => assert!(open_error_is(expect, &error), "{name}: got {error:?}"),
                    Ok(opened) => panic!("{name}: opened {opened:?}"),
                }
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
    }
}

/// Every chat the ok cases use, keyed by its secret.
fn registry_of_ok_chats() -> Registry<String> {
    let mut registry = Registry::new();
    let mut secrets: Vec<String> = Vec::new();
    for case in ok_cases() {
        let secret = str_of(&case, "secret").to_owned();
        if !secrets.contains(&secret) {
            registry.insert(secret.clone(), ChatKeys::Native(keys_of(&case)));
            secrets.push(secret);
        }
    }
    assert!(registry.len() >= 3);
    registry
}

fn assert_registry_outcomes(registry: &mut Registry<String>) {
    for case in ok_cases() {
        let pointer = Pointer::Native(parse_native(&case).unwrap());
        match registry.recognize(&pointer) {
            Recognition::Opened { chat, message } => {
                assert_eq!(chat, str_of(&case, "secret"), "{}", case["name"]);
                assert_opened_as(&case, &message);
            }
            other => panic!("{}: {other:?}", case["name"]),
        }
    }
    let mut checked = 0;
    for case in fail_cases().into_iter().filter(|c| c.get("registry").is_some()) {
        let name = &case["name"];
        let pointer = Pointer::Native(parse_native(&case).unwrap());
        match (str_of(&case, "registry"), registry.recognize(&pointer)) {
            ("Broken", Recognition::Broken { chat, error }) => {
                assert_eq!(chat, str_of(&case, "secret"), "{name}");
                assert!(open_error_is(expect_of(&case), &error), "{name}: got {error:?}");
            }
            ("NotMine", Recognition::NotMine) => {}
            (wanted, got) => panic!("{name}: wanted {wanted}, got {got:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 8);
}

#[test]
fn registry_opens_ok_cases_and_classifies_failures() {
    // Without `set_now`, each period's tag table is built on demand.
    assert_registry_outcomes(&mut registry_of_ok_chats());
    // With the live window around the vectors' usual hour, most lookups hit it.
    let mut windowed = registry_of_ok_chats();
    windowed.set_now(1_795_444_840);
    assert_registry_outcomes(&mut windowed);
    // The altered pointers are claimed because the tag is this chat's: sanity of the premise.
    for case in fail_cases().into_iter().filter(|c| c["name"] == "fail_altered_ciphertext") {
        let pointer = parse_native(&case).unwrap();
        assert_eq!(keys_of(&case).open(&pointer), Err(OpenError::BadMac));
    }
}

fn clm202_of(case: &Value) -> clm_core::Clm202Pointer {
    match parse(str_of(case, "pointer")).unwrap_or_else(|e| panic!("{}: {e}", case["name"])) {
        Pointer::Clm202(pointer) => pointer,
        other => panic!("{}: parsed as {}", case["name"], other.format()),
    }
}

#[test]
fn clm202_truncated_pointers_match_our_reproduction_of_the_published_sender() {
    for case in truncated_cases() {
        let pointer = encode_like_published_sender(
            str_of(&case, "secret"),
            str_of(&case, "chat_name"),
            str_of(&case, "from"),
            str_of(&case, "text_full"),
            epoch_of(&case),
            str_of(&case, "nonce"),
        );
        assert_eq!(Pointer::Clm202(pointer).to_json(), str_of(&case, "pointer"), "{}", case["name"]);
    }
}

#[test]
fn clm202_truncated_pointers_open_as_the_decoder_rule_says() {
    let cases = truncated_cases();
    assert!(cases.iter().filter(|c| c["expect_truncated"] == true).count() >= 8);
    for case in cases {
        let name = &case["name"];
        let pointer = clm202_of(&case);
        let secret = str_of(&case, "secret");
        let named = Clm202Chat::new(secret, str_of(&case, "chat_name")).open(&pointer);
        let unnamed = open_with_secret(secret, &pointer);
        if let Some(expect) = case.get("expect_error") {
            assert_eq!(expect, "BadPlaintext", "{name}");
            assert!(matches!(named, Err(OpenError::BadPlaintext(_))), "{name}: {named:?}");
            assert!(matches!(unnamed, Err(OpenError::BadPlaintext(_))), "{name}: {unnamed:?}");
            continue;
        }
        for opened in [named.unwrap(), unnamed.unwrap()] {
            assert_eq!(opened.format, Format::Clm202, "{name}");
            assert_eq!(opened.chat_name.as_deref(), Some(str_of(&case, "chat_name")), "{name}");
            assert_eq!(opened.from, str_of(&case, "expect_from"), "{name}");
            assert_eq!(opened.text, str_of(&case, "expect_text"), "{name}");
            assert_eq!(Some(opened.truncated), case["expect_truncated"].as_bool(), "{name}");
            assert_eq!(opened.epoch, epoch_of(&case), "{name}");
            // What is shown is a prefix of what was sent: nothing invented.
            assert!(str_of(&case, "text_full").starts_with(&opened.text), "{name}");
        }
    }
}

//! Property tests of the native format, version 2: any sender and message round-trip; every
//! byte of a pointer changed is refused, never opened to another message; pointer lengths follow
//! the padding rule, so short messages all look alike. Failing seeds are kept in
//! `native2_props.proptest-regressions` beside this file (commit it).

use clm_core::format::native2::{AEAD_TAG_LEN, HEADER_LEN};
use clm_core::format::padding::{MIN_PADDED_LEN, padded_len};
use clm_core::{Native2Keys, Native2Pointer, Pointer, detect, parse};
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

fn keys() -> Native2Keys {
    Native2Keys::from_root(&[7; 32])
}

/// Any Unicode text, control characters and separators of other formats included.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), prop::string::string_regex("(?s:.{0,300})").unwrap(), "[a-z ]{0,600}"]
}

/// A sender: like a message, at most 255 bytes.
fn sender() -> impl Strategy<Value = String> {
    message().prop_map(|mut s| {
        while s.len() > 255 {
            s.pop();
        }
        s
    })
}

fn encode(from: &str, text: &str, epoch: u64, nonce: [u8; 24]) -> Native2Pointer {
    keys().encode(from, text, epoch, nonce).unwrap()
}

/// Changes byte `at` of the canonical text by XOR with `delta` (non-zero) and checks that what
/// the detector finds there never opens.
fn changed_text_never_opens(original: &Pointer, at: usize, delta: u8) -> Result<(), TestCaseError> {
    let mut bytes = original.to_json().into_bytes();
    bytes[at] ^= delta;
    for found in detect(&bytes).found {
        if let Pointer::Native2(changed) = &found.pointer {
            prop_assert_ne!(&found.pointer, original, "byte {} changed, the same pointer came out", at);
            let opened = keys().open(changed);
            prop_assert!(opened.is_err(), "byte {} ^ {:#04x} opened: {:?}", at, delta, opened);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn round_trips_any_sender_and_message(
        from in sender(),
        text in message(),
        epoch in any::<u64>(),
        nonce in any::<[u8; 24]>(),
    ) {
        let json = Pointer::Native2(encode(&from, &text, epoch, nonce)).to_json();
        let Ok(Pointer::Native2(parsed)) = parse(&json) else {
            return Err(TestCaseError::fail(format!("{json} did not parse as native2")));
        };
        let opened = keys().open(&parsed).unwrap();
        prop_assert_eq!((opened.from.as_str(), opened.text.as_str(), opened.epoch), (from.as_str(), text.as_str(), epoch));
    }

    #[test]
    fn padded_length_follows_the_rule(from in sender(), text in message()) {
        let pointer = encode(&from, &text, 1_795_444_840, [1; 24]);
        let body = HEADER_LEN + from.len() + text.len();
        prop_assert_eq!(pointer.data.len(), padded_len(body) + AEAD_TAG_LEN);
    }

    /// 1 to 100 characters of any script of one or two bytes a character, sent by a short
    /// name: every such pointer has one length, that of the shortest.
    #[test]
    fn short_messages_give_one_pointer_length(
        from in "[a-z]{1,12}",
        text in "[a-zA-Z0-9 .,!?а-яА-Яα-ωא-תé]{1,100}",
        epoch in any::<u64>(),
    ) {
        let shortest = Pointer::Native2(encode("a", "k", epoch, [0; 24])).to_json().len();
        let pointer = encode(&from, &text, epoch, [0; 24]);
        prop_assert_eq!(pointer.data.len(), MIN_PADDED_LEN + AEAD_TAG_LEN);
        prop_assert_eq!(Pointer::Native2(pointer).to_json().len(), shortest);
    }

    #[test]
    fn a_changed_byte_of_the_text_never_opens(
        from in sender(),
        text in message(),
        epoch in any::<u64>(),
        at in any::<prop::sample::Index>(),
        delta in 1..=255u8,
    ) {
        let original = Pointer::Native2(encode(&from, &text, epoch, [5; 24]));
        changed_text_never_opens(&original, at.index(original.to_json().len()), delta)?;
    }
}

#[test]
fn every_byte_of_one_pointer_changed_is_refused() {
    let original = Pointer::Native2(encode("alice", "hello, changed bytes", 1_795_444_840, [3; 24]));
    let len = original.to_json().len();
    for at in 0..len {
        for delta in [0x01, 0x02, 0x20, 0x80, 0xff] {
            changed_text_never_opens(&original, at, delta).unwrap();
        }
    }
}

/// The same below the text: every byte of tag, nonce, epoch and data, each bit in turn.
#[test]
fn every_bit_of_every_field_flipped_is_refused() {
    let original = encode("alice", "hello, flipped fields", 1_795_444_840, [4; 24]);
    let mut refused = 0;
    let mut check = |changed: Native2Pointer| {
        assert_ne!(changed, original);
        assert!(keys().open(&changed).is_err(), "{changed:?} opened");
        refused += 1;
    };
    for bit in 0..8 {
        for i in 0..original.tag.len() {
            let mut p = original.clone();
            p.tag[i] ^= 1 << bit;
            check(p);
        }
        for i in 0..original.nonce.len() {
            let mut p = original.clone();
            p.nonce[i] ^= 1 << bit;
            check(p);
        }
        for i in 0..original.data.len() {
            let mut p = original.clone();
            p.data[i] ^= 1 << bit;
            check(p);
        }
    }
    for bit in 0..64 {
        let mut p = original.clone();
        p.epoch ^= 1 << bit;
        check(p);
    }
    assert_eq!(refused, 8 * (16 + 24 + 272) + 64);
}

//! Invite links: the vectors of `vectors/invites.json` (from the independent Python reference
//! `scripts/vectors/invites_ref.py`, written from docs/PROTOCOL.md §8) and property tests: a link
//! reads back as the invite it was made from, and a changed or cut link is refused.

use clm_core::format::native2::SALT_LEN;
use clm_core::{Format, Invite, InviteError, InviteKeys};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::Value;
use zeroize::Zeroizing;

fn cases() -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("vectors/invites.json")).expect("vector file is JSON");
    all.as_array().expect("a list").clone()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no string `{key}` in {v}"))
}

fn usize_of(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("no integer `{key}` in {v}")) as usize
}

/// The invite a vector describes.
fn invite_of(v: &Value) -> Invite {
    let secret = Zeroizing::new(str_of(v, "secret").to_owned());
    let keys = match str_of(v, "format") {
        "native2" => {
            let salt = clm_core::hex::decode(str_of(v, "salt_hex").as_bytes()).unwrap();
            InviteKeys::Native2 { secret, salt: salt.try_into().unwrap() }
        }
        "native" => InviteKeys::Native { secret },
        "clm202" => InviteKeys::Clm202 { secret },
        "clm201" => InviteKeys::Clm201 {
            master_seed: secret,
            chat_id: str_of(v, "chat_id").to_owned(),
            seed_suffix: str_of(v, "seed_suffix").to_owned(),
        },
        other => panic!("unknown format {other}"),
    };
    let routes = v["routes"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    Invite::new(str_of(v, "name"), keys, routes).unwrap()
}

#[test]
fn ok_vectors_parse_and_encode_byte_exact() {
    let ok: Vec<Value> = cases().into_iter().filter(|c| c["expect"] == "ok").collect();
    assert!(ok.len() >= 8);
    for case in ok {
        let name = &case["name"];
        let expected = invite_of(&case["invite"]);
        assert_eq!(expected.format(), Format::from_name(str_of(&case["invite"], "format")).unwrap());
        let parsed = Invite::parse(str_of(&case, "link")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed, expected, "{name}");
        let canonical = case.get("canonical").map_or_else(|| str_of(&case, "link"), |c| c.as_str().unwrap());
        assert_eq!(expected.to_link().as_str(), canonical, "{name}");
        assert_eq!(expected.to_qr_text().as_str(), canonical.to_ascii_uppercase(), "{name}");
    }
}

fn error_matches(case: &Value, error: &InviteError) -> bool {
    match (str_of(case, "expect"), error) {
        ("NotAnInvite", InviteError::NotAnInvite) | ("ChecksumMismatch", InviteError::ChecksumMismatch) => {
            true
        }
        ("BadCharacter", InviteError::BadCharacter { position }) => *position == usize_of(case, "position"),
        ("Truncated", InviteError::Truncated { expected, found })
        | ("TooLong", InviteError::TooLong { expected, found }) => {
            (*expected, *found) == (usize_of(case, "expected"), usize_of(case, "found"))
        }
        ("UnsupportedVersion", InviteError::UnsupportedVersion(v)) => {
            usize::from(*v) == usize_of(case, "version")
        }
        ("BadField", InviteError::BadField { field, .. }) => *field == str_of(case, "field"),
        _ => false,
    }
}

#[test]
fn fail_vectors_fail_with_the_named_error() {
    let fails: Vec<Value> = cases().into_iter().filter(|c| c["expect"] != "ok").collect();
    assert!(fails.len() >= 20);
    for case in fails {
        let name = str_of(&case, "name");
        assert!(name.starts_with("fail_"), "{name}: must-fail case without fail_ name");
        match Invite::parse(str_of(&case, "link")) {
            Err(error) => assert!(error_matches(&case, &error), "{name}: got {error:?}"),
            Ok(invite) => panic!("{name}: parsed as {invite:?}"),
        }
    }
}

#[test]
fn the_writer_refuses_what_the_reader_refuses() {
    let secret = || Zeroizing::new("secret".to_owned());
    let bad = [
        Invite::new("", InviteKeys::Native { secret: secret() }, vec![]),
        Invite::new("chat", InviteKeys::Native { secret: Zeroizing::new(String::new()) }, vec![]),
        Invite::new("bad\u{1b}[31m", InviteKeys::Clm202 { secret: secret() }, vec![]),
        Invite::new(&"n".repeat(256), InviteKeys::Native { secret: secret() }, vec![]),
        Invite::new("chat", InviteKeys::Native { secret: secret() }, vec!["r".into(); 17]),
        Invite::new("chat", InviteKeys::Native { secret: secret() }, vec!["drop.usb\n".into()]),
        Invite::new(
            "chat",
            InviteKeys::Clm201 { master_seed: secret(), chat_id: String::new(), seed_suffix: "x".into() },
            vec![],
        ),
    ];
    for (i, result) in bad.into_iter().enumerate() {
        assert!(matches!(result, Err(InviteError::BadField { .. })), "{i}: {result:?}");
    }
}

// --- properties -------------------------------------------------------------------------------

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    }
}

/// Text of 1 to `max` bytes: shown fields hold no control character, secrets anything.
fn text(shown: bool, max: usize) -> impl Strategy<Value = String> {
    let pattern = if shown { "[^\\p{Cc}]{1,40}" } else { "(?s:.{1,40})" };
    prop::string::string_regex(pattern).unwrap().prop_map(move |mut s| {
        while s.len() > max {
            s.pop();
        }
        s
    })
}

fn any_keys() -> impl Strategy<Value = InviteKeys> {
    let secret = || text(false, 255).prop_map(Zeroizing::new);
    prop_oneof![
        (secret(), any::<[u8; SALT_LEN]>()).prop_map(|(secret, salt)| InviteKeys::Native2 { secret, salt }),
        secret().prop_map(|secret| InviteKeys::Native { secret }),
        secret().prop_map(|secret| InviteKeys::Clm202 { secret }),
        (secret(), text(true, 255), prop_oneof![Just(String::new()), text(true, 255)]).prop_map(
            |(master_seed, chat_id, seed_suffix)| InviteKeys::Clm201 { master_seed, chat_id, seed_suffix }
        ),
    ]
}

fn any_invite() -> impl Strategy<Value = Invite> {
    (text(true, 255), any_keys(), prop::collection::vec(text(true, 255), 0..4))
        .prop_map(|(name, keys, routes)| Invite::new(&name, keys, routes).expect("within the limits"))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_link_reads_back_as_its_invite(invite in any_invite()) {
        prop_assert_eq!(Invite::parse(&invite.to_link()).unwrap(), invite.clone());
        prop_assert_eq!(Invite::parse(&invite.to_qr_text()).unwrap(), invite);
    }

    #[test]
    fn any_single_character_change_is_refused(
        invite in any_invite(),
        at in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let link = invite.to_link();
        let at = at.index(link.len());
        let original = link.as_bytes()[at] as char;
        prop_assume!(!replacement.eq_ignore_ascii_case(&original));
        let mut changed = link.to_string();
        changed.replace_range(at..at + 1, replacement.encode_utf8(&mut [0; 4]));
        prop_assert!(Invite::parse(&changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn any_truncation_is_refused(invite in any_invite(), cut in any::<prop::sample::Index>()) {
        let link = invite.to_link();
        let cut = cut.index(link.len());
        let result = Invite::parse(&link[..cut]);
        prop_assert!(result.is_err(), "{} accepted", &link[..cut]);
        if cut >= "clm:".len() {
            let truncated = matches!(result, Err(InviteError::Truncated { .. }));
            prop_assert!(truncated, "{:?}", result);
        }
    }

    #[test]
    fn parse_takes_any_text(text in any::<String>(), tail in "[0-9a-zA-Z]{0,80}") {
        let _ = Invite::parse(&text);
        if let Ok(invite) = Invite::parse(&format!("clm:{tail}")) {
            prop_assert_eq!(Invite::parse(&invite.to_link()).unwrap(), invite);
        }
    }
}

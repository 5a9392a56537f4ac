//! The vectors in `vectors/clm-pointers.json`: clm201 ones produced by running CLM v2.0.1's own
//! code, clm202 ones by the seed formula its articles publish, plus raw HMAC-DRBG outputs.

use clm_core::format::clm202::{encode_like_published_sender, open_with_secret};
use clm_core::{Clm201Chat, Clm202Chat, Format, Keystream, Pointer, hex, parse};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/clm-pointers.json")).expect("vector file is JSON")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("vector lacks {key}"))
}

#[test]
fn hmac_drbg_outputs_match() {
    let all = vectors();
    let cases = all["hmac_drbg"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let seed = hex::decode(str_of(case, "seed_hex").as_bytes()).unwrap();
        let mut out = vec![0u8; case["n"].as_u64().unwrap() as usize];
        Keystream::new(&seed).fill(&mut out);
        assert_eq!(hex::encode(&out), str_of(case, "out_hex"), "seed {}", str_of(case, "seed_hex"));
    }
}

fn pointers(format: &str) -> Vec<Value> {
    let all = vectors();
    let list: Vec<Value> =
        all["pointers"].as_array().unwrap().iter().filter(|p| p["format"] == format).cloned().collect();
    assert!(!list.is_empty(), "no {format} vectors");
    list
}

#[test]
fn clm201_encodes_byte_exact_and_opens() {
    for v in pointers("clm201") {
        let chat =
            Clm201Chat::new(str_of(&v, "secret"), str_of(&v, "chat_id"), Some(str_of(&v, "seed_suffix")))
                .unwrap();
        let epoch = v["epoch"].as_u64().unwrap();
        let encoded = chat.encode(str_of(&v, "from"), str_of(&v, "text"), epoch).unwrap();
        assert_eq!(Pointer::Clm201(encoded).to_json(), str_of(&v, "pointer"));

        let Pointer::Clm201(parsed) = parse(str_of(&v, "pointer")).unwrap() else { panic!("not clm201") };
        let opened = chat.open(&parsed).unwrap();
        assert_eq!((opened.from.as_str(), opened.text.as_str()), (str_of(&v, "from"), str_of(&v, "text")));
        assert_eq!(opened.epoch, epoch);
    }
}

#[test]
fn clm201_default_suffixes_are_clms() {
    for v in pointers("clm201") {
        let chat = Clm201Chat::new(str_of(&v, "secret"), str_of(&v, "chat_id"), None).unwrap();
        assert_eq!(chat.seed_suffix(), str_of(&v, "seed_suffix"));
    }
}

#[test]
fn clm202_opens_with_exact_plaintext_bytes() {
    for v in pointers("clm202") {
        let Pointer::Clm202(parsed) = parse(str_of(&v, "pointer")).unwrap() else { panic!("not clm202") };
        let chat = Clm202Chat::new(str_of(&v, "secret"), str_of(&v, "chat_name"));
        let opened = chat.open(&parsed).unwrap();
        let expected =
            String::from_utf8(hex::decode(str_of(&v, "plaintext_bytes_hex").as_bytes()).unwrap()).unwrap();
        let shown = format!("#{}|¶|{}|¶|{}", opened.chat_name.as_deref().unwrap(), opened.from, opened.text);
        assert_eq!(shown, expected);
        assert_eq!(opened.format, Format::Clm202);
        // The file's `truncated` says whether the sender lost bytes; a decoder can only tell
        // when the cut falls inside a character, which none of these cuts does.
        assert!(!opened.truncated);
        if v["truncated"] == false {
            assert_eq!(opened.text, str_of(&v, "text"));
        } else {
            assert!(
                str_of(&v, "text").starts_with(&opened.text) && opened.text.len() < str_of(&v, "text").len()
            );
        }
        let unnamed = open_with_secret(str_of(&v, "secret"), &parsed).unwrap();
        assert_eq!(unnamed, opened);
    }
}

#[test]
fn clm202_encodes_byte_exact() {
    for v in pointers("clm202") {
        let (secret, name, from, text) =
            (str_of(&v, "secret"), str_of(&v, "chat_name"), str_of(&v, "from"), str_of(&v, "text"));
        let (epoch, nonce) = (v["epoch"].as_u64().unwrap(), str_of(&v, "nonce"));
        let pointer = if v["truncated"] == true {
            encode_like_published_sender(secret, name, from, text, epoch, nonce)
        } else {
            Clm202Chat::new(secret, name).encode(from, text, epoch, nonce).unwrap()
        };
        assert_eq!(Pointer::Clm202(pointer).to_json(), str_of(&v, "pointer"));
    }
}

#[test]
fn clm202_other_chat_is_not_this_chat() {
    let family = pointers("clm202").into_iter().find(|v| v["chat_name"] == "Family").unwrap();
    let Pointer::Clm202(parsed) = parse(str_of(&family, "pointer")).unwrap() else { panic!() };
    let work = Clm202Chat::new("q1-project-alpha", "Work");
    assert_eq!(work.open(&parsed), Err(clm_core::OpenError::NotThisChat));
}

//! Recognition: which known chat a pointer belongs to, and "not mine" versus "mine but broken".

use clm_core::{
    ChatKeys, Clm201Chat, Clm202Chat, NativeKeys, OpenError, Pointer, Recognition, Registry, sha256,
};

const NOW: u64 = 1_763_700_000;

fn native(i: u32) -> NativeKeys {
    NativeKeys::from_root(&sha256(&[b"root", &i.to_be_bytes()]))
}

fn opened_by<Id: Copy + std::fmt::Debug>(outcome: Recognition<Id>) -> (Id, String) {
    match outcome {
        Recognition::Opened { chat, message } => (chat, message.text.clone()),
        other => panic!("expected Opened, got {other:?}"),
    }
}

#[test]
fn clm201_by_chat_id_among_seeds_sharing_an_id() {
    let mut registry = Registry::new();
    registry.insert("mine", ChatKeys::Clm201(Clm201Chat::new("seed A", "1", None).unwrap()));
    registry.insert("other identity", ChatKeys::Clm201(Clm201Chat::new("seed B", "1", None).unwrap()));
    let pointer = Clm201Chat::new("seed B", "1", None).unwrap().encode("bob", "hi", NOW).unwrap();
    assert_eq!(opened_by(registry.recognize(&Pointer::Clm201(pointer))), ("other identity", "hi".into()));

    let elsewhere = Clm201Chat::new("seed A", "7", None).unwrap().encode("bob", "hi", NOW).unwrap();
    assert!(matches!(registry.recognize(&Pointer::Clm201(elsewhere)), Recognition::NotMine));
}

#[test]
fn clm202_by_trial_and_broken_when_the_prefix_matches() {
    let mut registry = Registry::new();
    for i in 0..50 {
        registry.insert(i, ChatKeys::Clm202(Clm202Chat::new(&format!("secret {i}"), &format!("chat {i}"))));
    }
    let chat = Clm202Chat::new("secret 37", "chat 37");
    let mut pointer = chat.encode("alice", "hello", NOW, "n1").unwrap();
    assert_eq!(opened_by(registry.recognize(&Pointer::Clm202(pointer.clone()))), (37, "hello".into()));

    // A high bit set on the last byte leaves an incomplete UTF-8 sequence at the end: that is
    // how the published sender's cuts look, so it opens as truncated.
    let last = pointer.data.len() - 1;
    let mut cut = pointer.clone();
    cut.data[last] ^= 0x80;
    match registry.recognize(&Pointer::Clm202(cut)) {
        Recognition::Opened { chat: 37, message } => assert!(message.truncated && message.text == "hell"),
        other => panic!("expected a truncated Opened, got {other:?}"),
    }
    // The same damage mid-message is invalid UTF-8: still claimed by chat 37, but broken.
    pointer.data[last - 3] ^= 0x80;
    match registry.recognize(&Pointer::Clm202(pointer)) {
        Recognition::Broken { chat: 37, error: OpenError::BadPlaintext(_) } => {}
        other => panic!("expected Broken by 37, got {other:?}"),
    }

    let stranger = Clm202Chat::new("unknown", "chat 37").encode("eve", "x", NOW, "n1").unwrap();
    assert!(matches!(registry.recognize(&Pointer::Clm202(stranger)), Recognition::NotMine));
}

#[test]
fn native_by_tag_in_window_outside_it_and_without_a_clock() {
    for set_now in [true, false] {
        let mut registry = Registry::new();
        if set_now {
            registry.set_now(NOW);
        }
        for i in 0..100 {
            registry.insert(i, ChatKeys::Native(native(i)));
        }
        for epoch in [NOW, NOW - 3600, NOW - 7 * 86_400, NOW + 3600] {
            let pointer = native(42).encode("alice", "hi", epoch, [9; 16]).unwrap();
            assert_eq!(opened_by(registry.recognize(&Pointer::Native(pointer))), (42, "hi".into()));
        }
    }
}

#[test]
fn native_chat_added_after_the_window_was_built_is_recognised() {
    let mut registry = Registry::new();
    registry.set_now(NOW);
    registry.insert(1, ChatKeys::Native(native(1)));
    let pointer = native(1).encode("a", "late joiner", NOW, [1; 16]).unwrap();
    assert_eq!(opened_by(registry.recognize(&Pointer::Native(pointer))), (1, "late joiner".into()));
}

#[test]
fn native_forgery_is_broken_and_a_stranger_is_not_mine() {
    let mut registry = Registry::new();
    registry.set_now(NOW);
    registry.insert("family", ChatKeys::Native(native(1)));
    let mut pointer = native(1).encode("mallory", "pay me", NOW, [3; 16]).unwrap();
    pointer.data[0] ^= 1;
    match registry.recognize(&Pointer::Native(pointer.clone())) {
        Recognition::Broken { chat: "family", error: OpenError::BadMac } => {}
        other => panic!("expected Broken(BadMac), got {other:?}"),
    }
    pointer.tag[0] ^= 1;
    assert!(matches!(registry.recognize(&Pointer::Native(pointer)), Recognition::NotMine));
}

#[test]
fn native_chats_sharing_a_secret_share_tags_and_both_can_open() {
    let mut registry = Registry::new();
    registry.set_now(NOW);
    registry.insert("first name", ChatKeys::Native(native(5)));
    registry.insert("second name", ChatKeys::Native(native(5)));
    let pointer = native(5).encode("a", "same secret", NOW, [0; 16]).unwrap();
    assert_eq!(
        opened_by(registry.recognize(&Pointer::Native(pointer))),
        ("first name", "same secret".into())
    );
}

#[test]
fn formats_do_not_cross() {
    let mut registry = Registry::new();
    registry.insert(0, ChatKeys::Clm202(Clm202Chat::new("s", "n")));
    let native_pointer = native(0).encode("a", "b", NOW, [0; 16]).unwrap();
    let clm201_pointer = Clm201Chat::new("s", "0", None).unwrap().encode("a", "b", NOW).unwrap();
    assert!(matches!(registry.recognize(&Pointer::Native(native_pointer)), Recognition::NotMine));
    assert!(matches!(registry.recognize(&Pointer::Clm201(clm201_pointer)), Recognition::NotMine));
}

#[test]
fn senders_the_clm_formats_cannot_split_are_refused() {
    use clm_core::EncodeError;
    let clm201 = Clm201Chat::new("s", "0", None).unwrap().encode("a: b", "x", NOW);
    assert!(matches!(clm201, Err(EncodeError::InvalidSender(_))));
    let clm202 = Clm202Chat::new("s", "n").encode("a|¶|b", "x", NOW, "n");
    assert!(matches!(clm202, Err(EncodeError::InvalidSender(_))));
    // Inside the message both are fine.
    assert!(Clm202Chat::new("s", "n").encode("a", "x|¶|y: z", NOW, "n").is_ok());
}

/// xorshift64*: junk that is the same on every run.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pointer(&mut self) -> clm_core::Clm202Pointer {
        let len = 1 + (self.next() % 48) as usize;
        let data = (0..len).map(|_| self.next() as u8).collect();
        clm_core::Clm202Pointer {
            epoch: self.next() % 2_000_000_000,
            nonce: format!("{:x}", self.next()),
            data,
        }
    }
}

/// The bug: data shorter than a chat's `#name|¶|` prefix was compared on its few bytes only, so a
/// one-byte junk pointer passed the early rejection 1 time in 256 and was reported `Broken`
/// ("altered or forged?"). Data too short for any plaintext of the chat is now not the chat's,
/// and every byte of a short one must match: no false alarm in 100 000 junk pointers (the old
/// code raised 30 here, nearly all from the ~2 000 one-byte pointers against four chats).
#[test]
fn regression_clm202_junk_shorter_than_the_prefix_raised_false_alarms() {
    let mut registry = Registry::new();
    for (i, name) in ["Family", "Work", "家族のグループチャット", ""].into_iter().enumerate() {
        registry.insert(i, ChatKeys::Clm202(Clm202Chat::new(&format!("secret {i}"), name)));
    }
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    let mut claimed = Vec::new();
    for _ in 0..100_000 {
        let pointer = Pointer::Clm202(junk.pointer());
        match registry.recognize(&pointer) {
            Recognition::NotMine => {}
            other => claimed.push((pointer, format!("{other:?}"))),
        }
    }
    assert_eq!(claimed.len(), 0, "junk claimed by a chat: {:?}", claimed.first());
}

/// What the published CLM 2.0.2 sender emits for a long non-Latin chat name and a short message
/// is shorter than the chat's prefix (it keeps one byte per character): still this chat's.
#[test]
fn clm202_published_pointer_shorter_than_the_prefix_is_still_claimed() {
    use clm_core::format::clm202::encode_like_published_sender;
    let name = "家族のグループチャット";
    let mut registry = Registry::new();
    registry.insert("family", ChatKeys::Clm202(Clm202Chat::new("s", name)));
    let pointer = encode_like_published_sender("s", name, "alice", "ok", NOW, "n");
    assert!(pointer.data.len() < format!("#{name}|¶|").len());
    match registry.recognize(&Pointer::Clm202(pointer)) {
        Recognition::Broken { chat: "family", error: OpenError::BadPlaintext(_) } => {}
        other => panic!("expected Broken (cut inside the name) by family, got {other:?}"),
    }
}

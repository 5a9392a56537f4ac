//! Criterion benches for the figures issue 2 asks for ("Measured"). `scripts/bench-core.sh`
//! runs them next to the machine's own SHA-256 speed and prints each figure beside its target.
//!
//! Groups: `keystream` and `encrypt` (MiB/s by size), `native` (v1 and v2 encode and open,
//! MiB/s of message by size), `decode` (clm202 and native2 pointers per second), `recognize`
//! (pointers per second against large registries) and `detect` (MiB/s over a 10 MiB mixed text). Every fixture is built outside the timed loop; the large registries
//! lazily, so only for the benches criterion's filter selects.

use std::hint::black_box;

use clm_core::{
    ChatKeys, Clm201Chat, Clm202Chat, Keystream, Native2Keys, NativeKeys, Pointer, Recognition, Registry,
    detect, parse, sha256,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Sizes of the keystream and encryption benches.
const SIZES: [(usize, &str); 4] = [(64, "64B"), (KIB, "1KiB"), (64 * KIB, "64KiB"), (MIB, "1MiB")];
/// A fixed `now`; pointers are stamped a few minutes before it, inside the native tag window.
const NOW: u64 = 1_760_000_000;
const EPOCH: u64 = NOW - 300;

fn keystream(c: &mut Criterion) {
    let mut group = c.benchmark_group("keystream");
    for (size, label) in SIZES {
        let mut buffer = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| Keystream::new(black_box(b"bench seed_1760000000_nonce")).apply(black_box(&mut buffer)))
        });
    }
    group.finish();
}

fn encrypt(c: &mut Criterion) {
    let chat = Clm202Chat::new("bench secret", "bench");
    let overhead = chat.encode("alice", "", EPOCH, "n").expect("empty message encodes").data.len();
    let mut group = c.benchmark_group("encrypt");
    for (size, label) in SIZES {
        // The whole plaintext (`#name|¶|from|¶|message`) is `size` bytes, as is the ciphertext.
        let message = "x".repeat(size - overhead);
        assert_eq!(chat.encode("alice", &message, EPOCH, "n").expect("encodes").data.len(), size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| chat.encode("alice", black_box(&message), black_box(EPOCH), "n").expect("encodes"))
        });
    }
    group.finish();
}

/// Message sizes of the native benches.
const NATIVE_SIZES: [(usize, &str); 3] = [(KIB, "1KiB"), (64 * KIB, "64KiB"), (MIB, "1MiB")];

/// Native v1 and v2 side by side: encoding (encryption with the format's framing: v1's keystream
/// and MAC, v2's padding and AEAD) and opening (tag, authentication, decryption), by message size.
fn native(c: &mut Criterion) {
    let v1 = NativeKeys::from_root(&[7; 32]);
    let v2 = Native2Keys::from_root(&[7; 32]);
    let mut group = c.benchmark_group("native");
    for (size, label) in NATIVE_SIZES {
        let message = "x".repeat(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("v1_encrypt/{label}"), |b| {
            b.iter(|| v1.encode("alice", black_box(&message), EPOCH, [9; 16]).expect("encodes"))
        });
        group.bench_function(format!("v2_encrypt/{label}"), |b| {
            b.iter(|| v2.encode("alice", black_box(&message), EPOCH, [9; 24]).expect("encodes"))
        });
        let p1 = v1.encode("alice", &message, EPOCH, [9; 16]).expect("encodes");
        let p2 = v2.encode("alice", &message, EPOCH, [9; 24]).expect("encodes");
        assert_eq!(v1.open(&p1).expect("opens").text, message);
        assert_eq!(v2.open(&p2).expect("opens").text, message);
        group.bench_function(format!("v1_decrypt/{label}"), |b| {
            b.iter(|| v1.open(black_box(&p1)).expect("opens"))
        });
        group.bench_function(format!("v2_decrypt/{label}"), |b| {
            b.iter(|| v2.open(black_box(&p2)).expect("opens"))
        });
    }
    group.finish();
}

/// A native2 pointer of a 200-byte message (padded to 256: the length of every short message),
/// decoded from its text: parse, tag, AEAD, padding, UTF-8.
fn decode_native2(c: &mut Criterion) {
    let keys = Native2Keys::from_root(&[7; 32]);
    let message = "m".repeat(200);
    let text = Pointer::Native2(keys.encode("alice", &message, EPOCH, [9; 24]).expect("encodes")).to_json();
    let Ok(Pointer::Native2(parsed)) = parse(&text) else {
        panic!("the bench pointer must parse as native2")
    };
    assert_eq!(keys.open(&parsed).expect("opens").text, message);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("native2_200B_message_parse_and_open", |b| {
        b.iter(|| match parse(black_box(&text)) {
            Ok(Pointer::Native2(pointer)) => keys.open(&pointer).expect("opens"),
            other => panic!("unexpected parse result {other:?}"),
        })
    });
    group.bench_function("native2_200B_message_open_only", |b| {
        b.iter(|| keys.open(black_box(&parsed)).expect("opens"))
    });
    group.finish();
}

/// Pointer text length the decode benches aim at.
const DECODE_POINTER_CHARS: usize = 200;

fn decode(c: &mut Criterion) {
    let chat = Clm202Chat::new("bench secret", "bench");
    let nonce = "6f1d2c3b4a596877";
    let json_of = |message: &str| {
        Pointer::Clm202(chat.encode("alice", message, EPOCH, nonce).expect("encodes")).to_json()
    };
    // Each message byte adds two hex digits to the text.
    let message = "m".repeat((DECODE_POINTER_CHARS - json_of("").len()) / 2);
    let text = json_of(&message);
    assert!(text.len().abs_diff(DECODE_POINTER_CHARS) <= 1, "pointer is {} bytes", text.len());
    let Ok(Pointer::Clm202(parsed)) = parse(&text) else { panic!("the bench pointer must parse as clm202") };
    assert_eq!(chat.open(&parsed).expect("opens").text, message);

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("clm202_200B_parse_and_open", |b| {
        b.iter(|| match parse(black_box(&text)) {
            Ok(Pointer::Clm202(pointer)) => chat.open(&pointer).expect("opens"),
            other => panic!("unexpected parse result {other:?}"),
        })
    });
    group.bench_function("clm202_200B_open_only", |b| {
        b.iter(|| chat.open(black_box(&parsed)).expect("opens"))
    });
    group.finish();
}

/// Registry of `count` clm202 chats and a pointer of the last one inserted: every other chat
/// is tried, and rejected on its first keystream block, before the right one opens it.
fn clm202_registry(count: u32) -> (Registry<u32>, Pointer) {
    let mut registry = Registry::new();
    let chat_of = |i: u32| Clm202Chat::new(&format!("secret number {i}"), &format!("chat {i}"));
    for i in 0..count {
        registry.insert(i, ChatKeys::Clm202(chat_of(i)));
    }
    let last = count - 1;
    let pointer = Pointer::Clm202(
        chat_of(last).encode("alice", "hello from the last chat", EPOCH, "a1b2c3d4").expect("encodes"),
    );
    expect_opened_by(&mut registry, &pointer, last);
    (registry, pointer)
}

/// Registry of `count` native chats (roots from SHA-256 of the index: the real KDF would take
/// hours for 100 000 chats) with the live window set, and a pointer of the last one.
fn native_registry(count: u32) -> (Registry<u32>, Pointer) {
    let keys_of = |i: u32| NativeKeys::from_root(&sha256(&[b"bench root", &i.to_be_bytes()]));
    let mut registry = Registry::new();
    for i in 0..count {
        registry.insert(i, ChatKeys::Native(keys_of(i)));
    }
    registry.set_now(NOW);
    let last = count - 1;
    let pointer = Pointer::Native(
        keys_of(last).encode("alice", "hello from the last chat", EPOCH, [9; 16]).expect("encodes"),
    );
    expect_opened_by(&mut registry, &pointer, last);
    (registry, pointer)
}

/// Registry of `count` native chats, half of each version in one tag table, and a v2 pointer of
/// the last one (odd, so version 2): v2 recognition is the same one lookup.
fn native2_registry(count: u32) -> (Registry<u32>, Pointer) {
    let root_of = |i: u32| sha256(&[b"bench root", &i.to_be_bytes()]);
    let mut registry = Registry::new();
    for i in 0..count {
        let keys = if i % 2 == 0 {
            ChatKeys::Native(NativeKeys::from_root(&root_of(i)))
        } else {
            ChatKeys::Native2(Native2Keys::from_root(&root_of(i)))
        };
        registry.insert(i, keys);
    }
    registry.set_now(NOW);
    let last = count - 1;
    let keys = Native2Keys::from_root(&root_of(last));
    let pointer =
        Pointer::Native2(keys.encode("alice", "hello from the last chat", EPOCH, [9; 24]).expect("encodes"));
    expect_opened_by(&mut registry, &pointer, last);
    (registry, pointer)
}

fn expect_opened_by(registry: &mut Registry<u32>, pointer: &Pointer, chat: u32) {
    match registry.recognize(pointer) {
        Recognition::Opened { chat: opened_by, .. } if opened_by == chat => {}
        other => panic!("expected chat {chat} to open the bench pointer, got {other:?}"),
    }
}

fn recognize(c: &mut Criterion) {
    let mut group = c.benchmark_group("recognize");
    group.throughput(Throughput::Elements(1));

    let mut clm202 = None;
    group.bench_function("clm202_last_of_10000", |b| {
        let (registry, pointer) = clm202.get_or_insert_with(|| clm202_registry(10_000));
        b.iter(|| registry.recognize(black_box(pointer)))
    });
    // A large pointer no chat claims: each chat must reject it from its first block, without
    // touching the rest of the ciphertext, so this costs what the short worst case costs.
    let mut large = None;
    group.bench_function("clm202_not_mine_1MiB_of_10000", |b| {
        let (registry, _) = clm202.get_or_insert_with(|| clm202_registry(10_000));
        let pointer = large.get_or_insert_with(|| {
            let stranger = Clm202Chat::new("nobody's secret", "elsewhere");
            let pointer =
                Pointer::Clm202(stranger.encode("eve", &"x".repeat(MIB), EPOCH, "n").expect("encodes"));
            assert!(matches!(registry.recognize(&pointer), Recognition::NotMine));
            pointer
        });
        b.iter(|| registry.recognize(black_box(&*pointer)))
    });

    for count in [1u32, 1_000, 100_000] {
        let mut native = None;
        group.bench_function(BenchmarkId::new("native", count), |b| {
            let (registry, pointer) = native.get_or_insert_with(|| native_registry(count));
            b.iter(|| registry.recognize(black_box(pointer)))
        });
    }
    let mut mixed = None;
    group.bench_function("native2_of_100000_mixed", |b| {
        let (registry, pointer) = mixed.get_or_insert_with(|| native2_registry(100_000));
        b.iter(|| registry.recognize(black_box(pointer)))
    });
    group.finish();
}

/// Size of the detection corpus.
const CORPUS_BYTES: usize = 10 * MIB;
/// Filler text between two pointers.
const POINTER_SPACING: usize = 4 * KIB;

/// xorshift64*: a fixed seed gives the same corpus on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: [&str; 24] = [
    "the", "library", "of", "babel", "holds", "every", "message", "ever", "written", "pointer", "chrono",
    "meet", "tomorrow", "at", "noon", "near", "station", "bring", "keys", "and", "coffee", "see", "you",
    "soon",
];

/// Text around pointers: everything here looks a little like a pointer or like markup, and none is one.
const NOT_POINTERS: [&str; 10] = [
    "if (ready) { send(message); } else { wait(); }",
    "{curly braces in prose} and {{ template }} markers",
    r#"{"name": "alice", "age": 31, "tags": ["a", "b"]}"#,
    r#"{"e": 1760000000, "x": "not a pointer key"}"#,
    r#"{"c": 1, "e": 1760000000}"#,
    r#"{"e": 1760000000, "n": "abc", "d": "this is not hex"}"#,
    r#"{"e": 1760000000, "n": "abc", "d": "zz"}"#,
    r#"config = {"d": "0123456789abcdef"}; // half a pointer"#,
    "<p>Reply &amp; forward: <a href=\"https://example.org/?a=1&amp;b=2\">link</a></p>",
    "<div class=\"quote\"><span>&quot;quoted&quot; &lt;text&gt; &nbsp;here</span></div>",
];

fn filler_line(rng: &mut Rng, out: &mut String) {
    let prose = |rng: &mut Rng, out: &mut String| {
        for _ in 0..8 + rng.below(10) {
            out.push_str(rng.pick(&WORDS));
            out.push(' ');
        }
    };
    match rng.below(10) {
        0..=4 => prose(rng, out),
        5 | 6 => {
            out.push_str("> ");
            prose(rng, out);
        }
        7 => {
            out.push_str("<p>");
            prose(rng, out);
            out.push_str("</p>");
        }
        _ => out.push_str(rng.pick(&NOT_POINTERS)),
    }
    out.push('\n');
}

/// Inserts `gap` every `width` characters inside the `d` value of a pointer's JSON, as mail
/// clients wrap long lines.
fn wrap_data(json: &str, gap: &str, width: usize) -> String {
    let start = json.find(r#""d":"#).expect("pointer has d");
    let open = start + json[start + 4..].find('"').expect("d value opens") + 5;
    let close = open + json[open..].find('"').expect("d value closes");
    let value = &json[open..close];
    let mut out = String::with_capacity(json.len() + value.len() / width * gap.len() + gap.len());
    out.push_str(&json[..open]);
    for (i, piece) in value.as_bytes().chunks(width).enumerate() {
        if i > 0 {
            out.push_str(gap);
        }
        out.push_str(std::str::from_utf8(piece).expect("hex and base64url are ASCII"));
    }
    out.push_str(&json[close..]);
    out
}

/// A pointer of format `n % 3`, distinct for each `n` (epoch and nonce vary).
fn nth_pointer(n: u64, rng: &mut Rng) -> Pointer {
    let message: String = (0..4 + rng.below(40)).map(|_| rng.pick(&WORDS)).collect::<Vec<_>>().join(" ");
    let epoch = EPOCH + n;
    match n % 3 {
        0 => Pointer::Clm201(
            Clm201Chat::new("master seed", "1", None)
                .expect("chat")
                .encode("alice", &message, epoch)
                .expect("encodes"),
        ),
        1 => Pointer::Clm202(
            Clm202Chat::new("bench secret", "bench")
                .encode("bob", &message, epoch, &format!("nonce{n}"))
                .expect("encodes"),
        ),
        _ => {
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&n.to_be_bytes());
            Pointer::Native(
                NativeKeys::from_root(&[7; 32]).encode("carol", &message, epoch, nonce).expect("encodes"),
            )
        }
    }
}

/// Writes a pointer in one of the ways it turns up in the wild.
fn embed_pointer(pointer: &Pointer, style: u64, out: &mut String) {
    let json = pointer.to_json();
    match style % 5 {
        0 => out.push_str(&format!("here it is: {json} and that is all\n")),
        1 => out.push_str(&format!("wrapped by a mail client:\n{}\n", wrap_data(&json, "\n", 72))),
        2 => out.push_str(&format!("> > {}\n", wrap_data(&json, "\n> > ", 64))),
        3 => out.push_str(&format!("<pre><code>{}</code></pre>\n", json.replace('"', "&quot;"))),
        _ => out.push_str(&format!("<p>{}</p>\n", wrap_data(&json, "<br>\n", 76))),
    }
}

/// About 10 MiB of chat, mail and HTML text with a pointer every ~4 KiB, and the pointers
/// in order of appearance.
fn detection_corpus() -> (Vec<u8>, Vec<Pointer>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(CORPUS_BYTES + 2 * POINTER_SPACING);
    let mut pointers = Vec::new();
    while text.len() < CORPUS_BYTES {
        let filler_end = text.len() + POINTER_SPACING;
        while text.len() < filler_end {
            filler_line(&mut rng, &mut text);
        }
        let n = pointers.len() as u64;
        let pointer = nth_pointer(n, &mut rng);
        // Formats cycle with n % 3 and styles with n / 3: every format turns up in every style.
        embed_pointer(&pointer, n / 3, &mut text);
        pointers.push(pointer);
    }
    (text.into_bytes(), pointers)
}

fn detection(c: &mut Criterion) {
    // Built eagerly (about a second): the throughput needs the corpus length up front.
    let (text, pointers) = detection_corpus();
    // Outside the timing: the bench must measure a detection that finds every pointer.
    let found = detect(&text).found;
    assert_eq!(found.len(), pointers.len(), "detect must find every embedded pointer");
    for (i, (found, expected)) in found.iter().zip(&pointers).enumerate() {
        assert_eq!(&found.pointer, expected, "pointer {i} differs");
    }

    let mut group = c.benchmark_group("detect");
    // One pass over 10 MiB takes tens of milliseconds: fewer samples keep the run short.
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("mixed_10MiB", |b| b.iter(|| detect(black_box(&text))));
    group.finish();
}

criterion_group!(benches, keystream, encrypt, native, decode, decode_native2, recognize, detection);
criterion_main!(benches);

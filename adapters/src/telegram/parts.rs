//! Pointers longer than one Telegram message travel as numbered parts, and come back whole.
//!
//! A part is one message: a header line, a newline, then a piece of the pointer text:
//!
//! ```text
//! clm-part 3f9c0a1b2c3d4e5f 2/5
//! ...the second piece of the pointer...
//! ```
//!
//! The id is the first 16 hex digits of the SHA-256 of the whole pointer text, so the parts of
//! one pointer share it whoever sends them, and the receiver checks the reassembled text
//! against it: parts mixed up, altered or pasted incompletely are never forwarded. Pieces are
//! cut between two non-blank characters (when the text allows), because Telegram and people
//! copying messages trim blanks at the ends of a message.
//!
//! This module is pure (no I/O): [`split`] for the sender, [`parse`] and [`Reassembly`] for
//! the receiver, which keeps incomplete sets in memory within fixed bounds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use sha2::{Digest, Sha256};

/// What every part header starts with.
pub const PART_PREFIX: &str = "clm-part ";
/// Hex digits of the set id.
const ID_HEX: usize = 16;
/// The most parts a set may have: a 4 MiB pointer needs about 1050.
pub const MAX_PARTS: u32 = 4096;
/// How far back a cut may move to fall between two non-blank characters.
const CUT_SEARCH: usize = 64;
/// Half the least room a message must leave for a piece after its header.
const MIN_ROOM: usize = 16;

/// The length Telegram measures: UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// The set id of a pointer text: the first 16 hex digits of its SHA-256.
pub fn set_id(pointer: &str) -> String {
    let digest = Sha256::digest(pointer.as_bytes());
    let mut out = String::with_capacity(ID_HEX);
    for byte in &digest[..ID_HEX / 2] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn header(id: &str, index: u32, count: u32) -> String {
    format!("{PART_PREFIX}{id} {index}/{count}\n")
}

/// The messages that carry `pointer` within `limit` UTF-16 units each: the text itself when it
/// fits, else numbered parts (see the module documentation).
///
/// # Panics
/// If `limit` leaves no room for a piece after a header (below about 70).
pub fn split(pointer: &str, limit: usize) -> Vec<String> {
    if utf16_len(pointer) <= limit {
        return vec![pointer.to_owned()];
    }
    let id = set_id(pointer);
    // The header's length depends on the number of parts, which depends on the room the header
    // leaves: start from a guess and grow it until the pieces fit their headers.
    let mut count_guess: u32 = 2;
    loop {
        let room = limit
            .checked_sub(header(&id, count_guess, count_guess).len())
            .filter(|room| *room >= 2 * MIN_ROOM)
            .expect("the message limit leaves room for a part");
        let pieces = cut(pointer, room);
        let count = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
        if header(&id, count, count).len() <= header(&id, count_guess, count_guess).len() {
            return pieces
                .iter()
                .zip(1..)
                .map(|(piece, index)| format!("{}{piece}", header(&id, index, count)))
                .collect();
        }
        count_guess = count;
    }
}

/// Cuts `text` into pieces of at most `room` UTF-16 units, each cut between two non-blank
/// characters where one lies within [`CUT_SEARCH`] characters before the limit.
fn cut(text: &str, room: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // Byte offsets of the character boundaries that fit within `room`.
        let mut units = 0;
        let mut boundaries = Vec::new();
        for (at, c) in rest.char_indices() {
            units += c.len_utf16();
            if units > room {
                break;
            }
            boundaries.push(at + c.len_utf8());
        }
        let fits_all = boundaries.last() == Some(&rest.len());
        let end = if fits_all {
            rest.len()
        } else {
            boundaries
                .iter()
                .rev()
                .take(CUT_SEARCH.min(room / 2))
                .copied()
                .find(|&at| {
                    let before = rest[..at].chars().next_back();
                    let after = rest[at..].chars().next();
                    before.is_some_and(|c| !c.is_whitespace()) && after.is_some_and(|c| !c.is_whitespace())
                })
                .or_else(|| boundaries.last().copied())
                .unwrap_or_else(|| rest.chars().next().map_or(rest.len(), char::len_utf8))
        };
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces
}

/// One part as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The set id (16 lowercase hex digits).
    pub id: String,
    /// Its position, from 1.
    pub index: u32,
    /// How many parts the set has.
    pub count: u32,
    /// Its piece of the pointer.
    pub piece: String,
}

/// A message's text: the parts it holds (a person may paste several into one message) and the
/// text outside them, which is ordinary text to scan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// Text before the first part header (all of it when there is none).
    pub other: String,
    /// The parts, in the order they appear.
    pub parts: Vec<Part>,
}

/// Reads a part header line: `clm-part <16 hex> <i>/<n>`, blanks around it allowed.
fn parse_header(line: &str) -> Option<(String, u32, u32)> {
    let rest = line.trim().strip_prefix(PART_PREFIX)?;
    let (id, position) = rest.trim_start().split_once(' ')?;
    let (index, count) = position.trim().split_once('/')?;
    let valid_id = id.len() == ID_HEX && id.bytes().all(|b| b.is_ascii_hexdigit());
    let number = |text: &str| -> Option<u32> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 6 {
            return None;
        }
        text.parse().ok()
    };
    let (index, count) = (number(index)?, number(count)?);
    (valid_id && (1..=count).contains(&index) && count <= MAX_PARTS)
        .then(|| (id.to_ascii_lowercase(), index, count))
}

/// Splits a message's text into its parts and the text outside them.
pub fn parse(text: &str) -> Parsed {
    // Header lines with their byte range (start of line, end of line incl. newline).
    let mut headers = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if let Some(header) = parse_header(line) {
            headers.push((at, at + line.len(), header));
        }
        at += line.len();
    }
    let Some(&(first, _, _)) = headers.first() else {
        return Parsed { other: text.to_owned(), parts: Vec::new() };
    };
    let mut parts = Vec::with_capacity(headers.len());
    for (i, (_, body_start, (id, index, count))) in headers.iter().enumerate() {
        let body_end = headers.get(i + 1).map_or(text.len(), |next| next.0);
        // The newline before the next header separates; it is not part of the piece.
        let piece = text[*body_start..body_end].trim_end_matches(['\n', '\r']);
        if !piece.is_empty() {
            parts.push(Part { id: id.clone(), index: *index, count: *count, piece: piece.to_owned() });
        }
    }
    Parsed { other: text[..first].to_owned(), parts }
}

/// Which set a part belongs to: the chat it came in and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetKey {
    /// The chat.
    pub chat: i64,
    /// The set id.
    pub id: String,
}

/// The bounds on incomplete sets kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most incomplete sets; the oldest is dropped beyond.
    pub max_sets: usize,
    /// The most bytes of pieces in all incomplete sets; the oldest set is dropped beyond.
    pub max_bytes: usize,
    /// Completed sets remembered, so repeats of their parts (edits, re-sends) start nothing.
    pub remembered: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_sets: 64, max_bytes: 16 * 1024 * 1024, remembered: 1024 }
    }
}

/// An incomplete set.
#[derive(Debug)]
struct Partial {
    count: u32,
    pieces: BTreeMap<u32, String>,
    bytes: usize,
}

/// What adding a part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Kept, waiting for the rest of its set: the caller persists it.
    Kept,
    /// Nothing new: a copy of a kept part, a part of a set completed already, or a part whose
    /// count disagrees with its set's.
    Ignored(&'static str),
    /// The set is complete and checks out: the pointer text, and the indices of the parts kept
    /// before (to forget).
    Complete {
        /// The reassembled pointer text.
        text: String,
        /// Kept parts now done with.
        done: Vec<u32>,
    },
    /// The set is complete but its text does not match its id: dropped.
    Corrupt {
        /// Kept parts now done with.
        done: Vec<u32>,
    },
}

/// Incomplete sets by chat and id, bounded; never hands out half a set.
#[derive(Debug, Default)]
pub struct Reassembly {
    limits: Limits,
    sets: HashMap<SetKey, Partial>,
    /// Incomplete sets, oldest first.
    age: VecDeque<SetKey>,
    bytes: usize,
    completed: HashSet<SetKey>,
    completed_order: VecDeque<SetKey>,
}

impl Reassembly {
    /// An empty reassembly within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Incomplete sets now kept.
    pub fn pending_sets(&self) -> usize {
        self.sets.len()
    }

    /// Adds a part from `chat`. Returns what it did, and the sets dropped to stay within the
    /// bounds (with the indices of their kept parts, to forget).
    pub fn add(&mut self, chat: i64, part: Part) -> (Added, Vec<(SetKey, Vec<u32>)>) {
        let key = SetKey { chat, id: part.id.clone() };
        if self.completed.contains(&key) {
            return (Added::Ignored("its set was reassembled already"), Vec::new());
        }
        if part.count == 1 {
            return (self.finish(key, BTreeMap::from([(1, part.piece)]), Vec::new()), Vec::new());
        }
        let partial = match self.sets.get_mut(&key) {
            Some(partial) => partial,
            None => {
                self.age.push_back(key.clone());
                self.sets.entry(key.clone()).or_insert(Partial {
                    count: part.count,
                    pieces: BTreeMap::new(),
                    bytes: 0,
                })
            }
        };
        if partial.count != part.count {
            return (Added::Ignored("its count disagrees with the other parts of its set"), Vec::new());
        }
        if partial.pieces.contains_key(&part.index) {
            return (Added::Ignored("a copy of a part already kept"), Vec::new());
        }
        if partial.pieces.len() + 1 == partial.count as usize {
            let mut partial = self.sets.remove(&key).expect("present");
            self.age.retain(|k| k != &key);
            self.bytes -= partial.bytes;
            let done: Vec<u32> = partial.pieces.keys().copied().collect();
            partial.pieces.insert(part.index, part.piece);
            return (self.finish(key, partial.pieces, done), Vec::new());
        }
        partial.bytes += part.piece.len();
        self.bytes += part.piece.len();
        partial.pieces.insert(part.index, part.piece);
        let evicted = self.enforce_limits(&key);
        (Added::Kept, evicted)
    }

    fn finish(&mut self, key: SetKey, pieces: BTreeMap<u32, String>, done: Vec<u32>) -> Added {
        let text: String = pieces.into_values().collect();
        let id = key.id.clone();
        self.remember(key);
        if set_id(&text) == id { Added::Complete { text, done } } else { Added::Corrupt { done } }
    }

    fn remember(&mut self, key: SetKey) {
        if self.completed.insert(key.clone()) {
            self.completed_order.push_back(key);
        }
        while self.completed_order.len() > self.limits.remembered {
            if let Some(old) = self.completed_order.pop_front() {
                self.completed.remove(&old);
            }
        }
    }

    /// Drops the oldest sets (never `keep`, the one just added to) beyond the bounds.
    fn enforce_limits(&mut self, keep: &SetKey) -> Vec<(SetKey, Vec<u32>)> {
        let mut evicted = Vec::new();
        while self.sets.len() > self.limits.max_sets || self.bytes > self.limits.max_bytes {
            let Some(position) = self.age.iter().position(|k| k != keep) else { break };
            let Some(old) = self.age.remove(position) else { break };
            if let Some(partial) = self.sets.remove(&old) {
                self.bytes -= partial.bytes;
                evicted.push((old, partial.pieces.into_keys().collect()));
            }
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random generator for the property tests (no extra dependency).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn pointer_like(rng: &mut Lcg, len: usize) -> String {
        const ALPHABET: &[char] = &['a', 'f', '0', '9', '"', ':', ',', '{', '}', ' ', 'é', '€', '𝄞', '\n'];
        let mut text = String::from("{\"d\":\"");
        while text.chars().count() < len {
            text.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
        }
        text.push_str("\"}");
        text
    }

    fn reassemble(messages: &[String]) -> Vec<String> {
        let mut reassembly = Reassembly::new(Limits::default());
        let mut out = Vec::new();
        for message in messages {
            let parsed = parse(message);
            if !parsed.other.is_empty() {
                out.push(parsed.other);
            }
            for part in parsed.parts {
                match reassembly.add(-5, part).0 {
                    Added::Complete { text, .. } => out.push(text),
                    Added::Kept => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        out
    }

    #[test]
    fn a_short_pointer_is_one_plain_message() {
        assert_eq!(split("{\"e\":1}", 4096), ["{\"e\":1}"]);
        let exact = "x".repeat(4096);
        assert_eq!(split(&exact, 4096), [exact]);
    }

    #[test]
    fn a_long_pointer_goes_in_numbered_parts_within_the_limit() {
        let pointer = format!("{{\"d\":\"{}\"}}", "ab".repeat(10_000));
        let messages = split(&pointer, 4096);
        assert_eq!(messages.len(), 5);
        let id = set_id(&pointer);
        for (i, message) in messages.iter().enumerate() {
            assert!(utf16_len(message) <= 4096);
            assert!(message.starts_with(&format!("clm-part {id} {}/5\n", i + 1)), "{message:.40}");
        }
        assert_eq!(reassemble(&messages), [pointer]);
    }

    #[test]
    fn split_then_reassemble_round_trips_any_text_in_any_order() {
        let mut rng = Lcg(7);
        for round in 0..200 {
            let limit = 80 + rng.below(400) as usize;
            let len = 1 + rng.below(3000) as usize;
            let pointer = pointer_like(&mut rng, len);
            let mut messages = split(&pointer, limit);
            for message in &messages {
                assert!(utf16_len(message) <= limit, "round {round}: over the limit");
            }
            if messages.len() > 1 {
                // Arrival order is not guaranteed; neither are duplicates absent.
                for i in (1..messages.len()).rev() {
                    messages.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let parts_only: Vec<&String> = messages.iter().collect();
                assert!(parts_only.iter().all(|m| m.starts_with(PART_PREFIX)));
            }
            assert_eq!(reassemble(&messages), [pointer], "round {round}");
        }
    }

    #[test]
    fn cuts_avoid_blanks_at_the_ends_of_pieces() {
        let pointer = format!("{{\"n\":\"{}\"}}", "word ".repeat(400));
        for message in split(&pointer, 200) {
            let piece = message.split_once('\n').unwrap().1;
            assert_eq!(piece.trim(), piece, "{piece:?}");
        }
    }

    #[test]
    fn several_parts_pasted_in_one_message_with_text_before_them() {
        let pointer = "0123456789".repeat(30);
        let messages = split(&pointer, 120);
        let pasted = format!("here it is:\n{}\n{}\r\n", messages[1], messages[0]);
        let parsed = parse(&pasted);
        assert_eq!(parsed.other, "here it is:\n");
        assert_eq!(parsed.parts.len(), 2);
        assert_eq!((parsed.parts[0].index, parsed.parts[1].index), (2, 1));
        let mut rest: Vec<String> = messages[2..].to_vec();
        rest.push(pasted);
        assert_eq!(reassemble(&rest), ["here it is:\n".to_owned(), pointer]);
    }

    #[test]
    fn bad_headers_are_ordinary_text() {
        for text in [
            "clm-part 0123 1/2\nx",
            "clm-part 0123456789abcdeg 1/2\nx",
            "clm-part 0123456789abcdef 3/2\nx",
            "clm-part 0123456789abcdef 0/2\nx",
            "clm-part 0123456789abcdef 1/99999\nx",
            "clm-part 0123456789abcdef 1/-2\nx",
            "the clm-part 0123456789abcdef 1/2\nx",
        ] {
            assert_eq!(parse(text), Parsed { other: text.to_owned(), parts: vec![] }, "{text}");
        }
    }

    #[test]
    fn a_set_is_never_handed_out_half_or_altered() {
        let pointer = "abcdefghij".repeat(40);
        let messages = split(&pointer, 150);
        let mut reassembly = Reassembly::new(Limits::default());
        let parts: Vec<Part> = messages.iter().map(|m| parse(m).parts.remove(0)).collect();
        for part in &parts[..parts.len() - 1] {
            assert_eq!(reassembly.add(1, part.clone()).0, Added::Kept);
            assert_eq!(reassembly.add(1, part.clone()).0, Added::Ignored("a copy of a part already kept"));
        }
        // The same id in another chat is another set.
        assert_eq!(reassembly.add(2, parts[0].clone()).0, Added::Kept);
        let mut altered = parts.last().unwrap().clone();
        altered.piece.replace_range(0..1, "X");
        let kept: Vec<u32> = (1..parts.len() as u32).collect();
        assert_eq!(reassembly.add(1, altered).0, Added::Corrupt { done: kept });
        assert_eq!(reassembly.pending_sets(), 1);
        // A repeat of a part of a finished set starts nothing.
        assert!(matches!(reassembly.add(1, parts[0].clone()).0, Added::Ignored(_)));
    }

    #[test]
    fn incomplete_sets_stay_within_bounds_oldest_dropped_first() {
        let limits = Limits { max_sets: 2, max_bytes: 1000, remembered: 4 };
        let mut reassembly = Reassembly::new(limits);
        let part =
            |id: &str, piece: &str| Part { id: id.repeat(16), index: 1, count: 3, piece: piece.into() };
        assert_eq!(reassembly.add(1, part("a", "x")), (Added::Kept, vec![]));
        assert_eq!(reassembly.add(1, part("b", "x")), (Added::Kept, vec![]));
        let (added, evicted) = reassembly.add(1, part("c", "x"));
        assert_eq!(added, Added::Kept);
        assert_eq!(evicted, vec![(SetKey { chat: 1, id: "a".repeat(16) }, vec![1])]);
        let (_, evicted) = reassembly.add(1, part("d", &"y".repeat(1001)));
        assert_eq!(evicted.len(), 2, "the byte bound drops every older set: {evicted:?}");
        assert_eq!(reassembly.pending_sets(), 1);
    }
}

//! Bounded detection: the pointers of one input, at most `limit` of them, found a window at a
//! time so that memory stays bounded however many pointer-shaped objects a stranger packs in.
//!
//! `clm_core::detect` finds every pointer of its input at once (hundreds of thousands of them
//! in a 25 MB mail of junk: ~240 bytes of memory each). This runs it on windows instead:
//!
//! - plain text and HTML: on a window after the last object read (64 KiB, doubled while it holds
//!   no complete object, so a pointer larger than the window is still found whole). Core starts
//!   reading again after each object it read, and so do the windows: the result is the same
//!   except that HTML is guessed per window instead of for the whole text.
//! - a mail (a window core parsed as a mail): on growing prefixes of it (64 KiB, then four
//!   times larger each time), taking what each prefix adds, until the limit or the whole mail.
//!   A prefix's parse holds what it finds, so the memory is bounded by the limit for mails of
//!   evenly spread junk, and by the mail's size otherwise (the adapter bounds that). A
//!   `detect_at_most` in core would bound this too.

use std::collections::{HashSet, VecDeque};

use clm_core::{Origin, Pointer, PointerError, detect};

/// The first window (and the first mail prefix).
const WINDOW: usize = 64 * 1024;

/// How many of one kind of report there were, with the first one as an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally<E> {
    /// How many.
    pub count: u64,
    /// The first one.
    pub first: Option<E>,
}

impl<E> Default for Tally<E> {
    fn default() -> Tally<E> {
        Tally { count: 0, first: None }
    }
}

impl<E> Tally<E> {
    /// Counts one more.
    pub fn add(&mut self, example: E) {
        self.count += 1;
        self.first.get_or_insert(example);
    }

    /// Adds another tally's counts.
    pub fn merge(&mut self, other: Tally<E>) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// The pointers of one input, in order, each distinct one once, at most `limit`.
#[derive(Debug)]
pub struct Scanner<'a> {
    text: &'a [u8],
    limit: usize,
    taken: usize,
    /// Start of the next window (plain text).
    pos: usize,
    /// Size of the next window, or of the next prefix of a mail.
    window: usize,
    /// The input is a mail: prefixes, not windows.
    mail: bool,
    /// Everything of the input has been read.
    done: bool,
    queue: VecDeque<Pointer>,
    seen: HashSet<[u8; 32]>,
    rejected: Tally<PointerError>,
}

impl<'a> Scanner<'a> {
    /// A scanner of `text` that hands out at most `limit` pointers.
    pub fn new(text: &'a [u8], limit: usize) -> Scanner<'a> {
        Scanner {
            text,
            limit,
            taken: 0,
            pos: 0,
            window: WINDOW,
            mail: false,
            done: text.is_empty(),
            queue: VecDeque::new(),
            seen: HashSet::new(),
            rejected: Tally::default(),
        }
    }

    /// True when the limit stopped the reading before the end of the input.
    pub fn stopped_at_limit(&self) -> bool {
        self.taken >= self.limit && !(self.done && self.queue.is_empty())
    }

    /// Pointer-shaped objects that could not be used, among what was read.
    pub fn take_rejected(&mut self) -> Tally<PointerError> {
        std::mem::take(&mut self.rejected)
    }

    /// Reads the next window (or prefix) until one gives something or the input ends.
    fn refill(&mut self) {
        while self.queue.is_empty() && !self.done {
            let end = self.text.len().min(self.pos.saturating_add(self.window));
            let whole = end == self.text.len();
            let detection = detect(&self.text[self.pos..end]);
            self.mail |= detection
                .found
                .iter()
                .map(|f| f.origin)
                .chain(detection.rejected.iter().map(|r| r.origin))
                .any(|o| o != Origin::Input);
            if self.mail {
                // Prefixes of the mail (pos stays 0): what this one adds to the last.
                for found in detection.found {
                    if self.seen.insert(found.pointer.digest()) {
                        self.queue.push_back(found.pointer);
                    }
                }
                if whole {
                    detection.rejected.into_iter().for_each(|r| self.rejected.add(r.error));
                    self.done = true;
                } else {
                    self.window = self.window.saturating_mul(4);
                }
                continue;
            }
            // Objects that end before the window's end were read whole; one that runs into the
            // end may be cut, and is read again from the next window.
            let cut = if whole { usize::MAX } else { end - self.pos };
            let complete = |span_end: usize| span_end < cut;
            let read_to = detection
                .found
                .iter()
                .map(|f| f.span.end)
                .chain(detection.rejected.iter().map(|r| r.span.end))
                .filter(|&e| complete(e))
                .max();
            let Some(read_to) = read_to.or(if whole { Some(end - self.pos) } else { None }) else {
                self.window = self.window.saturating_mul(2);
                continue;
            };
            for found in detection.found.into_iter().filter(|f| f.span.end <= read_to) {
                if self.seen.insert(found.pointer.digest()) {
                    self.queue.push_back(found.pointer);
                }
            }
            for rejected in detection.rejected.into_iter().filter(|r| r.span.end <= read_to) {
                self.rejected.add(rejected.error);
            }
            self.pos += read_to;
            self.window = WINDOW;
            self.done = whole;
        }
    }
}

impl Iterator for Scanner<'_> {
    type Item = Pointer;

    fn next(&mut self) -> Option<Pointer> {
        if self.taken >= self.limit {
            return None;
        }
        self.refill();
        let pointer = self.queue.pop_front()?;
        self.taken += 1;
        Some(pointer)
    }
}

#[cfg(test)]
mod tests {
    use clm_core::Clm202Chat;

    use super::*;

    fn pointer(n: usize, data_bytes: usize) -> String {
        let text = "x".repeat(data_bytes);
        Pointer::Clm202(Clm202Chat::new("s", "c").encode("a", &text, 1_763_700_000, &n.to_string()).unwrap())
            .to_json()
    }

    fn texts(scanner: Scanner<'_>) -> Vec<String> {
        scanner.map(|p| p.to_json()).collect()
    }

    #[test]
    fn finds_what_detect_finds_across_many_windows() {
        // Small pointers, one large one (larger than a window) and junk between them.
        let mut text = String::new();
        let mut expected = Vec::new();
        for n in 0..3000 {
            let p = pointer(n, if n == 1500 { 200_000 } else { 10 });
            text.push_str(&format!("filler {n} {{not a pointer}} "));
            text.push_str(&p);
            expected.push(p);
        }
        text.push_str(&expected[7].clone()); // a repeat is reported once
        let whole: Vec<String> = detect(text.as_bytes()).found.iter().map(|f| f.pointer.to_json()).collect();
        assert_eq!(whole, expected);
        assert_eq!(texts(Scanner::new(text.as_bytes(), usize::MAX)), expected);
    }

    #[test]
    fn stops_at_the_limit_and_says_so() {
        let text: String = (0..100).map(|n| pointer(n, 4)).collect::<Vec<_>>().join("\n");
        let mut scanner = Scanner::new(text.as_bytes(), 10);
        assert_eq!(scanner.by_ref().count(), 10);
        assert!(scanner.stopped_at_limit());
        let mut all = Scanner::new(text.as_bytes(), 100);
        assert_eq!(all.by_ref().count(), 100);
        assert!(!all.stopped_at_limit(), "the limit was reached exactly at the end");
    }

    #[test]
    fn rejected_objects_are_counted_once() {
        let bad = r#"{"e":1,"n":"x","d":"zz"}"#;
        let text = format!("{bad} {} {bad}", pointer(1, 3));
        let mut scanner = Scanner::new(text.as_bytes(), usize::MAX);
        assert_eq!(scanner.by_ref().count(), 1);
        let rejected = scanner.take_rejected();
        assert_eq!(rejected.count, detect(text.as_bytes()).rejected.len() as u64);
        assert!(rejected.first.is_some());
    }

    #[test]
    fn a_mail_is_read_by_growing_prefixes() {
        let mut mail = String::from("From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n");
        let pointers: Vec<String> = (0..5000).map(|n| pointer(n, 8)).collect();
        for p in &pointers {
            mail.push_str(p);
            mail.push_str("\r\n");
        }
        assert_eq!(texts(Scanner::new(mail.as_bytes(), usize::MAX)), pointers);
        assert_eq!(texts(Scanner::new(mail.as_bytes(), 700)), pointers[..700]);
    }
}

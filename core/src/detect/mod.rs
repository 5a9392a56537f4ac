//! Finds pointers in any text: chat messages, HTML, quoted replies, whole RFC 822/MIME mails.
//!
//! The input is first classified: a mail (a header block naming mail headers) is parsed with
//! `mail-parser` and each text part, the subject and small text-like attachments are scanned;
//! anything else is scanned as it is, in HTML mode when it looks like HTML. The same pointer
//! found twice (text and HTML alternatives, a quoted copy) is reported once.

mod mail;
mod reader;

use std::collections::HashSet;
use std::ops::Range;

pub use reader::{MAX_SHORT_VALUE_BYTES, MAX_VALUE_CHARS};

use crate::{Pointer, PointerError, Rejected};

/// Where in the input a pointer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The input itself; spans are byte offsets into it.
    Input,
    /// The decoded text of the n-th scanned part of a mail (in parse order).
    MailPart(usize),
    /// The decoded subject of a mail.
    MailSubject,
}

/// A pointer found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The parsed pointer.
    pub pointer: Pointer,
    /// Byte range of its text (from `{` to `}`) within the text named by `origin`.
    pub span: Range<usize>,
    /// Which text it was found in.
    pub origin: Origin,
}

/// Everything [`detect`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    /// Pointers, in order of appearance, each distinct pointer once.
    pub found: Vec<Found>,
    /// Pointer-shaped objects that could not be used (bad field, too large, unknown version).
    pub rejected: Vec<Rejected>,
}

/// Finds every pointer in `input`. Never panics; linear in the input's length.
pub fn detect(input: &[u8]) -> Detection {
    let mut detection = Detection::default();
    let mut seen = HashSet::new();
    if !mail::looks_like_mail(input) || !mail::scan_mail(input, &mut detection, &mut seen) {
        scan_text(input, Origin::Input, Markup::Guess, &mut detection, &mut seen);
    }
    detection
}

/// Parses text that should hold exactly one pointer (surrounding text is allowed).
pub fn parse(text: &str) -> Result<Pointer, PointerError> {
    // The common case, a bare pointer, needs no classification and no dedupe.
    let trimmed = text.trim_ascii();
    if trimmed.starts_with('{')
        && let (reader::Outcome::Pointer(pointer), end) = reader::read_at(trimmed.as_bytes(), 0, false)
        && end == trimmed.len()
    {
        return Ok(pointer);
    }
    let mut detection = detect(text.as_bytes());
    match detection.found.len() {
        1 => Ok(detection.found.remove(0).pointer),
        0 => Err(detection.rejected.into_iter().next().map_or(PointerError::NotFound, |r| r.error)),
        n => Err(PointerError::SeveralFound(n)),
    }
}

/// What is known of a text's markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// Plain text: quotes, `&` and `<` are themselves.
    Plain,
    /// Declared HTML (a mail's text/html part): entities decode, tags are skipped.
    Html,
    /// Unknown: HTML when it shows markup (see [`read_guessing`]).
    Guess,
}

/// Scans one text for pointer objects.
pub(crate) fn scan_text(
    text: &[u8],
    origin: Origin,
    markup: Markup,
    out: &mut Detection,
    seen: &mut HashSet<[u8; 32]>,
) {
    let markers = if markup == Markup::Guess { html_markers(text) } else { None };
    let mut pos = 0;
    while let Some(offset) = memchr::memchr(b'{', &text[pos..]) {
        let start = pos + offset;
        let (outcome, end) = match (markup, markers) {
            (Markup::Html, _) => reader::read_at(text, start, true),
            (Markup::Guess, Some(markers)) => read_guessing(text, start, markers),
            _ => reader::read_at(text, start, false),
        };
        match outcome {
            reader::Outcome::Pointer(pointer) => {
                if seen.insert(pointer.digest()) {
                    out.found.push(Found { pointer, span: start..end, origin });
                }
                pos = end;
            }
            reader::Outcome::Rejected(error) => {
                out.rejected.push(Rejected { span: start..end, origin, error });
                pos = end.max(start + 1);
            }
            reader::Outcome::NotAPointer => pos = start + 1,
        }
    }
}

/// Reads the object at `start` in text that shows markup somewhere. That markup may be the
/// pointer's own (a nonce `<b>`, a chat id `a&quot;b` in plain text), so the object is read both
/// as plain text and as HTML; when both readings give a pointer and they differ, markup outside
/// the object decides that the text is HTML.
fn read_guessing(text: &[u8], start: usize, (first, last): (usize, usize)) -> (reader::Outcome, usize) {
    use reader::Outcome::{NotAPointer, Pointer};
    let plain = reader::read_at(text, start, false);
    let html = reader::read_at(text, start, true);
    match (&plain.0, &html.0) {
        (Pointer(a), Pointer(b)) if a != b => {
            let markup_elsewhere = first < start || last >= plain.1;
            if markup_elsewhere { html } else { plain }
        }
        (Pointer(_), Pointer(_)) => html,
        (Pointer(_), _) | (_, NotAPointer) => plain,
        _ => html,
    }
}

/// Positions of the first and last HTML markers: an encoded quote, or a `<` that starts a tag.
fn html_markers(text: &[u8]) -> Option<(usize, usize)> {
    let is_marker = |&i: &usize| {
        let rest = &text[i + 1..];
        if text[i] == b'<' {
            rest.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/' || *b == b'!')
        } else {
            rest.starts_with(b"quot;") || rest.starts_with(b"#34;") || rest.starts_with(b"#x22;")
        }
    };
    let first = memchr::memchr2_iter(b'&', b'<', text).find(is_marker)?;
    let last = memchr::memchr2_iter(b'&', b'<', text).rev().find(is_marker)?;
    Some((first, last))
}

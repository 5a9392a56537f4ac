//! Mail input: recognise an RFC 822 message and scan its decoded parts.

use std::collections::HashSet;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::{Detection, Markup, Origin, scan_text};

/// Headers that mark a header block as a mail's.
const MAIL_HEADERS: [&[u8]; 10] = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"mime-version",
    b"content-type",
    b"message-id",
    b"received",
    b"return-path",
    b"delivered-to",
];
/// How far into the input the header block is looked for.
const HEADER_WINDOW: usize = 64 * 1024;
/// Nested `message/rfc822` parts followed at most this deep.
const MAX_NESTING: usize = 8;
/// Attachments scanned as text when at most this large.
const MAX_TEXT_ATTACHMENT: usize = 8 * 1024 * 1024;

/// True when the input starts with a header block that names at least one mail header.
pub(super) fn looks_like_mail(input: &[u8]) -> bool {
    let window = &input[..input.len().min(HEADER_WINDOW)];
    let mut known = false;
    let mut lines = 0;
    for line in window.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return known && lines > 0;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if lines == 0 {
                return false;
            }
            continue; // folded header continuation
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return false;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
            return false;
        }
        known |= MAIL_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h));
        lines += 1;
    }
    false
}

/// Scans a mail's subject and text parts. Returns false when it could not be parsed as one.
pub(super) fn scan_mail(input: &[u8], out: &mut Detection, seen: &mut HashSet<[u8; 32]>) -> bool {
    let Some(message) = MessageParser::default().parse(input) else {
        return false;
    };
    if let Some(subject) = message.subject() {
        scan_text(subject.as_bytes(), Origin::MailSubject, Markup::Plain, out, seen);
    }
    let mut index = 0;
    scan_parts(&message, 0, &mut index, out, seen);
    true
}

fn scan_parts(
    message: &Message<'_>,
    depth: usize,
    index: &mut usize,
    out: &mut Detection,
    seen: &mut HashSet<[u8; 32]>,
) {
    for part in &message.parts {
        let (bytes, markup): (&[u8], Markup) = match &part.body {
            PartType::Text(text) => (text.as_bytes(), Markup::Guess),
            PartType::Html(html) => (html.as_bytes(), Markup::Html),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) if is_text_attachment(part, bytes) => {
                (bytes.as_ref(), Markup::Plain)
            }
            PartType::Message(nested) if depth < MAX_NESTING => {
                scan_parts(nested, depth + 1, index, out, seen);
                continue;
            }
            _ => continue,
        };
        scan_text(bytes, Origin::MailPart(*index), markup, out, seen);
        *index += 1;
    }
}

/// A pointer saved as a file (`application/json`, `text/*`, `*.json`, `*.txt`) and sent as an
/// attachment is worth scanning; other binaries are not.
fn is_text_attachment(part: &mail_parser::MessagePart<'_>, bytes: &[u8]) -> bool {
    if bytes.len() > MAX_TEXT_ATTACHMENT {
        return false;
    }
    let by_type = part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            || (ct.ctype().eq_ignore_ascii_case("application")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("json")))
    });
    let by_name = part.attachment_name().is_some_and(|name| {
        let name = name.to_ascii_lowercase();
        name.ends_with(".json") || name.ends_with(".txt")
    });
    by_type || by_name
}

//! How other people's text is shown: terminal lines that it cannot forge, diagnostics that
//! quote names, and the one JSON object an opened message is printed as (`scan --json`,
//! `receive --json`, the daemon's `--json` lines and `on_message` input, the API).

use std::borrow::Cow;
use std::io;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::times::format_epoch;

/// `TIME CHAT FROM: TEXT`: the sender's time in UTC, control characters escaped, and a mark when
/// CLM 2.0.2's sender cut the text short. `history`, `scan` and the daemon all print this.
pub fn message_line(epoch: u64, chat: &str, from: &str, text: &str, truncated: bool) -> String {
    let mut line =
        format!("{} {} {}: {}", format_epoch(epoch), printable(chat), printable(from), printable(text));
    if truncated {
        line.push_str(" [truncated by the sender's CLM]");
    }
    line
}

/// Characters that must never reach a terminal raw: controls (line breaks, escape sequences),
/// bidirectional controls that reorder what is shown (U+202A–E, U+2066–9, U+200E/F, U+061C),
/// line and paragraph separators, and invisible characters that hide or join text (zero-width
/// space, joiners, word joiner, byte order mark).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'
                | '\u{061c}'
                | '\u{feff}'
        )
}

/// Text from other people made safe for a terminal line: every character of [`needs_escape`]
/// shown escaped (`\u{202e}`), so a message can neither forge output lines nor reorder or hide
/// what is shown.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A name as it appears in a diagnostic: JSON-quoted (with [`needs_escape`] characters
/// escaped), so control characters cannot forge lines.
pub fn quoted(text: &str) -> String {
    json_text(&text).to_string()
}

/// Compact JSON in which every [`needs_escape`] character is written `\uXXXX`: the same value
/// for a JSON reader, and nothing a terminal acts on when the line is shown raw. (Such
/// characters can only occur inside JSON strings, where the escape means the same.)
pub fn json_text(value: &impl Serialize) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(256));
    // Strings, numbers, booleans and maps of them always serialise, and into a Vec nothing
    // fails to be written.
    let _ = write_json(&mut *bytes, value);
    // serde_json writes UTF-8 only.
    Zeroizing::new(String::from_utf8(std::mem::take(&mut *bytes)).unwrap_or_default())
}

/// [`json_text`] written straight into `out`: no copy of the value's text in between (a
/// megabyte message is written as it is escaped, not built in memory first).
pub fn write_json(out: &mut dyn io::Write, value: &impl Serialize) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, TerminalSafe);
    value.serialize(&mut serializer).map_err(io::Error::from)
}

/// serde_json's compact output, with every [`needs_escape`] character inside strings written
/// as `\uXXXX` (serde_json escapes only `"`, `\\` and control characters below U+0020).
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| needs_escape(*c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// An opened message as one JSON object, the same everywhere it is printed. Field order is the
/// output's key order; `new` only where a command tells new from already-known messages.
#[derive(Debug, Serialize)]
pub struct MessageJson<'a> {
    /// History id.
    pub id: i64,
    /// Chat name.
    pub chat: &'a str,
    /// Sender name.
    pub from: &'a str,
    /// Message text.
    pub text: &'a str,
    /// The sender's epoch.
    pub epoch: u64,
    /// Pointer format.
    pub format: &'static str,
    /// Bytes were lost by CLM 2.0.2's sender.
    pub truncated: bool,
    /// Transport it arrived over.
    pub transport: &'a str,
    /// Where within the transport.
    pub origin: &'a str,
    /// Whether it was new to history (omitted where not told).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    /// Its epoch is more than a day ahead of this machine's clock (omitted when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_the_future: bool,
}

impl MessageJson<'_> {
    /// The object as one line, without a newline.
    pub fn line(&self) -> Zeroizing<String> {
        json_text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_line_breaks_escapes_and_bidi() {
        assert!(matches!(printable("plain ¶ text"), Cow::Borrowed("plain ¶ text")));
        assert_eq!(printable("two\nlines"), "two\\nlines");
        assert_eq!(printable("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(printable("tab\there\r"), "tab\\there\\r");
    }

    #[test]
    fn regression_invisible_and_separator_characters_reached_the_terminal_raw() {
        for c in
            ['\u{2028}', '\u{2029}', '\u{200b}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{feff}', '\u{85}']
        {
            let text = format!("a{c}b");
            let shown = printable(&text);
            assert!(!shown.contains(c), "{:?} shown raw", c);
            assert!(shown.starts_with('a') && shown.ends_with('b'), "{shown}");
        }
    }

    #[test]
    fn json_lines_escape_what_a_terminal_acts_on_and_mean_the_same() {
        let text = "rtl\u{202e}override \u{1b}[2J\u{2028}sep \u{feff} \u{7f} é 🌌";
        let line = json_text(&serde_json::json!({ "text": text }));
        assert!(!line.chars().any(needs_escape), "{}", line.as_str());
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["text"], text, "a JSON reader sees the same text");
        assert!(line.contains("é 🌌"), "ordinary characters stay readable: {}", line.as_str());
        assert_eq!(quoted("a\nb\u{202e}"), "\"a\\nb\\u202e\"");
    }
}

//! Text that strangers control (display names, room names, file names, chat titles, a server's
//! error text), made safe for a log line: control characters, bidirectional overrides and
//! line separators are written as `\u{..}` escapes, so they can neither forge log lines nor
//! reorder what a terminal shows, and a long text is cut.

use std::fmt;

/// Characters of a stranger's text shown in one log field at most.
const MAX_CHARS: usize = 200;

/// `text` for a log line: `tracing::info!(room = %Escaped(name), ...)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escaped<'a>(pub &'a str);

/// Whether `c` must not reach a log line raw.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, c) in self.0.chars().enumerate() {
            if shown == MAX_CHARS {
                return f.write_str("…");
            }
            if is_unsafe(c) {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(Escaped("Family room").to_string(), "Family room");
        assert_eq!(Escaped("a\nINFO forged").to_string(), "a\\u{a}INFO forged");
        assert_eq!(Escaped("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
        assert_eq!(Escaped("evil\u{202E}txt.exe").to_string(), "evil\\u{202e}txt.exe");
        assert_eq!(Escaped("\u{2066}x\u{2069}").to_string(), "\\u{2066}x\\u{2069}");
        assert_eq!(Escaped("ünïcödé ok").to_string(), "ünïcödé ok");
        let long = "x".repeat(1000);
        assert_eq!(Escaped(&long).to_string().chars().count(), MAX_CHARS + 1);
    }
}

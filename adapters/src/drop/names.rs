//! File names: which are not pointers at all, which are `send`'s, and how any name is shown in
//! a log line.

use std::fmt::{self, Write as _};

/// Temporary files (ours, rsync's, Syncthing's, editors') and hidden files are not pointers.
pub(super) fn is_ignored(name: &[u8]) -> bool {
    name.starts_with(b".") || name.ends_with(b".tmp")
}

/// Names `send` writes ([`super::DropTransport::file_name_for`]): `clm-` + 32 lowercase hex digits + `.json`.
pub(super) fn is_digest_name(name: &str) -> bool {
    name.strip_prefix("clm-").and_then(|rest| rest.strip_suffix(".json")).is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A file name as a log line shows it: printable ASCII as it is (a backslash doubled), every
/// other character escaped as `\u{hex}` and every byte that is not UTF-8 as `\xNN`. Names come
/// from whoever writes to the folder: raw, one could clear a terminal (`ESC[2J`), forge log
/// lines (CR, LF, U+2028), reorder what is shown (U+202E) or hide characters (U+200B).
#[derive(Debug, Clone, Copy)]
pub(super) struct Shown<'a>(pub &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    ' '..='~' => f.write_char(c)?,
                    _ => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                }
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_names_hold_printable_ascii_only_and_stay_distinct() {
        let shown = |name: &[u8]| Shown(name).to_string();
        assert_eq!(shown(b"clm-00ff.json"), "clm-00ff.json");
        assert_eq!(shown("a\u{1b}[2J\r\n.json".as_bytes()), r"a\u{1b}[2J\u{d}\u{a}.json");
        assert_eq!(
            shown("\u{202e}\u{2028}\u{2029}\u{200b}\u{feff}\t\u{7f}\u{9b}".as_bytes()),
            r"\u{202e}\u{2028}\u{2029}\u{200b}\u{feff}\u{9}\u{7f}\u{9b}"
        );
        assert_eq!(shown("café".as_bytes()), r"caf\u{e9}");
        assert_eq!(shown(b"odd-\xff-name"), r"odd-\xff-name");
        // A name cannot pass itself off as another's escape.
        assert_eq!(shown(br"a\u{1b}"), r"a\\u{1b}");
        assert_ne!(shown(br"a\u{1b}"), shown(b"a\x1b"));
        for name in [&b"\x00\x01\xc3"[..], "\u{10ffff}".as_bytes(), b"\xed\xa0\x80"] {
            assert!(shown(name).bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{name:?}");
        }
    }

    #[test]
    fn digest_names_and_ignored_names() {
        assert!(is_digest_name("clm-0123456789abcdef0123456789abcdef.json"));
        for not in [
            "clm-0123456789ABCDEF0123456789abcdef.json",
            "clm-0123.json",
            "x-0123456789abcdef0123456789abcdef.json",
        ] {
            assert!(!is_digest_name(not), "{not}");
        }
        assert!(is_ignored(b".hidden.json") && is_ignored(b"half.tmp"));
        assert!(!is_ignored(b"note.json") && !is_ignored(b"x.TMP"));
    }
}

//! Reading what the commands work on: a message on standard input, a file or standard input to
//! scan.

use std::io::Read as _;
use std::path::Path;

use zeroize::Zeroizing;

/// Why the input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Reading a FILE or standard input failed.
    #[error("cannot read {what}: {source}")]
    Read {
        /// What was read, e.g. "standard input" or "file mail.eml".
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// A message read from standard input is not UTF-8.
    #[error("the message on standard input is not valid UTF-8")]
    MessageNotUtf8,
}

/// Removes one trailing newline (`\n` or `\r\n`): the one `echo` or an editor adds. Only one,
/// so a message that really ends in a blank line keeps it.
pub fn strip_one_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r\n").or_else(|| bytes.strip_suffix(b"\n")).unwrap_or(bytes)
}

/// Turns bytes read from standard input into a message: UTF-8, one trailing newline removed.
pub fn message_from_bytes(bytes: &[u8]) -> Result<Zeroizing<String>, InputError> {
    let text = std::str::from_utf8(strip_one_newline(bytes)).map_err(|_| InputError::MessageNotUtf8)?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Reads the message to encode from standard input, to its end.
pub fn read_message_from_stdin() -> Result<Zeroizing<String>, InputError> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read { what: "standard input".into(), source })?;
    message_from_bytes(&bytes)
}

/// Reads the text to scan: the file, or standard input when there is none or it is `-`.
pub fn read_scan_input(file: Option<&Path>) -> Result<Vec<u8>, InputError> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read(path)
            .map_err(|source| InputError::Read { what: format!("file {}", path.display()), source }),
        _ => {
            let mut bytes = Vec::with_capacity(stdin_size_hint());
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|source| InputError::Read { what: "standard input".into(), source })?;
            Ok(bytes)
        }
    }
}

/// The size of standard input when it is a regular file (`< mail.eml`): read into one buffer
/// of that size, not grown by doubling (copies, and fresh pages the kernel must zero).
fn stdin_size_hint() -> usize {
    use std::os::fd::AsFd as _;
    let size = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .map_or(0, |metadata| if metadata.is_file() { metadata.len() } else { 0 });
    // One byte more: read_to_end's last read (the one that finds the end) needs room.
    usize::try_from(size).map_or(0, |size| size.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_newline_is_stripped() {
        assert_eq!(strip_one_newline(b"hi"), b"hi");
        assert_eq!(strip_one_newline(b"hi\n"), b"hi");
        assert_eq!(strip_one_newline(b"hi\r\n"), b"hi");
        assert_eq!(strip_one_newline(b"hi\n\n"), b"hi\n");
        assert_eq!(strip_one_newline(b"hi\r"), b"hi\r");
        assert_eq!(strip_one_newline(b"\n"), b"");
        assert_eq!(strip_one_newline(b""), b"");
    }

    #[test]
    fn message_must_be_utf8() {
        assert_eq!(message_from_bytes("a\0é\n".as_bytes()).unwrap().as_str(), "a\0é");
        assert!(matches!(message_from_bytes(b"\xc3\n"), Err(InputError::MessageNotUtf8)));
    }

    #[test]
    fn unreadable_file_is_an_input_error() {
        let error = read_scan_input(Some(Path::new("/nonexistent/clm-bridge/input"))).unwrap_err();
        assert!(
            matches!(&error, InputError::Read { what, .. } if what.contains("/nonexistent/clm-bridge/input"))
        );
    }
}

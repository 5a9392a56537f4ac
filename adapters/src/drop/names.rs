//! File names: which are not pointers at all, and which are `send`'s.

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

#[cfg(test)]
mod tests {
    use super::*;

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

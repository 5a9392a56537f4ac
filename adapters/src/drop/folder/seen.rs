//! The seen set: which (name, content) pairs were reported already, stored as cursors.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::Cursor;
use crate::drop::{SEEN_CURSOR_PREFIX, Sha256Digest};

/// (name, content) pairs already reported, by [`seen_key`]: rebuilt from the `seen:` cursors.
#[derive(Debug, Default)]
pub(super) struct Seen(HashSet<u128>);

impl Seen {
    /// The set the `seen:` cursors hold, and the keys of those that hold garbage. Cursors of
    /// other kinds are not ours to read.
    pub fn from_cursors(cursors: &[Cursor]) -> (Seen, Vec<String>) {
        let mut seen = HashSet::with_capacity(cursors.len());
        let mut bad = Vec::new();
        for cursor in cursors.iter().filter(|c| c.key.starts_with(SEEN_CURSOR_PREFIX)) {
            match parse_seen_keys(&cursor.value) {
                Some(keys) => seen.extend(keys),
                None => bad.push(cursor.key.clone()),
            }
        }
        (Seen(seen), bad)
    }

    /// Adds a key; false if it was there.
    pub fn insert(&mut self, key: u128) -> bool {
        self.0.insert(key)
    }

    /// Room for `files` keys in all, so the table grows once for a whole folder.
    pub fn reserve_for(&mut self, files: usize) {
        self.0.reserve(files.saturating_sub(self.0.len()));
    }
}

/// What the seen set holds for a file name and the content reported under it: 128 bits of
/// SHA-256 over both. Deterministic, as it is rebuilt from the stored cursors after a restart.
pub(super) fn seen_key(name: &str, digest: &Sha256Digest) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(digest);
    let full: [u8; 32] = hasher.finalize().into();
    let mut half = [0u8; 16];
    half.copy_from_slice(&full[..16]);
    u128::from_le_bytes(half)
}

/// The cursor recording a group of files reported together: key `seen:` + the first key, value
/// every key, in hex. One row per read batch instead of one per file: storing 100 000
/// per-file rows cost the store a third of its time.
pub(super) fn seen_cursor(keys: &[u128]) -> Option<Cursor> {
    let first = keys.first()?;
    let mut value = String::with_capacity(keys.len() * 32);
    for key in keys {
        value.push_str(&format!("{key:032x}"));
    }
    Some(Cursor { key: format!("{SEEN_CURSOR_PREFIX}{first:032x}"), value })
}

/// A seen-set cursor value: the hex of one or more 16-byte seen keys.
fn parse_seen_keys(text: &str) -> Option<Vec<u128>> {
    if text.is_empty() || !text.len().is_multiple_of(32) {
        return None;
    }
    (0..text.len()).step_by(32).map(|at| u128::from_str_radix(text.get(at..at + 32)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_cursors_round_trip_and_refuse_garbage() {
        let keys = [seen_key("a.json", &[1; 32]), seen_key("b.json", &[1; 32]), seen_key("a.json", &[2; 32])];
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 3, "name and content both count");
        let cursor = seen_cursor(&keys).unwrap();
        assert_eq!(cursor.key, format!("seen:{:032x}", keys[0]));
        assert_eq!(parse_seen_keys(&cursor.value), Some(keys.to_vec()));
        assert_eq!(seen_cursor(&[]), None);
        for bad in ["", "00", &"zz".repeat(16), &"é".repeat(16), &"0".repeat(33)] {
            assert_eq!(parse_seen_keys(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_seen_cursors_are_read_and_garbage_is_named() {
        let key = seen_key("a.json", &[1; 32]);
        let cursors = [
            seen_cursor(&[key]).unwrap(),
            Cursor { key: "uid:INBOX".into(), value: "7".into() },
            Cursor { key: "seen:broken".into(), value: "not hex".into() },
        ];
        let (mut seen, bad) = Seen::from_cursors(&cursors);
        assert_eq!(bad, ["seen:broken"]);
        assert!(!seen.insert(key), "restored");
        assert_eq!(seen.0.len(), 1);
    }
}

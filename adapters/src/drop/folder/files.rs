//! What is known of every entry of the folder dealt with: a fixed-size record by a hash of the
//! name, never the name itself, so a folder of a million long-named files costs a million
//! small records.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::{Kind, Skip, Stamp};

/// An entry dealt with (reported, already seen, or skipped) in the state it was in.
#[derive(Debug, Clone, Copy)]
struct Known {
    inode: u64,
    /// A hash of the rest of a regular file's stamp (zero for other kinds).
    fingerprint: u64,
    /// The last listing that showed it.
    listing: u32,
    kind: Kind,
    /// Why it is skipped, if it is: each entry is warned about once per reason.
    warned: Option<Skip>,
}

/// Records of the entries dealt with, by [`Files::key`].
///
/// Keys are a per-process random SipHash of the name: names chosen by someone else cannot be
/// made to collide, and a chance collision (about 1 in 4·10⁹ for 100 000 names) costs one more
/// read of a file, never a message: what was reported is decided by the seen set, whose keys
/// are 128 bits of SHA-256.
#[derive(Debug)]
pub(super) struct Files {
    hasher: RandomState,
    known: HashMap<u64, Known>,
    /// The number of the latest listing.
    listing: u32,
}

impl Files {
    pub fn new() -> Self {
        Self { hasher: RandomState::new(), known: HashMap::new(), listing: 0 }
    }

    pub fn key(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    /// Starts a listing; returns its number.
    pub fn begin_listing(&mut self) -> u32 {
        self.listing = self.listing.wrapping_add(1);
        self.listing
    }

    /// The number of the latest listing.
    pub fn latest_listing(&self) -> u32 {
        self.listing
    }

    /// Notes the entry was listed (as `inode` of `kind`); true if it is known under that inode
    /// and kind. A quick scan takes that as unchanged: new files and atomic replacements show
    /// up in the listing itself.
    pub fn listed(&mut self, key: u64, inode: u64, kind: Kind) -> bool {
        let listing = self.listing;
        self.known.get_mut(&key).is_some_and(|known| {
            known.listing = listing;
            known.inode == inode && known.kind == kind
        })
    }

    /// Whether the regular file was dealt with in exactly this state.
    pub fn same_state(&self, key: u64, stamp: &Stamp) -> bool {
        self.known.get(&key).is_some_and(|known| {
            known.kind == Kind::File
                && known.inode == stamp.inode
                && known.fingerprint == self.fingerprint(stamp)
        })
    }

    /// Why the entry was last skipped, if it was.
    pub fn warned(&self, key: u64) -> Option<Skip> {
        self.known.get(&key).and_then(|known| known.warned)
    }

    /// Records a regular file dealt with in state `stamp`.
    pub fn mark_file(&mut self, key: u64, stamp: &Stamp, warned: Option<Skip>) {
        let fingerprint = self.fingerprint(stamp);
        self.insert(
            key,
            Known { inode: stamp.inode, fingerprint, listing: self.listing, kind: Kind::File, warned },
        );
    }

    /// Records an entry skipped for what it is.
    pub fn mark_other(&mut self, key: u64, inode: u64, kind: Kind, skip: Skip) {
        let known = Known { inode, fingerprint: 0, listing: self.listing, kind, warned: Some(skip) };
        self.insert(key, known);
    }

    fn insert(&mut self, key: u64, known: Known) {
        self.known.insert(key, known);
    }

    pub fn forget(&mut self, key: u64) {
        self.known.remove(&key);
    }

    /// Forgets what the latest listing did not show (what was seen of it stays seen), and
    /// makes room for `listed` entries at once: grown step by step in between the reads'
    /// short-lived buffers, the table's old copies fragmented the heap for good.
    pub fn sweep(&mut self, listed: usize) {
        let listing = self.listing;
        self.known.retain(|_, known| known.listing == listing);
        self.known.reserve(listed.saturating_sub(self.known.len()));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.known.len()
    }

    fn fingerprint(&self, stamp: &Stamp) -> u64 {
        self.hasher.hash_one((stamp.len, stamp.modified_ns, stamp.changed_ns, stamp.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_small() {
        // The per-file cost of a folder: this plus the 8-byte key and a control byte.
        assert!(size_of::<Known>() <= 24, "{}", size_of::<Known>());
    }
}

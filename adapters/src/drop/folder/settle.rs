//! When a file is complete: unchanged for the settle time across two looks, or last modified
//! longer ago than that with no local writer at it since. Both the files waiting to settle and
//! the names watcher events told of are bounded, so a stranger touching files without end
//! costs a fixed amount of memory.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Now, Stamp};

/// Files waiting to settle, by name, at most: beyond, a file is looked at again by the next
/// listing (its settle time starting then).
pub(super) const MAX_PENDING: usize = 4096;
/// Names of recent watcher events kept, at most: beyond, every file counts as just written to
/// for the settle time (events veto a modification time a copy may have preserved).
pub(super) const MAX_EVENT_NAMES: usize = 4096;

/// A file not settled yet, and since when it has looked like this.
#[derive(Debug)]
struct Pending {
    stamp: Stamp,
    since: Instant,
    /// The last listing that showed it.
    listing: u32,
}

#[derive(Debug)]
pub(super) struct Settling {
    settle: Duration,
    pending: HashMap<String, Pending>,
    /// When a watcher event last named a file (by name key): a file still being written locally.
    events: HashMap<u64, Instant>,
    /// Events named more files than are kept: until then every file counts as written to.
    all_unquiet_until: Option<Instant>,
}

impl Settling {
    pub fn new(settle: Duration) -> Self {
        Self { settle, pending: HashMap::new(), events: HashMap::new(), all_unquiet_until: None }
    }

    /// Whether the file (by name `key`) has `stamp` for good as of `now`.
    pub fn settled(&self, name: &str, key: u64, stamp: &Stamp, now: Now) -> bool {
        let settle_ns = i64::try_from(self.settle.as_nanos()).unwrap_or(i64::MAX);
        let old_enough =
            self.quiet(key, now.at) && now.wall_ns.saturating_sub(stamp.modified_ns) >= settle_ns;
        let steady = self.pending.get(name).is_some_and(|pending| {
            pending.stamp == *stamp && now.at.duration_since(pending.since) >= self.settle
        });
        old_enough || steady
    }

    fn quiet(&self, key: u64, now: Instant) -> bool {
        let recent = |at: Instant| now.duration_since(at) < self.settle;
        self.all_unquiet_until.is_none_or(|until| now >= until)
            && !self.events.get(&key).is_some_and(|at| recent(*at))
    }

    /// Notes the file looks like `stamp` (its settle time restarts if it looked otherwise).
    pub fn note(&mut self, name: &str, stamp: Stamp, now: Instant, listing: u32) {
        let full = self.is_full();
        match self.pending.get_mut(name) {
            Some(pending) if pending.stamp == stamp => pending.listing = listing,
            Some(pending) => *pending = Pending { stamp, since: now, listing },
            None if !full => {
                self.pending.insert(name.to_owned(), Pending { stamp, since: now, listing });
            }
            None => {}
        }
    }

    /// The file was seen changing just now: its settle time starts again.
    pub fn restart(&mut self, name: &str, stamp: Stamp, now: Instant, listing: u32) {
        self.pending.remove(name);
        self.note(name, stamp, now, listing);
    }

    /// Notes the listing `listing` showed the name; true if the file is waiting to settle.
    pub fn listed(&mut self, name: &str, listing: u32) -> bool {
        self.pending.get_mut(name).map(|pending| pending.listing = listing).is_some()
    }

    pub fn remove(&mut self, name: &str) {
        self.pending.remove(name);
    }

    /// Whether the pending set is full (files beyond wait for the next listing).
    pub fn is_full(&self) -> bool {
        self.pending.len() >= MAX_PENDING
    }

    /// A watcher event named the file (by name key).
    pub fn note_event(&mut self, key: u64, now: Instant) {
        if self.events.len() >= MAX_EVENT_NAMES && !self.events.contains_key(&key) {
            self.forget_old_events(now);
            if self.events.len() >= MAX_EVENT_NAMES {
                self.events.clear();
                self.all_unquiet_until = Some(now + self.settle);
            }
        }
        self.events.insert(key, now);
    }

    /// Forgets the entry (gone).
    pub fn forget(&mut self, name: &str, key: u64) {
        self.pending.remove(name);
        self.events.remove(&key);
    }

    /// After listing `listing`: forgets files it did not show, and events older than the
    /// settle time.
    pub fn sweep(&mut self, listing: u32, now: Instant) {
        self.pending.retain(|_, pending| pending.listing == listing);
        self.forget_old_events(now);
    }

    fn forget_old_events(&mut self, now: Instant) {
        let settle = self.settle;
        self.events.retain(|_, at| now.duration_since(*at) < settle);
        if self.all_unquiet_until.is_some_and(|until| until <= now) {
            self.all_unquiet_until = None;
        }
    }

    /// When the first waiting file's settle time ends.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|pending| pending.since + self.settle).min()
    }

    /// The files whose settle time has ended: to look at again.
    pub fn due(&self, now: Instant) -> impl Iterator<Item = &str> {
        self.pending.iter().filter(move |(_, p)| p.since + self.settle <= now).map(|(name, _)| name.as_str())
    }

    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        (self.pending.len(), self.events.len())
    }
}

//! A backlog is read oldest first, in windows: a listing keeps the oldest files it finds up to
//! a bound on their bookkeeping, and leaves the newer ones to the next listing. A folder of a
//! million new files then never holds a million names at once.

use std::collections::BinaryHeap;

use super::Stamp;

/// What one window may hold: names and stamps of about 160 000 files named as `send` names
/// them, or 52 000 of the longest names. Each further window costs a listing and an `lstat` of
/// every file left out: sized so a backlog of 100 000 of send's files takes one.
pub(in crate::drop) const WINDOW_BYTES: usize = 16 * 1024 * 1024;

/// A file waiting in the window, ordered by modification time, then name.
#[derive(Debug, PartialEq, Eq)]
struct Candidate {
    modified_ns: i64,
    name: Box<str>,
    stamp: Stamp,
}

impl Candidate {
    /// What it costs to keep, counted against [`WINDOW_BYTES`].
    fn cost(&self) -> usize {
        size_of::<Self>() + self.name.len()
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.modified_ns, &self.name).cmp(&(other.modified_ns, &other.name))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a file named `name` costs a window.
#[cfg(test)]
pub(super) fn cost(name: &str) -> usize {
    size_of::<Candidate>() + name.len()
}

#[derive(Debug)]
pub(super) struct Window {
    /// The newest on top, to be left out first.
    candidates: BinaryHeap<Candidate>,
    bytes: usize,
    max_bytes: usize,
    /// Files left out since the window was last emptied.
    left_out: usize,
}

impl Window {
    pub fn new(max_bytes: usize) -> Self {
        Self { candidates: BinaryHeap::new(), bytes: 0, max_bytes, left_out: 0 }
    }

    /// Adds a file; the newest are left out while the window is over its bound (never the last
    /// one: a window always holds a file).
    pub fn push(&mut self, name: String, stamp: Stamp) {
        let candidate = Candidate { modified_ns: stamp.modified_ns, name: name.into_boxed_str(), stamp };
        self.bytes += candidate.cost();
        self.candidates.push(candidate);
        while self.bytes > self.max_bytes && self.candidates.len() > 1 {
            if let Some(newest) = self.candidates.pop() {
                self.bytes -= newest.cost();
                self.left_out += 1;
            }
        }
    }

    /// Empties the window: its files oldest first, and how many were left out.
    pub fn take(&mut self) -> (Vec<(String, Stamp)>, usize) {
        let candidates = std::mem::take(&mut self.candidates).into_sorted_vec();
        self.bytes = 0;
        let taken = candidates.into_iter().map(|c| (c.name.into_string(), c.stamp)).collect();
        (taken, std::mem::take(&mut self.left_out))
    }

    pub fn clear(&mut self) {
        self.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(modified_ns: i64) -> Stamp {
        Stamp { len: 1, modified_ns, changed_ns: modified_ns, inode: 1, device: 1 }
    }

    #[test]
    fn the_oldest_are_kept_within_the_bound_and_the_rest_counted() {
        let per_file = size_of::<Candidate>() + 1;
        let mut window = Window::new(3 * per_file);
        for (name, age) in [("e", 5), ("a", 1), ("d", 4), ("c", 3), ("b", 1)] {
            window.push(name.to_owned(), stamp(age));
        }
        let (taken, left_out) = window.take();
        let names: Vec<&str> = taken.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"], "oldest first, ties by name");
        assert_eq!(left_out, 2);
        assert_eq!(window.take(), (Vec::new(), 0), "emptied");
        // A window holds one file whatever its bound.
        let mut tiny = Window::new(0);
        tiny.push("only".into(), stamp(1));
        assert_eq!(tiny.take().0.len(), 1);
    }
}

//! Gaps: stretches of a room's history that a sync left out (a `limited` timeline, or a
//! response matrix-sdk dropped), fetched with `/messages`, oldest first, within two budgets:
//! events per room and events per sync. What a budget leaves is kept as a cursor
//! (`gap:ROOM TO` = the position to go on from) and fetched in the next syncs, so a burst
//! costs bounded memory and time per sync and is never skipped. Only beyond
//! [`MAX_PENDING_GAPS`] is the oldest gap given up, with a warning.
//!
//! The plan (which gap gets how many events) is pure state; `fill` does the requests.

use std::collections::HashMap;

use matrix_sdk::Room;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::{OwnedRoomId, UInt};

use super::errors::from_sdk;
use crate::Cursor;

/// Prefix of the cursors of unfinished gaps.
pub(super) const GAP_CURSOR_PREFIX: &str = "gap:";
/// Gaps kept unfinished at most, all rooms together; beyond, the oldest is given up.
pub(super) const MAX_PENDING_GAPS: usize = 64;
/// Events per `/messages` request.
const PAGE: usize = 100;

/// A stretch of `room`'s history to fetch: forward from `from` up to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gap {
    pub room: OwnedRoomId,
    pub from: String,
    pub to: String,
}

impl Gap {
    fn key(&self) -> String {
        format!("{GAP_CURSOR_PREFIX}{} {}", self.room, self.to)
    }

    /// The cursor that keeps this gap (`done`: that forgets it).
    pub fn cursor(&self, done: bool) -> Cursor {
        Cursor { key: self.key(), value: if done { String::new() } else { self.from.clone() } }
    }

    fn from_cursor(cursor: &Cursor) -> Option<Gap> {
        let rest = cursor.key.strip_prefix(GAP_CURSOR_PREFIX)?;
        let (room, to) = rest.split_once(' ')?;
        let room = OwnedRoomId::try_from(room).ok()?;
        (!cursor.value.is_empty() && !to.is_empty()).then(|| Gap {
            room,
            from: cursor.value.clone(),
            to: to.to_owned(),
        })
    }
}

/// The unfinished gaps, oldest first, and the budgets they are fetched within.
#[derive(Debug)]
pub(super) struct Gaps {
    pending: Vec<Gap>,
    per_room: usize,
    per_sync: usize,
}

impl Gaps {
    /// The gaps kept in `cursors`, with budgets of `per_room` and `per_sync` events.
    pub fn restore(cursors: &[Cursor], per_room: usize, per_sync: usize) -> Gaps {
        let pending = cursors.iter().filter_map(Gap::from_cursor).collect();
        Gaps { pending, per_room, per_sync }
    }

    /// Gaps waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Adds a new gap (newer than every pending one); returns a gap given up to make room.
    pub fn add(&mut self, gap: Gap) -> Option<Gap> {
        if self.pending.contains(&gap) {
            return None;
        }
        self.pending.push(gap);
        (self.pending.len() > MAX_PENDING_GAPS).then(|| self.pending.remove(0))
    }

    /// How many events each pending gap may fetch in this sync, oldest gap first: at most
    /// `per_room` for one room's gaps together, `per_sync` for all. Gaps left out get 0.
    pub fn plan(&self) -> Vec<(Gap, usize)> {
        let mut left = self.per_sync;
        let mut room_left: HashMap<&OwnedRoomId, usize> = HashMap::new();
        self.pending
            .iter()
            .map(|gap| {
                let room = room_left.entry(&gap.room).or_insert(self.per_room);
                let budget = (*room).min(left);
                *room -= budget;
                left -= budget;
                (gap.clone(), budget)
            })
            .collect()
    }

    /// Records what fetching `gap` achieved: done, or gone on up to `from`. Returns the cursor
    /// to store with the events.
    pub fn advanced(&mut self, gap: &Gap, from: Option<String>) -> Cursor {
        let Some(index) = self.pending.iter().position(|pending| pending == gap) else {
            return gap.cursor(true);
        };
        match from {
            None => self.pending.remove(index).cursor(true),
            Some(from) => {
                self.pending[index].from = from;
                self.pending[index].cursor(false)
            }
        }
    }
}

/// Fetches up to `budget` events of `gap` from `room`, oldest first; with the position to go
/// on from when the budget ran out first.
pub(super) async fn fill(
    name: &str,
    room: &Room,
    gap: &Gap,
    budget: usize,
) -> Result<(Vec<TimelineEvent>, Option<String>), crate::TransportError> {
    let mut events = Vec::new();
    let mut from = gap.from.clone();
    while events.len() < budget {
        let mut options = MessagesOptions::forward().from(from.as_str());
        options.to = Some(gap.to.clone());
        options.limit = UInt::try_from(PAGE.min(budget - events.len())).unwrap_or(UInt::MIN);
        let page = room.messages(options).await.map_err(|e| from_sdk(name, &e))?;
        let empty = page.chunk.is_empty();
        events.extend(page.chunk);
        match page.end {
            Some(end) if !empty && end != from => from = end,
            _ => return Ok((events, None)),
        }
    }
    Ok((events, Some(from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(room: &str, to: &str) -> Gap {
        Gap { room: OwnedRoomId::try_from(room).unwrap(), from: format!("from-{to}"), to: to.to_owned() }
    }

    #[test]
    fn budgets_hold_per_room_and_per_sync_oldest_first() {
        let mut gaps = Gaps::restore(&[], 100, 250);
        for (room, to) in [("!a:h", "1"), ("!a:h", "2"), ("!b:h", "3"), ("!c:h", "4"), ("!d:h", "5")] {
            assert_eq!(gaps.add(gap(room, to)), None);
        }
        let budgets: Vec<usize> = gaps.plan().into_iter().map(|(_, budget)| budget).collect();
        // Room a's two gaps share its 100; b and c get theirs; d is left for the next sync.
        assert_eq!(budgets, [100, 0, 100, 50, 0]);
    }

    #[test]
    fn an_unfinished_gap_is_a_cursor_until_done_and_comes_back_after_a_restart() {
        let mut gaps = Gaps::restore(&[], 10, 10);
        let first = gap("!a:h", "t9");
        gaps.add(first.clone());
        let kept = gaps.advanced(&first, Some("t5".into()));
        assert_eq!((kept.key.as_str(), kept.value.as_str()), ("gap:!a:h t9", "t5"));

        let mut restored = Gaps::restore(&[kept, Cursor { key: "sync".into(), value: "s1".into() }], 10, 10);
        let (resumed, budget) = restored.plan().remove(0);
        assert_eq!((resumed.from.as_str(), resumed.to.as_str(), budget), ("t5", "t9", 10));
        let done = restored.advanced(&resumed, None);
        assert_eq!((done.key.as_str(), done.value.as_str()), ("gap:!a:h t9", ""));
        assert_eq!(restored.len(), 0);
        assert_eq!(Gaps::restore(&[done], 10, 10).len(), 0, "a forgotten gap stays forgotten");
    }

    #[test]
    fn beyond_the_pending_bound_the_oldest_gap_is_given_up() {
        let mut gaps = Gaps::restore(&[], 10, 10);
        for i in 0..MAX_PENDING_GAPS {
            assert_eq!(gaps.add(gap("!a:h", &i.to_string())), None);
        }
        assert_eq!(gaps.add(gap("!a:h", "new")), Some(gap("!a:h", "0")));
        assert_eq!(gaps.len(), MAX_PENDING_GAPS);
    }
}

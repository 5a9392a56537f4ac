//! Send pacing within Telegram's limits: each send reserves a time slot that keeps its chat's
//! interval, its group's per-minute budget and the bot's per-second budget, then waits for it.
//! A 429 answer freezes every send until its `retry_after` has passed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::settings::telegram::Pacing;

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

/// Where a message goes, as far as pacing is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChatKey {
    /// A numeric chat id: negative ids are groups, supergroups and channels.
    Id(i64),
    /// A public channel or group by `@username`.
    Username(String),
}

impl ChatKey {
    fn is_group(&self) -> bool {
        match self {
            ChatKey::Id(id) => *id < 0,
            ChatKey::Username(_) => true,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Reserved slots per chat, oldest first (a minute's worth is kept).
    chats: HashMap<ChatKey, VecDeque<Instant>>,
    /// Reserved slots of all chats, sorted (a second's worth before now is kept).
    all: Vec<Instant>,
    frozen_until: Option<Instant>,
}

/// Reserves send slots; shared by every send of one bot.
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    state: Mutex<State>,
}

impl Pacer {
    /// A pacer with nothing reserved.
    pub fn new(pacing: Pacing) -> Self {
        Self { pacing, state: Mutex::new(State::default()) }
    }

    /// Waits until a message to `chat` may go, having reserved that moment.
    pub async fn wait(&self, chat: &ChatKey) {
        let slot = self.reserve(chat, Instant::now());
        tokio::time::sleep_until(slot).await;
    }

    /// Holds every send until `delay` from now (a 429's `retry_after`).
    pub fn freeze(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.frozen_until = Some(state.frozen_until.map_or(until, |t| t.max(until)));
    }

    /// The earliest slot at or after `now` that keeps every limit; reserves it.
    fn reserve(&self, chat: &ChatKey, now: Instant) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = &mut *state;
        state.all.retain(|t| *t + SECOND > now);
        let mut slot = state.frozen_until.filter(|t| *t > now).unwrap_or(now);
        let history = state.chats.entry(chat.clone()).or_default();
        while history.front().is_some_and(|t| *t + MINUTE <= now) {
            history.pop_front();
        }
        if let Some(last) = history.back() {
            slot = slot.max(*last + self.pacing.per_chat_interval);
        }
        let per_minute = self.pacing.group_per_minute.max(1) as usize;
        if chat.is_group() && history.len() >= per_minute {
            // Slots per chat are increasing: the one `per_minute` back must be a minute old.
            slot = slot.max(history[history.len() - per_minute] + MINUTE);
        }
        let per_second = self.pacing.global_per_second.max(1) as usize;
        // Any one-second window holding the slot must hold fewer than `per_second` others:
        // move past the earliest reservation of a crowded window until none is.
        loop {
            let crowded = state
                .all
                .iter()
                .filter(|t| **t + SECOND > slot && **t < slot + SECOND)
                .copied()
                .collect::<Vec<_>>();
            if crowded.len() < per_second {
                break;
            }
            slot = crowded[crowded.len() - per_second] + SECOND;
        }
        history.push_back(slot);
        let at = state.all.partition_point(|t| *t <= slot);
        state.all.insert(at, slot);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(per_chat_ms: u64, group_per_minute: u32, global_per_second: u32) -> Pacer {
        Pacer::new(Pacing {
            per_chat_interval: Duration::from_millis(per_chat_ms),
            group_per_minute,
            global_per_second,
        })
    }

    fn offsets(slots: &[Instant], start: Instant) -> Vec<u64> {
        slots.iter().map(|t| u64::try_from((*t - start).as_millis()).unwrap()).collect()
    }

    #[tokio::test]
    async fn one_chat_gets_one_message_per_interval() {
        let pacer = pacer(1000, 20, 30);
        let now = Instant::now();
        let slots: Vec<Instant> = (0..3).map(|_| pacer.reserve(&ChatKey::Id(5), now)).collect();
        assert_eq!(offsets(&slots, now), [0, 1000, 2000]);
        // Another chat is not held back by the first.
        assert_eq!(offsets(&[pacer.reserve(&ChatKey::Id(6), now)], now), [0]);
    }

    #[tokio::test]
    async fn a_group_gets_its_per_minute_budget() {
        let pacer = pacer(10, 3, 30);
        let now = Instant::now();
        let slots: Vec<Instant> = (0..4).map(|_| pacer.reserve(&ChatKey::Id(-100), now)).collect();
        assert_eq!(offsets(&slots, now), [0, 10, 20, 60_000]);
        // A private chat (positive id) has no per-minute budget.
        let slots: Vec<Instant> = (0..4).map(|_| pacer.reserve(&ChatKey::Id(100), now)).collect();
        assert_eq!(offsets(&slots, now), [0, 10, 20, 30]);
    }

    #[tokio::test]
    async fn all_chats_share_the_per_second_budget_and_a_freeze() {
        let shared = pacer(1000, 20, 2);
        let now = Instant::now();
        let slots: Vec<Instant> = (1..=5).map(|chat| shared.reserve(&ChatKey::Id(chat), now)).collect();
        assert_eq!(offsets(&slots, now), [0, 0, 1000, 1000, 2000]);
        let frozen = pacer(10, 20, 30);
        let now = Instant::now();
        frozen.freeze(Duration::from_secs(5));
        assert!(frozen.reserve(&ChatKey::Id(1), now) >= now + Duration::from_secs(5));
    }
}

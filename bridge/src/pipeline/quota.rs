//! The per-origin quota of pending pointers ([`crate::limits::Limits::pending_per_origin`]):
//! how many pointers no known chat opens one origin (a transport's sender, file or room) may
//! leave as pending per period.
//!
//! Counters live in a fixed table of slots chosen by a keyed hash of (transport, origin), so a
//! flood from a million distinct origins costs the same 256 KiB as one from a single origin;
//! the key is random per process, so nobody can aim two origins at one slot. Origins that share
//! a slot share their quota: that only makes the limit stricter, never looser.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;

/// Slots in the table (a power of two).
const SLOTS: usize = 1 << 16;

/// Pending pointers counted per origin and period.
#[derive(Debug)]
pub struct OriginQuota {
    per_origin: u32,
    period: u64,
    /// Start of the current period (Unix seconds, a multiple of `period`).
    period_start: u64,
    hasher: RandomState,
    /// Empty until the first pointer of a period.
    slots: Vec<u32>,
}

impl OriginQuota {
    /// `per_origin` pointers per origin per `period_seconds`.
    pub fn new(per_origin: u32, period_seconds: u64) -> OriginQuota {
        OriginQuota {
            per_origin,
            period: period_seconds.max(1),
            period_start: 0,
            hasher: RandomState::new(),
            slots: Vec::new(),
        }
    }

    /// Whether one more pending pointer from `origin` of `transport` may be kept at `now`
    /// (Unix seconds); counts it if so.
    pub fn admit(&mut self, transport: &str, origin: &str, now: u64) -> bool {
        let start = now - now % self.period;
        if start != self.period_start || self.slots.is_empty() {
            self.period_start = start;
            self.slots.clear();
            self.slots.resize(SLOTS, 0);
        }
        let slot = &mut self.slots[self.hasher.hash_one((transport, origin)) as usize % SLOTS];
        if *slot >= self.per_origin {
            return false;
        }
        *slot += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_origin_gets_its_quota_per_period() {
        let mut quota = OriginQuota::new(3, 3600);
        let now = 7200;
        let admitted = (0..5).filter(|_| quota.admit("email.work", "mallory@example.org", now)).count();
        assert_eq!(admitted, 3);
        assert!(quota.admit("email.work", "alice@example.org", now), "another origin has its own quota");
        assert!(
            quota.admit("drop.usb", "mallory@example.org", now),
            "the same name on another transport too"
        );
        assert!(!quota.admit("email.work", "mallory@example.org", now + 3599));
        assert!(quota.admit("email.work", "mallory@example.org", now + 3600), "a new period starts afresh");
    }

    #[test]
    fn a_million_origins_cost_one_fixed_table() {
        let mut quota = OriginQuota::new(100, 3600);
        for n in 0..1_000_000u32 {
            quota.admit("drop.shared", &n.to_string(), 10);
        }
        assert_eq!(quota.slots.len(), SLOTS);
    }
}

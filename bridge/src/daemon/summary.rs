//! What did not become a message, logged as a summary once per period
//! ([`crate::limits::Limits::summary_period`]) instead of once per pointer: one line per chat
//! whose pointers do not open (a junk clm202 pointer passes a chat's one-block early rejection
//! one time in 256, so a flood of junk would otherwise log thousands of "altered or forged?"
//! lines), one per origin that left pointers no chat opens (kept as pending, dropped over the
//! quota or for space, shed to keep the caps, inputs cut at `pointers_per_input`), one for
//! rejected pointer-like text, one for skipped `on_message` runs. At most [`MAX_ORIGINS`]
//! origins are named per period; the rest are added up on one line. Never a message text or a
//! pointer; origins and chat names are escaped.

use std::collections::BTreeMap;

use clm_core::{OpenError, PointerError};

use super::ingest::Item;
use crate::pipeline::gateways::Held;
use crate::pipeline::{Ingested, Tally};
use crate::store::Shed;

/// Origins named per period.
pub const MAX_ORIGINS: usize = 32;

/// What one origin left in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OriginCounts {
    /// Pointers no known chat opens, kept as pending.
    pub pending: u64,
    /// Such pointers not kept (over the origin's quota, or while the disk was full).
    pub dropped: u64,
    /// Pending pointers dropped to keep the caps or to make room (by their first origin).
    pub shed: u64,
    /// Inputs that held more than `pointers_per_input` pointers (the rest was not read).
    pub cut_inputs: u64,
}

impl OriginCounts {
    fn add(&mut self, other: OriginCounts) {
        self.pending += other.pending;
        self.dropped += other.dropped;
        self.shed += other.shed;
        self.cut_inputs += other.cut_inputs;
    }

    fn is_empty(&self) -> bool {
        *self == OriginCounts::default()
    }
}

/// One line of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Pointers a chat claims that do not open.
    Broken {
        /// The chat.
        chat: String,
        /// How many.
        count: u64,
        /// The first one's error.
        error: OpenError,
    },
    /// Pointer-like text rejected.
    Rejected {
        /// How many.
        count: u64,
        /// The first one's error.
        error: PointerError,
    },
    /// What one origin left.
    Origin {
        /// Its transport.
        transport: String,
        /// The origin.
        origin: String,
        /// What it left.
        counts: OriginCounts,
    },
    /// What the origins beyond [`MAX_ORIGINS`] left, added up.
    OtherOrigins {
        /// Their inputs (or shed groups).
        entries: u64,
        /// What they left.
        counts: OriginCounts,
    },
    /// New messages `on_message` was not run for (its queue was full).
    OnMessageSkipped {
        /// How many.
        runs: u64,
    },
    /// Relays the gateways queued.
    Relayed {
        /// How many (one per pointer and route).
        relays: u64,
    },
    /// Pointers a gateway did not relay.
    RelaysHeld {
        /// The gateway.
        gateway: String,
        /// How many.
        count: u64,
        /// Why the first one was held.
        why: Held,
    },
}

/// The counts of the current period.
#[derive(Debug, Default)]
pub struct Summary {
    broken: BTreeMap<String, Tally<OpenError>>,
    rejected: Tally<PointerError>,
    origins: BTreeMap<(String, String), OriginCounts>,
    others: (u64, OriginCounts),
    skipped_runs: u64,
    relayed: u64,
    relays_held: BTreeMap<String, Tally<Held>>,
}

impl Summary {
    /// Adds what a stored batch (`items`, in order) did.
    pub fn add_batch(&mut self, items: &[Item], ingested: &mut Ingested) {
        for (item, input) in items.iter().zip(&ingested.per_input) {
            let counts = OriginCounts {
                pending: input.pending as u64,
                dropped: input.dropped as u64,
                shed: 0,
                cut_inputs: u64::from(input.stopped_at_limit),
            };
            self.add_origin(&item.transport, &item.origin, counts);
        }
        for (chat, tally) in std::mem::take(&mut ingested.broken) {
            self.broken.entry(chat).or_default().merge(tally);
        }
        self.rejected.merge(std::mem::take(&mut ingested.rejected));
        self.add_shed(std::mem::take(&mut ingested.shed));
        self.relayed += ingested.relayed as u64;
        for (gateway, tally) in std::mem::take(&mut ingested.relays_held) {
            self.relays_held.entry(gateway).or_default().merge(tally);
        }
    }

    /// Adds pending pointers dropped outside a batch (for age, or to make room).
    pub fn add_shed(&mut self, shed: Shed) {
        for ((transport, origin), count) in shed.by_origin {
            self.add_origin(&transport, &origin, OriginCounts { shed: count, ..OriginCounts::default() });
        }
    }

    /// Adds `on_message` runs skipped.
    pub fn add_skipped_runs(&mut self, runs: u64) {
        self.skipped_runs += runs;
    }

    fn add_origin(&mut self, transport: &str, origin: &str, counts: OriginCounts) {
        if counts.is_empty() {
            return;
        }
        let key = (transport.to_owned(), origin.to_owned());
        if let Some(known) = self.origins.get_mut(&key) {
            known.add(counts);
        } else if self.origins.len() < MAX_ORIGINS {
            self.origins.insert(key, counts);
        } else {
            self.others.0 += 1;
            self.others.1.add(counts);
        }
    }

    /// The period's lines, and a fresh period.
    pub fn take_lines(&mut self) -> Vec<Line> {
        let Summary { broken, rejected, origins, others, skipped_runs, relayed, relays_held } =
            std::mem::take(self);
        let mut lines = Vec::new();
        for (chat, tally) in broken {
            if let Some(error) = tally.first {
                lines.push(Line::Broken { chat, count: tally.count, error });
            }
        }
        if let Some(error) = rejected.first {
            lines.push(Line::Rejected { count: rejected.count, error });
        }
        for ((transport, origin), counts) in origins {
            lines.push(Line::Origin { transport, origin, counts });
        }
        if others.0 > 0 {
            lines.push(Line::OtherOrigins { entries: others.0, counts: others.1 });
        }
        if skipped_runs > 0 {
            lines.push(Line::OnMessageSkipped { runs: skipped_runs });
        }
        if relayed > 0 {
            lines.push(Line::Relayed { relays: relayed });
        }
        for (gateway, tally) in relays_held {
            if let Some(why) = tally.first {
                lines.push(Line::RelaysHeld { gateway, count: tally.count, why });
            }
        }
        lines
    }
}

/// Logs a summary of the last `period_s` seconds.
pub fn log(lines: &[Line], period_s: u64) {
    for line in lines {
        match line {
            Line::Broken { chat, count, error } => tracing::warn!(
                chat = %chat.escape_debug(), pointers = count, first_error = %error, period_s,
                "pointers of this chat did not open (altered or forged?)"
            ),
            Line::Rejected { count, error } => {
                tracing::info!(count, first_error = %error, period_s, "pointer-like text rejected")
            }
            Line::Origin { transport, origin, counts } => tracing::info!(
                transport = %transport, origin = %origin.escape_debug(), kept_pending = counts.pending,
                dropped = counts.dropped, shed = counts.shed, inputs_cut = counts.cut_inputs, period_s,
                "pointers no known chat opens (`clm-bridge pending list`; `chat add` retries those kept)"
            ),
            Line::OtherOrigins { entries, counts } => tracing::info!(
                other_origins = entries,
                kept_pending = counts.pending,
                dropped = counts.dropped,
                shed = counts.shed,
                inputs_cut = counts.cut_inputs,
                period_s,
                "pointers no known chat opens, from further origins"
            ),
            Line::Relayed { relays } => {
                tracing::info!(
                    relays,
                    period_s,
                    "gateways queued relays (`clm-bridge outbox list` shows those not made yet)"
                )
            }
            Line::RelaysHeld { gateway, count, why } => tracing::info!(
                gateway = %gateway, pointers = count, first_reason = %why, period_s,
                "pointers a gateway did not relay"
            ),
            Line::OnMessageSkipped { runs } => tracing::warn!(
                runs,
                period_s,
                "on_message was not run for some new messages: its queue was full (limits.on_message_queue_bytes)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::InputOutcome;

    fn item(origin: &str) -> Item {
        Item {
            transport: "drop.t".into(),
            origin: origin.into(),
            place: String::new(),
            text: Vec::new(),
            cursor: None,
        }
    }

    /// A pointer that chat "Family" (secret "s") claims but that does not open: a real one
    /// whose body, after the chat's prefix, no longer decrypts to UTF-8.
    fn broken(nonce: &str) -> Item {
        let chat = clm_core::Clm202Chat::new("s", "Family");
        let mut pointer = chat.encode("alice", "hello", 1_763_700_000, nonce).unwrap();
        let plain = "#Family|¶|alice|¶|hello".as_bytes();
        let at = "#Family|¶|a".len();
        pointer.data[at] ^= plain[at] ^ 0xff;
        Item {
            transport: "drop.t".into(),
            origin: format!("junk {nonce}"),
            place: String::new(),
            text: clm_core::Pointer::Clm202(pointer).to_json().into_bytes(),
            cursor: None,
        }
    }

    #[test]
    fn many_pointers_that_do_not_open_make_one_line_per_chat() {
        let (_temp, mut storage) = crate::daemon::ingest::tests::storage();
        crate::daemon::ingest::tests::add_chat(&mut storage, "Family", "s");
        let items: Vec<Item> = (0..300).map(|n| broken(&n.to_string())).collect();
        let mut ingested = crate::daemon::ingest::tests::ingest_all(&mut storage, &items, 1_763_700_001);
        let mut summary = Summary::default();
        summary.add_batch(&items, &mut ingested);
        let lines = summary.take_lines();
        let broken: Vec<&Line> = lines.iter().filter(|line| matches!(line, Line::Broken { .. })).collect();
        assert_eq!(broken.len(), 1, "{lines:?}");
        assert!(
            matches!(broken[0], Line::Broken { chat, count: 300, .. } if chat == "Family"),
            "{:?}",
            broken[0]
        );
    }

    #[test]
    fn origins_beyond_the_named_ones_are_added_up_and_a_period_starts_empty() {
        let mut summary = Summary::default();
        let items: Vec<Item> = (0..MAX_ORIGINS + 10).map(|n| item(&format!("file {n}"))).collect();
        let mut ingested = Ingested {
            per_input: vec![
                InputOutcome { pointers: 3, pending: 2, dropped: 1, ..InputOutcome::default() };
                items.len()
            ],
            ..Ingested::default()
        };
        summary.add_batch(&items, &mut ingested);
        let lines = summary.take_lines();
        assert_eq!(lines.len(), MAX_ORIGINS + 1);
        assert_eq!(
            lines.last(),
            Some(&Line::OtherOrigins {
                entries: 10,
                counts: OriginCounts { pending: 20, dropped: 10, shed: 0, cut_inputs: 0 }
            })
        );
        assert!(summary.take_lines().is_empty());
    }
}

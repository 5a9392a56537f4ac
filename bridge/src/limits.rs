//! Limits on what strangers can make the bridge hold: the `[limits]` settings section.
//!
//! The bridge watches places anyone may write to (a mail address, a room, a group, a shared
//! folder), so every resource a stranger's input can take is bounded where the data enters,
//! and every bound is a setting with a documented default (`config.example.toml`):
//!
//! - per input: pointers read from one file, mail or chat message ([`Limits::pointers_per_input`]);
//! - per origin: pointers no known chat opens kept as pending per sender, file or room and
//!   period ([`Limits::pending_per_origin`], [`Limits::origin_period`]);
//! - per batch: pointers and input bytes in one store transaction ([`Limits::batch_pointers`],
//!   [`Limits::batch_bytes`]);
//! - pending: count, bytes and age of the pointers kept for `chat add`, the oldest dropped first
//!   ([`Limits::pending_count`], [`Limits::pending_bytes`], [`Limits::pending_age`]);
//! - queues: bytes handed over by the transports and not yet stored
//!   ([`Limits::inbound_queue_bytes`]) and new messages waiting for `on_message`
//!   ([`Limits::on_message_queue_bytes`]).
//!
//! Pointers that a known chat opens are never dropped by these limits: only the per-input limit
//! stops reading an input, and an input holding more pointers than that is junk.

use std::time::Duration;

/// Every limit, validated. [`Limits::default`] holds the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Pointers read from one input; the rest of the input is not scanned.
    pub pointers_per_input: usize,
    /// Pointers no known chat opens kept as pending per origin (transport and sender, file or
    /// room) per [`Limits::origin_period`]; beyond it they are dropped.
    pub pending_per_origin: u32,
    /// The period of [`Limits::pending_per_origin`].
    pub origin_period: Duration,
    /// Pointers stored in one transaction.
    pub batch_pointers: usize,
    /// Input bytes taken into one daemon batch (at least one input, however large).
    pub batch_bytes: usize,
    /// Pending pointers kept in all.
    pub pending_count: u64,
    /// Bytes of pending pointers kept in all (pointer text, transport and origin as stored).
    pub pending_bytes: u64,
    /// Pending pointers older than this are dropped.
    pub pending_age: Duration,
    /// Bytes the transports may hand over ahead of the store.
    pub inbound_queue_bytes: usize,
    /// Bytes of new messages waiting for the `on_message` program.
    pub on_message_queue_bytes: usize,
    /// How often the daemon logs what it dropped or could not open: one line per origin or
    /// chat and period, never one per pointer.
    pub summary_period: Duration,
    /// How long gateways remember which route holds which pointer: one that comes back later
    /// is relayed again. Bounds the table at what the gateways relayed in this time.
    pub relays_remembered: Duration,
}

const MIB: usize = 1024 * 1024;
const DAY: Duration = Duration::from_secs(86_400);

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pointers_per_input: 1000,
            pending_per_origin: 100,
            origin_period: Duration::from_secs(3600),
            batch_pointers: 1000,
            batch_bytes: 8 * MIB,
            pending_count: 10_000,
            pending_bytes: 8 * MIB as u64,
            pending_age: 30 * DAY,
            inbound_queue_bytes: 16 * MIB,
            on_message_queue_bytes: MIB,
            summary_period: Duration::from_secs(60),
            relays_remembered: 30 * DAY,
        }
    }
}

impl Limits {
    /// No limit at all on what a scan reads or keeps (tests that need an unbounded pipeline).
    pub fn unlimited() -> Limits {
        Limits {
            pointers_per_input: usize::MAX,
            pending_per_origin: u32::MAX,
            batch_pointers: usize::MAX,
            batch_bytes: usize::MAX,
            pending_count: u64::MAX,
            pending_bytes: u64::MAX,
            pending_age: Duration::MAX,
            inbound_queue_bytes: usize::MAX,
            on_message_queue_bytes: usize::MAX,
            ..Limits::default()
        }
    }

    /// The bounds the pending table is shed to now (`Store::shed_pending`).
    pub fn pending_caps(&self, now: i64) -> PendingCaps {
        let age = i64::try_from(self.pending_age.as_secs()).unwrap_or(i64::MAX);
        PendingCaps {
            count: self.pending_count,
            bytes: self.pending_bytes,
            older_than: now.saturating_sub(age),
        }
    }
}

/// The bounds of the pending table at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    /// At most this many rows.
    pub count: u64,
    /// At most this many bytes.
    pub bytes: u64,
    /// Rows first seen before this time (Unix seconds) go.
    pub older_than: i64,
}

/// The `[limits]` section as written; every key optional.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pointers_per_input: Option<u64>,
    pending_per_origin: Option<u64>,
    origin_period: Option<String>,
    batch_pointers: Option<u64>,
    batch_bytes: Option<u64>,
    pending_count: Option<u64>,
    pending_bytes: Option<u64>,
    pending_age: Option<String>,
    inbound_queue_bytes: Option<u64>,
    on_message_queue_bytes: Option<u64>,
    summary_period: Option<String>,
    relays_remembered: Option<String>,
}

/// A key of `[limits]` and why its value is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// The key, without `limits.`.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn count<T: TryFrom<u64>>(key: &'static str, value: Option<u64>, default: T) -> Result<T, LimitError> {
    match value {
        None => Ok(default),
        Some(0) => Err(LimitError { key, reason: "must be at least 1".into() }),
        Some(n) => T::try_from(n).map_err(|_| LimitError { key, reason: format!("{n} is too large") }),
    }
}

fn period(key: &'static str, value: Option<&str>, default: Duration) -> Result<Duration, LimitError> {
    value.map_or(Ok(default), |text| parse_age(text).map_err(|reason| LimitError { key, reason }))
}

impl RawLimits {
    /// Validates, filling in the defaults.
    pub fn validate(&self) -> Result<Limits, LimitError> {
        let d = Limits::default();
        let limits = Limits {
            pointers_per_input: count("pointers_per_input", self.pointers_per_input, d.pointers_per_input)?,
            pending_per_origin: count("pending_per_origin", self.pending_per_origin, d.pending_per_origin)?,
            origin_period: period("origin_period", self.origin_period.as_deref(), d.origin_period)?,
            batch_pointers: count("batch_pointers", self.batch_pointers, d.batch_pointers)?,
            batch_bytes: count("batch_bytes", self.batch_bytes, d.batch_bytes)?,
            pending_count: count("pending_count", self.pending_count, d.pending_count)?,
            pending_bytes: count("pending_bytes", self.pending_bytes, d.pending_bytes)?,
            pending_age: period("pending_age", self.pending_age.as_deref(), d.pending_age)?,
            inbound_queue_bytes: count(
                "inbound_queue_bytes",
                self.inbound_queue_bytes,
                d.inbound_queue_bytes,
            )?,
            on_message_queue_bytes: count(
                "on_message_queue_bytes",
                self.on_message_queue_bytes,
                d.on_message_queue_bytes,
            )?,
            summary_period: period("summary_period", self.summary_period.as_deref(), d.summary_period)?,
            relays_remembered: period(
                "relays_remembered",
                self.relays_remembered.as_deref(),
                d.relays_remembered,
            )?,
        };
        if limits.inbound_queue_bytes < 64 * 1024 {
            return Err(LimitError { key: "inbound_queue_bytes", reason: "must be at least 65536".into() });
        }
        Ok(limits)
    }
}

/// A period such as `30d`, `12h`, `90m`, `45s` or a bare number of seconds; at least one
/// second, at most ten years.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{}` is not a period like 30d, 12h, 90m or 45s", text.escape_debug()))?;
    let unit_seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit `{}` (s, m, h or d)", other.escape_debug())),
    };
    let seconds = value.saturating_mul(unit_seconds);
    if !(1..=3650 * 86_400).contains(&seconds) {
        return Err(format!("`{}` is outside 1s..3650d", text.escape_debug()));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_in_seconds_minutes_hours_and_days() {
        assert_eq!(parse_age("30d"), Ok(30 * DAY));
        assert_eq!(parse_age(" 12h "), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("45"), Ok(Duration::from_secs(45)));
        assert!(parse_age("0s").is_err());
        assert!(parse_age("soon").is_err());
        assert!(parse_age("3w").unwrap_err().contains("unit"));
        assert!(parse_age("99999d").is_err());
    }

    #[test]
    fn an_empty_section_is_the_defaults_and_zero_is_refused() {
        assert_eq!(RawLimits::default().validate(), Ok(Limits::default()));
        let zero = RawLimits { batch_pointers: Some(0), ..RawLimits::default() };
        assert_eq!(zero.validate().unwrap_err().key, "batch_pointers");
        let tiny = RawLimits { inbound_queue_bytes: Some(10), ..RawLimits::default() };
        assert_eq!(tiny.validate().unwrap_err().key, "inbound_queue_bytes");
        let huge = RawLimits { pending_per_origin: Some(u64::MAX), ..RawLimits::default() };
        assert!(huge.validate().unwrap_err().reason.contains("too large"));
    }

    #[test]
    fn pending_caps_count_back_from_now() {
        let caps = Limits::default().pending_caps(100 * 86_400);
        assert_eq!(caps.older_than, 70 * 86_400);
        assert!(Limits::unlimited().pending_caps(5).older_than < 0, "nothing is too old");
    }
}

//! The params and results of every method, and the params of every notification, as Rust
//! types: the server serialises them, [`super::Client`] reads them back, and the OpenRPC
//! document (`openrpc.json`) describes the same shapes (a test holds them together). Params
//! refuse unknown fields, so a misspelt one is an error instead of a default.

mod chats;
mod events;
mod messages;

use serde::{Deserialize, Serialize};

pub use self::chats::*;
pub use self::events::*;
pub use self::messages::*;

/// Params of a method that takes none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `identity`: the sender name of messages sent from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The name.
    pub name: String,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon answering.
    pub daemon: DaemonInfo,
    /// Each running transport's health.
    pub transports: Vec<TransportHealth>,
    /// How much the store holds.
    pub counts: Counts,
    /// The event log's range.
    pub events: EventRange,
}

/// Who answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// Its process id.
    pub pid: u32,
    /// clm-bridge's version.
    pub version: String,
    /// The API's version ([`super::API_VERSION`]).
    pub api_version: u32,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// Its data directory.
    pub data_dir: String,
    /// The store's schema version.
    pub schema_version: u32,
}

/// A transport's health as its supervisor last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportHealth {
    /// The instance, e.g. `drop.usb`.
    pub name: String,
    /// `starting`, `up`, `down` or `stopped`.
    pub state: String,
    /// What happened last (why it is down), never a secret.
    pub detail: String,
    /// Since when (Unix seconds).
    pub since: i64,
}

/// Counts of what the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Chats.
    pub chats: u64,
    /// Messages in history, trashed ones included.
    pub messages: u64,
    /// Of those, in the trash.
    pub trashed: u64,
    /// Pointers no chat opens yet.
    pub pending: u64,
    /// Deliveries waiting in the outbox.
    pub outbox_queued: u64,
    /// Deliveries refused for good, kept in the outbox.
    pub outbox_failed: u64,
}

/// The ids the event log holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRange {
    /// The oldest kept (`null`: none).
    pub first: Option<i64>,
    /// The newest (0: none yet).
    pub last: i64,
}

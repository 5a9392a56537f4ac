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
    /// Each gateway's routes with their transports' health, and its relays still queued.
    #[serde(default)]
    pub gateways: Vec<GatewayStatus>,
}

/// A gateway (`[gateway.NAME]`) as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// Its name.
    pub name: String,
    /// Its routes, in the order written.
    pub routes: Vec<GatewayRouteStatus>,
    /// Its relays waiting in the outbox (a route that is down keeps its own here); `null`
    /// without a daemon (the outbox is sealed: `status` reads no vault).
    pub relays_queued: Option<u64>,
}

/// One route of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRouteStatus {
    /// `TRANSPORT[:TARGET]`.
    pub route: String,
    /// `in`, `out` or `both`.
    pub direction: String,
    /// Its transport's state (`up`, `down`, ...; `not running` without a daemon).
    pub state: String,
}

impl GatewayStatus {
    /// Every gateway of `settings`, its routes' states from `health` (by transport instance;
    /// `not running` for one not in it) and its relays counted in `outbox` (if read).
    pub fn all(
        settings: &crate::config::Settings,
        health: &[TransportHealth],
        outbox: Option<&[crate::store::Delivery]>,
    ) -> Vec<GatewayStatus> {
        use crate::config::Direction;
        settings
            .gateways
            .iter()
            .map(|(name, gateway)| GatewayStatus {
                name: name.clone(),
                routes: gateway
                    .routes
                    .iter()
                    .map(|route| GatewayRouteStatus {
                        route: route.spec.to_string(),
                        direction: match route.direction {
                            Direction::In => "in",
                            Direction::Out => "out",
                            Direction::Both => "both",
                        }
                        .to_owned(),
                        state: health
                            .iter()
                            .find(|h| h.name == route.transport())
                            .map_or_else(|| "not running".to_owned(), |h| h.state.clone()),
                    })
                    .collect(),
                relays_queued: outbox.map(|outbox| {
                    outbox.iter().filter(|d| d.gateway.as_deref() == Some(name.as_str())).count() as u64
                }),
            })
            .collect()
    }
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

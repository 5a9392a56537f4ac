//! `subscribe`, `auth`, and the params of the notifications `message`, `delivery` and
//! `health`.

use serde::{Deserialize, Serialize};

/// `subscribe` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeParams {
    /// Events after this id (the last one the client saw); absent: from now on.
    #[serde(default)]
    pub after: Option<i64>,
}

/// `subscribe`: where the stream starts. Notifications follow this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// Events after this id follow.
    pub after: i64,
    /// The newest event now: once a client has seen it, it has caught up.
    pub last_event_id: i64,
}

/// `auth` params (TCP only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthParams {
    /// The token from `api.token_file`.
    pub token: String,
}

/// Notification `message`: a message new to history (received, or sent from here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The event's id (pass the last one seen to `subscribe` when reconnecting).
    pub event_id: i64,
    /// History id.
    pub id: i64,
    /// Chat name.
    pub chat: String,
    /// `received` or `sent`.
    pub direction: String,
    /// Sender name.
    pub from: String,
    /// The text.
    pub text: String,
    /// The sender's time (Unix seconds).
    pub epoch: u64,
    /// Pointer format.
    pub format: String,
    /// Cut short by CLM 2.0.2's sender.
    pub truncated: bool,
    /// The transport it first arrived over (`null` for a message sent from here).
    pub transport: Option<String>,
    /// Where within it.
    pub origin: Option<String>,
    /// When it was stored here.
    pub stored_at: i64,
}

/// Notification `delivery`: a delivery of the outbox was made, deferred or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    /// The event's id.
    pub event_id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// The outbox id.
    pub outbox_id: i64,
    /// The message it carries, if still in history.
    pub message_id: Option<i64>,
    /// `TRANSPORT[:TARGET]`.
    pub route: String,
    /// `delivered`, `deferred` or `failed`.
    pub state: String,
    /// Why it was not delivered.
    pub error: Option<String>,
}

/// Notification `health`: a transport's state changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthEvent {
    /// The event's id.
    pub event_id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// The transport instance.
    pub transport: String,
    /// `up`, `down` or `stopped`.
    pub state: String,
    /// What happened, never a secret.
    pub detail: String,
}

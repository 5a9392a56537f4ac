//! `send`, `history`, `trash`, `restore`, `purge`, `outbox.*`, `pending.list`: params and
//! results.

use serde::{Deserialize, Serialize};

/// `send` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendParams {
    /// The chat to send in.
    pub chat: String,
    /// The message.
    pub text: String,
    /// Deliver over this route only (default: every route of the chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The caller passes the pointer on itself: a chat without routes is not an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub print: bool,
}

/// `send`: the message id and what became of each delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The message's history id.
    pub message_id: i64,
    /// The very pointer was in history already (clm201: same text, same second): nothing new
    /// was recorded or delivered.
    pub duplicate: bool,
    /// The chat.
    pub chat: String,
    /// The pointer (ciphertext).
    pub pointer: String,
    /// The routes it goes over, `TRANSPORT[:TARGET]` (none for a duplicate's deliveries).
    pub routes: Vec<String>,
    /// One per route tried, in route order.
    pub deliveries: Vec<DeliveryOutcome>,
}

/// What became of one delivery of `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOutcome {
    /// Its outbox id (while it is queued or failed).
    pub outbox_id: i64,
    /// `TRANSPORT[:TARGET]`.
    pub route: String,
    /// `delivered`, `deferred` (queued: the daemon retries it) or `failed` (refused for good).
    pub state: String,
    /// The transport's id for what it sent.
    pub sent_id: Option<String>,
    /// Why it was not delivered.
    pub error: Option<String>,
    /// Deferred: seconds until the next attempt.
    pub retry_in: Option<u64>,
}

/// `history` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only this chat.
    #[serde(default)]
    pub chat: Option<String>,
    /// Only messages stored at or after this time (Unix seconds).
    #[serde(default)]
    pub since: Option<i64>,
    /// The trash instead.
    #[serde(default)]
    pub trashed: bool,
    /// Only ids above this one (paging forward).
    #[serde(default)]
    pub after: i64,
    /// Only ids below this one: the newest page before it (paging back).
    #[serde(default)]
    pub before: Option<i64>,
    /// The most messages (1 to 1000, default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `history`: a page, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// More lie beyond the page (newer after an `after` page, older before a `before` one).
    pub more: bool,
}

/// A message in history, as `history --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// History id.
    pub id: i64,
    /// Chat name.
    pub chat: String,
    /// `sent` or `received`.
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
    /// When it was stored here.
    pub stored_at: i64,
    /// When it was trashed (`null`: not in the trash).
    pub trashed: Option<i64>,
    /// Every arrival, oldest first.
    pub arrivals: Vec<ArrivalView>,
}

/// One arrival of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalView {
    /// The transport.
    pub transport: String,
    /// Where within it.
    pub origin: String,
    /// When.
    pub arrived_at: i64,
}

/// Params naming messages (or deliveries) by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsParams {
    /// The ids.
    pub ids: Vec<i64>,
}

/// `purge` params: ids of trashed messages, or all of the trash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeParams {
    /// Ids of messages in the trash.
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Everything in the trash.
    #[serde(default)]
    pub all_trashed: bool,
}

/// `outbox.retry` params: ids, or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryParams {
    /// Outbox ids.
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Every delivery.
    #[serde(default)]
    pub all: bool,
}

/// What a change touched: `trash`, `restore`, `purge`, `outbox.retry`, `outbox.drop`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// How many messages or deliveries changed (ids that named nothing are not counted).
    pub changed: u64,
    /// `trash`, `restore`: the ids (each once) that name no message; `outbox.drop`: no
    /// delivery. Left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<i64>,
}

/// `outbox.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxView {
    /// Queued and failed deliveries, oldest first.
    pub deliveries: Vec<DeliveryView>,
}

/// A delivery in the outbox, as `outbox list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// Outbox id.
    pub id: i64,
    /// The message it carries, if still in history.
    pub message_id: Option<i64>,
    /// `TRANSPORT[:TARGET]`.
    pub route: String,
    /// `queued` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next is due (Unix seconds).
    pub next_attempt: i64,
    /// Why the last failed.
    pub last_error: Option<String>,
    /// The pointer (ciphertext).
    pub pointer: String,
    /// The gateway relaying it, for a relay (it carries no message of ours).
    #[serde(default)]
    pub gateway: Option<String>,
}

impl From<crate::store::Delivery> for DeliveryView {
    fn from(delivery: crate::store::Delivery) -> DeliveryView {
        let route = if delivery.target.is_empty() {
            delivery.transport
        } else {
            format!("{}:{}", delivery.transport, delivery.target)
        };
        DeliveryView {
            id: delivery.id,
            message_id: delivery.message_id,
            route,
            state: if delivery.failed { "failed" } else { "queued" }.to_owned(),
            attempts: delivery.attempts,
            next_attempt: delivery.next_attempt,
            last_error: delivery.last_error,
            pointer: delivery.pointer,
            gateway: delivery.gateway,
        }
    }
}

/// `pending.list` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingParams {
    /// The most pointers listed (1 to 1000, default 100), oldest first.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `pending.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    /// How many pointers are pending in all.
    pub count: u64,
    /// The oldest of them.
    pub pointers: Vec<PendingPointerView>,
}

/// A pointer no chat opens yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPointerView {
    /// The pointer (ciphertext).
    pub pointer: String,
    /// The transport of its first arrival.
    pub transport: String,
    /// Where within it.
    pub origin: String,
    /// When it first arrived.
    pub first_seen: i64,
}

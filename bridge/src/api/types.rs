//! The params and results of every method, and the params of every notification, as Rust
//! types: the server serialises them, [`super::Client`] reads them back, and the OpenRPC
//! document (`openrpc.json`) describes the same shapes (a test holds them together). Params
//! refuse unknown fields, so a misspelt one is an error instead of a default.

use serde::{Deserialize, Serialize};

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

/// Params naming one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatParams {
    /// The chat's name.
    pub chat: String,
}

/// A chat as `chat list` and `chat show` tell it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatView {
    /// Local name.
    pub name: String,
    /// Pointer format: `native2`, `native`, `clm202` or `clm201`.
    pub format: String,
    /// clm201 chat id.
    pub chat_id: Option<String>,
    /// clm201 seed suffix in use.
    pub seed_suffix: Option<String>,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// Where sent messages go: `TRANSPORT[:TARGET]`.
    pub routes: Vec<String>,
    /// Messages in history, trashed ones included.
    pub messages: u64,
    /// Of those, in the trash.
    pub trashed: u64,
}

/// `chat.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatList {
    /// Every chat, by name.
    pub chats: Vec<ChatView>,
}

/// `chat.add` params. The secret goes in here and never comes out of the API again (but in an
/// invite asked for by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatAddParams {
    /// The chat's name.
    pub chat: String,
    /// The chat secret (clm201: the master seed).
    pub secret: String,
    /// `native2` (the default), `native`, `clm202` or `clm201`.
    #[serde(default = "native2")]
    pub format: String,
    /// clm201: the chat id (implied for urgent, general and secrets).
    #[serde(default)]
    pub chat_id: Option<String>,
    /// clm201: the seed suffix.
    #[serde(default)]
    pub seed_suffix: Option<String>,
    /// native2: accept a secret the strength estimate finds weak.
    #[serde(default)]
    pub weak_secret: bool,
}

fn native2() -> String {
    "native2".into()
}

/// A message a pointer opened to, as `scan --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedMessage {
    /// History id.
    pub id: i64,
    /// Chat name.
    pub chat: String,
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
    /// Transport it arrived over.
    pub transport: String,
    /// Where within it.
    pub origin: String,
    /// New to history.
    pub new: bool,
    /// Dated more than a day ahead of this machine's clock.
    pub from_the_future: bool,
}

/// A pointer a chat claims that does not open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// The chat.
    pub chat: String,
    /// Why it does not open.
    pub error: String,
}

/// `chat.add`: the chat, and the pending pointers it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatAdded {
    /// The chat's name.
    pub chat: String,
    /// Its format.
    pub format: String,
    /// Pending pointers it opened.
    pub opened: Vec<OpenedMessage>,
    /// Pointers it claims that do not open.
    pub broken: Vec<Broken>,
    /// Pointers still pending.
    pub still_pending: u64,
}

/// `chat.new` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatNewParams {
    /// The new chat's name.
    pub chat: String,
    /// Routes to add and suggest in the invite: `TRANSPORT[:TARGET]`.
    #[serde(default)]
    pub via: Vec<String>,
}

/// `chat.invite` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatInviteParams {
    /// The chat.
    pub chat: String,
    /// Suggest the chat's routes in the invite.
    #[serde(default)]
    pub routes: bool,
}

/// An invite: the chat's secret inside a `clm:` link. Anyone holding it can read and write in
/// the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    /// The chat.
    pub chat: String,
    /// Its format.
    pub format: String,
    /// The `clm:` link.
    pub link: String,
    /// The routes it suggests.
    pub routes: Vec<String>,
    /// `chat.new`: routes added whose transport is not set up here, and why.
    #[serde(default)]
    pub route_problems: Vec<RouteProblem>,
}

/// A route whose transport is not set up here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteProblem {
    /// The route's transport.
    pub route: String,
    /// What is missing.
    pub problem: String,
}

/// `chat.join` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatJoinParams {
    /// The `clm:` link.
    pub link: String,
    /// A local name for the chat (not for clm202).
    #[serde(default)]
    pub name: Option<String>,
    /// Add the suggested routes whose transports are set up here.
    #[serde(default)]
    pub accept_routes: bool,
}

/// `chat.join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The chat's local name.
    pub chat: String,
    /// Its format.
    pub format: String,
    /// What became of each route the invite suggests.
    pub routes: Vec<RouteOfferView>,
    /// Pending pointers it opened.
    pub opened: Vec<OpenedMessage>,
    /// Pointers it claims that do not open.
    pub broken: Vec<Broken>,
}

/// A suggested route: `added`, `suggested` (set up here, not added) or `unusable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteOfferView {
    /// The route.
    pub route: String,
    /// What became of it.
    pub state: String,
}

/// `chat.rename` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRenameParams {
    /// The chat's name now.
    pub chat: String,
    /// Its new name.
    pub new: String,
}

/// `chat.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renamed {
    /// The old name.
    pub chat: String,
    /// The new name.
    pub new: String,
    /// Its format (clm202: the name is part of each message).
    pub format: String,
}

/// `chat.remove` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRemoveParams {
    /// The chat.
    pub chat: String,
    /// Also delete its messages for good (needed when it has any).
    #[serde(default)]
    pub purge: bool,
}

/// `chat.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// The chat.
    pub chat: String,
    /// Messages deleted with it.
    pub purged: u64,
}

/// `chat.route` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRouteParams {
    /// The chat.
    pub chat: String,
    /// The route: `KIND[.INSTANCE][:TARGET]`.
    pub via: String,
    /// Remove it instead of adding it.
    #[serde(default)]
    pub remove: bool,
}

/// `chat.route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteChanged {
    /// The chat.
    pub chat: String,
    /// The route as stored.
    pub route: String,
    /// Added (or removed); `false`: it was a route already.
    pub changed: bool,
    /// Why it may not work yet with these settings.
    pub problem: Option<String>,
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// How many messages or deliveries changed (ids that named nothing are not counted).
    pub changed: u64,
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
    /// The transport of its first arrival (`null` for a message sent from here).
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

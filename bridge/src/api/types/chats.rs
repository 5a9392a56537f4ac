//! `chat.*`: params and results.

use serde::{Deserialize, Serialize};

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

/// Pointers a chat claims that do not open (altered or forged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// The chat.
    pub chat: String,
    /// Why the first of them does not open.
    pub error: String,
    /// How many.
    pub count: u64,
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
    /// Pending pointers that opened under the new name (clm202 only).
    pub opened: Vec<OpenedMessage>,
    /// Pointers it claims that do not open.
    pub broken: Vec<Broken>,
    /// Pointers still pending after the retry; `None` when they were not retried.
    pub still_pending: Option<u64>,
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

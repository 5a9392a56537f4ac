//! The Telegram transport: a bot that posts pointers to chats and reads them from chats, over
//! the Bot API (teloxide), at a configurable base URL (a self-hosted Bot API server, or an
//! emulator in tests).
//!
//! Outgoing, a pointer is one message in a monospace block (a `pre` entity, so it costs no
//! markup characters and copies in one tap) when it fits Telegram's 4096 characters; a longer
//! one goes as numbered parts (see [`parts`]) the receiving bridge puts back together.
//! Sends are paced per chat, per group and overall (see [`pacing`]), and a 429 answer's
//! `retry_after` is waited out.
//!
//! Incoming, `getUpdates` long polling reads messages, edited messages, channel posts and edited
//! channel posts of the allow-listed chats; their text or caption (entities ignored) goes to the
//! bridge. The update offset is the [`Cursor`] `offset` (= last `update_id` + 1), and the next
//! `getUpdates` (which acknowledges upstream) is asked for only once the bridge has committed
//! what came before. Parts of an incomplete set are stored by the bridge as cursors
//! `part:CHAT:ID:INDEX` (emptied once the set is complete or dropped), so a restart loses none of
//! them even though Telegram forgets acknowledged updates.
//!
//! The token is never logged and never appears in an error: every error is mapped to our own
//! text, with any occurrence of the token blanked out besides.

mod check;
mod commands;
#[cfg(test)]
mod fake_api;
pub mod pacing;
pub mod parts;
mod receive;
mod send;

use std::sync::Arc;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::Bot;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

pub use self::check::check;
pub use crate::settings::telegram::{Pacing, TelegramSettings};
use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, Sent, Transport, TransportError};

/// Telegram's limit on a message's text, in UTF-16 code units.
pub const MESSAGE_LIMIT: usize = 4096;

/// A bot as a [`Transport`].
pub struct TelegramTransport {
    name: String,
    bot: Bot,
    /// Kept to blank it out of any error text.
    token: Zeroizing<String>,
    settings: TelegramSettings,
    pacer: pacing::Pacer,
    health: commands::Health,
}

impl std::fmt::Debug for TelegramTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bot (it holds the token).
        f.debug_struct("TelegramTransport")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TelegramTransport {
    /// A bot named `name` (e.g. `telegram.home`) with its `token`.
    pub fn new(
        name: String,
        token: Zeroizing<String>,
        settings: TelegramSettings,
    ) -> Result<Self, TransportError> {
        if token.trim().is_empty() || token.contains(['/', ' ', '\n']) {
            return Err(TransportError::Refused(name, "the bot token is malformed".into()));
        }
        // Long polls must outlive their timeout; teloxide's default client gives up at 17 s.
        let client = teloxide::net::default_reqwest_settings()
            .timeout(settings.poll_timeout + Duration::from_secs(15))
            .build()
            .map_err(|_| TransportError::Refused(name.clone(), "cannot build the HTTP client".into()))?;
        let api_url = url::Url::parse(&settings.api_url)
            .map_err(|e| TransportError::Refused(name.clone(), format!("api_url: {e}")))?;
        let bot = Bot::with_client(token.as_str(), client).set_api_url(api_url);
        let pacer = pacing::Pacer::new(settings.pacing());
        Ok(Self { name, bot, token, settings, pacer, health: commands::Health::default() })
    }

    /// The settings this bot was made with.
    pub fn settings(&self) -> &TelegramSettings {
        &self.settings
    }

    /// Incomplete part sets held now (a progress figure).
    pub fn pending_sets(&self) -> usize {
        usize::try_from(self.health.pending_sets.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(0)
    }

    /// `text` with the token blanked out.
    fn scrub(&self, text: &str) -> String {
        if self.token.is_empty() { text.to_owned() } else { text.replace(self.token.as_str(), "<token>") }
    }

    /// A teloxide error as ours: transient failures are `Unavailable`, Telegram's refusals
    /// `Refused`. The text is ours (and scrubbed), never a URL.
    fn map_error(&self, error: RequestError) -> TransportError {
        use teloxide::ApiError;
        let unavailable = |why: String| TransportError::Unavailable(self.name.clone(), self.scrub(&why));
        let refused = |why: String| TransportError::Refused(self.name.clone(), self.scrub(&why));
        match error {
            RequestError::Network(error) => {
                let kind = if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                unavailable(format!("Bot API {kind}: {}", cause(&*error)))
            }
            RequestError::RetryAfter(seconds) => {
                unavailable(format!("rate limited by Telegram for {} s", seconds.seconds()))
            }
            RequestError::InvalidJson { .. } => unavailable("unexpected answer from the Bot API".into()),
            RequestError::Io(error) => unavailable(format!("I/O error: {error}")),
            RequestError::MigrateToChatId(chat) => {
                refused(format!("the group became a supergroup: use the route telegram:{} instead", chat.0))
            }
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => {
                unavailable("another program polls this bot's updates (one bot token, one poller)".into())
            }
            RequestError::Api(ApiError::InvalidToken) => refused("the bot token is not valid".into()),
            RequestError::Api(ApiError::Unknown(text))
                if ["Too Many Requests", "Internal Server Error", "Bad Gateway", "Gateway", "restart"]
                    .iter()
                    .any(|t| text.contains(t)) =>
            {
                unavailable(format!("Telegram: {text}"))
            }
            RequestError::Api(error) => refused(format!("Telegram: {error}")),
        }
    }
}

/// What caused a network error, from its source chain: never its URL (which holds the token;
/// teloxide strips it already, and the chain's texts do not carry it).
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    if text.is_empty() { "no detail".into() } else { text }
}

impl Transport for TelegramTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        route: &'a Route,
        pointer_text: &'a str,
    ) -> BoxFuture<'a, Result<Sent, TransportError>> {
        Box::pin(self.send_pointer(route, pointer_text))
    }

    fn run(
        self: Arc<Self>,
        cursors: Vec<Cursor>,
        inbound: mpsc::Sender<Inbound>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, Result<(), TransportError>> {
        Box::pin(receive::run(self, cursors, inbound, stop))
    }
}

/// Checks a Telegram route's target: a numeric chat id or a public `@username`. Asked when a
/// route is added, before anything is sent.
pub fn check_route(route: &Route) -> Result<(), TransportError> {
    send::parse_route(route).map(|_| ())
}

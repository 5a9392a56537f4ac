//! How a bot is used: where its Bot API is, which chats it listens to, who may command it, and
//! how fast it may post.

use std::collections::BTreeSet;
use std::time::Duration;

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// How long one `getUpdates` request waits for updates (long polling).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// The pause after an empty `getUpdates` answer that came back at once (a server that does not
/// hold requests, such as a test emulator): without it the loop would spin.
pub const DEFAULT_IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Parses a Bot API base URL (`https://api.telegram.org`, a self-hosted server, an emulator).
pub fn parse_api_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.host().is_none() {
        return Err(format!("`{text}` is not an http(s) URL"));
    }
    Ok(url)
}

/// How fast the bot posts: Telegram allows about one message per second in a chat, 20 per
/// minute in a group and 30 per second in all; beyond that it answers 429 with `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// The shortest time between two messages to the same chat.
    pub per_chat_interval: Duration,
    /// The most messages per minute to one group, supergroup or channel (negative chat ids).
    pub group_per_minute: u32,
    /// The most messages per second to all chats together.
    pub global_per_second: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Self { per_chat_interval: Duration::from_secs(1), group_per_minute: 20, global_per_second: 30 }
    }
}

/// A bot's settings (its token is passed on its own, see [`super::TelegramTransport::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramSettings {
    /// The Bot API base URL (a self-hosted Bot API server, or an emulator in tests).
    pub api_url: url::Url,
    /// The chats whose messages are read; updates from any other chat are ignored.
    pub allowed_chats: BTreeSet<i64>,
    /// The Telegram user id allowed to use `/status` and `/help`; nobody when `None`.
    pub owner: Option<u64>,
    /// How long one `getUpdates` request may wait for updates.
    pub poll_timeout: Duration,
    /// The pause after an empty answer that came back early.
    pub idle_poll_interval: Duration,
    /// Send pacing.
    pub pacing: Pacing,
}

impl TelegramSettings {
    /// Settings for the public Bot API, reading `allowed_chats`, with the default timings.
    pub fn new(allowed_chats: impl IntoIterator<Item = i64>) -> Self {
        Self {
            // A constant that parses.
            api_url: parse_api_url(DEFAULT_API_URL).expect("the default API URL parses"),
            allowed_chats: allowed_chats.into_iter().collect(),
            owner: None,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            idle_poll_interval: DEFAULT_IDLE_POLL_INTERVAL,
            pacing: Pacing::default(),
        }
    }
}

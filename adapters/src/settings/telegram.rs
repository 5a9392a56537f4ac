//! `[telegram.NAME]`: a Telegram bot. Every key is documented in `config.example.toml`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{SecretRef, SettingsError};

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// How long one `getUpdates` request waits for updates (long polling).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// The longest `poll_timeout`: Telegram holds a request 50 s at most.
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(50);
/// The pause after an empty `getUpdates` answer that came back at once (a server that does not
/// hold requests, such as a test emulator): without it the loop would spin.
pub const DEFAULT_IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest time between two messages to one chat (Telegram: about one per second).
pub const DEFAULT_SEND_INTERVAL: Duration = Duration::from_secs(1);
/// Messages per minute to one group or channel (Telegram: 20).
pub const DEFAULT_GROUP_MESSAGES_PER_MINUTE: u32 = 20;
/// Messages per second to all chats (Telegram: 30).
pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 30;

/// How a bot is used: where its Bot API is, which chats it listens to, who may command it, and
/// how fast it may post. The token is read by the bridge from `token_env` / `token_file` and
/// handed to the transport on its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The environment variable holding the bot token; see [`TelegramSettings::token`].
    #[serde(default)]
    pub token_env: Option<String>,
    /// The file holding the bot token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The Bot API base URL (a self-hosted Bot API server, or an emulator in tests).
    #[serde(default = "default_api_url", deserialize_with = "api_url")]
    pub api_url: String,
    /// The chats whose messages are read; updates from any other chat are ignored.
    #[serde(default)]
    pub allowed_chats: BTreeSet<i64>,
    /// The Telegram user id answered to `/status` and `/help`; nobody when unset.
    #[serde(default)]
    pub owner_id: Option<u64>,
    /// How long one `getUpdates` request may wait for updates.
    #[serde(default = "default_poll_timeout", deserialize_with = "super::duration")]
    pub poll_timeout: Duration,
    /// The pause after an empty answer that came back early.
    #[serde(default = "default_idle_poll_interval", deserialize_with = "super::duration")]
    pub idle_poll_interval: Duration,
    /// The shortest time between two messages to the same chat.
    #[serde(default = "default_send_interval", deserialize_with = "super::duration")]
    pub send_interval: Duration,
    /// The most messages per minute to one group, supergroup or channel.
    #[serde(default = "default_group_messages_per_minute", deserialize_with = "at_least_one")]
    pub group_messages_per_minute: u32,
    /// The most messages per second to all chats together.
    #[serde(default = "default_messages_per_second", deserialize_with = "at_least_one")]
    pub messages_per_second: u32,
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
        Self {
            per_chat_interval: DEFAULT_SEND_INTERVAL,
            group_per_minute: DEFAULT_GROUP_MESSAGES_PER_MINUTE,
            global_per_second: DEFAULT_MESSAGES_PER_SECOND,
        }
    }
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_poll_timeout() -> Duration {
    DEFAULT_POLL_TIMEOUT
}

fn default_idle_poll_interval() -> Duration {
    DEFAULT_IDLE_POLL_INTERVAL
}

fn default_send_interval() -> Duration {
    DEFAULT_SEND_INTERVAL
}

fn default_group_messages_per_minute() -> u32 {
    DEFAULT_GROUP_MESSAGES_PER_MINUTE
}

fn default_messages_per_second() -> u32 {
    DEFAULT_MESSAGES_PER_SECOND
}

fn api_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    super::check_http_url(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match u32::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

impl TelegramSettings {
    /// Settings for the public Bot API, reading `allowed_chats`, with the default timings (no
    /// token source: set one before [`TelegramSettings::validate`]).
    pub fn new(allowed_chats: impl IntoIterator<Item = i64>) -> Self {
        Self {
            token_env: None,
            token_file: None,
            api_url: DEFAULT_API_URL.to_owned(),
            allowed_chats: allowed_chats.into_iter().collect(),
            owner_id: None,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            idle_poll_interval: DEFAULT_IDLE_POLL_INTERVAL,
            send_interval: DEFAULT_SEND_INTERVAL,
            group_messages_per_minute: DEFAULT_GROUP_MESSAGES_PER_MINUTE,
            messages_per_second: DEFAULT_MESSAGES_PER_SECOND,
        }
    }

    /// Where the bot token comes from (`token_env` or `token_file`, exactly one).
    pub fn token(&self) -> Result<SecretRef, SettingsError> {
        SecretRef::from_keys("token", self.token_env.as_deref(), self.token_file.as_ref(), true)?
            .ok_or_else(|| SettingsError::new("token_env", "set token_env or token_file"))
    }

    /// The send pacing these settings describe.
    pub fn pacing(&self) -> Pacing {
        Pacing {
            per_chat_interval: self.send_interval,
            group_per_minute: self.group_messages_per_minute,
            global_per_second: self.messages_per_second,
        }
    }

    /// Checks what deserializing could not.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.token()?;
        if self.allowed_chats.contains(&0) {
            return Err(SettingsError::new("allowed_chats", "0 is no chat id"));
        }
        if self.poll_timeout > MAX_POLL_TIMEOUT {
            return Err(SettingsError::new(
                "poll_timeout",
                "is at most 50s (Telegram holds a request 50 s at most)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_broken_rule_names_its_key() {
        let broken = |change: fn(&mut TelegramSettings)| {
            let mut settings =
                TelegramSettings { token_env: Some("T".into()), ..TelegramSettings::new([-1]) };
            change(&mut settings);
            settings.validate().unwrap_err().key
        };
        assert_eq!(broken(|s| s.token_env = None), "token_env");
        assert_eq!(broken(|s| s.token_file = Some("/f".into())), "token_env");
        assert_eq!(
            broken(|s| {
                s.allowed_chats.insert(0);
            }),
            "allowed_chats"
        );
        assert_eq!(broken(|s| s.poll_timeout = Duration::from_secs(51)), "poll_timeout");
    }
}

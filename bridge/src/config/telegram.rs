//! `[telegram.NAME]` sections: Telegram bots. Plain types, compiled with or without the `telegram` feature.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, SecretRef, parse_duration};

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Default `getUpdates` long-poll timeout.
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// Default pause after an empty answer that came back early.
const DEFAULT_IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default shortest time between two messages to one chat.
const DEFAULT_SEND_INTERVAL: Duration = Duration::from_secs(1);

/// A `[telegram.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelegram {
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    api_url: Option<String>,
    #[serde(default)]
    allowed_chats: Vec<i64>,
    owner_id: Option<u64>,
    poll_timeout: Option<String>,
    idle_poll_interval: Option<String>,
    send_interval: Option<String>,
    group_messages_per_minute: Option<u32>,
    messages_per_second: Option<u32>,
}

/// A validated `[telegram.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramAccount {
    /// Where the bot token comes from.
    pub token: SecretRef,
    /// The Bot API base URL (checked to parse as an http(s) URL).
    pub api_url: String,
    /// Chats whose messages are read.
    pub allowed_chats: BTreeSet<i64>,
    /// The user id answered to `/status` and `/help`.
    pub owner_id: Option<u64>,
    /// Long-poll timeout.
    pub poll_timeout: Duration,
    /// Pause after an empty answer that came back early.
    pub idle_poll_interval: Duration,
    /// Shortest time between two messages to one chat.
    pub send_interval: Duration,
    /// Most messages per minute to one group or channel.
    pub group_messages_per_minute: u32,
    /// Most messages per second to all chats.
    pub messages_per_second: u32,
}

/// Validates section `name`; errors name the key (`telegram.NAME.KEY`).
pub(super) fn validate(
    name: &str,
    raw: RawTelegram,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<TelegramAccount, ConfigError> {
    let section = format!("telegram.{name}");
    let key = |key: &str| format!("{section}.{key}");
    let token = SecretRef::from_keys(&section, "token", raw.token_env, raw.token_file, true, invalid)?
        .ok_or_else(|| invalid(key("token_env"), "is required".into()))?;
    let api_url = raw.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let scheme_ok = api_url.starts_with("https://") || api_url.starts_with("http://");
    let host =
        api_url.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if !scheme_ok || host.is_empty() || api_url.contains(char::is_whitespace) {
        return Err(invalid(key("api_url"), format!("`{api_url}` is not an http(s) URL")));
    }
    if raw.allowed_chats.contains(&0) {
        return Err(invalid(key("allowed_chats"), "0 is no chat id".into()));
    }
    let duration = |value: Option<String>, name: &str, default: Duration| match value {
        Some(text) => parse_duration(&text).map_err(|reason| invalid(key(name), reason)),
        None => Ok(default),
    };
    let poll_timeout = duration(raw.poll_timeout, "poll_timeout", DEFAULT_POLL_TIMEOUT)?;
    if poll_timeout > Duration::from_secs(50) {
        return Err(invalid(
            key("poll_timeout"),
            "is at most 50s (Telegram holds a request 50 s at most)".into(),
        ));
    }
    let idle_poll_interval =
        duration(raw.idle_poll_interval, "idle_poll_interval", DEFAULT_IDLE_POLL_INTERVAL)?;
    let send_interval = duration(raw.send_interval, "send_interval", DEFAULT_SEND_INTERVAL)?;
    let positive = |value: Option<u32>, name: &str, default: u32| match value {
        Some(0) => Err(invalid(key(name), "must be at least 1".into())),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(TelegramAccount {
        token,
        api_url,
        allowed_chats: raw.allowed_chats.into_iter().collect(),
        owner_id: raw.owner_id,
        poll_timeout,
        idle_poll_interval,
        send_interval,
        group_messages_per_minute: positive(raw.group_messages_per_minute, "group_messages_per_minute", 20)?,
        messages_per_second: positive(raw.messages_per_second, "messages_per_second", 30)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_text as load;
    use super::*;

    #[test]
    fn a_full_section_validates() {
        let settings = load(
            "[telegram.home]\ntoken_file = \"/run/secrets/bot\"\napi_url = \"http://127.0.0.1:8081\"\n\
             allowed_chats = [-100123, 42]\nowner_id = 42\npoll_timeout = \"10s\"\nidle_poll_interval = \"50ms\"\n\
             send_interval = \"2s\"\ngroup_messages_per_minute = 10\nmessages_per_second = 5\n\
             [chats.Family]\nroutes = [\"telegram:-100123\"]\n",
        )
        .unwrap();
        let bot = &settings.telegrams["home"];
        assert_eq!(bot.token, SecretRef::File("/run/secrets/bot".into()));
        assert_eq!(bot.api_url, "http://127.0.0.1:8081");
        assert_eq!(bot.allowed_chats, BTreeSet::from([-100_123, 42]));
        assert_eq!(bot.owner_id, Some(42));
        assert_eq!(
            (bot.poll_timeout, bot.idle_poll_interval),
            (Duration::from_secs(10), Duration::from_millis(50))
        );
        assert_eq!(
            (bot.send_interval, bot.group_messages_per_minute, bot.messages_per_second),
            (Duration::from_secs(2), 10, 5)
        );
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let settings = load("[telegram.t]\ntoken_env = \"BOT_TOKEN\"\n").unwrap();
        let bot = &settings.telegrams["t"];
        assert_eq!(bot.token, SecretRef::Env("BOT_TOKEN".into()));
        assert_eq!(bot.api_url, DEFAULT_API_URL);
        assert!(bot.allowed_chats.is_empty() && bot.owner_id.is_none());
        assert_eq!((bot.poll_timeout, bot.send_interval), (DEFAULT_POLL_TIMEOUT, DEFAULT_SEND_INTERVAL));
        assert_eq!((bot.group_messages_per_minute, bot.messages_per_second), (20, 30));
    }

    #[test]
    fn each_bad_key_is_named() {
        let base = "[telegram.t]\n";
        for (extra, key) in [
            ("", "telegram.t.token_env"),
            ("token_env = \"A\"\ntoken_file = \"/f\"\n", "telegram.t.token_env"),
            ("token_env = \"A\"\napi_url = \"ftp://x\"\n", "telegram.t.api_url"),
            ("token_env = \"A\"\napi_url = \"https://\"\n", "telegram.t.api_url"),
            ("token_env = \"A\"\nallowed_chats = [0]\n", "telegram.t.allowed_chats"),
            ("token_env = \"A\"\npoll_timeout = \"2m\"\n", "telegram.t.poll_timeout"),
            ("token_env = \"A\"\nidle_poll_interval = \"soon\"\n", "telegram.t.idle_poll_interval"),
            ("token_env = \"A\"\nsend_interval = \"0s\"\n", "telegram.t.send_interval"),
            ("token_env = \"A\"\ngroup_messages_per_minute = 0\n", "telegram.t.group_messages_per_minute"),
            ("token_env = \"A\"\nmessages_per_second = 0\n", "telegram.t.messages_per_second"),
        ] {
            let error = load(&format!("{base}{extra}")).unwrap_err().to_string();
            assert!(error.contains(key), "{extra:?}: {error}");
        }
        let error = load("[telegram.t]\ntoken_env = \"A\"\ntoken = \"inline\"\n").unwrap_err().to_string();
        assert!(error.contains("token"), "an inline token is refused: {error}");
    }
}

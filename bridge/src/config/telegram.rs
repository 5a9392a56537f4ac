//! `[telegram.NAME]` sections: Telegram bots. Plain types, compiled with or without the `telegram` feature.

use serde::Deserialize;

use super::ConfigError;

/// A `[telegram.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelegram {}

/// A validated `[telegram.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramAccount {}

/// Validates section `name`; errors name the key (`telegram.NAME.KEY`).
pub(super) fn validate(
    _name: &str,
    _raw: RawTelegram,
    _invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<TelegramAccount, ConfigError> {
    Ok(TelegramAccount {})
}

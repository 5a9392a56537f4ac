//! `[email.NAME]` sections: e-mail accounts (SMTP out, IMAP in). Plain types, compiled with or without the `email` feature.

use serde::Deserialize;

use super::ConfigError;

/// A `[email.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {}

/// A validated `[email.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAccount {}

/// Validates section `name`; errors name the key (`email.NAME.KEY`).
pub(super) fn validate(
    _name: &str,
    _raw: RawEmail,
    _invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<EmailAccount, ConfigError> {
    Ok(EmailAccount {})
}

//! Where an account's password or token comes from: an environment variable or a file, never
//! the config file itself (a config is often shared, synced or backed up in the clear).

use std::path::PathBuf;

use zeroize::Zeroizing;

use super::ConfigError;
use crate::secret::{SecretError, read_secret_ref};

/// A secret named by the settings, read only when a transport starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (one trailing newline ignored).
    File(PathBuf),
}

impl SecretRef {
    /// Validates a pair of keys `{key}_env` / `{key}_file` of section `section`: exactly one
    /// must be set when `required`, at most one otherwise.
    pub fn from_keys(
        section: &str,
        key: &str,
        env: Option<String>,
        file: Option<PathBuf>,
        required: bool,
        invalid: &dyn Fn(String, String) -> ConfigError,
    ) -> Result<Option<SecretRef>, ConfigError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(invalid(
                format!("{section}.{key}_env"),
                format!("set either {key}_env or {key}_file, not both"),
            )),
            (Some(name), None) if name.is_empty() || name.contains('=') => {
                Err(invalid(format!("{section}.{key}_env"), "is not an environment variable name".into()))
            }
            (Some(name), None) => Ok(Some(SecretRef::Env(name))),
            (None, Some(path)) if path.as_os_str().is_empty() => {
                Err(invalid(format!("{section}.{key}_file"), "is empty".into()))
            }
            (None, Some(path)) => Ok(Some(SecretRef::File(path))),
            (None, None) if required => Err(invalid(
                format!("{section}.{key}_env"),
                format!(
                    "is required: name the environment variable ({key}_env) or file ({key}_file) holding it"
                ),
            )),
            (None, None) => Ok(None),
        }
    }

    /// Reads the secret. Errors name where it was looked for, never its value.
    pub fn read(&self) -> Result<Zeroizing<String>, SecretError> {
        let source = match self {
            SecretRef::Env(name) => clm_adapters::settings::SecretRef::Env(name.clone()),
            SecretRef::File(path) => clm_adapters::settings::SecretRef::File(path.clone()),
        };
        read_secret_ref(&source)
    }
}

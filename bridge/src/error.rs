//! Everything that stops a command, and the exit status each one gives.
//!
//! Exit statuses follow grep and ripgrep, so scripts can tell "nothing for me" from "broken":
//! 0 success, 1 a decode that opened nothing (an outcome, not an error: see
//! `commands::Outcome`), 2 every error below. clap exits 2 on its own usage errors too.

use std::io;
use std::path::PathBuf;

use clm_core::EncodeError;

/// Exit status of every [`Error`].
pub const EXIT_ERROR: u8 = 2;

/// Why a command could not do its job. Messages are one line, never contain a secret or a
/// message text, and are printed after `clm-bridge: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The flags parsed, but do not make sense together (e.g. clm201 without a chat id).
    #[error("{0}")]
    Usage(String),
    /// No `--secret-env`, no `--secret-file`, and no terminal to prompt on.
    #[error("no secret given: use --secret-env VAR or --secret-file PATH (no terminal to prompt on)")]
    NoSecretSource,
    /// `--secret-env` names a variable that is not set.
    #[error("environment variable {name} (--secret-env) is not set")]
    SecretEnvUnset {
        /// The variable's name.
        name: String,
    },
    /// A secret that is not UTF-8 (CLM's secrets are text).
    #[error("the secret from {origin} is not valid UTF-8")]
    SecretNotUtf8 {
        /// Where it came from, e.g. "environment variable CLM_SECRET".
        origin: String,
    },
    /// An empty secret: almost surely a mistake (an unset-but-exported variable, an empty file).
    #[error("the secret from {origin} is empty")]
    SecretEmpty {
        /// Where it came from.
        origin: String,
    },
    /// The secret file could not be read.
    #[error("cannot read the secret file {}: {source}", path.display())]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The terminal prompt failed.
    #[error("cannot read the secret from the terminal: {0}")]
    Prompt(io::Error),
    /// Reading the input (a FILE or standard input) failed.
    #[error("cannot read {what}: {source}")]
    Input {
        /// What was read, e.g. "standard input" or "file mail.eml".
        what: String,
        /// Why.
        source: io::Error,
    },
    /// A message read from standard input is not UTF-8.
    #[error("the message on standard input is not valid UTF-8")]
    MessageNotUtf8,
    /// Writing the results failed.
    #[error("cannot write to standard output: {0}")]
    Output(io::Error),
    /// The system clock is before 1970, so there is no default epoch.
    #[error("the system clock is before 1970: pass --epoch")]
    Clock,
    /// The operating system gave no random bytes for the nonce.
    #[error("cannot get random bytes for the nonce: {0}")]
    Random(String),
    /// The message could not be encoded (too large, sender name unusable).
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// The history database failed or refused (no such chat, a name taken, ...).
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The vault could not be opened or used (wrong passphrase, damaged data).
    #[error("{0}")]
    Vault(#[from] crate::vault::VaultError),
    /// The data directory is unusable.
    #[error("{0}")]
    DataDir(#[from] crate::paths::DataDirError),
    /// The settings file or environment overrides are invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// A stored chat secret is not UTF-8 (CLM formats need text): the store is damaged.
    #[error("the stored secret of chat {0} is not valid UTF-8")]
    StoredSecretNotUtf8(String),
    /// A CLM database could not be imported (unreadable, not CLM's, wrong master seed).
    #[error("{0}")]
    ImportClm(#[from] crate::import_clm::ImportError),
    /// `doctor` found problems (each printed on its own line).
    #[error("{0} check(s) failed")]
    ChecksFailed(usize),
    /// The async runtime, a signal handler or a task of the daemon could not be set up or
    /// failed.
    #[error("cannot run: {0}")]
    Runtime(io::Error),
    /// `send` recorded the message but could not deliver it over every route.
    #[error("{0}")]
    Delivery(String),
    /// `demo` could not show the bridge working (which step, and why).
    #[error("demo failed: {0}")]
    Demo(String),
}

impl Error {
    /// The process exit status for this error. Every error is 2 (1 is "nothing opened"); the
    /// match is exhaustive so that a new variant has to be decided on.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::NoSecretSource
            | Error::SecretEnvUnset { .. }
            | Error::SecretNotUtf8 { .. }
            | Error::SecretEmpty { .. }
            | Error::SecretFile { .. }
            | Error::Prompt(_)
            | Error::Input { .. }
            | Error::MessageNotUtf8
            | Error::Output(_)
            | Error::Clock
            | Error::Random(_)
            | Error::Encode(_)
            | Error::Store(_)
            | Error::Vault(_)
            | Error::DataDir(_)
            | Error::Config(_)
            | Error::StoredSecretNotUtf8(_)
            | Error::ImportClm(_)
            | Error::ChecksFailed(_)
            | Error::Runtime(_)
            | Error::Delivery(_)
            | Error::Demo(_) => EXIT_ERROR,
        }
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

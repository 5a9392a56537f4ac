//! Everything that stops a command, and the exit status each one gives.
//!
//! Exit statuses follow grep and ripgrep, so scripts can tell "nothing for me" from "broken":
//! 0 success, 1 a decode that opened nothing or a doctor that found only warnings (outcomes,
//! not errors: see `commands::Outcome`), 2 every error below but one (a doctor check failed:
//! [`Error::ChecksFailed`]). clap exits 2 on its own usage errors
//! too. Two more: [`EXIT_QUEUED`] (3), a `send` whose message is recorded but waits in the
//! outbox for some route (an outcome too), and [`EXIT_INTERRUPTED`] (130, as shells report a
//! SIGINT), a command stopped by SIGINT or SIGTERM that cleaned up after itself.

use std::io;

use clm_core::EncodeError;

/// Exit status of every [`Error`] but [`Error::Interrupted`].
pub const EXIT_ERROR: u8 = 2;
/// Exit status of a `send` that recorded the message but could not deliver it over every
/// route now: the rest waits in the outbox for `clm-bridge run` (see `commands::Outcome`).
pub const EXIT_QUEUED: u8 = 3;
/// Exit status of [`Error::Interrupted`]: 128 + SIGINT, as a shell reports an interrupted
/// command.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command could not do its job. Messages are one line, never contain a secret or a
/// message text, and are printed after `clm-bridge: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The flags parsed, but do not make sense together (e.g. clm201 without a chat id).
    #[error("{0}")]
    Usage(String),
    /// A secret or passphrase could not be had.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// The input (a FILE, standard input) could not be read.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
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
    /// Arriving text could not be taken in (the store failed, a stored chat is damaged).
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    /// A CLM database could not be imported (unreadable, not CLM's, wrong master seed).
    #[error("{0}")]
    ImportClm(#[from] crate::clm_db::ImportError),
    /// A transport could not be set up, or a route not resolved.
    #[error(transparent)]
    Setup(#[from] crate::transports::SetupError),
    /// An invite could not be read or made.
    #[error("invite: {0}")]
    Invite(#[from] clm_core::invite::InviteError),
    /// A QR code could not be made or written.
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
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
    /// A new vault passphrase is too easy to guess (the message says what would pass).
    #[error(transparent)]
    WeakPassphrase(#[from] crate::strength::TooWeak),
    /// Ids given on the command line name nothing (no such message, no such delivery).
    #[error("{0}")]
    NoSuchIds(String),
    /// SIGINT or SIGTERM stopped the command (after it cleaned up).
    #[error("interrupted; {0}")]
    Interrupted(String),
    /// No chat has the name given (the message suggests the closest names).
    #[error("{0}")]
    UnknownChat(String),
    /// The daemon, asked over its API, refused or failed: its message is the one the command
    /// gives without a daemon.
    #[error("{0}")]
    Daemon(String),
    /// The settings file could not be edited (`account add`): a section exists, the new one
    /// would not load, a write failed. Nothing was changed.
    #[error(transparent)]
    ConfigEdit(#[from] crate::config::edit::EditError),
    /// `account add`'s live check failed (each check printed on its own line): nothing written.
    #[error(
        "{0} check(s) failed: nothing was written (fix it, or pass --no-check to write the section unchecked)"
    )]
    AccountCheck(usize),
}

impl Error {
    /// The process exit status for this error: 2, or 130 when interrupted (1 and 3 are
    /// outcomes, not errors); the match is exhaustive so that a new variant has to be decided
    /// on.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::UnknownChat(_)
            | Error::Secret(_)
            | Error::Input(_)
            | Error::Output(_)
            | Error::Clock
            | Error::Random(_)
            | Error::Encode(_)
            | Error::Store(_)
            | Error::Vault(_)
            | Error::DataDir(_)
            | Error::Config(_)
            | Error::Pipeline(_)
            | Error::ImportClm(_)
            | Error::Setup(_)
            | Error::Invite(_)
            | Error::Qr(_)
            | Error::ChecksFailed(_)
            | Error::Runtime(_)
            | Error::Delivery(_)
            | Error::Demo(_)
            | Error::WeakPassphrase(_)
            | Error::NoSuchIds(_)
            | Error::Daemon(_)
            | Error::ConfigEdit(_)
            | Error::AccountCheck(_) => EXIT_ERROR,
            Error::Interrupted(_) => EXIT_INTERRUPTED,
        }
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

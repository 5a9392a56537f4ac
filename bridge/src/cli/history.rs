//! The flags of the commands that read and change the history: `scan`, `receive`,
//! `history`, `trash`, `restore`, `purge`, `outbox`, `pending`, `passphrase`, `import-clm`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::SecretArgs;

/// `clm-bridge scan`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// One JSON object per message: {"chat","from","text","epoch","format","new"}.
    #[arg(long)]
    pub json: bool,
    /// Files to scan: text, HTML or whole RFC 822 mails (none or `-`: standard input).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `clm-bridge receive`.
#[derive(Debug, Clone, Args)]
pub struct ReceiveArgs {
    /// One JSON object per message, as `scan --json` prints.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only this chat's messages.
    #[arg(long, value_name = "NAME")]
    pub chat: Option<String>,
    /// Only messages stored here at or after T (not the sender's time): Unix seconds, a UTC day
    /// YYYY-MM-DD, or a UTC time `YYYY-MM-DDTHH:MM[:SS][Z]`.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Show the trash instead.
    #[arg(long)]
    pub trashed: bool,
    /// One JSON object per message: {"id","chat","direction","from","text","epoch","format",
    /// "truncated","stored_at","trashed","arrivals"}; trashed is null or when it was trashed.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge trash` and `clm-bridge restore`.
#[derive(Debug, Clone, Args)]
pub struct MessageIdsArgs {
    /// Message ids, as `history` shows them.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<i64>,
}

/// `clm-bridge outbox ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxCommand {
    /// List queued and failed deliveries (pointers only: they hold no plaintext).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Make deliveries due now, failed ones included; `clm-bridge run` then tries them.
    Retry(OutboxIdsArgs),
    /// Remove deliveries from the outbox (the messages stay in history).
    ///
    /// Exit status: 2 if an id is not in the outbox (the others are still removed).
    Drop(OutboxDropArgs),
}

/// `clm-bridge outbox drop`.
#[derive(Debug, Clone, Args)]
pub struct OutboxDropArgs {
    /// Outbox ids, as `outbox list` shows them (not message ids).
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<i64>,
}

/// `clm-bridge pending ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum PendingCommand {
    /// Counts and sizes by transport, origin and day (the day they were first seen), newest
    /// first. Never a pointer itself unless --pointers.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Instead, every pending pointer, oldest first, as JSON lines with its transport,
        /// origin and first-seen time (pointers are ciphertext; still, strangers wrote them).
        #[arg(long)]
        pointers: bool,
    },
    /// Delete pending pointers for good.
    Purge(PendingPurgeArgs),
}

/// Which pending pointers to delete: exactly one of the choices.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false, id = "which")]
pub struct PendingPurgeArgs {
    /// Those first seen longer ago than this: 30d, 12h, 90m, 45s.
    #[arg(long, value_name = "PERIOD")]
    pub older_than: Option<String>,
    /// Every pending pointer.
    #[arg(long)]
    pub all: bool,
    /// Those from this origin, as `pending list` shows it.
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// With --origin: only those that came over this transport (e.g. drop.usb).
    #[arg(long, value_name = "TRANSPORT", requires = "origin")]
    pub transport: Option<String>,
}

/// `clm-bridge passphrase ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum PassphraseCommand {
    /// Change the vault passphrase: everything sealed in the data dir is sealed anew under the
    /// new key, in one transaction (stop `clm-bridge run` first).
    ///
    /// The current passphrase comes as for every command ($CLM_BRIDGE_PASSPHRASE,
    /// --passphrase-file, or a prompt); the new one from $CLM_BRIDGE_NEW_PASSPHRASE,
    /// --new-passphrase-file, or a prompt (twice).
    Change {
        /// Read the new passphrase from this file (one trailing newline is ignored).
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
}

/// Outbox ids, or all.
#[derive(Debug, Clone, Args)]
pub struct OutboxIdsArgs {
    /// Outbox ids, as `outbox list` shows them.
    #[arg(value_name = "ID", required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<i64>,
    /// Every delivery in the outbox.
    #[arg(long)]
    pub all: bool,
}

/// `clm-bridge purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Ids of messages in the trash.
    #[arg(value_name = "ID", required_unless_present = "all_trashed", conflicts_with = "all_trashed")]
    pub ids: Vec<i64>,
    /// Everything in the trash.
    #[arg(long)]
    pub all_trashed: bool,
}

/// `clm-bridge import-clm`.
#[derive(Debug, Clone, Args)]
pub struct ImportClmArgs {
    /// CLM's database (usually ~/.config/clm/clm.db); opened read-only.
    #[arg(value_name = "CLM_DB")]
    pub path: PathBuf,
    /// Where the CLM master seed comes from (default: a prompt).
    #[command(flatten)]
    pub secret: SecretArgs,
    /// One JSON object per imported chat.
    #[arg(long)]
    pub json: bool,
}

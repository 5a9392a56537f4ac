//! The flags of `clm-bridge chat ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{FormatArg, SecretArgs};

/// `clm-bridge chat`.
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// What to do with chats.
    #[command(subcommand)]
    pub command: ChatCommand,
}

/// The `chat` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ChatCommand {
    /// Add a chat (its secret is sealed in the vault), then open the pending pointers it can,
    /// one line each.
    Add(ChatAddArgs),
    /// List the chats.
    List(ChatListArgs),
    /// Show a chat: format, ids, routes and message counts (never its secret).
    Show(ChatShowArgs),
    /// Rename a chat (clm202: the name is part of each message, so only to fix a typo).
    Rename(ChatRenameArgs),
    /// Remove a chat with its secret and routes.
    Remove(ChatRemoveArgs),
    /// Add a route for the chat's sent messages, or remove one with --remove.
    Route(ChatRouteArgs),
    /// Start a chat: a generated secret (160 bits) and salt (native v2), then its invite.
    New(ChatNewArgs),
    /// Show a chat's invite: a `clm:` link (and a QR code on the terminal, or in a file) that
    /// lets someone else join it. Anyone holding it can read and write in the chat.
    Invite(ChatInviteArgs),
    /// Join a chat from an invite: a `clm:` link read from standard input (`-`, the default),
    /// a file, or the argument; opens the pending pointers it can.
    Join(ChatJoinArgs),
}

/// `clm-bridge chat new`.
#[derive(Debug, Clone, Args)]
pub struct ChatNewArgs {
    /// The chat's name (carried by the invite; each member may rename it later).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A route for the chat's messages, added here and suggested in the invite (repeatable).
    #[arg(long, value_name = "TRANSPORT[:TARGET]")]
    pub via: Vec<String>,
    /// How the invite is shown.
    #[command(flatten)]
    pub output: InviteOutputArgs,
}

/// How `chat new` and `chat invite` show the invite.
#[derive(Debug, Clone, Args)]
pub struct InviteOutputArgs {
    /// Print the invite as JSON: {"chat","format","link","routes"}.
    #[arg(long)]
    pub json: bool,
    /// Also write the invite's QR code to this file (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub qr: Option<PathBuf>,
    /// Draw no QR code on the terminal.
    #[arg(long)]
    pub no_qr: bool,
}

/// `clm-bridge chat invite`.
#[derive(Debug, Clone, Args)]
pub struct ChatInviteArgs {
    /// The chat.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Suggest the chat's routes in the invite (never account passwords or tokens).
    #[arg(long)]
    pub routes: bool,
    /// How the invite is shown.
    #[command(flatten)]
    pub output: InviteOutputArgs,
}

/// `clm-bridge chat join`.
#[derive(Debug, Clone, Args)]
pub struct ChatJoinArgs {
    /// The invite: `-` (standard input, the default), a file holding it, or the `clm:` link
    /// itself (which puts the secret on the command line: prefer standard input).
    #[arg(value_name = "LINK|FILE|-", default_value = "-")]
    pub invite: String,
    /// A local name for the chat (not for clm202, whose name is part of every message).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Add the routes the invite suggests whose transports are configured here.
    #[arg(long)]
    pub accept_routes: bool,
    /// Print the pending messages it opens as JSON lines, as `scan --json` does.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge chat add`.
#[derive(Debug, Clone, Args)]
pub struct ChatAddArgs {
    /// The chat's name (clm202: exactly as the other members spell it: it is part of each
    /// message; clm201: urgent, general and secrets imply chat ids 0, 1 and 2).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Pointer format of the chat.
    #[arg(long, value_enum, default_value = "native2")]
    pub format: FormatArg,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// native2: accept a secret under ~60 bits of estimated strength (people agreed on it
    /// aloud, say). A weak secret lets anyone who sees one pointer guess it offline.
    #[arg(long)]
    pub weak_secret: bool,
    /// clm201 chat id (required unless NAME is one of CLM's default chats).
    #[arg(long, value_name = "ID")]
    pub chat_id: Option<String>,
    /// clm201 seed suffix (default: CLM's for the chat id: urgent, general, secrets, chat_ID).
    #[arg(long, value_name = "S")]
    pub seed_suffix: Option<String>,
    /// Print the pending messages it opens as JSON lines, as `scan --json` does.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge chat list`.
#[derive(Debug, Clone, Args)]
pub struct ChatListArgs {
    /// One JSON object per chat: {"name","format","chat_id","seed_suffix","created_at",
    /// "routes","messages","trashed"}.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge chat show`.
#[derive(Debug, Clone, Args)]
pub struct ChatShowArgs {
    /// The chat.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// One JSON object, as `chat list --json` prints.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge chat rename`.
#[derive(Debug, Clone, Args)]
pub struct ChatRenameArgs {
    /// The chat's name now.
    #[arg(value_name = "OLD")]
    pub old: String,
    /// Its new name.
    #[arg(value_name = "NEW")]
    pub new: String,
}

/// `clm-bridge chat remove`.
#[derive(Debug, Clone, Args)]
pub struct ChatRemoveArgs {
    /// The chat.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Also delete its messages from history for good (needed when it has any).
    #[arg(long)]
    pub purge: bool,
}

/// `clm-bridge chat route`.
#[derive(Debug, Clone, Args)]
pub struct ChatRouteArgs {
    /// The chat.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The route: `KIND[.INSTANCE][:TARGET]`, e.g. drop.usb or email.work:bob@example.org.
    #[arg(long, value_name = "TRANSPORT[:TARGET]")]
    pub via: String,
    /// Remove this route instead of adding it.
    #[arg(long)]
    pub remove: bool,
}

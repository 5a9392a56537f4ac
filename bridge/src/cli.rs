//! The command line as clap sees it: raw flags only. Which combinations make sense is decided
//! later, when the commands turn these into typed settings (`commands::*::Settings`).

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::{ArgAction, Args, ColorChoice, Parser, Subcommand, ValueEnum};

mod account;

pub use self::account::{
    AccountCommand, AccountKind, AddCommon, EmailAddArgs, MatrixAddArgs, PasswordArgs, SecurityArg,
    TelegramAddArgs,
};

/// Carry Chrono-Library Messenger (CLM) pointers over e-mail, Matrix, Telegram and shared
/// folders: encode and decode them, keep chats and history, and run the daemon that turns
/// arriving pointers into messages.
#[derive(Debug, Parser)]
#[command(
    name = "clm-bridge",
    version,
    long_version = long_version(),
    about,
    long_about = None,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Where state and settings are.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Environment, files and exit statuses, shown after `--help` and in the man page.
pub const AFTER_HELP: &str = "\
Environment:
  CLM_BRIDGE_PASSPHRASE  the vault passphrase (else --passphrase-file, else a prompt)
  CLM_BRIDGE_DATA_DIR    the data directory (after --data-dir)
  CLM_BRIDGE_CONFIG      the settings file (after --config)
  RUST_LOG               log filter for every command, overriding -v/-q (e.g. clm_bridge=debug)
  NO_COLOR               no colours when --color is auto

Files:
  $XDG_CONFIG_HOME/clm-bridge/config.toml  settings (default ~/.config/clm-bridge/config.toml)
  $XDG_DATA_HOME/clm-bridge/               data: history, vault, outbox, transport state
                                           (default ~/.local/share/clm-bridge, mode 0700)

Exit status:
  0  done
  1  nothing opened (decode, scan, receive); doctor: warnings, no failure
  2  error (usage, input, store, vault, a delivery refused for good, ...)
  3  send: recorded, but some route could not deliver now: queued in the outbox for `run`
  130  interrupted (SIGINT or SIGTERM)";

/// The cargo features (transports) this binary was built with.
pub const TRANSPORTS: &[&str] = &[
    #[cfg(feature = "drop")]
    "drop",
    #[cfg(feature = "email")]
    "email",
    #[cfg(feature = "matrix")]
    "matrix",
    #[cfg(feature = "telegram")]
    "telegram",
];

/// `--version`: the version and the transports compiled in.
pub fn long_version() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let transports = if TRANSPORTS.is_empty() { "none".to_owned() } else { TRANSPORTS.join(", ") };
        format!("{}\ntransports: {transports}", env!("CARGO_PKG_VERSION"))
    })
}

/// Flags every command shares. Secrets are never flags: the vault passphrase comes from
/// `$CLM_BRIDGE_PASSPHRASE`, `--passphrase-file`, or a prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct GlobalArgs {
    /// Data directory (default: $CLM_BRIDGE_DATA_DIR, the config's identity.data_dir, then
    /// $XDG_DATA_HOME/clm-bridge, i.e. ~/.local/share/clm-bridge).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Settings file (default: $CLM_BRIDGE_CONFIG, then ~/.config/clm-bridge/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Read the vault passphrase from this file (one trailing newline is ignored; keep it
    /// mode 0600).
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
    /// More log lines on standard error (-v: info, -vv: debug, -vvv: trace; `run` starts at
    /// info).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on standard error: no notes, no warnings, no logs below error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colours in logs and help: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_name = "WHEN", value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt a message into a pointer and print the pointer's JSON.
    Encode(EncodeArgs),
    /// Find pointers in text, HTML or a whole mail and print each one that opens as a JSON line.
    ///
    /// Exit status: 0 if at least one pointer opened, 1 if none did, 2 on errors.
    Decode(DecodeArgs),
    /// Set up this machine's bridge (data dir, history, vault) and your sender name; run
    /// again to change the name.
    Init(InitArgs),
    /// Add, list, show, rename and remove chats, and set where their messages are sent.
    Chat(ChatArgs),
    /// Find pointers in files or standard input, open those of your chats and store them.
    ///
    /// Reads text, HTML or whole mails; prints one line per message opened, new or already
    /// known. Pointers no chat opens are kept as pending: `chat add` retries them.
    ///
    /// Exit status: 0 if at least one message opened, 1 if none did, 2 on errors.
    Scan(ScanArgs),
    /// Paste a message you received (CLM's "Receive a message"), then Ctrl-D: scanned like
    /// `scan -`.
    ///
    /// Exit status: 0 if at least one message opened, 1 if none did, 2 on errors.
    Receive(ReceiveArgs),
    /// Show the message history (sent and received), oldest first.
    ///
    /// One line per message: `#ID TIME CHAT FROM: TEXT`, TIME being the sender's, in UTC, and
    /// ID what trash, restore and purge take. Control characters in names and texts are shown
    /// escaped (`\n`).
    History(HistoryArgs),
    /// Move messages (ids from `history`) to the trash.
    ///
    /// Exit status: 2 if an id is in no message of the history (the others are still moved).
    Trash(MessageIdsArgs),
    /// Take messages out of the trash.
    ///
    /// Exit status: 2 if an id is in no message of the history (the others are still restored).
    Restore(MessageIdsArgs),
    /// Delete messages in the trash for good (messages not in the trash are never deleted).
    Purge(PurgeArgs),
    /// Deliveries not made yet: list them, retry them now, or drop them.
    ///
    /// `send` queues one delivery per route; one that fails for now (a server down) is retried
    /// by `clm-bridge run` with backoff, one refused for good stays here marked failed.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Pointers no chat of yours opens, kept so that `chat add` can retry them: how many, from
    /// where, and dropping them. Strangers can make these; `[limits]` bounds them.
    #[command(subcommand)]
    Pending(PendingCommand),
    /// Bring a CLM v2.0.1 user's chats and history over from CLM's database, after checking
    /// the master seed against it.
    ImportClm(ImportClmArgs),
    /// The vault passphrase.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Check the settings, the data directory, the vault, the store and every configured
    /// transport.
    ///
    /// E-mail, Matrix and Telegram accounts are checked live, all at once (logins, IDLE,
    /// folders; session, sync position, keys; bot token, privacy mode, chats), each within
    /// --timeout.
    ///
    /// Exit status: 0 if every check passed, 1 if the worst is a warning, 2 if a check failed.
    Doctor(DoctorArgs),
    /// The daemon: receive over every configured transport until SIGINT or SIGTERM, printing
    /// one line per new message: `TIME CHAT FROM: TEXT`.
    ///
    /// Logs go to standard error (`RUST_LOG`, default info). The settings' `daemon.on_message`
    /// program, if any, runs for each new message with it as JSON on its standard input.
    Run(RunArgs),
    /// Encrypt a message for a chat, record it as sent, and deliver the pointer over the chat's
    /// routes (`chat route`, and the settings' `chats.NAME.routes`).
    ///
    /// Exit status: 0 delivered over every route (or none to deliver over, with --print);
    /// 3 recorded as sent, but some route could not deliver now: the delivery waits in the
    /// outbox and `clm-bridge run` retries it; 2 error, or a route refused it for good (the
    /// message stays recorded as sent, the delivery in the outbox marked failed).
    Send(SendArgs),
    /// Show the bridge working, offline: two people in temporary directories share a folder;
    /// one sends, the other's daemon shows the messages as they arrive.
    ///
    /// Needs only the drop transport (`--no-default-features --features drop` builds fast).
    /// Ctrl-C stops it and removes its temporary directories.
    Demo,
    /// Print a shell completion script.
    ///
    /// For example `clm-bridge completions bash > ~/.local/share/bash-completion/completions/clm-bridge`,
    /// or `clm-bridge completions zsh > ~/.zfunc/_clm-bridge`.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    ///
    /// For example `clm-bridge man > ~/.local/share/man/man1/clm-bridge.1`; then `man clm-bridge`.
    Man,
    /// Whether a daemon runs for the data directory, its transports' health, and what the
    /// store holds. Needs no passphrase.
    Status(StatusArgs),
    /// The local API that `clm-bridge run` serves on `<data dir>/api.sock` (JSON-RPC 2.0).
    #[command(subcommand)]
    Api(ApiCommand),
    /// A terminal UI on the running daemon: chats (with unread counts), history, a compose line
    /// (Enter sends), each sent message's delivery and the transports' health.
    ///
    /// Keys: Up/Down or j/k pick a chat, Tab switches between the list and the compose line,
    /// Enter sends, J/K (or PageDown/PageUp) pick a message, t trashes it, r restores it, q or
    /// Ctrl-C quits; a click picks a chat. It is a client of the API of `clm-bridge run`, which
    /// must be running (exit status 2 when none answers).
    Tui,
    /// Set up e-mail, Matrix and Telegram accounts: `account add email|matrix|telegram NAME`
    /// asks what it needs, checks it live and writes the section into the settings file (the
    /// password or token into a file of its own, mode 0600).
    #[command(subcommand)]
    Account(AccountCommand),
}

/// `clm-bridge status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// One JSON object: {"daemon","transports","counts","events"} (daemon null when none runs).
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge api ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum ApiCommand {
    /// Print the API's OpenRPC document (JSON): every method, its params, results, errors and
    /// examples, and the notifications.
    Spec,
    /// Call a method of the running daemon and print its result as JSON.
    ///
    /// PARAMS is a JSON object, or `-` to read it from standard input (the way to pass a chat
    /// secret: never on the command line).
    Call {
        /// The method, e.g. status or chat.list.
        #[arg(value_name = "METHOD")]
        method: String,
        /// Its params as a JSON object, or `-` for standard input.
        #[arg(value_name = "PARAMS")]
        params: Option<String>,
    },
}

/// `clm-bridge completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// A pointer format, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// CLM v2.0.1: `{"c","e","d"}`, the chat id in clear.
    Clm201,
    /// CLM v2.0.2: `{"e","n","d"}`.
    Clm202,
    /// clm-bridge's authenticated format, version 2 (XChaCha20-Poly1305, padded; the default
    /// for new chats).
    Native2,
    /// clm-bridge's authenticated format, version 1 (readable forever; for chats made by an
    /// older clm-bridge).
    Native,
}

impl From<FormatArg> for clm_core::Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Clm201 => clm_core::Format::Clm201,
            FormatArg::Clm202 => clm_core::Format::Clm202,
            FormatArg::Native2 => clm_core::Format::Native2,
            FormatArg::Native => clm_core::Format::Native,
        }
    }
}

/// Where the chat secret comes from. Never argv: a secret there is visible to every local user
/// (`ps`, /proc) and lands in shell history. Without either flag the secret is prompted for on
/// the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct SecretArgs {
    /// Read the chat secret (clm201: the master seed) from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// Read the chat secret from this file (one trailing newline is ignored).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

/// `clm-bridge encode`.
#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    /// Pointer format to write.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Chat name (clm202: part of the plaintext; clm201: urgent, general and secrets imply
    /// their chat ids 0, 1 and 2).
    #[arg(long, value_name = "NAME")]
    pub chat: String,
    /// Sender name.
    #[arg(long, value_name = "USER")]
    pub from: String,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// clm201 chat id (required unless --chat is one of CLM's default chats).
    #[arg(long, value_name = "ID")]
    pub chat_id: Option<String>,
    /// clm201 seed suffix (default: CLM's for the chat id: urgent, general, secrets, chat_ID).
    #[arg(long, value_name = "S")]
    pub seed_suffix: Option<String>,
    /// Epoch in seconds since 1970 (default: now).
    #[arg(long, value_name = "N")]
    pub epoch: Option<u64>,
    /// Nonce (clm202: any string, default 32 random hex digits; native: 32 hex digits,
    /// default 16 random bytes; native2: 48 hex digits, default 24 random bytes). Reusing one
    /// reuses the keystream: for tests and vectors only.
    #[arg(long, value_name = "S")]
    pub nonce: Option<String>,
    /// native2: the chat's salt, 32 hex digits (default: the salt of a typed secret).
    #[arg(long, value_name = "HEX")]
    pub salt: Option<String>,
    /// The message (default: standard input up to its end, one trailing newline removed).
    #[arg(value_name = "MESSAGE")]
    pub message: Option<String>,
}

/// `clm-bridge decode`.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Only open pointers of this format (default: try every pointer found).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Chat name (clm202: must match the name inside the pointer exactly; clm201 and native:
    /// the name shown; clm201's urgent, general and secrets imply chat ids 0, 1 and 2).
    #[arg(long, value_name = "NAME")]
    pub chat: Option<String>,
    /// clm201: open only pointers of this chat id.
    #[arg(long, value_name = "ID")]
    pub chat_id: Option<String>,
    /// clm201 seed suffix (default: CLM's for each pointer's chat id).
    #[arg(long, value_name = "S")]
    pub seed_suffix: Option<String>,
    /// native2: the chat's salt, 32 hex digits (default: the salt of a typed secret; a chat
    /// made by `chat new` has its own, carried by its invite).
    #[arg(long, value_name = "HEX")]
    pub salt: Option<String>,
    /// File to scan: text, HTML or a whole RFC 822 mail (default or `-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `clm-bridge init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Your sender name in the messages you send.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Accept a new vault passphrase that is easy to guess (under about 60 bits estimated).
    /// A stolen data directory can be attacked offline: use a strong one.
    #[arg(long)]
    pub weak_passphrase: bool,
}

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

/// `clm-bridge doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// One JSON object per check: {"status","check","detail"}.
    #[arg(long)]
    pub json: bool,
    /// How long each transport account's live check may take in all, in seconds: one that has
    /// not finished by then is a FAIL line (the others are not held up).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// `clm-bridge run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// One JSON object per new message: {"id","chat","from","text","epoch","format",
    /// "truncated","transport","origin"}.
    #[arg(long)]
    pub json: bool,
}

/// `clm-bridge send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// The chat to send in.
    #[arg(long, value_name = "NAME")]
    pub chat: String,
    /// Deliver over this route only, e.g. drop.usb (default: every route of the chat).
    #[arg(long, value_name = "TRANSPORT[:TARGET]")]
    pub via: Option<String>,
    /// Also print the pointer on standard output.
    #[arg(long)]
    pub print: bool,
    /// The message (default: standard input up to its end, one trailing newline removed).
    #[arg(value_name = "MESSAGE")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn both_secret_sources_is_a_usage_error() {
        let parsed =
            Cli::try_parse_from(["clm-bridge", "decode", "--secret-env", "S", "--secret-file", "/tmp/s"]);
        let error = parsed.expect_err("two secret sources must be refused");
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn unknown_format_is_a_usage_error() {
        let parsed =
            Cli::try_parse_from(["clm-bridge", "encode", "--format", "clm203", "--chat", "c", "--from", "f"]);
        assert_eq!(parsed.expect_err("clm203 is no format").exit_code(), 2);
    }

    #[test]
    fn encode_parses_every_flag() {
        let cli = Cli::try_parse_from([
            "clm-bridge",
            "encode",
            "--format",
            "clm201",
            "--chat",
            "Work",
            "--from",
            "alice",
            "--secret-env",
            "CLM_SECRET",
            "--chat-id",
            "7",
            "--seed-suffix",
            "work",
            "--epoch",
            "12",
            "hello",
        ])
        .expect("valid command line");
        let Command::Encode(args) = cli.command else { panic!("not encode") };
        assert_eq!(args.format, FormatArg::Clm201);
        assert_eq!(args.chat_id.as_deref(), Some("7"));
        assert_eq!(args.seed_suffix.as_deref(), Some("work"));
        assert_eq!(args.epoch, Some(12));
        assert_eq!(args.secret.secret_env.as_deref(), Some("CLM_SECRET"));
        assert_eq!(args.message.as_deref(), Some("hello"));
    }
}

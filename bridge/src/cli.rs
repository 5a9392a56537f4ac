//! The command line as clap sees it: raw flags only. Which combinations make sense is decided
//! later, when the commands turn these into typed settings (`commands::*::Settings`).

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::{ArgAction, Args, ColorChoice, Parser, Subcommand, ValueEnum};

mod account;
mod chat;
mod history;

pub use self::account::{
    AccountCommand, AccountKind, AddCommon, EmailAddArgs, MatrixAddArgs, PasswordArgs, SecurityArg,
    TelegramAddArgs,
};
pub use self::chat::{
    ChatAddArgs, ChatArgs, ChatCommand, ChatInviteArgs, ChatJoinArgs, ChatListArgs, ChatNewArgs,
    ChatRemoveArgs, ChatRenameArgs, ChatRouteArgs, ChatShowArgs, InviteOutputArgs,
};
pub use self::history::{
    HistoryArgs, ImportClmArgs, MessageIdsArgs, OutboxCommand, OutboxDropArgs, OutboxIdsArgs,
    PassphraseCommand, PendingCommand, PendingPurgeArgs, PurgeArgs, ReceiveArgs, ScanArgs,
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

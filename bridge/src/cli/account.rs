//! `clm-bridge account add email|matrix|telegram NAME`: the raw flags. Every value a flag
//! gives can also be asked for on the terminal; secrets are never flags (an environment
//! variable named by a flag, standard input, or a prompt).

use clap::{Args, Subcommand, ValueEnum};

/// `clm-bridge account ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum AccountCommand {
    /// Set up an account: ask what it needs (or take it from flags), check it live, keep its
    /// password or token in a file of its own and write its section into the settings file.
    ///
    /// The secret goes to `<config dir>/secrets/KIND.NAME.password` (or `.token`), mode 0600,
    /// and the section names it with `password_file` / `token_file`: it never enters the
    /// settings file or the command line. The settings file keeps its comments and layout; it
    /// is written only once the new section loads and the live check passed (--no-check skips
    /// the check), and an existing section of that name is replaced only with --force.
    ///
    /// Without a terminal every value must come from flags (the secret from --password-env VAR,
    /// --password-stdin, or their --token-* twins); a missing one is a usage error.
    #[command(subcommand)]
    Add(AccountKind),
}

/// The kinds of account `account add` sets up.
#[derive(Debug, Clone, Subcommand)]
pub enum AccountKind {
    /// An e-mail account: its servers are found from the address as Thunderbird and Delta Chat
    /// find them (the provider's autoconfig file, Mozilla's ISPDB, then imap./smtp./mail.
    /// host names probed); the --imap-*/--smtp-*/--security flags override what is found.
    ///
    /// The check logs in to SMTP (nothing is sent) and IMAP (IDLE, the folder).
    Email(EmailAddArgs),
    /// A Matrix account, logged in with its password.
    ///
    /// The check logs the account in once (that device's session is kept sealed in the vault,
    /// as `clm-bridge run` keeps it), so it needs the vault passphrase: $CLM_BRIDGE_PASSPHRASE,
    /// --passphrase-file or a prompt, and a bridge made with `clm-bridge init`.
    Matrix(MatrixAddArgs),
    /// A Telegram bot (its token from @BotFather) and the chats it reads.
    ///
    /// The check asks the Bot API: the token, privacy mode, and each allowed chat.
    Telegram(TelegramAddArgs),
}

/// What every `account add` takes.
#[derive(Debug, Clone, Args)]
pub struct AddCommon {
    /// The section's name: [KIND.NAME] in the settings, KIND.NAME in routes.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Write the section without checking the account live.
    #[arg(long)]
    pub no_check: bool,
    /// Replace a section of that name (and its secret file).
    #[arg(long)]
    pub force: bool,
    /// Limit on each step of the live check: 45s, 2m (default 30s).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
}

/// Where the password (or token) comes from when not asked on the terminal.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from this environment variable (its name, not the password).
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    pub password_env: Option<String>,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
}

/// How a mail connection is protected, as `--security` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// TLS from the first byte.
    Tls,
    /// STARTTLS.
    Starttls,
    /// No encryption (a server on this machine only).
    None,
}

/// `clm-bridge account add email`.
#[derive(Debug, Clone, Args)]
pub struct EmailAddArgs {
    #[command(flatten)]
    pub common: AddCommon,
    /// The address (asked when not given).
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
    /// The user name for IMAP and SMTP, when it is not the address (or not what the provider's
    /// file says).
    #[arg(long, value_name = "USER")]
    pub login: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The IMAP server (found from the address when not given).
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,
    /// The IMAP port (default: as found, else by security).
    #[arg(long, value_name = "PORT")]
    pub imap_port: Option<u16>,
    /// The SMTP server (found from the address when not given).
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// The SMTP port (default: as found, else by security).
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// How both connections are protected (default: as found, else tls).
    #[arg(long, value_enum, value_name = "SECURITY")]
    pub security: Option<SecurityArg>,
    /// Do not log in to the SMTP server (a relay that trusts the local network).
    #[arg(long)]
    pub no_smtp_auth: bool,
    /// Look for the provider's autoconfig file at this URL instead of the usual places
    /// (repeatable; `{domain}` and `{address}` are filled in).
    #[arg(long, value_name = "URL")]
    pub autoconfig_url: Vec<String>,
}

/// `clm-bridge account add matrix`.
#[derive(Debug, Clone, Args)]
pub struct MatrixAddArgs {
    #[command(flatten)]
    pub common: AddCommon,
    /// The homeserver's URL, e.g. `https://matrix.example.org` (asked when not given).
    #[arg(long, value_name = "URL")]
    pub homeserver: Option<String>,
    /// The account, e.g. @clm-bot:example.org (asked when not given).
    #[arg(long, value_name = "USER_ID")]
    pub user: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Accept invites from this user id or server name (repeatable).
    #[arg(long, value_name = "WHO")]
    pub allow_inviter: Vec<String>,
}

/// `clm-bridge account add telegram`.
#[derive(Debug, Clone, Args)]
pub struct TelegramAddArgs {
    #[command(flatten)]
    pub common: AddCommon,
    /// Read the bot token from this environment variable (its name, not the token).
    #[arg(long, value_name = "VAR", conflicts_with = "token_stdin")]
    pub token_env: Option<String>,
    /// Read the bot token from standard input (one line).
    #[arg(long)]
    pub token_stdin: bool,
    /// A chat id whose messages the bot reads (repeatable; groups and channels are negative).
    /// Asked when none is given on a terminal; none: the bot only sends.
    #[arg(long = "chat", value_name = "CHAT_ID", allow_hyphen_values = true)]
    pub chats: Vec<i64>,
    /// The Bot API's URL (default `https://api.telegram.org`).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Your Telegram user id: the only one the bot answers /status and /help.
    #[arg(long, value_name = "USER_ID")]
    pub owner_id: Option<u64>,
}

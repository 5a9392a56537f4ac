//! The command line as clap sees it: raw flags only. Which combinations make sense is decided
//! later, when the commands turn these into typed settings (`commands::*::Settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Encode and decode Chrono-Library Messenger pointers.
#[derive(Debug, Parser)]
#[command(name = "clm-bridge", version, about, propagate_version = true)]
pub struct Cli {
    /// Where state and settings are.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every stateful command shares. Secrets are never flags: the vault passphrase comes from
/// `$CLM_BRIDGE_PASSPHRASE`, `--passphrase-file`, or a prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct GlobalArgs {
    /// Data directory (default: $CLM_BRIDGE_DATA_DIR, the config's identity.data_dir, then
    /// $XDG_DATA_HOME/clm-bridge).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Settings file (default: $CLM_BRIDGE_CONFIG, then ~/.config/clm-bridge/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Read the vault passphrase from this file (one trailing newline is ignored).
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// The locations these flags name.
    pub fn locations(&self) -> crate::app::Locations {
        crate::app::Locations {
            data_dir: self.data_dir.clone(),
            config: self.config.clone(),
            passphrase_file: self.passphrase_file.clone(),
        }
    }
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
}

/// A pointer format, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// CLM v2.0.1: `{"c","e","d"}`, the chat id in clear.
    Clm201,
    /// CLM v2.0.2: `{"e","n","d"}`.
    Clm202,
    /// clm-bridge's authenticated format.
    Native,
}

impl From<FormatArg> for clm_core::Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Clm201 => clm_core::Format::Clm201,
            FormatArg::Clm202 => clm_core::Format::Clm202,
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
    /// default 16 random bytes). Reusing one reuses the keystream: for tests and vectors only.
    #[arg(long, value_name = "S")]
    pub nonce: Option<String>,
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
    /// File to scan: text, HTML or a whole RFC 822 mail (default or `-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
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

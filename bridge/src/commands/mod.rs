//! The subcommands. Each one turns its raw clap arguments into typed settings (refusing
//! combinations that make no sense), then does its job.

pub mod account;
pub mod api;
pub mod chat;
pub mod completions;
pub mod decode;
pub mod demo;
pub mod doctor;
pub mod doctor_gateways;
pub mod doctor_transports;
pub mod encode;
pub mod history;
pub mod import_clm;
pub mod init;
pub mod invite;
pub mod opened;
pub mod outbox;
pub mod passphrase;
pub mod pending;
pub mod receive;
pub mod remote;
pub mod remote_chat;
pub mod run;
pub mod scan;
pub mod send;
pub mod status;
pub mod tui;

use std::io::{IsTerminal as _, Write};

use zeroize::Zeroizing;

use crate::cli::{Command, GlobalArgs, SecretArgs};
use crate::error::{EXIT_QUEUED, Error};
use crate::secret::{SecretError, SecretSource};

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did its job: a pointer printed, or at least one pointer opened.
    Done,
    /// decode found nothing it could open.
    NothingOpened,
    /// send recorded the message, but some route could not deliver it now: it waits in the
    /// outbox for the daemon. Not an error (nothing is lost), yet not done either.
    Queued,
    /// doctor found no failure, but something to look at (a warning).
    Warnings,
}

impl Outcome {
    /// The process exit status: 0, 1 for [`Outcome::NothingOpened`] (as grep's "no match")
    /// and [`Outcome::Warnings`] (something to look at, nothing broken), [`EXIT_QUEUED`] for
    /// [`Outcome::Queued`].
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::NothingOpened | Outcome::Warnings => 1,
            Outcome::Queued => EXIT_QUEUED,
        }
    }
}

pub use crate::ops::chat_names::find_chat;
pub use crate::ops::chats::default_chat_id;

/// Runs a command; results go to `out`, per-pointer diagnostics to `diagnostics`. Stateful
/// commands go through the daemon when one serves the data directory (`remote.rs`).
pub fn run(
    global: &GlobalArgs,
    command: Command,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let command = match remote::route(global, command, out, diagnostics)? {
        remote::Routed::Done(outcome) => return Ok(outcome),
        remote::Routed::Local(command) => *command,
    };
    match command {
        Command::Encode(args) => encode::run(args, out),
        Command::Decode(args) => decode::run(args, out, diagnostics),
        Command::Init(args) => init::run(global, args, diagnostics),
        Command::Chat(args) => chat::run(global, args, out, diagnostics),
        Command::Scan(args) => scan::run(global, args, out, diagnostics),
        Command::Receive(args) => receive::run(global, args, out, diagnostics),
        Command::History(args) => history::run(global, args, out),
        Command::Trash(args) => history::run_trash(global, args, diagnostics),
        Command::Restore(args) => history::run_restore(global, args, diagnostics),
        Command::Purge(args) => history::run_purge(global, args, diagnostics),
        Command::Outbox(command) => outbox::run(global, command, out, diagnostics),
        Command::Pending(command) => pending::run(global, command, out, diagnostics),
        Command::ImportClm(args) => import_clm::run(global, args, out, diagnostics),
        Command::Passphrase(command) => passphrase::run(global, command, diagnostics),
        Command::Doctor(args) => doctor::run(global, args, out),
        Command::Run(args) => run::run(global, args, out),
        Command::Send(args) => send::run(global, args, out, diagnostics),
        Command::Demo => demo::run(out),
        Command::Completions(args) => completions::completions(args, out),
        Command::Man => completions::man(out),
        Command::Status(args) => status::run(global, args, out),
        Command::Api(command) => api::run(global, command, out),
        Command::Tui => tui::run(global),
        Command::Account(command) => account::run(global, command, out),
    }
}

/// Reads the chat secret (or master seed) the flags name, or asks on the terminal.
pub fn read_secret(args: &SecretArgs) -> Result<Zeroizing<String>, Error> {
    Ok(crate::secret::read_secret(args.secret_env.as_deref(), args.secret_file.as_deref())?)
}

/// Reads a secret being set for the first time (a new chat's): as [`read_secret`], but a typed
/// one is asked for twice, since a typo would leave every pointer of the chat unopened.
pub fn read_new_secret(args: &SecretArgs) -> Result<Zeroizing<String>, Error> {
    let can_prompt = std::io::stdin().is_terminal() || std::io::stderr().is_terminal();
    let source = SecretSource::choose(args.secret_env.as_deref(), args.secret_file.as_deref(), can_prompt)?;
    let first = source.read(|name| std::env::var_os(name))?;
    if source == SecretSource::Prompt {
        let again = Zeroizing::new(
            rpassword::prompt_password("clm-bridge: the chat secret again: ").map_err(SecretError::Prompt)?,
        );
        if *again != *first {
            return Err(Error::Usage("the two chat secrets differ: nothing was added".into()));
        }
    }
    Ok(first)
}

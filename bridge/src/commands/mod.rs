//! The subcommands. Each one turns its raw clap arguments into typed settings (refusing
//! combinations that make no sense), then does its job.

pub mod chat;
pub mod completions;
pub mod decode;
pub mod demo;
pub mod doctor;
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
pub mod run;
pub mod scan;
pub mod send;

use std::io::{IsTerminal as _, Write};

use zeroize::Zeroizing;

use crate::cli::{Command, GlobalArgs, SecretArgs};
use crate::display::quoted;
use crate::error::{EXIT_QUEUED, Error};
use crate::secret::{SecretError, SecretSource};
use crate::store::{Chat, Store, StoreError};

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

/// CLM's default chats and their clm201 ids: `--chat urgent` means chat 0 in both commands, so
/// encode needs no `--chat-id` for them and decode does not label another chat's messages.
pub fn default_chat_id(chat_name: &str) -> Option<&'static str> {
    match chat_name {
        "urgent" => Some("0"),
        "general" => Some("1"),
        "secrets" => Some("2"),
        _ => None,
    }
}

/// Runs a command; results go to `out`, per-pointer diagnostics to `diagnostics`.
pub fn run(
    global: &GlobalArgs,
    command: Command,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
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

/// The chat called `name`; when there is none, the error suggests the closest names.
pub fn find_chat(store: &Store, name: &str) -> Result<Chat, Error> {
    match store.chat(name) {
        Err(StoreError::NoSuchChat(_)) => {
            let names: Vec<String> = store.list_chats()?.into_iter().map(|chat| chat.name).collect();
            Err(Error::Usage(no_such_chat(name, &names)))
        }
        other => Ok(other?),
    }
}

/// "no chat named X", with a "did you mean" for names a few edits away (or differing only in
/// case), else the list of chats.
fn no_such_chat(name: &str, known: &[String]) -> String {
    let lowered = name.to_lowercase();
    let mut close: Vec<(usize, &String)> = known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .collect();
    close.sort();
    let mut message = format!("no chat named {}", quoted(name));
    if !close.is_empty() {
        let names: Vec<String> = close.iter().take(3).map(|(_, candidate)| quoted(candidate)).collect();
        message.push_str(&format!("; did you mean {}?", names.join(" or ")));
    } else if known.is_empty() {
        message.push_str(" (there are no chats yet: `clm-bridge chat add NAME`)");
    } else {
        message.push_str(" (`clm-bridge chat list` shows them)");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn unknown_chat_names_suggest_the_closest_ones() {
        let known = names(&["Family", "Work", "Football club"]);
        assert_eq!(no_such_chat("Famliy", &known), "no chat named \"Famliy\"; did you mean \"Family\"?");
        assert_eq!(no_such_chat("family", &known), "no chat named \"family\"; did you mean \"Family\"?");
        assert_eq!(no_such_chat("Wrok", &known), "no chat named \"Wrok\"; did you mean \"Work\"?");
        assert!(no_such_chat("Football clu", &known).ends_with("did you mean \"Football club\"?"));
    }

    #[test]
    fn far_names_list_nothing_but_the_way_to_see_the_chats() {
        let known = names(&["Family", "Work"]);
        assert_eq!(
            no_such_chat("Holidays", &known),
            "no chat named \"Holidays\" (`clm-bridge chat list` shows them)"
        );
        assert!(no_such_chat("X", &[]).contains("no chats yet"));
    }
}

//! Stateful commands through a running daemon. When `clm-bridge run` serves the data
//! directory's API socket, `send`, `history`, `trash`, `restore`, `purge`, `outbox ...` and
//! `chat ...` become API calls: no vault to unlock (no passphrase: the socket's uid check is
//! the authentication), no second store connection, and sends go over the daemon's running
//! transports (no second Matrix device). What they print, and their exit status, are the same
//! as without a daemon (the end-to-end tests compare both); without one they run as before.

use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::Outcome;
use crate::api::types::{
    Changed, HistoryParams, HistoryView, IdsParams, OutboxView, PurgeParams, RetryParams, SendParams, Sent,
};
use crate::api::{self, Client};
use crate::app;
use crate::cli::{Command, GlobalArgs, HistoryArgs, MessageIdsArgs, OutboxCommand, PurgeArgs, SendArgs};
use crate::config::RouteSpec;
use crate::display::{json_text, message_line, quoted};
use crate::error::{Error, usage};
use crate::input::read_message_from_stdin;
use crate::ops::message_ids::{no_missing_deliveries, no_missing_ids, present};

/// Messages asked for per `history` call.
const HISTORY_PAGE: usize = 1000;

/// Where a command runs.
#[derive(Debug)]
pub enum Routed {
    /// It ran through the daemon.
    Done(Outcome),
    /// No daemon serves the data directory, or the command does not go through one: run it here.
    Local(Box<Command>),
}

/// Runs `command` through the daemon when one serves the data directory and the command is one
/// that goes through it; otherwise hands it back.
pub fn route(
    global: &GlobalArgs,
    command: Command,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Routed, Error> {
    let stateful = matches!(
        command,
        Command::Send(_)
            | Command::History(_)
            | Command::Trash(_)
            | Command::Restore(_)
            | Command::Purge(_)
            | Command::Outbox(_)
            | Command::Chat(_)
    );
    if !stateful {
        return Ok(Routed::Local(Box::new(command)));
    }
    let Some(mut client) = connect(global)? else { return Ok(Routed::Local(Box::new(command))) };
    let outcome = match command {
        Command::Send(args) => send(&mut client, args, out, diagnostics)?,
        Command::History(args) => history(&mut client, args, out)?,
        Command::Trash(args) => trash(&mut client, "trash", args, diagnostics)?,
        Command::Restore(args) => trash(&mut client, "restore", args, diagnostics)?,
        Command::Purge(args) => purge(&mut client, args, diagnostics)?,
        Command::Outbox(command) => outbox(&mut client, command, out, diagnostics)?,
        Command::Chat(args) => super::remote_chat::run(&mut client, args, out, diagnostics)?,
        other => return Ok(Routed::Local(Box::new(other))),
    };
    Ok(Routed::Done(outcome))
}

/// A client of the daemon serving the data directory the flags name, if one answers.
pub fn connect(global: &GlobalArgs) -> Result<Option<Client>, Error> {
    let locations = global.locations();
    let settings = app::load_settings(&locations)?;
    let data_dir = app::data_dir(&locations, &settings)?;
    Ok(Client::connect(api::socket_path(&data_dir)).ok())
}

/// Calls `method`; the daemon's refusal becomes the command's error (the same message).
pub fn call<P: Serialize, R: DeserializeOwned>(
    client: &mut Client,
    method: &str,
    params: &P,
) -> Result<R, Error> {
    client.call(method, params).map_err(|error| Error::Daemon(error.to_string()))
}

fn send(
    client: &mut Client,
    args: SendArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    if let Some(via) = &args.via {
        RouteSpec::parse(via).map_err(|reason| usage(format!("--via: {reason}")))?;
    }
    let message = match args.message {
        Some(message) => Zeroizing::new(message),
        None => read_message_from_stdin()?,
    };
    if message.is_empty() {
        return Err(usage("the message is empty: nothing to send"));
    }
    let params = SendParams { chat: args.chat, text: message.to_string(), via: args.via, print: args.print };
    let sent: Sent = call(client, "send", &params)?;
    drop(params);
    if sent.duplicate {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: this very pointer is already in history (#{})",
            sent.message_id
        );
    }
    if args.print {
        writeln!(out, "{}", sent.pointer).and_then(|()| out.flush()).map_err(Error::Output)?;
    }
    if sent.routes.is_empty() {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: recorded as sent in {}; no route to deliver it over: pass the pointer on yourself",
            quoted(&sent.chat)
        );
        return Ok(Outcome::Done);
    }
    report_deliveries(&sent, diagnostics)
}

/// One line per delivery, as `send` says them; an error naming the routes that refused, or
/// `Queued` (exit 3) when some wait in the outbox.
fn report_deliveries(sent: &Sent, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let mut failed = Vec::new();
    for delivery in &sent.deliveries {
        let error = delivery.error.as_deref().unwrap_or_default();
        let _ = match delivery.state.as_str() {
            "delivered" => writeln!(
                diagnostics,
                "clm-bridge: sent over {} ({})",
                delivery.route,
                delivery.sent_id.as_deref().unwrap_or_default()
            ),
            "deferred" => writeln!(
                diagnostics,
                "clm-bridge: not delivered over {} yet ({error}); queued in the outbox: `clm-bridge run` \
                 retries it (next in {}s)",
                delivery.route,
                delivery.retry_in.unwrap_or_default()
            ),
            _ => {
                failed.push(format!("{}: {error}", delivery.route));
                Ok(())
            }
        };
    }
    if failed.is_empty() {
        let queued = sent.deliveries.iter().any(|delivery| delivery.state == "deferred");
        return Ok(if queued { Outcome::Queued } else { Outcome::Done });
    }
    Err(Error::Delivery(format!(
        "refused over {} of {} route(s) ({}); the message stays recorded as sent in {} and the delivery \
         in the outbox (`clm-bridge outbox`)",
        failed.len(),
        sent.routes.len(),
        failed.join("; "),
        quoted(&sent.chat)
    )))
}

fn history(client: &mut Client, args: HistoryArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let settings = super::history::Settings::from_args(args)?;
    let mut params = HistoryParams {
        chat: settings.chat,
        since: settings.since,
        trashed: settings.trashed,
        limit: Some(HISTORY_PAGE),
        ..HistoryParams::default()
    };
    loop {
        let page: HistoryView = call(client, "history", &params)?;
        for message in &page.messages {
            let line = if settings.json {
                json_text(message).to_string()
            } else {
                let shown = message_line(
                    message.epoch,
                    &message.chat,
                    &message.from,
                    &message.text,
                    message.truncated,
                );
                format!("#{} {shown}", message.id)
            };
            writeln!(out, "{line}").map_err(Error::Output)?;
        }
        match page.messages.last() {
            Some(last) if page.more => params.after = last.id,
            _ => break,
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

fn skipped_note(skipped: usize, why: &str) -> String {
    if skipped == 0 { String::new() } else { format!("; {skipped} skipped: {why}") }
}

/// `trash` or `restore`.
fn trash(
    client: &mut Client,
    method: &str,
    args: MessageIdsArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let Changed { changed, missing } = call(client, method, &IdsParams { ids: args.ids.clone() })?;
    let changed = usize::try_from(changed).unwrap_or(usize::MAX);
    let skipped = present(&args.ids, &missing).saturating_sub(changed);
    let _ = if method == "trash" {
        writeln!(
            diagnostics,
            "clm-bridge: {changed} message(s) moved to the trash{}",
            skipped_note(skipped, "already in the trash")
        )
    } else {
        writeln!(
            diagnostics,
            "clm-bridge: {changed} message(s) restored from the trash{}",
            skipped_note(skipped, "not in the trash")
        )
    };
    no_missing_ids(&missing)?;
    Ok(Outcome::Done)
}

fn purge(client: &mut Client, args: PurgeArgs, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let params = PurgeParams { ids: args.ids.clone(), all_trashed: args.all_trashed };
    let Changed { changed, .. } = call(client, "purge", &params)?;
    let purged = usize::try_from(changed).unwrap_or(usize::MAX);
    let skipped = if args.all_trashed { 0 } else { args.ids.len() - purged };
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {purged} message(s) deleted for good{}",
        skipped_note(skipped, "not in the trash (purge only deletes trashed messages: `trash` them first)")
    );
    Ok(Outcome::Done)
}

fn outbox(
    client: &mut Client,
    command: OutboxCommand,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    match command {
        OutboxCommand::List { json } => {
            let OutboxView { deliveries } = call(client, "outbox.list", &api::types::NoParams {})?;
            for delivery in &deliveries {
                super::outbox::print_delivery(out, delivery, json)?;
            }
            out.flush().map_err(Error::Output)?;
        }
        OutboxCommand::Retry(args) => {
            let Changed { changed, .. } =
                call(client, "outbox.retry", &RetryParams { ids: args.ids, all: args.all })?;
            let _ = writeln!(
                diagnostics,
                "clm-bridge: {changed} delivery(ies) due now; `clm-bridge run` delivers them"
            );
        }
        OutboxCommand::Drop(args) => {
            let Changed { changed, missing } = call(client, "outbox.drop", &IdsParams { ids: args.ids })?;
            let _ = writeln!(diagnostics, "clm-bridge: {changed} delivery(ies) dropped from the outbox");
            no_missing_deliveries(&missing)?;
        }
    }
    Ok(Outcome::Done)
}

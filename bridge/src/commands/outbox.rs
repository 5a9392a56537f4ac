//! `clm-bridge outbox list|retry|drop`: the deliveries `send` queued and the daemon has not made
//! yet. Needs no passphrase: the outbox holds pointers (ciphertext) and routes only.

use std::io::Write;

use crate::api::types::DeliveryView;
use crate::app::{self, App};
use crate::cli::{GlobalArgs, OutboxCommand};
use crate::commands::Outcome;
use crate::display::printable;
use crate::error::Error;
use crate::ops::message_ids::{missing_deliveries, no_missing_deliveries};
use crate::times::format_time;

/// One line of `outbox list` (a JSON object with `--json`), with or without a daemon.
pub fn print_delivery(out: &mut dyn Write, delivery: &DeliveryView, json: bool) -> Result<(), Error> {
    if json {
        serde_json::to_writer(&mut *out, delivery).map_err(|e| Error::Output(e.into()))?;
        return writeln!(out).map_err(Error::Output);
    }
    let error = delivery.last_error.as_deref().map(|e| format!(" error: {}", printable(e)));
    let relay = delivery.gateway.as_deref().map(|g| format!(" relay of gateway {}", printable(g)));
    writeln!(
        out,
        "#{} {} {} attempts={} next={}{}{}",
        delivery.id,
        delivery.route,
        delivery.state,
        delivery.attempts,
        format_time(delivery.next_attempt),
        relay.unwrap_or_default(),
        error.unwrap_or_default()
    )
    .map_err(Error::Output)
}

/// Runs an `outbox` subcommand.
pub fn run(
    global: &GlobalArgs,
    command: OutboxCommand,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    // Routes, pointers and errors are sealed: listing them needs the vault.
    let App { store, .. } = App::open(&global.locations())?;
    match command {
        OutboxCommand::List { json } => {
            for delivery in store.outbox()? {
                print_delivery(out, &DeliveryView::from(delivery), json)?;
            }
            out.flush().map_err(Error::Output)?;
        }
        OutboxCommand::Retry(args) => {
            let now = app::now()?.cast_signed();
            let count = store.retry_deliveries((!args.all).then_some(args.ids.as_slice()), now)?;
            let _ = writeln!(
                diagnostics,
                "clm-bridge: {count} delivery(ies) due now; `clm-bridge run` delivers them"
            );
        }
        OutboxCommand::Drop(args) => {
            let missing = missing_deliveries(&store, &args.ids)?;
            let count = store.drop_deliveries(&args.ids)?;
            let _ = writeln!(diagnostics, "clm-bridge: {count} delivery(ies) dropped from the outbox");
            no_missing_deliveries(&missing)?;
        }
    }
    Ok(Outcome::Done)
}

//! `clm-bridge outbox list|retry|drop`: the deliveries `send` queued and the daemon has not made
//! yet. Needs no passphrase: the outbox holds pointers (ciphertext) and routes only.

use std::io::Write;

use serde::Serialize;

use crate::app::{self, App};
use crate::cli::{GlobalArgs, OutboxCommand};
use crate::commands::Outcome;
use crate::display::printable;
use crate::error::Error;
use crate::ops::message_ids::{missing_deliveries, no_missing_deliveries};
use crate::store::Delivery;
use crate::times::format_time;

/// One delivery as `--json` prints it.
#[derive(Debug, Serialize)]
struct DeliveryJson<'a> {
    id: i64,
    message_id: Option<i64>,
    route: String,
    state: &'static str,
    attempts: u32,
    next_attempt: i64,
    last_error: Option<&'a str>,
    pointer: &'a str,
}

fn route(delivery: &Delivery) -> String {
    if delivery.target.is_empty() {
        delivery.transport.clone()
    } else {
        format!("{}:{}", delivery.transport, delivery.target)
    }
}

fn state(delivery: &Delivery) -> &'static str {
    if delivery.failed { "failed" } else { "queued" }
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
                if json {
                    let line = DeliveryJson {
                        id: delivery.id,
                        message_id: delivery.message_id,
                        route: route(&delivery),
                        state: state(&delivery),
                        attempts: delivery.attempts,
                        next_attempt: delivery.next_attempt,
                        last_error: delivery.last_error.as_deref(),
                        pointer: &delivery.pointer,
                    };
                    serde_json::to_writer(&mut *out, &line).map_err(|e| Error::Output(e.into()))?;
                    writeln!(out).map_err(Error::Output)?;
                } else {
                    writeln!(
                        out,
                        "#{} {} {} attempts={} next={}{}",
                        delivery.id,
                        route(&delivery),
                        state(&delivery),
                        delivery.attempts,
                        format_time(delivery.next_attempt),
                        delivery
                            .last_error
                            .as_deref()
                            .map(|error| format!(" error: {}", printable(error)))
                            .unwrap_or_default()
                    )
                    .map_err(Error::Output)?;
                }
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

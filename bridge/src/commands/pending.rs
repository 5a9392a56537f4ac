//! `clm-bridge pending list|purge`: the pointers no known chat opens, kept so that `chat add`
//! can retry them. Anyone who can write where the bridge watches can make them, so they are
//! bounded (`[limits]`), listed by where they came from, and can be dropped. Their records
//! (pointer, transport, origin) are sealed in the vault, so this unlocks it.
//!
//! The listing groups them by transport, origin and the day they were first seen, with counts
//! and sizes; pointers themselves are printed only with `--pointers`, a page at a time. Origins
//! and pointers are strangers' text: escaped so that a terminal acts on none of it.

use std::io::Write;

use serde::Serialize;

use crate::app::{self, App};
use crate::cli::{GlobalArgs, PendingCommand, PendingPurgeArgs};
use crate::commands::Outcome;
use crate::display::{json_text, printable};
use crate::error::{Error, usage};
use crate::limits::parse_age;
use crate::store::{PendingFilter, PendingGroup, PendingKey, Store};
use crate::times::format_time;

/// Groups are by the day pointers were first seen (UTC).
const DAY: i64 = 86_400;
/// Pointers printed per page with `--pointers`.
const PAGE_ROWS: usize = 500;
const PAGE_BYTES: usize = 4 << 20;

/// One group as `--json` prints it.
#[derive(Debug, Serialize)]
struct GroupJson<'a> {
    transport: &'a str,
    origin: &'a str,
    day: String,
    count: u64,
    bytes: u64,
    oldest: i64,
    newest: i64,
}

/// One pointer as `--pointers` prints it.
#[derive(Debug, Serialize)]
struct PointerJson<'a> {
    transport: &'a str,
    origin: &'a str,
    first_seen: i64,
    pointer: &'a str,
}

/// Runs a `pending` subcommand.
pub fn run(
    global: &GlobalArgs,
    command: PendingCommand,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let App { settings, mut store, .. } = App::open(&global.locations())?;
    match command {
        PendingCommand::List { pointers: true, .. } => list_pointers(&store, out)?,
        PendingCommand::List { json, .. } => {
            let totals = store.pending_totals()?;
            let limits = settings.limits;
            let _ = writeln!(
                diagnostics,
                "clm-bridge: {} pending pointer(s), {} bytes (limits: {} pointers, {} bytes, {} days)",
                totals.count,
                totals.bytes,
                limits.pending_count,
                limits.pending_bytes,
                limits.pending_age.as_secs() / DAY.cast_unsigned()
            );
            for group in store.pending_groups(DAY)? {
                print_group(&group, json, out)?;
            }
        }
        PendingCommand::Purge(args) => {
            let now = app::now()?.cast_signed();
            let deleted = purge(&mut store, &args, now)?;
            let _ = writeln!(diagnostics, "clm-bridge: {deleted} pending pointer(s) deleted");
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

fn print_group(group: &PendingGroup, json: bool, out: &mut dyn Write) -> Result<(), Error> {
    let day = format_time(group.period_start)[..10].to_owned();
    if json {
        let line = GroupJson {
            transport: &group.transport,
            origin: &group.origin,
            day,
            count: group.count,
            bytes: group.bytes,
            oldest: group.oldest,
            newest: group.newest,
        };
        writeln!(out, "{}", json_text(&line).as_str()).map_err(Error::Output)
    } else {
        writeln!(
            out,
            "{day} {} {} pointers={} bytes={} first={} last={}",
            group.transport,
            printable(&group.origin),
            group.count,
            group.bytes,
            format_time(group.oldest),
            format_time(group.newest)
        )
        .map_err(Error::Output)
    }
}

/// Every pending pointer, a page at a time.
fn list_pointers(store: &Store, out: &mut dyn Write) -> Result<(), Error> {
    let mut after: Option<PendingKey> = None;
    loop {
        let page = store.pending_page(after.as_ref(), PAGE_ROWS, PAGE_BYTES)?;
        let Some(next) = page.next else { return Ok(()) };
        after = Some(next);
        for pending in &page.pointers {
            let line = PointerJson {
                transport: &pending.transport,
                origin: &pending.origin,
                first_seen: pending.first_seen,
                pointer: &pending.pointer_text,
            };
            writeln!(out, "{}", json_text(&line).as_str()).map_err(Error::Output)?;
        }
    }
}

fn purge(store: &mut Store, args: &PendingPurgeArgs, now: i64) -> Result<u64, Error> {
    let filter = match (&args.older_than, args.all, &args.origin) {
        (Some(period), _, _) => {
            let age = parse_age(period).map_err(|reason| usage(format!("--older-than: {reason}")))?;
            PendingFilter::SeenBefore(now.saturating_sub(age.as_secs().cast_signed()))
        }
        (None, true, _) => PendingFilter::All,
        (None, false, Some(origin)) => PendingFilter::Origin { transport: args.transport.as_deref(), origin },
        (None, false, None) => return Err(usage("say which: --older-than PERIOD, --all or --origin ORIGIN")),
    };
    Ok(store.purge_pending(filter)?)
}

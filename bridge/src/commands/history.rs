//! `clm-bridge history`, `trash`, `restore` and `purge`: reading and tidying the message
//! history. Also the small display helpers the other stateful commands share: UTC times, and
//! text made safe to print on a terminal.

use std::io::Write;

use serde::Serialize;

use crate::app::App;
use crate::cli::{GlobalArgs, HistoryArgs, MessageIdsArgs, PurgeArgs};
use crate::commands::{Outcome, find_chat};
use crate::display::message_line;
use crate::error::{Error, usage};
pub use crate::ops::message_ids::{missing_ids, no_missing_ids, present};
use crate::store::{HistoryEntry, HistoryQuery, PurgeTarget};
use crate::times::parse_time;

/// What `history` shows, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Only this chat.
    pub chat: Option<String>,
    /// Only messages stored at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// The trash instead of the history.
    pub trashed: bool,
    /// JSON lines instead of text.
    pub json: bool,
}

impl Settings {
    /// Checks the flags.
    pub fn from_args(args: HistoryArgs) -> Result<Settings, Error> {
        let since = args.since.as_deref().map(parse_time).transpose().map_err(Error::Usage)?;
        Ok(Settings { chat: args.chat, since, trashed: args.trashed, json: args.json })
    }
}

/// One JSON line of `history --json`. Field order is the output's key order.
#[derive(Debug, Serialize)]
struct EntryLine<'a> {
    id: i64,
    chat: &'a str,
    direction: &'static str,
    from: &'a str,
    text: &'a str,
    epoch: u64,
    format: &'static str,
    truncated: bool,
    stored_at: i64,
    /// `null`, or when the message was put in the trash.
    trashed: Option<i64>,
    arrivals: Vec<ArrivalLine<'a>>,
}

/// One arrival in [`EntryLine::arrivals`].
#[derive(Debug, Serialize)]
struct ArrivalLine<'a> {
    transport: &'a str,
    origin: &'a str,
    arrived_at: i64,
}

/// Runs `history`.
pub fn run(global: &GlobalArgs, args: HistoryArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let settings = Settings::from_args(args)?;
    let app = App::open(&global.locations())?;
    let entries = entries(&app, &settings)?;
    for entry in &entries {
        let line = if settings.json { entry_json(entry) } else { entry_text(entry) };
        writeln!(out, "{line}").map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The messages `settings` asks for, oldest first.
pub fn entries(app: &App, settings: &Settings) -> Result<Vec<HistoryEntry>, Error> {
    let chat = settings.chat.as_deref().map(|name| find_chat(&app.store, name)).transpose()?;
    let query =
        HistoryQuery { chat: chat.map(|c| c.id), since: settings.since, include_trashed: settings.trashed };
    let mut entries = app.store.history(&query)?;
    if settings.trashed {
        entries.retain(|entry| entry.trashed_at.is_some());
    }
    Ok(entries)
}

/// `history --json`'s line for one message.
fn entry_json(entry: &HistoryEntry) -> String {
    let line = EntryLine {
        id: entry.id,
        chat: &entry.chat,
        direction: entry.direction.name(),
        from: &entry.sender,
        text: &entry.text,
        epoch: entry.epoch,
        format: entry.format.name(),
        truncated: entry.truncated,
        stored_at: entry.stored_at,
        trashed: entry.trashed_at,
        arrivals: entry
            .arrivals
            .iter()
            .map(|a| ArrivalLine { transport: &a.transport, origin: &a.origin, arrived_at: a.arrived_at })
            .collect(),
    };
    crate::display::json_text(&line).to_string()
}

/// `history`'s line for one message: `#ID TIME CHAT FROM: TEXT`, the time being the sender's
/// (the pointer's epoch), the id what `trash`, `restore` and `purge` take.
fn entry_text(entry: &HistoryEntry) -> String {
    format!(
        "#{} {}",
        entry.id,
        message_line(entry.epoch, &entry.chat, &entry.sender, &entry.text, entry.truncated)
    )
}

/// Runs `trash`. Ids of no message are an error (as `rm` of a missing file), after the
/// others were moved.
pub fn run_trash(
    global: &GlobalArgs,
    args: MessageIdsArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let mut app = App::open(&global.locations())?;
    let moved = app.store.trash(&args.ids, crate::app::now()?.cast_signed())?;
    let missing = if moved < args.ids.len() { missing_ids(&app.store, &args.ids)? } else { Vec::new() };
    let skipped = present(&args.ids, &missing) - moved;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {moved} message(s) moved to the trash{}",
        skipped_note(skipped, "already in the trash")
    );
    no_missing_ids(&missing)?;
    Ok(Outcome::Done)
}

/// Runs `restore`. Ids of no message are an error, after the others were restored.
pub fn run_restore(
    global: &GlobalArgs,
    args: MessageIdsArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let mut app = App::open(&global.locations())?;
    let restored = app.store.restore(&args.ids)?;
    let missing = if restored < args.ids.len() { missing_ids(&app.store, &args.ids)? } else { Vec::new() };
    let skipped = present(&args.ids, &missing) - restored;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {restored} message(s) restored from the trash{}",
        skipped_note(skipped, "not in the trash")
    );
    no_missing_ids(&missing)?;
    Ok(Outcome::Done)
}

/// Runs `purge`: only messages in the trash are ever deleted.
pub fn run_purge(
    global: &GlobalArgs,
    args: PurgeArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let target = match (args.all_trashed, args.ids.is_empty()) {
        (true, true) => PurgeTarget::AllTrashed,
        (false, false) => PurgeTarget::Ids(&args.ids),
        // clap refuses both combinations already; kept for callers that build args by hand.
        (true, false) => return Err(usage("give message ids or --all-trashed, not both")),
        (false, true) => return Err(usage("give the ids of trashed messages to purge, or --all-trashed")),
    };
    let mut app = App::open(&global.locations())?;
    let purged = app.store.purge(target, crate::app::now()?.cast_signed())?;
    let skipped = if args.all_trashed { 0 } else { args.ids.len() - purged };
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {purged} message(s) deleted for good{}",
        skipped_note(skipped, "not in the trash (purge only deletes trashed messages: `trash` them first)")
    );
    Ok(Outcome::Done)
}

fn skipped_note(skipped: usize, why: &str) -> String {
    if skipped == 0 { String::new() } else { format!("; {skipped} skipped: {why}") }
}

#[cfg(test)]
mod tests {
    use clm_core::Format;

    use super::*;
    use crate::store::{ArrivalRecord, Direction};

    fn entry() -> HistoryEntry {
        HistoryEntry {
            id: 12,
            chat_id: 1,
            chat: "Family".into(),
            direction: Direction::Received,
            sender: "alice".into(),
            text: "Dinner\nat 7?".into(),
            epoch: 1_763_700_000,
            format: Format::Native,
            truncated: false,
            stored_at: 1_763_700_005,
            trashed_at: None,
            arrivals: vec![ArrivalRecord {
                transport: "scan".into(),
                origin: "/tmp/a".into(),
                arrived_at: 1_763_700_005,
            }],
        }
    }

    #[test]
    fn text_line_has_id_time_chat_sender_and_escaped_text() {
        assert_eq!(entry_text(&entry()), "#12 2025-11-21T04:40:00Z Family alice: Dinner\\nat 7?");
        let truncated = HistoryEntry { truncated: true, ..entry() };
        assert!(entry_text(&truncated).ends_with("[truncated by the sender's CLM]"));
    }

    #[test]
    fn json_line_has_every_field_in_order() {
        let line = entry_json(&entry());
        assert_eq!(
            line,
            r#"{"id":12,"chat":"Family","direction":"received","from":"alice","text":"Dinner\nat 7?","epoch":1763700000,"format":"native","truncated":false,"stored_at":1763700005,"trashed":null,"arrivals":[{"transport":"scan","origin":"/tmp/a","arrived_at":1763700005}]}"#
        );
    }
}

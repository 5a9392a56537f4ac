//! `clm-bridge import-clm CLM_DB`: brings a CLM v2.0.1 user's chats and history over (see
//! [`crate::import_clm`]). The master seed is checked against the CLM database before the
//! bridge is even opened, so a typo changes nothing.

use std::io::Write;

use serde::Serialize;

use crate::app::{self, App};
use crate::cli::{GlobalArgs, ImportClmArgs};
use crate::clm_db::{ClmDatabase, ImportError};
use crate::commands::Outcome;
use crate::display::quoted;
use crate::error::Error;
use crate::import_clm::{ChatImport, ChatStatus, ImportReport, import};

/// One `--json` line: a CLM chat and what became of it and its messages.
#[derive(Debug, Serialize)]
struct ChatLine<'a> {
    chat: &'a str,
    clm_chat_id: &'a str,
    clm_name: &'a str,
    status: &'a str,
    new: usize,
    known: usize,
    trashed: usize,
    skipped: usize,
}

impl<'a> From<&'a ChatImport> for ChatLine<'a> {
    fn from(chat: &'a ChatImport) -> Self {
        ChatLine {
            chat: &chat.name,
            clm_chat_id: &chat.clm_id,
            clm_name: &chat.clm_name,
            status: chat.status.name(),
            new: chat.new,
            known: chat.known,
            trashed: chat.trashed,
            skipped: chat.skipped,
        }
    }
}

/// Runs `import-clm`.
pub fn run(
    global: &GlobalArgs,
    args: ImportClmArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let clm = ClmDatabase::read(&args.path)?;
    let master_seed = super::read_secret(&args.secret)?;
    if !clm.seed_matches(&master_seed) {
        return Err(ImportError::SeedMismatch.into());
    }
    let mut bridge = App::open(&global.locations())?;
    let now = i64::try_from(app::now()?).map_err(|_| Error::Clock)?;
    let report = import(&mut bridge.store, &clm, &master_seed, now)?;
    write_diagnostics(diagnostics, &report);
    if args.json {
        for chat in &report.chats {
            serde_json::to_writer(&mut *out, &ChatLine::from(chat)).map_err(|e| Error::Output(e.into()))?;
            out.write_all(b"\n").map_err(Error::Output)?;
        }
    } else {
        write_summary(out, &report).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The human-readable report: a line per chat, then the totals.
fn write_summary(out: &mut dyn Write, report: &ImportReport) -> std::io::Result<()> {
    for chat in &report.chats {
        let how = match chat.status {
            ChatStatus::Created => format!("created as {}", quoted(&chat.name)),
            ChatStatus::Renamed => format!("created as {} (its name is taken)", quoted(&chat.name)),
            ChatStatus::Existing => format!("already here as {}", quoted(&chat.name)),
        };
        writeln!(
            out,
            "CLM chat {} {}: {how}; {} new message(s), {} already in history, {} to the trash, {} skipped",
            quoted(&chat.clm_id),
            quoted(&chat.clm_name),
            chat.new,
            chat.known,
            chat.trashed,
            chat.skipped
        )?;
    }
    let new: usize = report.chats.iter().map(|c| c.new).sum();
    let known: usize = report.chats.iter().map(|c| c.known).sum();
    writeln!(
        out,
        "imported {} chat(s): {new} new message(s), {known} already in history, {} skipped",
        report.chats.len(),
        report.skipped.len()
    )
}

/// One line per chat or message that could not be imported: ids and reasons, never a text.
fn write_diagnostics(diagnostics: &mut dyn Write, report: &ImportReport) {
    // Best effort: failing to write a diagnostic must not hide the results.
    for chat in &report.unusable_chats {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: CLM chat {} not imported: {}",
            quoted(&chat.clm_id),
            chat.reason
        );
    }
    for message in &report.skipped {
        let chat = message
            .chat_id
            .as_deref()
            .map_or_else(|| "no chat".to_owned(), |id| format!("chat {}", quoted(id)));
        let _ = writeln!(
            diagnostics,
            "clm-bridge: CLM message {} ({chat}) not imported: {}",
            message.row, message.reason
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import_clm::SkippedMessage;

    fn chat(status: ChatStatus, name: &str) -> ChatImport {
        ChatImport {
            clm_id: "4".into(),
            clm_name: "Work".into(),
            name: name.into(),
            status,
            new: 3,
            known: 1,
            trashed: 2,
            skipped: 1,
        }
    }

    #[test]
    fn summary_names_each_chat_and_the_totals() {
        let report = ImportReport {
            chats: vec![chat(ChatStatus::Renamed, "Work (clm)"), chat(ChatStatus::Existing, "work")],
            unusable_chats: Vec::new(),
            skipped: vec![SkippedMessage {
                row: 7,
                chat_id: Some("4".into()),
                reason: "it has no payload".into(),
            }],
        };
        let mut out = Vec::new();
        write_summary(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "CLM chat \"4\" \"Work\": created as \"Work (clm)\" (its name is taken); 3 new message(s), \
             1 already in history, 2 to the trash, 1 skipped"
        );
        assert!(lines[1].contains("already here as \"work\""), "{}", lines[1]);
        assert_eq!(lines[2], "imported 2 chat(s): 6 new message(s), 2 already in history, 1 skipped");

        let mut diagnostics = Vec::new();
        write_diagnostics(&mut diagnostics, &report);
        assert_eq!(
            String::from_utf8(diagnostics).unwrap(),
            "clm-bridge: CLM message 7 (chat \"4\") not imported: it has no payload\n"
        );
    }

    #[test]
    fn json_line_has_every_count() {
        let value = serde_json::to_value(ChatLine::from(&chat(ChatStatus::Created, "Work"))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"chat": "Work", "clm_chat_id": "4", "clm_name": "Work", "status": "created",
                "new": 3, "known": 1, "trashed": 2, "skipped": 1})
        );
    }
}

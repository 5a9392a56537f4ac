//! What a command opened, and how it is shown: `scan`, `receive` and `chat add`/`chat join`
//! (retrying pending pointers) store text through the pipeline and print each opened message
//! once, as a line or as the one JSON object every part of the bridge prints
//! ([`crate::display::MessageJson`]), then report what did not open.

use std::collections::HashSet;
use std::io::Write;

use zeroize::Zeroizing;

use crate::app::{self, App};
use crate::commands::Outcome;
use crate::display::quoted;
use crate::error::Error;
use crate::pipeline::{self, Incoming, Ingested, KnownChats, Policy, Received};

/// Text to store, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file's path, or [`STDIN_ORIGIN`].
    pub origin: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The origin recorded for text read from standard input.
pub const STDIN_ORIGIN: &str = "stdin";

/// Scans, stores, prints one line per message opened and reports the rest on `diagnostics`.
/// [`Outcome::NothingOpened`] when no message opened.
pub fn store_and_print(
    app: &mut App,
    transport: &str,
    inputs: &[Input],
    json: bool,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let ingested = store_inputs(app, transport, inputs, app::now()?)?;
    print_received(&ingested.received, json, out)?;
    report(&ingested, diagnostics);
    Ok(if ingested.received.is_empty() { Outcome::NothingOpened } else { Outcome::Done })
}

/// Detects, opens and stores everything in `inputs` in one transaction. `received` lists each
/// opened message once, in input order, even when the input holds its pointer twice.
pub fn store_inputs(app: &mut App, transport: &str, inputs: &[Input], now: u64) -> Result<Ingested, Error> {
    let mut known = KnownChats::load(&app.store, now)?;
    let batch: Vec<Incoming<'_>> = inputs
        .iter()
        .map(|input| Incoming {
            transport,
            origin: &input.origin,
            place: "",
            text: &input.bytes,
            cursor: None,
        })
        .collect();
    let mut ingested = Ingested::default();
    let mut policy = Policy::keep(app.settings.limits);
    pipeline::ingest(&mut app.store, &mut known, &batch, now.cast_signed(), &mut policy, &mut ingested)?;
    once_per_message(&mut ingested.received);
    Ok(ingested)
}

/// Keeps the first line of each message (the one that says whether it was new).
pub fn once_per_message(received: &mut Vec<Received>) {
    let mut seen = HashSet::new();
    received.retain(|message| seen.insert(message.id));
}

/// Prints one line per message: JSON ([`crate::display::MessageJson`], with `new`) or
/// `TIME CHAT FROM: TEXT`, marked when it was in history already.
pub fn print_received(received: &[Received], json: bool, out: &mut dyn Write) -> Result<(), Error> {
    for message in received {
        if json {
            writeln!(out, "{}", received_json(message).as_str())
        } else {
            writeln!(out, "{}", received_text(message))
        }
        .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)
}

fn received_json(message: &Received) -> Zeroizing<String> {
    message.json(Some(message.new)).line()
}

fn received_text(message: &Received) -> String {
    let mut line = message.line();
    if !message.new {
        line.push_str(" (already in history)");
    }
    line
}

/// Reports, one line each, what did not become a message: pointers some chat claims but that
/// do not open, rejected pointer-like text, and how many were kept as pending. Never a message
/// text or a secret. Best effort: a failing diagnostics stream must not hide the results.
pub fn report(ingested: &Ingested, diagnostics: &mut dyn Write) {
    for (chat, broken) in &ingested.broken {
        if let Some(error) = &broken.first {
            let _ = writeln!(
                diagnostics,
                "clm-bridge: {} pointer(s) of chat {} do not open: {error} (altered or forged?)",
                broken.count,
                quoted(chat)
            );
        }
    }
    if let Some(error) = &ingested.rejected.first {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {} piece(s) of pointer-like text rejected: {error}",
            ingested.rejected.count
        );
    }
    if ingested.shed.rows() > 0 {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {} older pending pointer(s) dropped to keep within limits.pending_count/pending_bytes/pending_age",
            ingested.shed.rows()
        );
    }
    let stopped = ingested.per_input.iter().filter(|input| input.stopped_at_limit).count();
    if stopped > 0 {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {stopped} input(s) hold more pointers than limits.pointers_per_input: the rest was not read"
        );
    }
    if ingested.pending > 0 {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {} pointer(s) no known chat opens: kept as pending (`chat add` retries them)",
            ingested.pending
        );
    }
    if ingested.received.is_empty() {
        let _ = writeln!(diagnostics, "clm-bridge: no message opened");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clm_core::{Clm202Chat, Format, Pointer};
    use zeroize::Zeroizing;

    use super::*;
    use crate::config::Settings as ConfigSettings;
    use crate::paths::DataDir;
    use crate::store::{HistoryQuery, NewChat, Store};
    use crate::vault::{KdfParams, Vault};

    /// What `scan` records arrivals under.
    const TRANSPORT: &str = "scan";

    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    /// An app in a temporary data dir, with a cheap vault and one clm202 chat "Family".
    pub(crate) fn test_app() -> (tempfile::TempDir, App) {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = DataDir::at(temp.path().join("data"));
        data_dir.create().unwrap();
        let mut store = Store::open(&data_dir.db_path()).unwrap();
        let (vault, header) = Vault::create(b"pass", CHEAP, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        store.unlock(&vault).unwrap();
        store
            .add_chat(&NewChat {
                name: "Family",
                format: Format::Clm202,
                secret: b"family secret",
                clm201_chat_id: None,
                seed_suffix: None,
                native_root: None,
                native_salt: None,
                created_at: 1,
            })
            .unwrap();
        (temp, App { settings: ConfigSettings::default(), data_dir, store, vault })
    }

    fn pointer(secret: &str, chat: &str, text: &str, nonce: &str) -> String {
        Pointer::Clm202(Clm202Chat::new(secret, chat).encode("alice", text, 1_763_700_000, nonce).unwrap())
            .to_json()
    }

    fn input(origin: &str, text: String) -> Input {
        Input { origin: origin.into(), bytes: text.into_bytes() }
    }

    #[test]
    fn every_message_is_listed_once_new_or_not() {
        let (_temp, mut app) = test_app();
        let hello = pointer("family secret", "Family", "hello", "n1");
        let again = pointer("family secret", "Family", "again", "n2");
        let text = format!("{hello}\n> {hello}\n{again}");
        let first = store_inputs(&mut app, TRANSPORT, &[input("/a", text.clone())], 10).unwrap();
        let lines: Vec<(&str, bool)> = first.received.iter().map(|r| (r.text.as_str(), r.new)).collect();
        assert_eq!(lines, [("hello", true), ("again", true)]);

        let second = store_inputs(&mut app, TRANSPORT, &[input("/b", text)], 20).unwrap();
        let lines: Vec<(&str, bool)> = second.received.iter().map(|r| (r.text.as_str(), r.new)).collect();
        assert_eq!(lines, [("hello", false), ("again", false)]);

        let history = app.store.history(&HistoryQuery::default()).unwrap();
        assert_eq!(history.len(), 2);
        let origins: Vec<&str> = history[0].arrivals.iter().map(|a| a.origin.as_str()).collect();
        assert_eq!(origins, ["/a", "/b"]);
    }

    #[test]
    fn unknown_pointers_are_pending_and_reported_without_text() {
        let (_temp, mut app) = test_app();
        let foreign = pointer("other secret", "Other", "not for us", "n3");
        let ingested = store_inputs(&mut app, TRANSPORT, &[input(STDIN_ORIGIN, foreign)], 10).unwrap();
        assert!(ingested.received.is_empty());
        assert_eq!(ingested.pending, 1);
        assert_eq!(app.store.pending_count().unwrap(), 1);
        let mut diagnostics = Vec::new();
        report(&ingested, &mut diagnostics);
        let diagnostics = String::from_utf8(diagnostics).unwrap();
        assert!(diagnostics.contains("1 pointer(s) no known chat opens"), "{diagnostics}");
        assert!(diagnostics.contains("no message opened"), "{diagnostics}");
        assert!(!diagnostics.contains("not for us"));
    }

    #[test]
    fn outcome_says_whether_anything_opened() {
        let (_temp, mut app) = test_app();
        let (mut out, mut diagnostics) = (Vec::new(), Vec::new());
        let nothing = [input("/x", "no pointer here".into())];
        let outcome = store_and_print(&mut app, TRANSPORT, &nothing, true, &mut out, &mut diagnostics);
        assert_eq!(outcome.unwrap(), Outcome::NothingOpened);
        assert!(out.is_empty());

        let ours = [input("/y", pointer("family secret", "Family", "hi", "n4"))];
        let outcome = store_and_print(&mut app, TRANSPORT, &ours, true, &mut out, &mut diagnostics);
        assert_eq!(outcome.unwrap(), Outcome::Done);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"id\":1,\"chat\":\"Family\",\"from\":\"alice\",\"text\":\"hi\",\"epoch\":1763700000,\
             \"format\":\"clm202\",\"truncated\":false,\"transport\":\"scan\",\"origin\":\"/y\",\"new\":true}\n",
            "one JSON shape for an opened message everywhere, with `new` where told"
        );
    }

    #[test]
    fn text_lines_escape_and_mark_known_messages() {
        let message = Received {
            id: 1,
            new: false,
            chat: "Family".into(),
            from: "alice".into(),
            text: Zeroizing::new("two\nlines".into()),
            epoch: 1_763_700_000,
            format: Format::Clm202,
            truncated: false,
            from_the_future: false,
            transport: TRANSPORT.into(),
            origin: "/a".into(),
        };
        assert_eq!(
            received_text(&message),
            "2025-11-21T04:40:00Z Family alice: two\\nlines (already in history)"
        );
    }
}

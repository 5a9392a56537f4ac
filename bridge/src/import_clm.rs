//! Bringing a CLM v2.0.1 user's chats and history (read by [`crate::clm_db`]) into the store.
//!
//! Every message is imported from its pointer, opened with its chat's keys (CLM's plaintext
//! column is not read): a pointer that does not open is reported and skipped, not taken on
//! trust. Importing again stores nothing twice: chats are matched by clm201 chat id, seed
//! suffix and master seed, messages by pointer digest, and only messages new to history are
//! moved to the trash.

use std::collections::HashMap;

use clm_core::{Clm201Chat, Format, Pointer, format::clm201::default_seed_suffix};
use zeroize::Zeroizing;

use crate::clm_db::{ClmChat, ClmDatabase, ClmMessage};
use crate::store::{
    Arrival, ArrivalItem, ChatId, IngestOutcome, MessageId, NewChat, SentMessage, Store, StoreError,
};

/// The transport name of imported arrivals.
pub const TRANSPORT: &str = "import-clm";

/// How a CLM chat was brought over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    /// Added under CLM's name.
    Created,
    /// Added under another name, CLM's being taken by another chat.
    Renamed,
    /// A chat with the same id, seed suffix and master seed was there already (an earlier
    /// import, or added by hand): reused.
    Existing,
}

impl ChatStatus {
    /// `created`, `renamed` or `existing`.
    pub fn name(self) -> &'static str {
        match self {
            ChatStatus::Created => "created",
            ChatStatus::Renamed => "renamed",
            ChatStatus::Existing => "existing",
        }
    }
}

/// What happened to one CLM chat and its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatImport {
    /// CLM's chat id.
    pub clm_id: String,
    /// CLM's chat name.
    pub clm_name: String,
    /// The bridge chat's name.
    pub name: String,
    /// How the chat was brought over.
    pub status: ChatStatus,
    /// Messages new to history.
    pub new: usize,
    /// Messages history held already.
    pub known: usize,
    /// New messages moved to the trash (deleted in CLM).
    pub trashed: usize,
    /// Messages that could not be imported (see [`ImportReport::skipped`]).
    pub skipped: usize,
}

/// A CLM chat that could not be brought over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableChat {
    /// CLM's chat id.
    pub clm_id: String,
    /// Why.
    pub reason: String,
}

/// A CLM message that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedMessage {
    /// CLM's message id.
    pub row: i64,
    /// Its chat's CLM id.
    pub chat_id: Option<String>,
    /// Why (never the text).
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// One entry per CLM chat brought over, in CLM's order.
    pub chats: Vec<ChatImport>,
    /// CLM chats that could not be.
    pub unusable_chats: Vec<UnusableChat>,
    /// Messages not imported.
    pub skipped: Vec<SkippedMessage>,
}

/// A CLM chat as brought over: its report entry, bridge row and keys.
struct Target {
    report: ChatImport,
    id: ChatId,
    keys: Clm201Chat,
}

/// Imports `clm` into `store`. The caller has checked the seed ([`ClmDatabase::seed_matches`]).
/// `now` is the time of the import (the trash time; also the storage time of a message whose
/// CLM timestamp is unreadable).
pub fn import(
    store: &mut Store,
    clm: &ClmDatabase,
    master_seed: &str,
    now: i64,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    let mut targets = bring_chats(store, clm, master_seed, now, &mut report)?;
    let by_clm_id: HashMap<String, usize> =
        targets.iter().enumerate().map(|(index, target)| (target.report.clm_id.clone(), index)).collect();
    let mut run = ReceivedRun::default();
    let mut to_trash: Vec<MessageId> = Vec::new();
    for message in &clm.messages {
        let Some(index) = message.chat_id.as_ref().and_then(|id| by_clm_id.get(id)).copied() else {
            let reason = if message.chat_id.as_ref().is_some_and(|id| clm.chats.iter().any(|c| &c.id == id)) {
                "its chat could not be imported"
            } else {
                "it names no chat of the CLM database"
            };
            report.skipped.push(skip(message, reason.to_owned()));
            continue;
        };
        let opened = match open_payload(&targets[index].keys, message.payload.as_deref()) {
            Ok(opened) => opened,
            Err(reason) => {
                targets[index].report.skipped += 1;
                report.skipped.push(skip(message, reason));
                continue;
            }
        };
        let stored_at = message.timestamp.filter(|time| *time > 0).unwrap_or(now);
        if message.sent {
            // Keep CLM's order: what arrived before this sent message is stored first.
            run.flush(store, &mut targets, &mut to_trash)?;
            record_sent(store, &mut targets[index], opened, stored_at, message.deleted, &mut to_trash)?;
        } else {
            run.push(index, message.deleted, received(&targets[index], message, opened, stored_at));
        }
    }
    run.flush(store, &mut targets, &mut to_trash)?;
    store.trash(&to_trash, now)?;
    report.chats = targets.into_iter().map(|target| target.report).collect();
    Ok(report)
}

/// Every CLM chat as a bridge chat (found or added); chats whose keys cannot be made are
/// reported as unusable.
fn bring_chats(
    store: &mut Store,
    clm: &ClmDatabase,
    master_seed: &str,
    now: i64,
    report: &mut ImportReport,
) -> Result<Vec<Target>, StoreError> {
    let mut targets = Vec::new();
    for chat in &clm.chats {
        match Clm201Chat::new(master_seed, &chat.id, Some(&chat.seed_suffix)) {
            Ok(keys) => {
                let (id, name, status) = bring_chat(store, chat, master_seed, now)?;
                let report = ChatImport {
                    clm_id: chat.id.clone(),
                    clm_name: chat.name.clone(),
                    name,
                    status,
                    new: 0,
                    known: 0,
                    trashed: 0,
                    skipped: 0,
                };
                targets.push(Target { report, id, keys });
            }
            Err(error) => report
                .unusable_chats
                .push(UnusableChat { clm_id: chat.id.clone(), reason: error.to_string() }),
        }
    }
    Ok(targets)
}

/// A message CLM sent, recorded as sent from here.
fn record_sent(
    store: &mut Store,
    target: &mut Target,
    opened: OpenedPayload,
    stored_at: i64,
    deleted: bool,
    to_trash: &mut Vec<MessageId>,
) -> Result<(), StoreError> {
    let outcome = store.record_sent(&SentMessage {
        deliveries: &[],
        chat_id: target.id,
        digest: opened.digest,
        pointer_text: &opened.pointer_text,
        epoch: opened.epoch,
        sender: &opened.from,
        text: &opened.text,
        now: stored_at,
    })?;
    tally(&mut target.report, outcome, deleted, to_trash);
    Ok(())
}

/// A message CLM received, as an arrival of the import.
fn received(target: &Target, message: &ClmMessage, opened: OpenedPayload, stored_at: i64) -> Arrival {
    Arrival {
        transport: TRANSPORT.to_owned(),
        origin: format!("message {}", message.row),
        now: stored_at,
        item: ArrivalItem::Opened {
            chat_id: target.id,
            digest: opened.digest,
            pointer_text: opened.pointer_text,
            format: Format::Clm201,
            epoch: opened.epoch,
            sender: opened.from,
            text: opened.text.to_string(),
            truncated: false,
        },
    }
}

/// Finds or adds the bridge chat for a CLM chat: returns its row id, name and how.
fn bring_chat(
    store: &mut Store,
    chat: &ClmChat,
    master_seed: &str,
    now: i64,
) -> Result<(ChatId, String, ChatStatus), StoreError> {
    for existing in store.list_chats()? {
        let same_chat = existing.format == Format::Clm201
            && existing.clm201_chat_id.as_deref() == Some(chat.id.as_str())
            && existing.seed_suffix.clone().unwrap_or_else(|| default_seed_suffix(&chat.id))
                == chat.seed_suffix;
        if same_chat && store.chat_secret(existing.id)?.as_slice() == master_seed.as_bytes() {
            return Ok((existing.id, existing.name, ChatStatus::Existing));
        }
    }
    let wanted =
        if chat.name.trim().is_empty() { format!("clm chat {}", chat.id) } else { chat.name.clone() };
    let mut name = wanted.clone();
    let mut attempt = 1;
    while store.chat(&name).is_ok() {
        name = if attempt == 1 { format!("{wanted} (clm)") } else { format!("{wanted} (clm {attempt})") };
        attempt += 1;
    }
    let id = store.add_chat(&NewChat {
        name: &name,
        format: Format::Clm201,
        secret: master_seed.as_bytes(),
        clm201_chat_id: Some(&chat.id),
        seed_suffix: Some(&chat.seed_suffix),
        native_root: None,
        native_salt: None,
        created_at: now,
    })?;
    let status =
        if name == wanted && wanted == chat.name { ChatStatus::Created } else { ChatStatus::Renamed };
    Ok((id, name, status))
}

/// A pointer opened with its chat.
struct OpenedPayload {
    digest: [u8; 32],
    pointer_text: String,
    epoch: u64,
    from: String,
    text: Zeroizing<String>,
}

/// Parses a payload as one clm201 pointer and opens it with the chat the row names, or says
/// why not.
fn open_payload(keys: &Clm201Chat, payload: Option<&str>) -> Result<OpenedPayload, String> {
    let payload = payload.filter(|p| !p.trim().is_empty()).ok_or("it has no payload")?;
    let pointer =
        clm_core::parse(payload).map_err(|error| format!("its payload is not a pointer: {error}"))?;
    let Pointer::Clm201(clm201) = &pointer else {
        return Err(format!("its payload is a {} pointer, not clm201", pointer.format().name()));
    };
    let opened =
        keys.open(clm201).map_err(|error| format!("its payload does not open with its chat: {error}"))?;
    Ok(OpenedPayload {
        digest: pointer.digest(),
        pointer_text: pointer.to_json(),
        epoch: opened.epoch,
        from: opened.from.clone(),
        text: Zeroizing::new(opened.text.clone()),
    })
}

fn skip(message: &ClmMessage, reason: String) -> SkippedMessage {
    SkippedMessage { row: message.row, chat_id: message.chat_id.clone(), reason }
}

/// Counts one stored message in its chat's report; a new one deleted in CLM goes to the
/// trash. One already in history keeps its state: the user may have restored it since.
fn tally(report: &mut ChatImport, outcome: IngestOutcome, deleted: bool, to_trash: &mut Vec<MessageId>) {
    match outcome {
        IngestOutcome::New(id) => {
            report.new += 1;
            if deleted {
                report.trashed += 1;
                to_trash.push(id);
            }
        }
        IngestOutcome::Duplicate(_) | IngestOutcome::Pending | IngestOutcome::Purged => report.known += 1,
    }
}

/// Received messages waiting to be stored in one transaction.
#[derive(Default)]
struct ReceivedRun {
    /// Chat index and CLM's deleted flag of each arrival.
    meta: Vec<(usize, bool)>,
    arrivals: Vec<Arrival>,
}

impl ReceivedRun {
    fn push(&mut self, chat: usize, deleted: bool, arrival: Arrival) {
        self.meta.push((chat, deleted));
        self.arrivals.push(arrival);
    }

    fn flush(
        &mut self,
        store: &mut Store,
        targets: &mut [Target],
        to_trash: &mut Vec<MessageId>,
    ) -> Result<(), StoreError> {
        if self.arrivals.is_empty() {
            return Ok(());
        }
        let outcomes = store.ingest(&self.arrivals, &[])?;
        for ((chat, deleted), outcome) in self.meta.drain(..).zip(outcomes) {
            tally(&mut targets[chat].report, outcome, deleted, to_trash);
        }
        self.arrivals.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::clm_db::tests::{ClmFixture, SEED, USER};
    use crate::store::{Direction, HistoryQuery};
    use crate::vault::{KdfParams, Vault};

    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    struct Bridge {
        store: Store,
    }

    impl Bridge {
        fn new(dir: &Path) -> Bridge {
            let mut store = Store::open(&dir.join("history.sqlite3")).unwrap();
            let (vault, header) = Vault::create(b"pass", CHEAP, getrandom::fill).unwrap();
            store.set_vault_header(&header).unwrap();
            store.unlock(&vault).unwrap();
            Bridge { store }
        }

        fn import(&mut self, clm: &ClmDatabase) -> ImportReport {
            import(&mut self.store, clm, SEED, 1_800_000_000).unwrap()
        }

        fn history(&self) -> Vec<crate::store::HistoryEntry> {
            let query = HistoryQuery { include_trashed: true, ..HistoryQuery::default() };
            self.store.history(&query).unwrap()
        }
    }

    #[test]
    fn imports_chats_and_history_then_nothing_twice() {
        let temp = tempfile::tempdir().unwrap();
        let clm = ClmFixture::new(temp.path());
        clm.add_chat("3", "Family", "family-suffix");
        clm.add_message("received", "3", "bob", "dinner at 8?", 1_700_000_000, false);
        clm.add_message("sent", "3", USER, "yes: see you", 1_700_000_010, false);
        clm.add_message("received", "1", "carol", "old news", 1_700_000_020, true);
        let mut bridge = Bridge::new(temp.path());

        let report = bridge.import(&clm.read());
        assert!(report.skipped.is_empty() && report.unusable_chats.is_empty(), "{report:?}");
        let names: Vec<(&str, &str, ChatStatus)> =
            report.chats.iter().map(|c| (c.clm_id.as_str(), c.name.as_str(), c.status)).collect();
        assert_eq!(
            names,
            [
                ("0", "⚡️ Urgent", ChatStatus::Created),
                ("1", "💬 General chat", ChatStatus::Created),
                ("2", "🤫 Secrets", ChatStatus::Created),
                ("3", "Family", ChatStatus::Created),
            ]
        );
        let family = bridge.store.chat("Family").unwrap();
        assert_eq!(family.format, Format::Clm201);
        assert_eq!(family.clm201_chat_id.as_deref(), Some("3"));
        assert_eq!(family.seed_suffix.as_deref(), Some("family-suffix"));
        assert_eq!(bridge.store.chat_secret(family.id).unwrap().as_slice(), SEED.as_bytes());
        assert_eq!((report.chats[3].new, report.chats[3].known), (2, 0));
        assert_eq!((report.chats[1].new, report.chats[1].trashed), (1, 1));

        let history = bridge.history();
        let seen: Vec<(&str, Direction, &str, &str, u64, bool)> = history
            .iter()
            .map(|m| {
                (
                    m.chat.as_str(),
                    m.direction,
                    m.sender.as_str(),
                    m.text.as_str(),
                    m.epoch,
                    m.trashed_at.is_some(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("Family", Direction::Received, "bob", "dinner at 8?", 1_700_000_000, false),
                ("Family", Direction::Sent, USER, "yes: see you", 1_700_000_010, false),
                ("💬 General chat", Direction::Received, "carol", "old news", 1_700_000_020, true),
            ]
        );
        assert_eq!(history[0].stored_at, 1_700_000_000, "CLM's timestamp is kept");
        assert_eq!(history[0].arrivals[0].transport, TRANSPORT);
        assert!(history[1].arrivals.is_empty(), "a sent message has no arrival");

        // The user restores the trashed message; a second import changes nothing.
        bridge.store.restore(&[history[2].id]).unwrap();
        let again = bridge.import(&clm.read());
        assert!(again.chats.iter().all(|c| c.status == ChatStatus::Existing && c.new == 0), "{again:?}");
        assert_eq!(again.chats.iter().map(|c| c.known).sum::<usize>(), 3);
        assert_eq!(bridge.store.list_chats().unwrap().len(), 4);
        let after = bridge.history();
        assert_eq!(after.len(), 3);
        assert!(after.iter().all(|m| m.trashed_at.is_none()), "the restore is kept");
    }
    #[test]
    fn a_taken_name_gets_a_suffix_and_a_matching_chat_is_reused() {
        let temp = tempfile::tempdir().unwrap();
        let clm = ClmFixture::new(temp.path());
        clm.add_message("received", "2", "bob", "psst", 1_700_000_000, false);
        let mut bridge = Bridge::new(temp.path());
        let chat = |name, secret: &'static [u8], id, suffix| NewChat {
            name,
            format: Format::Clm201,
            secret,
            clm201_chat_id: Some(id),
            seed_suffix: suffix,
            native_root: None,
            native_salt: None,
            created_at: 1,
        };
        // Same name, another seed: not the same chat, so CLM's gets a new name (twice over).
        bridge.store.add_chat(&chat("🤫 Secrets", b"other seed", "2", None)).unwrap();
        bridge.store.add_chat(&chat("🤫 Secrets (clm)", b"other seed", "7", None)).unwrap();
        // Same id, default suffix and seed under another name: reused.
        bridge.store.add_chat(&chat("general", SEED.as_bytes(), "1", None)).unwrap();

        let report = bridge.import(&clm.read());
        let secrets = report.chats.iter().find(|c| c.clm_id == "2").unwrap();
        assert_eq!(
            (secrets.name.as_str(), secrets.status, secrets.new),
            ("🤫 Secrets (clm 2)", ChatStatus::Renamed, 1)
        );
        let general = report.chats.iter().find(|c| c.clm_id == "1").unwrap();
        assert_eq!((general.name.as_str(), general.status), ("general", ChatStatus::Existing));
        assert_eq!(bridge.history()[0].chat, "🤫 Secrets (clm 2)");
    }
    #[test]
    fn pointers_that_do_not_open_are_skipped_and_reported() {
        let temp = tempfile::tempdir().unwrap();
        let clm = ClmFixture::new(temp.path());
        clm.add_message("received", "1", "bob", "good", 1_700_000_000, false);
        clm.add_raw("received", "1", "bob: junk", "not a pointer", 1_700_000_001, false);
        // Chat 0's pointer filed under chat 1: its `c` names another chat.
        let other = Pointer::Clm201(Clm201Chat::new(SEED, "0", None).unwrap().encode("bob", "x", 5).unwrap());
        clm.add_raw("received", "1", "bob: x", &other.to_json(), 1_700_000_002, false);
        // Another seed: the bytes do not decrypt to "sender: text".
        let foreign = Pointer::Clm201(
            Clm201Chat::new("another seed", "1", None).unwrap().encode("eve", "hello there", 6).unwrap(),
        );
        clm.add_raw("received", "1", "eve: hello there", &foreign.to_json(), 1_700_000_003, false);
        clm.add_raw("received", "99", "bob: lost", "{}", 1_700_000_004, false);
        let mut bridge = Bridge::new(temp.path());

        let report = bridge.import(&clm.read());
        let general = report.chats.iter().find(|c| c.clm_id == "1").unwrap();
        assert_eq!((general.new, general.skipped), (1, 3));
        let reasons: Vec<(i64, &str)> = report.skipped.iter().map(|s| (s.row, s.reason.as_str())).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].1.starts_with("its payload is not a pointer"), "{reasons:?}");
        assert!(reasons[1].1.contains("does not belong to this chat"), "{reasons:?}");
        assert!(reasons[2].1.starts_with("its payload does not open"), "{reasons:?}");
        assert_eq!(reasons[3], (5, "it names no chat of the CLM database"));
        assert!(report.skipped.iter().all(|s| !s.reason.contains("junk") && !s.reason.contains("hello")));
        assert_eq!(bridge.history().len(), 1);
        assert_eq!(bridge.store.pending_count().unwrap(), 0, "nothing is kept as pending");
    }
    #[test]
    fn the_clm_database_and_its_folder_are_not_changed() {
        let temp = tempfile::tempdir().unwrap();
        let clm_dir = temp.path().join("clm ?#%dir");
        fs::create_dir(&clm_dir).unwrap();
        let clm = ClmFixture::new(&clm_dir);
        clm.conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        clm.add_message("received", "1", "bob", "hello", 1_700_000_000, true);
        let ClmFixture { conn, path } = clm;
        drop(conn);
        assert_eq!(listing(&clm_dir), ["clm.db"], "CLM closed cleanly: no WAL left");
        let before = fs::read(&path).unwrap();
        let mut bridge = Bridge::new(temp.path());
        let report = bridge.import(&ClmDatabase::read(&path).unwrap());
        assert_eq!(report.chats[1].new, 1);
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(listing(&clm_dir), ["clm.db"], "no -wal or -shm file is left behind");
    }
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

//! Message history: ingest of arrivals (with the transport cursor, in one transaction), sent
//! messages, history queries (trash, restore and purge: `trash.rs`). A message is one sealed record
//! (direction, format, epoch, sender, text, truncated, pointer) bound to its row and chat; its
//! digest is stored keyed, its arrivals sealed. Purged digests stay as keyed tombstones.

use std::collections::HashMap;

use clm_core::Format;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::trash::is_tombstoned;

use super::cursors::upsert_cursor;
use super::sealer::{Sealer, hex};
use super::{ChatId, Digest, MessageId, Store, StoreError, format_named};

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Encoded and sent from here.
    Sent,
    /// Arrived over a transport or a scan.
    Received,
}

impl Direction {
    /// The stored name: `sent` or `received`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }

    pub(super) fn from_name(name: &str) -> Result<Direction, StoreError> {
        match name {
            "sent" => Ok(Direction::Sent),
            "received" => Ok(Direction::Received),
            other => Err(StoreError::Corrupt(format!("unknown message direction {other:?}"))),
        }
    }
}

/// One pointer that reached us, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The transport (adapter instance) it came over, e.g. `drop.usb`, or `scan`.
    pub transport: String,
    /// Where in that transport, e.g. a file name, a mail's Message-ID.
    pub origin: String,
    /// When it arrived (Unix seconds).
    pub now: i64,
    /// The pointer, opened or not.
    pub item: ArrivalItem,
}

/// A pointer that arrived: opened by one of our chats, or not (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrivalItem {
    /// A known chat opened it.
    Opened {
        /// The chat that opened it.
        chat_id: ChatId,
        /// The pointer's digest.
        digest: Digest,
        /// The pointer as it travelled.
        pointer_text: String,
        /// The pointer's format.
        format: Format,
        /// The pointer's epoch.
        epoch: u64,
        /// The sender name inside it.
        sender: String,
        /// The message text.
        text: String,
        /// Whether the text was cut short (CLM 2.0.2's sender bug).
        truncated: bool,
    },
    /// No known chat opens it: kept as pending.
    Unopened {
        /// The pointer's digest.
        digest: Digest,
        /// The pointer as it travelled.
        pointer_text: String,
    },
}

/// What [`Store::ingest`] did with one arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A message new to history, with its id.
    New(MessageId),
    /// A message already in history (sent from here, or arrived before); this arrival was
    /// noted on it.
    Duplicate(MessageId),
    /// Not opened: kept (or already kept) as pending.
    Pending,
    /// A message purged from history before: not stored again, not shown.
    Purged,
}

/// A message sent from here, to record in history.
#[derive(Debug, Clone, Copy)]
pub struct SentMessage<'a> {
    /// The chat it was sent in; its format is the chat's.
    pub chat_id: ChatId,
    /// The pointer's digest.
    pub digest: Digest,
    /// The pointer as sent.
    pub pointer_text: &'a str,
    /// The pointer's epoch.
    pub epoch: u64,
    /// Our sender name.
    pub sender: &'a str,
    /// The message text.
    pub text: &'a str,
    /// When it was sent (Unix seconds).
    pub now: i64,
    /// Deliveries to queue in the outbox in the same transaction: (transport, target).
    pub deliveries: &'a [(String, String)],
}

/// Which messages [`Store::history`] returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only this chat's messages.
    pub chat: Option<ChatId>,
    /// Only messages stored at or after this time (Unix seconds). The local storage time, not
    /// the pointer's epoch, which the sender chose.
    pub since: Option<i64>,
    /// Also trashed messages.
    pub include_trashed: bool,
}

/// One transport arrival of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalRecord {
    /// The transport it came over.
    pub transport: String,
    /// Where in that transport.
    pub origin: String,
    /// When (Unix seconds).
    pub arrived_at: i64,
}

/// A message in history, unsealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Message id (for trash, restore, purge).
    pub id: MessageId,
    /// Its chat's id.
    pub chat_id: ChatId,
    /// Its chat's name.
    pub chat: String,
    /// Sent or received.
    pub direction: Direction,
    /// Sender name.
    pub sender: String,
    /// Message text.
    pub text: String,
    /// The pointer's epoch.
    pub epoch: u64,
    /// The pointer's format.
    pub format: Format,
    /// Whether the text was cut short.
    pub truncated: bool,
    /// When it was stored here (Unix seconds).
    pub stored_at: i64,
    /// When it was trashed, if it is in the trash.
    pub trashed_at: Option<i64>,
    /// Every transport arrival, oldest first (none for a message only sent).
    pub arrivals: Vec<ArrivalRecord>,
}

/// Which messages [`Store::purge`] deletes for good. Only trashed messages are ever purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeTarget<'a> {
    /// These messages, those of them that are in the trash.
    Ids(&'a [MessageId]),
    /// Everything in the trash.
    AllTrashed,
}

/// A message's sealed record.
#[derive(Serialize, Deserialize)]
pub(super) struct MessageRecord {
    /// The pointer's digest, hex (to re-key the row when the passphrase changes).
    pub(super) digest: String,
    pub(super) direction: String,
    pub(super) format: String,
    pub(super) epoch: u64,
    pub(super) sender: String,
    pub(super) text: String,
    pub(super) truncated: bool,
    pub(super) pointer: String,
}

/// An arrival's sealed record.
#[derive(Serialize, Deserialize)]
pub(super) struct ArrivalSealed {
    pub(super) transport: String,
    pub(super) origin: String,
}

pub(super) fn message_context(id: MessageId, chat_id: ChatId) -> String {
    format!("message:{id}:{chat_id}")
}

pub(super) fn arrival_context(message: MessageId, key: &[u8; 32]) -> String {
    format!("arrival:{message}:{}", hex(key))
}

/// The keyed hash a pointer digest is stored as.
pub(super) fn digest_key(sealer: Sealer<'_>, digest: &Digest) -> [u8; 32] {
    sealer.key("digest", &[digest])
}

/// The id of the message with this digest, if stored.
fn message_by_digest(conn: &Connection, key: &[u8; 32]) -> Result<Option<MessageId>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT id FROM messages WHERE digest_key = ?1")?;
    Ok(statement.query_row([key], |row| row.get(0)).optional()?)
}

/// The fields of a message row to insert.
pub(super) struct MessageRow<'a> {
    pub(super) chat_id: ChatId,
    pub(super) digest: &'a Digest,
    pub(super) direction: Direction,
    pub(super) format: Format,
    pub(super) pointer_text: &'a str,
    pub(super) epoch: u64,
    pub(super) sender: &'a str,
    pub(super) text: &'a str,
    pub(super) truncated: bool,
    pub(super) now: i64,
}

/// Seals and inserts a message under a given row id (`None`: a new one). The caller has
/// checked the digest is new.
pub(super) fn insert_message(
    conn: &Connection,
    sealer: Sealer<'_>,
    id: Option<MessageId>,
    message: &MessageRow<'_>,
) -> Result<MessageId, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO messages (id, chat_id, digest_key, record, stored_at)
             SELECT ?1, id, ?3, x'', ?4 FROM chats WHERE id = ?2",
        )?
        .execute(params![id, message.chat_id, digest_key(sealer, message.digest), message.now])?;
    if inserted == 0 {
        return Err(StoreError::NoSuchChatId(message.chat_id));
    }
    let id = conn.last_insert_rowid();
    let record = MessageRecord {
        digest: hex(message.digest),
        direction: message.direction.name().to_owned(),
        format: message.format.name().to_owned(),
        epoch: message.epoch,
        sender: message.sender.to_owned(),
        text: message.text.to_owned(),
        truncated: message.truncated,
        pointer: message.pointer_text.to_owned(),
    };
    let record = zeroize::Zeroizing::new(sealer.seal(&message_context(id, message.chat_id), &record)?);
    conn.prepare_cached("UPDATE messages SET record = ?2 WHERE id = ?1")?.execute(params![id, *record])?;
    Ok(id)
}

/// Notes one arrival of a message (once per transport and origin).
pub(super) fn note_arrival(
    conn: &Connection,
    sealer: Sealer<'_>,
    message: MessageId,
    transport: &str,
    origin: &str,
    arrived_at: i64,
) -> Result<(), StoreError> {
    let key = sealer.key("arrival", &[&message.to_be_bytes(), transport.as_bytes(), origin.as_bytes()]);
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM arrivals WHERE message_id = ?1 AND arrival_key = ?2)")?
        .query_row(params![message, key], |row| row.get(0))?;
    if exists {
        return Ok(());
    }
    let record = ArrivalSealed { transport: transport.to_owned(), origin: origin.to_owned() };
    let record = sealer.seal(&arrival_context(message, &key), &record)?;
    conn.prepare_cached(
        "INSERT INTO arrivals (message_id, arrival_key, record, arrived_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![message, key, record, arrived_at])?;
    Ok(())
}

fn ingest_one(conn: &Connection, sealer: Sealer<'_>, arrival: &Arrival) -> Result<IngestOutcome, StoreError> {
    let note = |id| note_arrival(conn, sealer, id, &arrival.transport, &arrival.origin, arrival.now);
    match &arrival.item {
        ArrivalItem::Opened { chat_id, digest, pointer_text, format, epoch, sender, text, truncated } => {
            let key = digest_key(sealer, digest);
            let (id, outcome) = match message_by_digest(conn, &key)? {
                Some(id) => (id, IngestOutcome::Duplicate(id)),
                None if is_tombstoned(conn, &key)? => return Ok(IngestOutcome::Purged),
                None => {
                    let row = MessageRow {
                        chat_id: *chat_id,
                        digest,
                        direction: Direction::Received,
                        format: *format,
                        pointer_text,
                        epoch: *epoch,
                        sender,
                        text,
                        truncated: *truncated,
                        now: arrival.now,
                    };
                    let id = insert_message(conn, sealer, None, &row)?;
                    super::events::record(
                        conn,
                        sealer,
                        &super::EventBody::Message { message_id: id },
                        arrival.now,
                    )?;
                    (id, IngestOutcome::New(id))
                }
            };
            note(id)?;
            super::pending::forget(conn, &key)?;
            Ok(outcome)
        }
        ArrivalItem::Unopened { digest, pointer_text } => {
            let key = digest_key(sealer, digest);
            // Known already (say, our own sent pointer coming back): not pending, just noted.
            if let Some(id) = message_by_digest(conn, &key)? {
                note(id)?;
                return Ok(IngestOutcome::Duplicate(id));
            }
            if is_tombstoned(conn, &key)? {
                return Ok(IngestOutcome::Purged);
            }
            super::pending::keep(
                conn,
                sealer,
                digest,
                pointer_text,
                &arrival.transport,
                &arrival.origin,
                arrival.now,
            )?;
            Ok(IngestOutcome::Pending)
        }
    }
}

impl Store {
    /// Stores a batch of arrivals and then the transports' cursors `(transport, key, value)`,
    /// in one transaction: either all of it is stored or, on any error, none of it.
    ///
    /// An opened pointer becomes a message unless its digest is known
    /// ([`IngestOutcome::Duplicate`]) or was purged ([`IngestOutcome::Purged`]); either way the
    /// arrival of a known message is noted (once per transport and origin) and a pending row
    /// with that digest is removed, so resolving a pending pointer is an ingest of it opened. An
    /// unopened pointer is kept as pending.
    pub fn ingest(
        &mut self,
        batch: &[Arrival],
        cursors: &[(&str, &str, &str)],
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        Ok(self.ingest_relaying(batch, cursors, &[])?.0)
    }

    /// [`Store::ingest`], with gateways' relays of what arrived recorded (and queued in the
    /// outbox) in the same transaction; also returns how many relays were queued.
    pub fn ingest_relaying(
        &mut self,
        batch: &[Arrival],
        cursors: &[(&str, &str, &str)],
        relays: &[super::Relaying],
    ) -> Result<(Vec<IngestOutcome>, usize), StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcomes =
            batch.iter().map(|arrival| ingest_one(&tx, sealer, arrival)).collect::<Result<Vec<_>, _>>()?;
        for (transport, key, value) in cursors {
            upsert_cursor(&tx, sealer, transport, key, value)?;
        }
        let mut queued = 0;
        for relaying in relays {
            queued += super::relays::record(&tx, sealer, relaying)?;
        }
        tx.commit()?;
        Ok((outcomes, queued))
    }

    /// Records a message sent from here. If the pointer is already in history (a clm201
    /// pointer is the same for the same text in the same second), returns
    /// [`IngestOutcome::Duplicate`] and changes nothing.
    pub fn record_sent(&mut self, sent: &SentMessage<'_>) -> Result<IngestOutcome, StoreError> {
        let format = self.chat_by_id(sent.chat_id)?.format;
        let claimed_until = sent.now.saturating_add(self.claim_seconds);
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = digest_key(sealer, &sent.digest);
        if let Some(id) = message_by_digest(&tx, &key)? {
            return Ok(IngestOutcome::Duplicate(id));
        }
        let row = MessageRow {
            chat_id: sent.chat_id,
            digest: &sent.digest,
            direction: Direction::Sent,
            format,
            pointer_text: sent.pointer_text,
            epoch: sent.epoch,
            sender: sent.sender,
            text: sent.text,
            truncated: false,
            now: sent.now,
        };
        let id = insert_message(&tx, sealer, None, &row)?;
        super::events::record(&tx, sealer, &super::EventBody::Message { message_id: id }, sent.now)?;
        super::pending::forget(&tx, &key)?;
        for (transport, target) in sent.deliveries {
            let queued = super::outbox::Queued {
                message_id: Some(id),
                gateway: None,
                transport,
                target,
                pointer: sent.pointer_text,
                now: sent.now,
                claimed_until,
            };
            super::outbox::queue(&tx, sealer, &queued)?;
        }
        tx.commit()?;
        Ok(IngestOutcome::New(id))
    }

    /// Messages matching `query`, unsealed, oldest stored first.
    pub fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, StoreError> {
        let sealer = self.sealer()?;
        let names: HashMap<ChatId, String> =
            self.list_chats()?.into_iter().map(|chat| (chat.id, chat.name)).collect();
        let mut statement = self.conn.prepare_cached(
            "SELECT id, chat_id, record, stored_at, trashed_at FROM messages
             WHERE (?1 IS NULL OR chat_id = ?1)
               AND (?2 IS NULL OR stored_at >= ?2)
               AND (?3 OR trashed_at IS NULL)
             ORDER BY id",
        )?;
        let mut rows = statement.query(params![query.chat, query.since, query.include_trashed])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let id: MessageId = row.get(0)?;
            let chat_id: ChatId = row.get(1)?;
            let record: Vec<u8> = row.get(2)?;
            let record: MessageRecord = sealer.open(&message_context(id, chat_id), &record)?;
            entries.push(HistoryEntry {
                id,
                chat_id,
                chat: names.get(&chat_id).cloned().ok_or(StoreError::NoSuchChatId(chat_id))?,
                direction: Direction::from_name(&record.direction)?,
                sender: record.sender,
                text: record.text,
                epoch: record.epoch,
                format: format_named(&record.format)?,
                truncated: record.truncated,
                stored_at: row.get(3)?,
                trashed_at: row.get(4)?,
                arrivals: self.arrivals(sealer, id)?,
            });
        }
        Ok(entries)
    }

    pub(super) fn arrivals(
        &self,
        sealer: Sealer<'_>,
        message: MessageId,
    ) -> Result<Vec<ArrivalRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT arrival_key, record, arrived_at FROM arrivals WHERE message_id = ?1")?;
        let mut rows = statement.query([message])?;
        let mut arrivals = Vec::new();
        while let Some(row) = rows.next()? {
            let key: [u8; 32] = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            let ArrivalSealed { transport, origin } =
                sealer.open(&arrival_context(message, &key), &record)?;
            arrivals.push(ArrivalRecord { transport, origin, arrived_at: row.get(2)? });
        }
        arrivals.sort_by(|a, b| {
            (a.arrived_at, &a.transport, &a.origin).cmp(&(b.arrived_at, &b.transport, &b.origin))
        });
        Ok(arrivals)
    }

    /// How many messages history holds (trashed ones included).
    pub fn message_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?)
    }

    /// `(messages, trashed)` per chat, counted without unsealing anything.
    pub fn message_counts(&self) -> Result<HashMap<ChatId, (u64, u64)>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT chat_id, count(*), count(trashed_at) FROM messages GROUP BY chat_id")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

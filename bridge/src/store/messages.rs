//! Message history: ingest of arrivals (with the transport cursor, in one transaction), sent
//! messages, history queries, trash, restore and purge.

use std::collections::HashMap;

use clm_core::Format;
use rusqlite::{OptionalExtension as _, Transaction, TransactionBehavior, params};

use super::cursors::upsert_cursor;
use super::{ChatId, Digest, FormatColumn, MessageId, Store, StoreError, digest_hex};
use crate::vault::Vault;

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

    fn from_name(name: &str) -> Result<Direction, StoreError> {
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

fn sender_context(digest: &Digest) -> String {
    format!("message-sender:{}", digest_hex(digest))
}

fn text_context(digest: &Digest) -> String {
    format!("message-text:{}", digest_hex(digest))
}

/// The id of the message with this digest, if stored.
fn message_by_digest(tx: &Transaction<'_>, digest: &Digest) -> Result<Option<MessageId>, StoreError> {
    let mut statement = tx.prepare_cached("SELECT id FROM messages WHERE digest = ?1")?;
    Ok(statement.query_row([digest], |row| row.get(0)).optional()?)
}

/// The fields of a message row to insert.
struct MessageRow<'a> {
    chat_id: ChatId,
    digest: &'a Digest,
    direction: Direction,
    /// `None`: the chat's format.
    format: Option<Format>,
    pointer_text: &'a str,
    epoch: u64,
    sender: &'a str,
    text: &'a str,
    truncated: bool,
    now: i64,
}

/// Seals and inserts a message. The caller has checked the digest
/// is new.
fn insert_message(
    tx: &Transaction<'_>,
    vault: &Vault,
    message: &MessageRow<'_>,
) -> Result<MessageId, StoreError> {
    let sender = vault.seal(&sender_context(message.digest), message.sender.as_bytes())?;
    let body = vault.seal(&text_context(message.digest), message.text.as_bytes())?;
    let mut statement = tx.prepare_cached(
        "INSERT INTO messages (chat_id, digest, direction, format, epoch, sender, body, truncated, pointer, stored_at)
         SELECT id, ?2, ?3, coalesce(?10, format), ?4, ?5, ?6, ?7, ?8, ?9 FROM chats WHERE id = ?1",
    )?;
    let inserted = statement.execute(params![
        message.chat_id,
        message.digest,
        message.direction.name(),
        message.epoch.cast_signed(),
        sender,
        body,
        message.truncated,
        message.pointer_text,
        message.now,
        message.format.map(Format::name),
    ])?;
    if inserted == 0 {
        return Err(StoreError::NoSuchChatId(message.chat_id));
    }
    Ok(tx.last_insert_rowid())
}

fn note_arrival(tx: &Transaction<'_>, message: MessageId, arrival: &Arrival) -> Result<(), StoreError> {
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO arrivals (message_id, transport, origin, arrived_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    statement.execute(params![message, arrival.transport, arrival.origin, arrival.now])?;
    Ok(())
}

fn ingest_one(tx: &Transaction<'_>, vault: &Vault, arrival: &Arrival) -> Result<IngestOutcome, StoreError> {
    match &arrival.item {
        ArrivalItem::Opened { chat_id, digest, pointer_text, format, epoch, sender, text, truncated } => {
            let (id, outcome) = match message_by_digest(tx, digest)? {
                Some(id) => (id, IngestOutcome::Duplicate(id)),
                None => {
                    let row = MessageRow {
                        chat_id: *chat_id,
                        digest,
                        direction: Direction::Received,
                        format: Some(*format),
                        pointer_text,
                        epoch: *epoch,
                        sender,
                        text,
                        truncated: *truncated,
                        now: arrival.now,
                    };
                    let id = insert_message(tx, vault, &row)?;
                    (id, IngestOutcome::New(id))
                }
            };
            note_arrival(tx, id, arrival)?;
            tx.prepare_cached("DELETE FROM pending WHERE digest = ?1")?.execute([digest])?;
            Ok(outcome)
        }
        ArrivalItem::Unopened { digest, pointer_text } => {
            // Known already (say, our own sent pointer coming back): not pending, just noted.
            if let Some(id) = message_by_digest(tx, digest)? {
                note_arrival(tx, id, arrival)?;
                return Ok(IngestOutcome::Duplicate(id));
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO pending (digest, pointer, transport, origin, first_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                digest,
                pointer_text,
                arrival.transport,
                arrival.origin,
                arrival.now
            ])?;
            Ok(IngestOutcome::Pending)
        }
    }
}

impl Store {
    /// Stores a batch of arrivals and then the transports' cursors `(transport, key, value)`,
    /// in one transaction: either all of it is stored or, on any error, none of it.
    ///
    /// An opened pointer becomes a message unless its digest is known
    /// ([`IngestOutcome::Duplicate`]); either way the arrival is noted (once per transport and
    /// origin) and a pending row with that digest is removed, so resolving a pending pointer
    /// is an ingest of it opened. An unopened pointer is kept as pending.
    pub fn ingest(
        &mut self,
        vault: &Vault,
        batch: &[Arrival],
        cursors: &[(&str, &str, &str)],
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcomes =
            batch.iter().map(|arrival| ingest_one(&tx, vault, arrival)).collect::<Result<Vec<_>, _>>()?;
        for (transport, key, value) in cursors {
            upsert_cursor(&tx, transport, key, value)?;
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Records a message sent from here. If the pointer is already in history (a clm201
    /// pointer is the same for the same text in the same second), returns
    /// [`IngestOutcome::Duplicate`] and changes nothing.
    pub fn record_sent(
        &mut self,
        vault: &Vault,
        sent: &SentMessage<'_>,
    ) -> Result<IngestOutcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = message_by_digest(&tx, &sent.digest)? {
            return Ok(IngestOutcome::Duplicate(id));
        }
        let id = insert_message(
            &tx,
            vault,
            &MessageRow {
                chat_id: sent.chat_id,
                digest: &sent.digest,
                direction: Direction::Sent,
                format: None,
                pointer_text: sent.pointer_text,
                epoch: sent.epoch,
                sender: sent.sender,
                text: sent.text,
                truncated: false,
                now: sent.now,
            },
        )?;
        tx.prepare_cached("DELETE FROM pending WHERE digest = ?1")?.execute([sent.digest])?;
        for (transport, target) in sent.deliveries {
            super::outbox::queue(&tx, Some(id), transport, target, sent.pointer_text, sent.now)?;
        }
        tx.commit()?;
        Ok(IngestOutcome::New(id))
    }

    /// Messages matching `query`, unsealed, oldest stored first.
    pub fn history(&self, vault: &Vault, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT m.id, m.chat_id, c.name, m.direction, m.format, m.epoch, m.sender, m.body, m.truncated,
                    m.stored_at, m.trashed_at, m.digest
             FROM messages m JOIN chats c ON c.id = m.chat_id
             WHERE (?1 IS NULL OR m.chat_id = ?1)
               AND (?2 IS NULL OR m.stored_at >= ?2)
               AND (?3 OR m.trashed_at IS NULL)
             ORDER BY m.id",
        )?;
        let mut arrivals = self.conn.prepare_cached(
            "SELECT transport, origin, arrived_at FROM arrivals WHERE message_id = ?1
             ORDER BY arrived_at, transport, origin",
        )?;
        let mut rows = statement.query(params![query.chat, query.since, query.include_trashed])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let id: MessageId = row.get(0)?;
            let digest = super::digest_from_blob(row.get(11)?)?;
            let sealed_sender: Vec<u8> = row.get(6)?;
            let sealed_text: Vec<u8> = row.get(7)?;
            let sender = unseal_text(vault, &sender_context(&digest), &sealed_sender, id)?;
            let text = unseal_text(vault, &text_context(&digest), &sealed_text, id)?;
            let arrivals = arrivals
                .query_map([id], |row| {
                    Ok(ArrivalRecord { transport: row.get(0)?, origin: row.get(1)?, arrived_at: row.get(2)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            entries.push(HistoryEntry {
                id,
                chat_id: row.get(1)?,
                chat: row.get(2)?,
                direction: Direction::from_name(&row.get::<_, String>(3)?)?,
                sender,
                text,
                epoch: row.get::<_, i64>(5)?.cast_unsigned(),
                format: row.get::<_, FormatColumn>(4)?.0,
                truncated: row.get(8)?,
                stored_at: row.get(9)?,
                trashed_at: row.get(10)?,
                arrivals,
            });
        }
        Ok(entries)
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

    /// Moves messages to the trash (at time `now`). Returns how many were moved; ids that do
    /// not exist or are in the trash already are skipped.
    pub fn trash(&mut self, ids: &[MessageId], now: i64) -> Result<usize, StoreError> {
        self.update_each(
            ids,
            "UPDATE messages SET trashed_at = ?2 WHERE id = ?1 AND trashed_at IS NULL",
            Some(now),
        )
    }

    /// Takes messages out of the trash. Returns how many were restored.
    pub fn restore(&mut self, ids: &[MessageId]) -> Result<usize, StoreError> {
        self.update_each(
            ids,
            "UPDATE messages SET trashed_at = NULL WHERE id = ?1 AND trashed_at IS NOT NULL",
            None,
        )
    }

    /// Deletes trashed messages for good, with their arrivals. Messages not in the trash are
    /// never purged. Their digests go too, so the same pointer arriving again later is stored
    /// again (transport cursors keep the daemon from re-reading old items). Returns how many
    /// were purged.
    pub fn purge(&mut self, target: PurgeTarget<'_>) -> Result<usize, StoreError> {
        match target {
            PurgeTarget::Ids(ids) => {
                self.update_each(ids, "DELETE FROM messages WHERE id = ?1 AND trashed_at IS NOT NULL", None)
            }
            PurgeTarget::AllTrashed => {
                Ok(self.conn.execute("DELETE FROM messages WHERE trashed_at IS NOT NULL", [])?)
            }
        }
    }

    /// Runs `sql` once per id (as `?1`, with `extra` as `?2` when given), in one transaction;
    /// returns the rows changed.
    fn update_each(&mut self, ids: &[MessageId], sql: &str, extra: Option<i64>) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        {
            let mut statement = tx.prepare_cached(sql)?;
            for id in ids {
                changed += match extra {
                    Some(value) => statement.execute(params![id, value])?,
                    None => statement.execute([id])?,
                };
            }
        }
        tx.commit()?;
        Ok(changed)
    }
}

fn unseal_text(vault: &Vault, context: &str, sealed: &[u8], id: MessageId) -> Result<String, StoreError> {
    let plain = vault.open_sealed(context, sealed)?;
    match std::str::from_utf8(&plain) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(StoreError::Corrupt(format!("message {id}: unsealed text is not UTF-8"))),
    }
}

//! Reads the API needs beyond the CLI's: one message by id (for the event stream), history in
//! pages by id (for clients that scroll), and counts that need no unsealing (for `status`).

use std::collections::HashMap;

use rusqlite::params;

use super::messages::{MessageRecord, message_context};
use super::{ChatId, HistoryEntry, MessageId, Store, StoreError, format_named};

/// One page of history: messages by id, oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// Only this chat's messages.
    pub chat: Option<ChatId>,
    /// Only messages stored at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// The trash instead of history (`false`: messages not in the trash).
    pub trashed: bool,
    /// Only ids above this one.
    pub after: MessageId,
    /// Only ids below this one; the page is then the newest `limit` of them.
    pub before: Option<MessageId>,
    /// The most messages in the page.
    pub limit: usize,
}

/// Counts read without the vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Chats.
    pub chats: u64,
    /// Messages in history, trashed ones included.
    pub messages: u64,
    /// Of those, in the trash.
    pub trashed: u64,
    /// Pointers no chat opens yet.
    pub pending: u64,
    /// Deliveries waiting in the outbox (not failed).
    pub queued: u64,
    /// Deliveries refused for good, kept until retried or dropped.
    pub failed: u64,
}

impl Store {
    /// The message with this id, if it is in history (trashed or not).
    pub fn message(&self, id: MessageId) -> Result<Option<HistoryEntry>, StoreError> {
        let page = HistoryPage { after: id - 1, before: Some(id + 1), limit: 1, ..HistoryPage::default() };
        let mut found = self.read_page(&page, true)?.0;
        Ok(found.pop())
    }

    /// A page of history (see [`HistoryPage`]), oldest first, and whether more messages lie
    /// beyond it (newer after an `after` page, older before a `before` page).
    pub fn history_page(&self, page: &HistoryPage) -> Result<(Vec<HistoryEntry>, bool), StoreError> {
        self.read_page(page, false)
    }

    fn read_page(&self, page: &HistoryPage, any: bool) -> Result<(Vec<HistoryEntry>, bool), StoreError> {
        let sealer = self.sealer()?;
        let newest = page.before.is_some();
        let sql = format!(
            "SELECT id, chat_id, record, stored_at, trashed_at FROM messages
             WHERE (?1 IS NULL OR chat_id = ?1) AND (?2 IS NULL OR stored_at >= ?2)
               AND (?3 OR (trashed_at IS NOT NULL) = ?4)
               AND id > ?5 AND (?6 IS NULL OR id < ?6)
             ORDER BY id {} LIMIT ?7",
            if newest { "DESC" } else { "ASC" }
        );
        let limit = i64::try_from(page.limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![
            page.chat,
            page.since,
            any,
            page.trashed,
            page.after,
            page.before,
            limit
        ])?;
        let mut names: HashMap<ChatId, String> = HashMap::new();
        let mut entries = Vec::new();
        let mut more = false;
        while let Some(row) = rows.next()? {
            if entries.len() == page.limit {
                more = true;
                break;
            }
            let id: MessageId = row.get(0)?;
            let chat_id: ChatId = row.get(1)?;
            let record: Vec<u8> = row.get(2)?;
            let record: MessageRecord = sealer.open(&message_context(id, chat_id), &record)?;
            let chat = match names.get(&chat_id) {
                Some(name) => name.clone(),
                None => {
                    let name = self.chat_by_id(chat_id)?.name;
                    names.insert(chat_id, name.clone());
                    name
                }
            };
            entries.push(HistoryEntry {
                id,
                chat_id,
                chat,
                direction: super::messages::Direction::from_name(&record.direction)?,
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
        if newest {
            entries.reverse();
        }
        Ok((entries, more))
    }

    /// The id of the newest event ever recorded, pruned or not (0: none was): ids are never
    /// reused, so a client that saw a higher one is talking to another store.
    pub fn event_sequence(&self) -> Result<i64, StoreError> {
        let sql = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)";
        Ok(self.conn.query_row(sql, [], |row| row.get(0))?)
    }

    /// How many chats, messages, pending pointers and deliveries there are; no unsealing.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let count =
            |sql: &str| -> Result<u64, StoreError> { Ok(self.conn.query_row(sql, [], |row| row.get(0))?) };
        Ok(Counts {
            chats: count("SELECT count(*) FROM chats")?,
            messages: count("SELECT count(*) FROM messages")?,
            trashed: count("SELECT count(trashed_at) FROM messages")?,
            pending: count("SELECT count(*) FROM pending")?,
            queued: count("SELECT count(*) FROM outbox WHERE failed = 0")?,
            failed: count("SELECT count(*) FROM outbox WHERE failed <> 0")?,
        })
    }
}

//! A message's end: the trash (reversible), and purging (for good), where each purged digest
//! stays as a keyed tombstone so the same pointer read again is not shown as new.

use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::messages::{MessageRecord, PurgeTarget, message_context};
use super::sealer::{Sealer, hex};
use super::{ChatId, MessageId, Store, StoreError};

/// A tombstone's sealed record: the digest, hex (to re-key the row).
#[derive(Serialize, Deserialize)]
pub(super) struct TombstoneRecord {
    pub(super) digest: String,
}

pub(super) fn tombstone_context(key: &[u8; 32]) -> String {
    format!("tombstone:{}", hex(key))
}

pub(super) fn is_tombstoned(conn: &Connection, key: &[u8; 32]) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tombstones WHERE digest_key = ?1)")?
        .query_row([key], |row| row.get(0))?)
}

/// Leaves tombstones for the messages `condition` (SQL over `messages`, `?1` = `value`)
/// selects, before they are deleted (inside the caller's transaction).
pub(super) fn tombstone_where(
    conn: &Connection,
    sealer: Sealer<'_>,
    condition: &str,
    value: i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut statement =
        conn.prepare(&format!("SELECT id, chat_id, digest_key, record FROM messages WHERE {condition}"))?;
    let mut rows = statement.query([value])?;
    while let Some(row) = rows.next()? {
        let (id, chat_id, key): (MessageId, ChatId, [u8; 32]) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let record: MessageRecord = sealer.open(&message_context(id, chat_id), &row.get::<_, Vec<u8>>(3)?)?;
        insert_tombstone(conn, sealer, &key, record.digest, now)?;
    }
    Ok(())
}

/// Keeps a tombstone (inside the caller's transaction).
pub(super) fn insert_tombstone(
    conn: &Connection,
    sealer: Sealer<'_>,
    key: &[u8; 32],
    digest_hex: String,
    purged_at: i64,
) -> Result<(), StoreError> {
    let record = sealer.seal(&tombstone_context(key), &TombstoneRecord { digest: digest_hex })?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO tombstones (digest_key, record, purged_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![key, record, purged_at])?;
    Ok(())
}

impl Store {
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
    /// never purged. Each leaves a keyed tombstone of its digest, so the same pointer read
    /// again (a drop folder read anew, a mail delivered again) is not shown as new. Returns how
    /// many were purged.
    pub fn purge(&mut self, target: PurgeTarget<'_>, now: i64) -> Result<usize, StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let purged = match target {
            PurgeTarget::Ids(ids) => {
                let mut purged = 0;
                for id in ids {
                    tombstone_where(&tx, sealer, "id = ?1 AND trashed_at IS NOT NULL", *id, now)?;
                    purged +=
                        tx.execute("DELETE FROM messages WHERE id = ?1 AND trashed_at IS NOT NULL", [id])?;
                }
                purged
            }
            PurgeTarget::AllTrashed => {
                tombstone_where(&tx, sealer, "trashed_at IS NOT NULL AND ?1 = ?1", 0, now)?;
                tx.execute("DELETE FROM messages WHERE trashed_at IS NOT NULL", [])?
            }
        };
        tx.commit()?;
        Ok(purged)
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

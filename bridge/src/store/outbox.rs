//! The outbox: deliveries not yet made. `send` queues one per route in the transaction that
//! records the message, then tries them; a delivery that works is removed, one that fails for
//! now waits for its next attempt (the daemon retries with backoff), one refused for good is
//! marked failed and kept, so no pointer is ever lost to a transport being down.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};

/// A queued delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id in the outbox.
    pub id: i64,
    /// The sent message it carries, if still in history.
    pub message_id: Option<i64>,
    /// The transport instance or kind as routed (`email.work`, `drop`).
    pub transport: String,
    /// The target within it.
    pub target: String,
    /// The pointer text.
    pub pointer: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix seconds).
    pub next_attempt: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Refused for good: not retried until asked.
    pub failed: bool,
}

/// A delivery to queue on its own (not with a sent message).
#[derive(Debug, Clone, Copy)]
pub struct NewDelivery<'a> {
    /// The transport as routed.
    pub transport: &'a str,
    /// The target within it.
    pub target: &'a str,
    /// The pointer text.
    pub pointer: &'a str,
    /// Now (Unix seconds): due at once.
    pub now: i64,
}

/// Queues a delivery, due at once (inside the caller's transaction).
pub(super) fn queue(
    conn: &Connection,
    message_id: Option<i64>,
    transport: &str,
    target: &str,
    pointer: &str,
    now: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO outbox (message_id, transport, target, pointer, next_attempt, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![message_id, transport, target, pointer, now])?;
    Ok(conn.last_insert_rowid())
}

const COLUMNS: &str =
    "id, message_id, transport, target, pointer, attempts, next_attempt, last_error, failed";

fn row_to_delivery(row: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        message_id: row.get(1)?,
        transport: row.get(2)?,
        target: row.get(3)?,
        pointer: row.get(4)?,
        attempts: row.get(5)?,
        next_attempt: row.get(6)?,
        last_error: row.get(7)?,
        failed: row.get(8)?,
    })
}

impl Store {
    /// Queues a delivery on its own, due at once; returns its id.
    pub fn queue_delivery(&self, delivery: &NewDelivery<'_>) -> Result<i64, StoreError> {
        queue(&self.conn, None, delivery.transport, delivery.target, delivery.pointer, delivery.now)
    }

    /// The queued deliveries of sent message `message_id`, oldest first.
    pub fn deliveries_of(&self, message_id: i64) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE message_id = ?1 ORDER BY id"))?;
        let rows = statement.query_map([message_id], row_to_delivery)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every queued delivery, failed ones included, oldest first.
    pub fn outbox(&self) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id"))?;
        let rows = statement.query_map([], row_to_delivery)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deliveries due at `now` (not failed), oldest first, at most `limit`.
    pub fn due_deliveries(&self, now: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE failed = 0 AND next_attempt <= ?1 ORDER BY next_attempt, id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![now, limit], row_to_delivery)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next delivery is due (not failed), if any is queued.
    pub fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT min(next_attempt) FROM outbox WHERE failed = 0")?
            .query_row([], |row| row.get(0))
            .optional()?
            .flatten())
    }

    /// A delivery was made: it leaves the outbox.
    pub fn delivered(&self, id: i64) -> Result<(), StoreError> {
        self.conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?.execute([id])?;
        Ok(())
    }

    /// An attempt failed for now: counted, and due again at `next_attempt`.
    pub fn delivery_deferred(&self, id: i64, error: &str, next_attempt: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
            )?
            .execute(params![id, error, next_attempt])?;
        Ok(())
    }

    /// An attempt was refused for good: kept, marked failed, not retried until asked.
    pub fn delivery_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, failed = 1 WHERE id = ?1",
            )?
            .execute(params![id, error])?;
        Ok(())
    }

    /// Makes deliveries due again at `now` (failed ones too): all, or those in `ids`. Returns
    /// how many.
    pub fn retry_deliveries(&self, ids: Option<&[i64]>, now: i64) -> Result<usize, StoreError> {
        let statement = "UPDATE outbox SET failed = 0, next_attempt = ?2 WHERE ?1 IS NULL OR id = ?1";
        let mut statement = self.conn.prepare_cached(statement)?;
        match ids {
            None => Ok(statement.execute(params![Option::<i64>::None, now])?),
            Some(ids) => {
                let mut count = 0;
                for id in ids {
                    count += statement.execute(params![id, now])?;
                }
                Ok(count)
            }
        }
    }

    /// Drops deliveries from the outbox by id (the messages stay in history). Returns how many.
    pub fn drop_deliveries(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut statement = self.conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
        let mut count = 0;
        for id in ids {
            count += statement.execute([id])?;
        }
        Ok(count)
    }
}

//! The outbox: deliveries not yet made. `send` queues one per route in the transaction that
//! records the message, then tries them; a delivery that works is removed, one that fails for
//! now waits for its next attempt (the daemon retries with backoff), one refused for good is
//! marked failed and kept, so no pointer is ever lost to a transport being down.
//!
//! A delivery is tried by one process at a time: it is *claimed* (a lease until a time) in a
//! transaction before it is tried — `send` claims its own deliveries in the transaction that
//! records them, the daemon claims what is due — and the claim ends with the attempt's result.
//! A process killed while trying leaves a claim that runs out, and the daemon tries again then.
//! Transport, target, pointer and errors are sealed (context `outbox:<id>`).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::sealer::Sealer;
use super::{Store, StoreError};

/// How long a claim holds by default: longer than any transport's send takes (their timeouts
/// are a minute or less), short enough that a delivery whose process died is retried soon after.
pub const CLAIM_SECONDS: i64 = 300;

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
    /// The gateway relaying the pointer, for a relay (no message of ours).
    pub gateway: Option<String>,
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

#[derive(Serialize, Deserialize)]
struct DeliveryRecord {
    transport: String,
    target: String,
    pointer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

/// A delivery to put in the outbox (inside the caller's transaction).
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued<'a> {
    /// The sent message it carries; none for a delivery on its own or a relay.
    pub(super) message_id: Option<i64>,
    /// The gateway, for a relay.
    pub(super) gateway: Option<&'a str>,
    pub(super) transport: &'a str,
    pub(super) target: &'a str,
    pub(super) pointer: &'a str,
    /// Due from then (Unix seconds).
    pub(super) now: i64,
    /// Nobody else tries it before then (`now`: anyone may at once).
    pub(super) claimed_until: i64,
}

fn record_context(id: i64) -> String {
    format!("outbox:{id}")
}

fn error_context(id: i64) -> String {
    format!("outbox-error:{id}")
}

/// Queues a delivery (inside the caller's transaction), due at once and claimed until
/// `claimed_until` (by a caller that tries it at once itself).
pub(super) fn queue(conn: &Connection, sealer: Sealer<'_>, queued: &Queued<'_>) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO outbox (message_id, record, next_attempt, created_at, claimed_until)
         VALUES (?1, x'', ?2, ?2, ?3)",
    )?
    .execute(params![queued.message_id, queued.now, queued.claimed_until])?;
    let id = conn.last_insert_rowid();
    let record = DeliveryRecord {
        transport: queued.transport.to_owned(),
        target: queued.target.to_owned(),
        pointer: queued.pointer.to_owned(),
        gateway: queued.gateway.map(str::to_owned),
    };
    let record = sealer.seal(&record_context(id), &record)?;
    conn.prepare_cached("UPDATE outbox SET record = ?2 WHERE id = ?1")?.execute(params![id, record])?;
    Ok(id)
}

/// Seals one row of a version-2 outbox (`clear_outbox`: id, message_id, transport, target,
/// pointer, attempts, next_attempt, last_error, failed, created_at), keeping its id.
pub(super) fn upgrade_row(
    conn: &Connection,
    sealer: Sealer<'_>,
    row: &rusqlite::Row<'_>,
) -> Result<(), StoreError> {
    let id: i64 = row.get(0)?;
    let record =
        DeliveryRecord { transport: row.get(2)?, target: row.get(3)?, pointer: row.get(4)?, gateway: None };
    let record = sealer.seal(&record_context(id), &record)?;
    let last_error: Option<String> = row.get(7)?;
    let last_error =
        last_error.map(|error| sealer.seal_bytes(&error_context(id), error.as_bytes())).transpose()?;
    conn.execute(
        "INSERT INTO outbox (id, message_id, record, attempts, next_attempt, last_error, failed, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            row.get::<_, Option<i64>>(1)?,
            record,
            row.get::<_, i64>(5)?,
            row.get::<_, i64>(6)?,
            last_error,
            row.get::<_, bool>(8)?,
            row.get::<_, i64>(9)?
        ],
    )?;
    Ok(())
}

/// Opens every delivery's record and error with `old` and seals them with `new`.
pub(super) fn reseal_all(conn: &Connection, old: Sealer<'_>, new: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement = conn.prepare("SELECT id, record, last_error FROM outbox")?;
    let rows: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, record, error) in rows {
        let record: DeliveryRecord = old.open(&record_context(id), &record)?;
        let error = error.map(|error| old.open_bytes(&error_context(id), &error)).transpose()?;
        conn.execute(
            "UPDATE outbox SET record = ?2, last_error = ?3 WHERE id = ?1",
            params![
                id,
                new.seal(&record_context(id), &record)?,
                error.map(|error| new.seal_bytes(&error_context(id), &error)).transpose()?
            ],
        )?;
    }
    Ok(())
}

const COLUMNS: &str = "id, message_id, record, attempts, next_attempt, last_error, failed";

fn read_deliveries(
    conn: &Connection,
    sealer: Sealer<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Delivery>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut deliveries = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let record: Vec<u8> = row.get(2)?;
        let DeliveryRecord { transport, target, pointer, gateway } =
            sealer.open(&record_context(id), &record)?;
        let last_error: Option<Vec<u8>> = row.get(5)?;
        let last_error = last_error
            .map(|sealed| sealer.open_bytes(&error_context(id), &sealed))
            .transpose()?
            .map(|text| String::from_utf8_lossy(&text).into_owned());
        deliveries.push(Delivery {
            id,
            message_id: row.get(1)?,
            transport,
            target,
            pointer,
            attempts: row.get(3)?,
            next_attempt: row.get(4)?,
            last_error,
            failed: row.get(6)?,
            gateway,
        });
    }
    Ok(deliveries)
}

impl Store {
    /// Queues a delivery on its own, due at once and claimed by the caller; returns its id.
    pub fn queue_delivery(&self, delivery: &NewDelivery<'_>) -> Result<i64, StoreError> {
        let sealer = self.sealer()?;
        let until = delivery.now.saturating_add(self.claim_seconds);
        let queued = Queued {
            message_id: None,
            gateway: None,
            transport: delivery.transport,
            target: delivery.target,
            pointer: delivery.pointer,
            now: delivery.now,
            claimed_until: until,
        };
        queue(&self.conn, sealer, &queued)
    }

    /// The queued deliveries of sent message `message_id`, oldest first.
    pub fn deliveries_of(&self, message_id: i64) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE message_id = ?1 ORDER BY id");
        read_deliveries(&self.conn, self.sealer()?, &sql, [message_id])
    }

    /// Every queued delivery, failed ones included, oldest first.
    pub fn outbox(&self) -> Result<Vec<Delivery>, StoreError> {
        read_deliveries(&self.conn, self.sealer()?, &format!("SELECT {COLUMNS} FROM outbox ORDER BY id"), [])
    }

    /// Claims the deliveries due at `now` (not failed, not claimed by anyone), oldest first, at
    /// most `limit`, in one transaction: nobody else tries them until the claim runs out or
    /// the attempt's result is recorded.
    pub fn claim_due(&mut self, now: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let until = now.saturating_add(self.claim_seconds);
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox
             WHERE failed = 0 AND next_attempt <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
             ORDER BY next_attempt, id LIMIT ?2"
        );
        let due = read_deliveries(&tx, sealer, &sql, params![now, i64::try_from(limit).unwrap_or(i64::MAX)])?;
        for delivery in &due {
            tx.prepare_cached("UPDATE outbox SET claimed_until = ?2 WHERE id = ?1")?
                .execute(params![delivery.id, until])?;
        }
        tx.commit()?;
        Ok(due)
    }

    /// When the next delivery is due (not failed; a claimed one when its claim runs out), if
    /// any is queued.
    pub fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT min(max(next_attempt, coalesce(claimed_until, 0))) FROM outbox WHERE failed = 0",
            )?
            .query_row([], |row| row.get(0))
            .optional()?
            .flatten())
    }

    /// A delivery was made: it leaves the outbox (and an event says so).
    pub fn delivered(&mut self, id: i64, now: i64) -> Result<(), StoreError> {
        self.delivery_outcome(id, now, "delivered", None, |tx| {
            tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?.execute([id])?;
            Ok(())
        })
    }

    /// An attempt failed for now: counted, unclaimed, and due again at `next_attempt`.
    pub fn delivery_deferred(
        &mut self,
        id: i64,
        error: &str,
        next_attempt: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer()?.seal_bytes(&error_context(id), error.as_bytes())?;
        self.delivery_outcome(id, now, "deferred", Some(error), |tx| {
            tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3,
                     claimed_until = NULL WHERE id = ?1",
            )?
            .execute(params![id, sealed, next_attempt])?;
            Ok(())
        })
    }

    /// An attempt was refused for good: kept, marked failed, unclaimed, not retried until asked.
    pub fn delivery_failed(&mut self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        let sealed = self.sealer()?.seal_bytes(&error_context(id), error.as_bytes())?;
        self.delivery_outcome(id, now, "failed", Some(error), |tx| {
            tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, failed = 1, claimed_until = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id, sealed])?;
            Ok(())
        })
    }

    /// Applies an attempt's outcome to delivery `id` and records its event, in one transaction.
    fn delivery_outcome(
        &mut self,
        id: i64,
        now: i64,
        state: &str,
        error: Option<&str>,
        apply: impl FnOnce(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1");
        let Some(delivery) = read_deliveries(&tx, sealer, &sql, [id])?.pop() else {
            return Ok(()); // dropped meanwhile: nothing to tell
        };
        apply(&tx)?;
        let route = if delivery.target.is_empty() {
            delivery.transport
        } else {
            format!("{}:{}", delivery.transport, delivery.target)
        };
        let body = super::EventBody::Delivery {
            outbox_id: id,
            message_id: delivery.message_id,
            route,
            state: state.to_owned(),
            error: error.map(str::to_owned),
        };
        super::events::record(&tx, sealer, &body, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Makes deliveries due again at `now` (failed ones too): all, or those in `ids`. A
    /// delivery being tried right now keeps its claim. Returns how many.
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

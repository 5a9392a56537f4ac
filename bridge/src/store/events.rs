//! The event log: what happened, numbered by the store so that a client of the API that
//! reconnects asks for everything after the last id it saw and gets it, with no gap and nothing
//! twice. Events are written in the transaction of what they tell of (a message stored, a
//! delivery's outcome), so an event exists exactly when its cause was committed. Details are
//! sealed (context `event:<id>`); only the id, the kind and the time stay clear.

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use super::sealer::Sealer;
use super::{MessageId, Store, StoreError};

/// What an event tells of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventBody {
    /// A message new to history (received over a transport, scanned, or sent from here).
    Message {
        /// Its history id.
        message_id: MessageId,
    },
    /// A delivery of the outbox was made, deferred or refused.
    Delivery {
        /// The outbox id.
        outbox_id: i64,
        /// The sent message it carries, if still in history.
        message_id: Option<MessageId>,
        /// `TRANSPORT[:TARGET]`.
        route: String,
        /// `delivered`, `deferred` or `failed`.
        state: String,
        /// Why it was not delivered.
        error: Option<String>,
    },
    /// A transport's health changed.
    Health {
        /// The transport instance.
        transport: String,
        /// `up`, `down` or `stopped`.
        state: String,
        /// What happened, never a secret.
        detail: String,
    },
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id: increasing, never reused.
    pub id: i64,
    /// When it was recorded (Unix seconds).
    pub at: i64,
    /// What happened.
    pub body: EventBody,
}

fn kind(body: &EventBody) -> &'static str {
    match body {
        EventBody::Message { .. } => "message",
        EventBody::Delivery { .. } => "delivery",
        EventBody::Health { .. } => "health",
    }
}

/// Records an event (inside the caller's transaction, if any).
pub(super) fn record(
    conn: &Connection,
    sealer: Sealer<'_>,
    body: &EventBody,
    at: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO events (kind, record, at) VALUES (?1, x'', ?2)")?
        .execute(params![kind(body), at])?;
    let id = conn.last_insert_rowid();
    let sealed = sealer.seal(&format!("event:{id}"), body)?;
    conn.prepare_cached("UPDATE events SET record = ?2 WHERE id = ?1")?.execute(params![id, sealed])?;
    Ok(id)
}

impl Store {
    /// Events after `after` (0: from the first kept), oldest first, at most `limit`.
    pub fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sealer = self.sealer()?;
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, record, at FROM events WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let mut rows = statement.query(params![after, i64::try_from(limit).unwrap_or(i64::MAX)])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            events.push(Event { id, at: row.get(2)?, body: sealer.open(&format!("event:{id}"), &record)? });
        }
        Ok(events)
    }

    /// The newest event's id (0 when there is none).
    pub fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |row| row.get(0))?)
    }

    /// The oldest event still kept (`None` when there is none): a client resuming from before it
    /// has missed events that were pruned.
    pub fn first_event_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row("SELECT min(id) FROM events", [], |row| row.get(0)).optional()?.flatten())
    }

    /// Records that a transport's health changed.
    pub fn record_health(
        &self,
        transport: &str,
        state: &str,
        detail: &str,
        at: i64,
    ) -> Result<i64, StoreError> {
        let body = EventBody::Health {
            transport: transport.to_owned(),
            state: state.to_owned(),
            detail: detail.to_owned(),
        };
        record(&self.conn, self.sealer()?, &body, at)
    }

    /// Forgets events beyond the newest `keep` and those older than `before` (Unix seconds).
    /// Returns how many were forgotten.
    pub fn prune_events(&self, keep: u64, before: i64) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        Ok(self.conn.execute(
            "DELETE FROM events WHERE at < ?2 OR id <= (SELECT coalesce(max(id), 0) FROM events) - ?1",
            params![keep, before],
        )?)
    }
}

//! Pointers no known chat opens yet. They are kept so that adding a chat can retry them: the
//! caller lists them with [`Store::pending`], tries to open each with the new chat, and ingests
//! the ones it opens as [`ArrivalItem::Opened`](super::ArrivalItem::Opened), which removes
//! their pending rows in the same transaction.

use super::{Digest, Store, StoreError, digest_from_blob};

/// A pointer kept because no known chat opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPointer {
    /// The pointer's digest.
    pub digest: Digest,
    /// The pointer as it travelled.
    pub pointer_text: String,
    /// The transport of its first arrival.
    pub transport: String,
    /// Where in that transport.
    pub origin: String,
    /// When it first arrived (Unix seconds).
    pub first_seen: i64,
}

impl Store {
    /// All pending pointers, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingPointer>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT digest, pointer, transport, origin, first_seen FROM pending ORDER BY first_seen, digest",
        )?;
        let mut rows = statement.query([])?;
        let mut pending = Vec::new();
        while let Some(row) = rows.next()? {
            pending.push(PendingPointer {
                digest: digest_from_blob(row.get(0)?)?,
                pointer_text: row.get(1)?,
                transport: row.get(2)?,
                origin: row.get(3)?,
                first_seen: row.get(4)?,
            });
        }
        Ok(pending)
    }

    /// How many pointers are pending.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM pending", [], |row| row.get(0))?)
    }
}

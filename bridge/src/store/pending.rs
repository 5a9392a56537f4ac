//! Pointers no known chat opens yet. They are kept so that adding a chat can retry them: the
//! caller lists them with [`Store::pending`], tries to open each with the new chat, and ingests
//! the ones it opens as [`ArrivalItem::Opened`](super::ArrivalItem::Opened), which removes
//! their pending rows in the same transaction. Each row is a sealed record (pointer, transport,
//! origin) found by the keyed digest; its size and first arrival stay clear for the limits.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::sealer::{Sealer, hex};
use super::{Digest, Store, StoreError};

/// A pointer kept because no known chat opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPointer {
    /// The pointer as it travelled.
    pub pointer_text: String,
    /// The transport of its first arrival.
    pub transport: String,
    /// Where in that transport.
    pub origin: String,
    /// When it first arrived (Unix seconds).
    pub first_seen: i64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct PendingRecord {
    /// The pointer's digest, hex (to re-key the row when the passphrase changes).
    pub(super) digest: String,
    pub(super) pointer: String,
    pub(super) transport: String,
    pub(super) origin: String,
}

pub(super) fn context(digest_key: &[u8; 32]) -> String {
    format!("pending:{}", hex(digest_key))
}

/// Keeps a pointer as pending (inside the caller's transaction), unless it is already.
#[allow(clippy::too_many_arguments)] // one row's columns, all needed
pub(super) fn keep(
    conn: &Connection,
    sealer: Sealer<'_>,
    digest: &Digest,
    pointer: &str,
    transport: &str,
    origin: &str,
    now: i64,
) -> Result<(), StoreError> {
    let digest_key = &super::messages::digest_key(sealer, digest);
    let known: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM pending WHERE digest_key = ?1)")?
        .query_row([digest_key], |row| row.get(0))?;
    if known {
        return Ok(());
    }
    let record = PendingRecord {
        digest: hex(digest),
        pointer: pointer.to_owned(),
        transport: transport.to_owned(),
        origin: origin.to_owned(),
    };
    let sealed = sealer.seal(&context(digest_key), &record)?;
    conn.prepare_cached(
        "INSERT INTO pending (digest_key, record, bytes, first_seen) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![digest_key, sealed, sealed.len(), now])?;
    Ok(())
}

/// Removes a pending pointer (it opened, or was sent from here).
pub(super) fn forget(conn: &Connection, digest_key: &[u8; 32]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM pending WHERE digest_key = ?1")?.execute([digest_key])?;
    Ok(())
}

impl Store {
    /// All pending pointers, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingPointer>, StoreError> {
        let sealer = self.sealer()?;
        let mut statement = self.conn.prepare_cached(
            "SELECT digest_key, record, first_seen FROM pending ORDER BY first_seen, digest_key",
        )?;
        let mut rows = statement.query([])?;
        let mut pending = Vec::new();
        while let Some(row) = rows.next()? {
            let key: [u8; 32] = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            let PendingRecord { pointer, transport, origin, .. } = sealer.open(&context(&key), &record)?;
            pending.push(PendingPointer {
                pointer_text: pointer,
                transport,
                origin,
                first_seen: row.get(2)?,
            });
        }
        Ok(pending)
    }

    /// How many pointers are pending.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM pending", [], |row| row.get(0))?)
    }
}

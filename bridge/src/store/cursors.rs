//! Transport cursors: each transport's position (IMAP UIDVALIDITY and UID, a sync token, a
//! drop folder's seen-set entries), as key-value pairs per transport. [`Store::ingest`] writes
//! one in the transaction of the messages it produced, so a restart resumes exactly there.

use rusqlite::{Connection, params};

use super::{Store, StoreError};

/// Inserts or replaces one cursor value (inside the caller's transaction, if any).
pub(super) fn upsert_cursor(
    conn: &Connection,
    transport: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO cursors (transport, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (transport, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![transport, key, value])?;
    Ok(())
}

impl Store {
    /// A transport's cursor values, as `(key, value)` sorted by key.
    pub fn cursors(&self, transport: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut statement =
            self.conn.prepare_cached("SELECT key, value FROM cursors WHERE transport = ?1 ORDER BY key")?;
        let rows = statement.query_map([transport], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets one cursor value on its own, for a transport position that produced no message
    /// (with messages, pass the cursor to [`Store::ingest`] instead).
    pub fn set_cursor(&self, transport: &str, key: &str, value: &str) -> Result<(), StoreError> {
        upsert_cursor(&self.conn, transport, key, value)
    }
}

//! Transport cursors: each transport's position (IMAP UIDVALIDITY and UID, a sync token, a
//! drop folder's seen-set entries), as key-value pairs per transport. [`Store::ingest`] writes
//! one in the transaction of the messages it produced, so a restart resumes exactly there.
//! Keys and values are sealed (a folder name, a room id, a file name's hash are metadata);
//! rows are found by keyed hashes of (transport, key) and of the transport.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::sealer::{Sealer, hex};
use super::{Store, StoreError};

#[derive(Serialize, Deserialize)]
pub(super) struct CursorRecord {
    pub(super) transport: String,
    pub(super) key: String,
    pub(super) value: String,
}

pub(super) fn context(cursor_key: &[u8; 32]) -> String {
    format!("cursor:{}", hex(cursor_key))
}

fn transport_key(sealer: Sealer<'_>, transport: &str) -> [u8; 32] {
    sealer.key("cursor-transport", &[transport.as_bytes()])
}

/// Inserts or replaces one cursor value (inside the caller's transaction, if any).
pub(super) fn upsert_cursor(
    conn: &Connection,
    sealer: Sealer<'_>,
    transport: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    let cursor_key = sealer.key("cursor", &[transport.as_bytes(), key.as_bytes()]);
    let record =
        CursorRecord { transport: transport.to_owned(), key: key.to_owned(), value: value.to_owned() };
    let record = sealer.seal(&context(&cursor_key), &record)?;
    conn.prepare_cached(
        "INSERT INTO cursors (cursor_key, transport_key, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (cursor_key) DO UPDATE SET record = excluded.record",
    )?
    .execute(params![cursor_key, transport_key(sealer, transport), record])?;
    Ok(())
}

impl Store {
    /// A transport's cursor values, as `(key, value)` sorted by key.
    pub fn cursors(&self, transport: &str) -> Result<Vec<(String, String)>, StoreError> {
        let sealer = self.sealer()?;
        let mut statement =
            self.conn.prepare_cached("SELECT cursor_key, record FROM cursors WHERE transport_key = ?1")?;
        let mut rows = statement.query([transport_key(sealer, transport)])?;
        let mut cursors = Vec::new();
        while let Some(row) = rows.next()? {
            let cursor_key: [u8; 32] = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            let CursorRecord { key, value, .. } = sealer.open(&context(&cursor_key), &record)?;
            cursors.push((key, value));
        }
        cursors.sort();
        Ok(cursors)
    }

    /// A transport's cursors as the adapter takes them back (`run`, `doctor`'s checks).
    pub fn transport_cursors(&self, transport: &str) -> Result<Vec<clm_adapters::Cursor>, StoreError> {
        let cursors = self.cursors(transport)?;
        Ok(cursors.into_iter().map(|(key, value)| clm_adapters::Cursor { key, value }).collect())
    }

    /// Sets one cursor value on its own, for a transport position that produced no message
    /// (with messages, pass the cursor to [`Store::ingest`] instead).
    pub fn set_cursor(&self, transport: &str, key: &str, value: &str) -> Result<(), StoreError> {
        upsert_cursor(&self.conn, self.sealer()?, transport, key, value)
    }
}

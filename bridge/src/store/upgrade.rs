//! Sealing a database written before rows were sealed (schema version 2): migration 3 keeps
//! the old tables as `clear_*`; the first unlock reads them, seals every row into the new
//! tables (ids kept, so references hold) and drops them, all in one transaction. A crash
//! midway leaves the clear tables as they were, and the next unlock starts again.

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::chats::{insert_chat, insert_route};
use super::cursors::upsert_cursor;
use super::messages::{Direction, MessageRow, insert_message, note_arrival};
use super::sealer::Sealer;
use super::{ChatId, Digest, NewChat, Store, StoreError, format_named};

/// The clear tables, children first (the order they are dropped in).
const CLEAR_TABLES: [&str; 8] = [
    "clear_arrivals",
    "clear_outbox",
    "clear_pending",
    "clear_messages",
    "clear_routes",
    "clear_chats",
    "clear_cursors",
    "clear_transport_secrets",
];

/// Seals the rows of the clear tables, if any are left, then drops them.
pub(super) fn seal_clear_rows(store: &mut Store) -> Result<(), StoreError> {
    let (conn, sealer) = store.parts()?;
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clear_chats')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    seal_identity(&tx, sealer)?;
    seal_chats(&tx, sealer)?;
    seal_messages(&tx, sealer)?;
    seal_others(&tx, sealer)?;
    for table in CLEAR_TABLES {
        tx.execute_batch(&format!("DROP TABLE {table}"))?;
    }
    tx.commit()?;
    // The clear rows' pages were zeroed (secure_delete); rewrite the file and empty the WAL so
    // no copy of them is left. Best effort: another process holding the database open only
    // delays this to a later checkpoint.
    if let Err(error) = conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %error, "sealed the store's rows, but could not compact it yet");
    }
    Ok(())
}

fn seal_identity(conn: &Connection, sealer: Sealer<'_>) -> Result<(), StoreError> {
    let identity: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'identity'", [], |row| row.get(0)).optional()?;
    if let Some(name) = identity {
        let sealed = sealer.seal_bytes("meta:identity", name.as_bytes())?;
        conn.execute("INSERT OR REPLACE INTO sealed_meta (key, value) VALUES ('identity', ?1)", [sealed])?;
        conn.execute("DELETE FROM meta WHERE key = 'identity'", [])?;
    }
    Ok(())
}

fn seal_chats(conn: &Connection, sealer: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT id, name, format, clm201_chat_id, seed_suffix, secret, native_root, created_at FROM clear_chats",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: ChatId = row.get(0)?;
        let (name, format): (String, String) = (row.get(1)?, row.get(2)?);
        let (clm201_chat_id, seed_suffix): (Option<String>, Option<String>) = (row.get(3)?, row.get(4)?);
        let sealed_secret: Vec<u8> = row.get(5)?;
        let secret = sealer.open_bytes(&format!("chat-secret:{id}"), &sealed_secret)?;
        let sealed_root: Option<Vec<u8>> = row.get(6)?;
        let root = sealed_root
            .map(|root| sealer.open_bytes(&format!("chat-native-root:{id}"), &root))
            .transpose()?;
        let root: Option<[u8; 32]> = root.and_then(|root| root.as_slice().try_into().ok());
        let chat = NewChat {
            name: &name,
            format: format_named(&format)?,
            secret: &secret,
            clm201_chat_id: clm201_chat_id.as_deref(),
            seed_suffix: seed_suffix.as_deref(),
            native_root: root.as_ref(),
            native_salt: None,
            created_at: row.get(7)?,
        };
        insert_chat(conn, sealer, Some(id), &chat)?;
    }
    let mut statement = conn.prepare("SELECT chat_id, transport, target FROM clear_routes")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        insert_route(conn, sealer, row.get(0)?, &row.get::<_, String>(1)?, &row.get::<_, String>(2)?)?;
    }
    Ok(())
}

fn seal_messages(conn: &Connection, sealer: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT id, chat_id, digest, direction, format, epoch, sender, body, truncated, pointer, stored_at,
                trashed_at FROM clear_messages ORDER BY id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let digest: Digest = row.get(2)?;
        let digest_hex = super::sealer::hex(&digest);
        let open_text = |column: usize, what: &str| -> Result<String, StoreError> {
            let sealed: Vec<u8> = row.get(column)?;
            let plain = sealer.open_bytes(&format!("message-{what}:{digest_hex}"), &sealed)?;
            String::from_utf8(plain.to_vec())
                .map_err(|_| StoreError::Corrupt(format!("a message {what} is not UTF-8")))
        };
        let (sender, text) = (open_text(6, "sender")?, open_text(7, "text")?);
        let direction = match row.get::<_, String>(3)?.as_str() {
            "sent" => Direction::Sent,
            _ => Direction::Received,
        };
        let pointer: String = row.get(9)?;
        let message = MessageRow {
            chat_id: row.get(1)?,
            digest: &digest,
            direction,
            format: format_named(&row.get::<_, String>(4)?)?,
            pointer_text: &pointer,
            epoch: row.get::<_, i64>(5)?.cast_unsigned(),
            sender: &sender,
            text: &text,
            truncated: row.get(8)?,
            now: row.get(10)?,
        };
        let id = insert_message(conn, sealer, Some(row.get(0)?), &message)?;
        conn.execute(
            "UPDATE messages SET trashed_at = ?2 WHERE id = ?1",
            params![id, row.get::<_, Option<i64>>(11)?],
        )?;
    }
    let mut statement =
        conn.prepare("SELECT message_id, transport, origin, arrived_at FROM clear_arrivals")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let (transport, origin): (String, String) = (row.get(1)?, row.get(2)?);
        note_arrival(conn, sealer, row.get(0)?, &transport, &origin, row.get(3)?)?;
    }
    Ok(())
}

fn seal_others(conn: &Connection, sealer: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement =
        conn.prepare("SELECT digest, pointer, transport, origin, first_seen FROM clear_pending")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let digest: Digest = row.get(0)?;
        let (pointer, transport, origin): (String, String, String) = (row.get(1)?, row.get(2)?, row.get(3)?);
        super::pending::keep(conn, sealer, &digest, &pointer, &transport, &origin, row.get(4)?)?;
    }
    let mut statement = conn.prepare("SELECT transport, key, value FROM clear_cursors")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let (transport, key, value): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        upsert_cursor(conn, sealer, &transport, &key, &value)?;
    }
    let mut statement = conn.prepare(
        "SELECT id, message_id, transport, target, pointer, attempts, next_attempt, last_error, failed, created_at
         FROM clear_outbox",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        super::outbox::upgrade_row(conn, sealer, row)?;
    }
    let mut statement = conn.prepare("SELECT transport, key, value FROM clear_transport_secrets")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let (transport, key, sealed): (String, String, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let value = sealer.open_bytes(&format!("transport-secret:{transport}:{key}"), &sealed)?;
        super::transport_secrets::upsert_secret(conn, sealer, &transport, &key, &value)?;
    }
    Ok(())
}

//! A new vault key (`clm-bridge passphrase change`): every sealed record is opened with the old
//! key and sealed with the new one, and every keyed hash computed anew, in ONE transaction
//! together with the new vault header. A crash midway leaves the old key working.

use rusqlite::{Connection, TransactionBehavior, params};

use super::chats::{insert_route, reseal_chat};
use super::cursors::{CursorRecord, upsert_cursor};
use super::messages::{ArrivalSealed, MessageRecord, message_context, note_arrival};
use super::pending::PendingRecord;
use super::relays::RelayedRecord;
use super::sealer::Sealer;
use super::transport_secrets::{open_record, unhex, upsert_secret};
use super::trash::{TombstoneRecord, insert_tombstone};
use super::{ChatId, MessageId, Store, StoreError};
use crate::vault::{Vault, VaultHeader};

impl Store {
    /// Re-seals everything under `vault` (a new key: see the module documentation) and stores
    /// its `header`. Afterwards only the new passphrase opens the store.
    pub fn rekey(&mut self, vault: &Vault, header: &VaultHeader) -> Result<(), StoreError> {
        let old = self.vault.clone().ok_or(StoreError::Locked)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (old, new) = (Sealer(&old), Sealer(vault));
        reseal_meta(&tx, old, new)?;
        let chat_ids: Vec<ChatId> = ids(&tx, "SELECT id FROM chats")?;
        for id in chat_ids {
            reseal_chat(&tx, old, new, id)?;
        }
        rekey_routes(&tx, old, new)?;
        rekey_messages(&tx, old, new)?;
        rekey_rows(&tx, old, new)?;
        tx.execute(
            "UPDATE vault SET kdf = ?1, m_kib = ?2, t = ?3, p = ?4, salt = ?5, check_blob = ?6 WHERE id = 1",
            params![
                header.kdf,
                header.params.m_kib,
                header.params.t,
                header.params.p,
                header.salt,
                header.check
            ],
        )?;
        tx.commit()?;
        self.vault = Some(vault.clone());
        Ok(())
    }
}

fn ids(conn: &Connection, sql: &str) -> Result<Vec<i64>, StoreError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A row as `(key blob, record blob, number)`.
type Row = (Vec<u8>, Vec<u8>, i64);

/// Every row of `sql` as [`Row`]s.
fn rows(conn: &Connection, sql: &str) -> Result<Vec<Row>, StoreError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn key_of(blob: &[u8]) -> Result<[u8; 32], StoreError> {
    blob.try_into().map_err(|_| StoreError::Corrupt("a keyed hash of the wrong length".into()))
}

fn digest_of(hex: &str) -> Result<[u8; 32], StoreError> {
    let bytes = unhex(hex)?;
    bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt("a digest of the wrong length".into()))
}

fn reseal_meta(conn: &Connection, old: Sealer<'_>, new: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement = conn.prepare("SELECT key, value FROM sealed_meta")?;
    let meta: Vec<(String, Vec<u8>)> =
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
    for (key, sealed) in meta {
        let context = format!("meta:{key}");
        let value = old.open_bytes(&context, &sealed)?;
        conn.execute(
            "UPDATE sealed_meta SET value = ?2 WHERE key = ?1",
            params![key, new.seal_bytes(&context, &value)?],
        )?;
    }
    Ok(())
}

fn rekey_routes(conn: &Connection, old: Sealer<'_>, new: Sealer<'_>) -> Result<(), StoreError> {
    for (chat_id, route) in super::chats::all_routes(conn, old)? {
        conn.execute("DELETE FROM routes WHERE chat_id = ?1", [chat_id])?;
        insert_route(conn, new, chat_id, &route.transport, &route.target)?;
    }
    Ok(())
}

fn rekey_messages(conn: &Connection, old: Sealer<'_>, new: Sealer<'_>) -> Result<(), StoreError> {
    let mut statement = conn.prepare("SELECT id, chat_id, record FROM messages")?;
    let messages: Vec<(MessageId, ChatId, Vec<u8>)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, chat_id, sealed) in messages {
        let context = message_context(id, chat_id);
        let record: MessageRecord = old.open(&context, &sealed)?;
        let key = super::messages::digest_key(new, &digest_of(&record.digest)?);
        conn.execute(
            "UPDATE messages SET digest_key = ?2, record = ?3 WHERE id = ?1",
            params![id, key, new.seal(&context, &record)?],
        )?;
    }
    let mut statement = conn.prepare("SELECT arrival_key, record, message_id, arrived_at FROM arrivals")?;
    let arrivals: Vec<(Vec<u8>, Vec<u8>, MessageId, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))?
        .collect::<Result<_, _>>()?;
    conn.execute("DELETE FROM arrivals", [])?;
    for (key, sealed, message, arrived_at) in arrivals {
        let context = super::messages::arrival_context(message, &key_of(&key)?);
        let ArrivalSealed { transport, origin } = old.open(&context, &sealed)?;
        note_arrival(conn, new, message, &transport, &origin, arrived_at)?;
    }
    Ok(())
}

fn rekey_rows(conn: &Connection, old: Sealer<'_>, new: Sealer<'_>) -> Result<(), StoreError> {
    let pending = rows(conn, "SELECT digest_key, record, first_seen FROM pending")?;
    conn.execute("DELETE FROM pending", [])?;
    for (key, sealed, first_seen) in pending {
        let record: PendingRecord = old.open(&super::pending::context(&key_of(&key)?), &sealed)?;
        let digest = digest_of(&record.digest)?;
        super::pending::keep(
            conn,
            new,
            &digest,
            &record.pointer,
            &record.transport,
            &record.origin,
            first_seen,
        )?;
    }
    let cursors = rows(conn, "SELECT cursor_key, record, 0 FROM cursors")?;
    conn.execute("DELETE FROM cursors", [])?;
    for (key, sealed, _) in cursors {
        let CursorRecord { transport, key, value } =
            old.open(&super::cursors::context(&key_of(&key)?), &sealed)?;
        upsert_cursor(conn, new, &transport, &key, &value)?;
    }
    let secrets = rows(conn, "SELECT secret_key, record, 0 FROM transport_secrets")?;
    conn.execute("DELETE FROM transport_secrets", [])?;
    for (key, sealed, _) in secrets {
        let record = open_record(old, &key_of(&key)?, &sealed)?;
        upsert_secret(conn, new, &record.transport, &record.key, &unhex(&record.value)?)?;
    }
    let tombstones = rows(conn, "SELECT digest_key, record, purged_at FROM tombstones")?;
    conn.execute("DELETE FROM tombstones", [])?;
    for (key, sealed, purged_at) in tombstones {
        let record: TombstoneRecord = old.open(&super::trash::tombstone_context(&key_of(&key)?), &sealed)?;
        let new_key = super::messages::digest_key(new, &digest_of(&record.digest)?);
        insert_tombstone(conn, new, &new_key, record.digest, purged_at)?;
    }
    let relayed = rows(conn, "SELECT relay_key, record, at FROM relayed")?;
    conn.execute("DELETE FROM relayed", [])?;
    for (key, sealed, at) in relayed {
        let record: RelayedRecord = old.open(&super::relays::context(&key_of(&key)?), &sealed)?;
        super::relays::mark(conn, new, &record.gateway, &record.route, &digest_of(&record.digest)?, at)?;
    }
    super::outbox::reseal_all(conn, old, new)
}

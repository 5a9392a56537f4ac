//! Transports' secret state (see [`clm_adapters::SecretStore`]): one sealed record per value
//! (transport, key, value), found by a keyed hash of (transport, key), so neither the value nor
//! which transport keeps what can be read.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::sealer::{Sealer, hex};
use super::{Store, StoreError};

/// A transport secret's sealed record. The value is hex, so the record stays JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct SecretRecord {
    pub(super) transport: String,
    pub(super) key: String,
    pub(super) value: String,
}

fn secret_key(sealer: Sealer<'_>, transport: &str, key: &str) -> [u8; 32] {
    sealer.key("transport-secret", &[transport.as_bytes(), key.as_bytes()])
}

fn context(secret_key: &[u8; 32]) -> String {
    format!("transport-secret:{}", hex(secret_key))
}

/// Saves (replaces) a transport secret (inside the caller's transaction, if any).
pub(super) fn upsert_secret(
    conn: &Connection,
    sealer: Sealer<'_>,
    transport: &str,
    key: &str,
    value: &[u8],
) -> Result<(), StoreError> {
    let row_key = secret_key(sealer, transport, key);
    let record = SecretRecord { transport: transport.to_owned(), key: key.to_owned(), value: hex(value) };
    let sealed = sealer.seal(&context(&row_key), &record)?;
    let _wipe = Zeroizing::new(record.value);
    conn.prepare_cached(
        "INSERT INTO transport_secrets (secret_key, record) VALUES (?1, ?2)
         ON CONFLICT (secret_key) DO UPDATE SET record = excluded.record",
    )?
    .execute(params![row_key, sealed])?;
    Ok(())
}

/// Opens a stored record.
pub(super) fn open_record(
    sealer: Sealer<'_>,
    row_key: &[u8; 32],
    sealed: &[u8],
) -> Result<SecretRecord, StoreError> {
    sealer.open(&context(row_key), sealed)
}

/// Hex back to bytes.
pub(super) fn unhex(text: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let bad = || StoreError::Corrupt("a transport secret is not hex".into());
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.as_bytes().chunks(2) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        bytes.push(u8::from_str_radix(pair, 16).map_err(|_| bad())?);
    }
    Ok(bytes)
}

impl Store {
    /// The secret `key` of `transport`, unsealed, if saved.
    pub fn transport_secret(
        &self,
        transport: &str,
        key: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let sealer = self.sealer()?;
        let row_key = secret_key(sealer, transport, key);
        let sealed: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM transport_secrets WHERE secret_key = ?1")?
            .query_row([row_key], |row| row.get(0))
            .optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let record = open_record(sealer, &row_key, &sealed)?;
        let value = Zeroizing::new(record.value);
        Ok(Some(unhex(&value)?))
    }

    /// Seals and saves (replacing) the secret `key` of `transport`.
    pub fn set_transport_secret(&self, transport: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        upsert_secret(&self.conn, self.sealer()?, transport, key, value)
    }
}

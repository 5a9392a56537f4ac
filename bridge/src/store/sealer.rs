//! Sealing rows under the vault: records (several columns' worth of values) are serialised and
//! sealed with a context naming their table, row and owner, so a blob moved to another row,
//! table or chat does not open; lookup columns hold keyed hashes ([`Vault::keyed`]) instead of
//! the values. What stays clear in the database is ids, counts, sizes and storage times.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::StoreError;
use crate::vault::Vault;

/// The unlocked vault, as the store uses it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sealer<'a>(pub(super) &'a Vault);

impl Sealer<'_> {
    /// Seals `record` (as JSON) for `context`.
    pub(super) fn seal<T: Serialize>(&self, context: &str, record: &T) -> Result<Vec<u8>, StoreError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(record).map_err(|error| StoreError::Corrupt(format!("{context}: {error}")))?,
        );
        Ok(self.0.seal(context, &plain)?)
    }

    /// Opens a record [`Sealer::seal`] made for `context`.
    pub(super) fn open<T: DeserializeOwned>(&self, context: &str, blob: &[u8]) -> Result<T, StoreError> {
        let plain = self.0.open_sealed(context, blob)?;
        serde_json::from_slice(&plain).map_err(|error| StoreError::Corrupt(format!("{context}: {error}")))
    }

    /// Seals raw bytes (a secret) for `context`.
    pub(super) fn seal_bytes(&self, context: &str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.seal(context, bytes)?)
    }

    /// Opens raw bytes sealed for `context`.
    pub(super) fn open_bytes(&self, context: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        Ok(self.0.open_sealed(context, blob)?)
    }

    /// The keyed hash a lookup column holds for `parts`.
    pub(super) fn key(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        self.0.keyed(label, parts)
    }
}

/// Lower-case hex, for sealing contexts that name a keyed hash.
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

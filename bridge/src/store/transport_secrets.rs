//! Transports' secret state (see [`clm_adapters::SecretStore`]): sealed under the vault key with
//! a context naming the transport and key, so a value cannot be moved to another row unnoticed.

use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

use super::{Store, StoreError};
use crate::vault::Vault;

fn context(transport: &str, key: &str) -> String {
    format!("transport-secret:{transport}:{key}")
}

impl Store {
    /// The secret `key` of `transport`, unsealed, if saved.
    pub fn transport_secret(
        &self,
        vault: &Vault,
        transport: &str,
        key: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT value FROM transport_secrets WHERE transport = ?1 AND key = ?2")?
            .query_row(params![transport, key], |row| row.get(0))
            .optional()?;
        sealed.map(|sealed| Ok(vault.open_sealed(&context(transport, key), &sealed)?)).transpose()
    }

    /// Seals and saves (replacing) the secret `key` of `transport`.
    pub fn set_transport_secret(
        &self,
        vault: &Vault,
        transport: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = vault.seal(&context(transport, key), value)?;
        self.conn
            .prepare_cached(
                "INSERT INTO transport_secrets (transport, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (transport, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![transport, key, sealed])?;
        Ok(())
    }
}

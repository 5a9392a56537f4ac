//! The bridge's [`SecretStore`] for transports: values sealed in the vault and kept in the
//! bridge's database. Each call opens its own short-lived connection: these are rare (a login,
//! a token refresh) and must not contend with the daemon's ingest connection.

use std::path::PathBuf;
use std::sync::Arc;

use clm_adapters::{SecretStore, TransportError};
use zeroize::Zeroizing;

use crate::store::Store;
use crate::vault::Vault;

/// Secrets of one transport instance.
#[derive(Debug)]
pub struct VaultSecrets {
    database: PathBuf,
    vault: Arc<Vault>,
    transport: String,
}

impl VaultSecrets {
    /// The secrets of `transport` in the database at `database`, sealed by `vault`.
    pub fn new(database: PathBuf, vault: Arc<Vault>, transport: String) -> VaultSecrets {
        VaultSecrets { database, vault, transport }
    }

    fn store(&self) -> Result<Store, TransportError> {
        let mut store =
            Store::open(&self.database).map_err(|e| TransportError::SecretState(e.to_string()))?;
        store.unlock(&self.vault).map_err(|e| TransportError::SecretState(e.to_string()))?;
        Ok(store)
    }
}

impl SecretStore for VaultSecrets {
    fn load(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, TransportError> {
        self.store()?
            .transport_secret(&self.transport, key)
            .map_err(|e| TransportError::SecretState(e.to_string()))
    }

    fn save(&self, key: &str, value: &[u8]) -> Result<(), TransportError> {
        self.store()?
            .set_transport_secret(&self.transport, key, value)
            .map_err(|e| TransportError::SecretState(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::test_context;

    #[test]
    fn secrets_round_trip_sealed_per_transport() {
        let dir = tempfile::tempdir().unwrap();
        let context = test_context(dir.path());
        let matrix = context.secrets("matrix.home");
        assert!(matrix.load("session").unwrap().is_none());
        matrix.save("session", b"token-1234").unwrap();
        matrix.save("session", b"token-5678").unwrap();
        assert_eq!(matrix.load("session").unwrap().unwrap().as_slice(), b"token-5678");
        assert!(context.secrets("matrix.work").load("session").unwrap().is_none(), "per transport");
        let raw = std::fs::read(dir.path().join("bridge.db")).unwrap();
        assert!(!raw.windows(10).any(|w| w == b"token-5678"), "sealed at rest");
    }
}

//! The SQLite store: chats and their sealed secrets, message history, pending pointers,
//! transport cursors and the outbox, in one database file in the data directory.
//!
//! - Nothing readable at rest: every name, address, route, origin, epoch, pointer and text is
//!   sealed under the [`Vault`] in records bound to their row and owner (`sealer.rs`), and
//!   lookups go by keyed hashes; a stolen data dir shows ids, counts, sizes and storage times.
//!   [`Store::open`] gives a locked store (the vault header, migrations); [`Store::unlock`]
//!   attaches the vault, after which everything else works.
//!
//! - WAL journal with `synchronous = NORMAL`: every committed transaction is in the WAL file
//!   before `commit` returns, so a killed process (`kill -9`) loses nothing committed; only an
//!   operating system crash or power loss can roll back the last few commits, and never
//!   corrupts the database.
//! - Messages are deduplicated by pointer digest ([`clm_core::Pointer::digest`], stored keyed):
//!   the same pointer over two transports, or twice, is one message with two arrivals; a purged
//!   message leaves a tombstone so it is not shown as new when it is read again.
//! - Times are Unix seconds given by the caller.

mod chats;
mod cursors;
mod events;
mod lookup;
mod messages;
mod outbox;
mod pending;
mod rekey;
mod relays;
pub mod schema;
mod sealer;
mod transport_secrets;
mod trash;
mod upgrade;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clm_core::Format;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, TransactionBehavior, params};

pub use chats::{Chat, NewChat, Route};
pub use events::{Event, EventBody};
pub use lookup::{Counts, HistoryPage};
pub use messages::{
    Arrival, ArrivalItem, ArrivalRecord, Direction, HistoryEntry, HistoryQuery, IngestOutcome, PurgeTarget,
    SentMessage,
};
pub use outbox::{Delivery, NewDelivery};
pub use pending::{
    PendingFilter, PendingGroup, PendingKey, PendingPage, PendingPointer, PendingTotals, Shed,
};
pub use relays::{RelayTarget, Relaying};

use self::sealer::Sealer;
use crate::paths;
use crate::vault::{KdfParams, Vault, VaultError, VaultHeader};

/// A chat's row id.
pub type ChatId = i64;
/// A message's row id.
pub type MessageId = i64;
/// A pointer digest ([`clm_core::Pointer::digest`]).
pub type Digest = [u8; 32];

/// How long a write waits for another connection (say, the CLI while the daemon runs) to
/// finish its transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL pages (4 KiB each) between automatic checkpoints.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8000;
/// Size the WAL file is cut back to after a checkpoint.
const WAL_SIZE_LIMIT_BYTES: i64 = 8 << 20;

/// `sealed_meta` key of the local identity (the sender name of outgoing pointers).
const META_IDENTITY: &str = "identity";

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error (I/O, constraint, locked database, ...).
    #[error("database error: {0}")]
    Database(String),
    /// Creating the database file or changing its mode failed.
    #[error("database file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer clm-bridge.
    #[error(
        "the database has schema version {found}, newer than the {supported} this clm-bridge knows: \
         upgrade clm-bridge"
    )]
    NewerSchema {
        /// The database's version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// A chat with this name already exists.
    #[error("a chat named {0:?} already exists")]
    ChatExists(String),
    /// No chat has this name.
    #[error("no chat named {0:?}")]
    NoSuchChat(String),
    /// No chat has this id.
    #[error("no chat with id {0}")]
    NoSuchChatId(ChatId),
    /// The chat still has messages; removing it needs the purge flag.
    #[error("chat {name:?} has {messages} message(s) in history: purge them to remove the chat")]
    ChatHasMessages {
        /// The chat.
        name: String,
        /// How many messages it has.
        messages: u64,
    },
    /// The database holds no vault yet (`init` has not run).
    #[error("no vault in this data directory yet: run `clm-bridge init` first")]
    NoVault,
    /// The store was used before [`Store::unlock`]: a bug of the caller.
    #[error("the store is locked: the vault must be unlocked first")]
    Locked,
    /// Sealing or unsealing failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A row holds a value this code cannot read back (an unknown format name, a digest of the
    /// wrong length, text that is not UTF-8 after unsealing).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(error.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// A format name read back from a sealed record.
fn format_named(name: &str) -> Result<Format, StoreError> {
    Format::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("unknown pointer format {name:?}")))
}

/// An open history database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The unlocked vault, once [`Store::unlock`] ran.
    vault: Option<Vault>,
    /// How long a claim on a delivery holds, in seconds (see `outbox.rs`).
    claim_seconds: i64,
}

impl Store {
    /// Opens (creating it if needed, mode 0600) the database at `path` and brings its schema up
    /// to date. Refuses a database from a newer clm-bridge.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let io_error = |source| StoreError::Io { path: path.to_owned(), source };
        // Only a missing database is created outside SQLite. Opening and closing an existing
        // one here would drop every POSIX lock this process holds on it, those of its other
        // SQLite connections included (a daemon's): another process could then take the
        // database for unused, checkpoint and remove the WAL under that connection, and
        // writes would be lost. (Regression: the daemon's outbox worker opens its own
        // connection; messages went missing.)
        if path.exists() {
            paths::restrict_if_present(path).map_err(io_error)?;
        } else {
            paths::create_private_file(path).map_err(io_error)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        enable_wal(&conn, path)?;
        // See the module documentation: durable against process kill, fast enough for bulk
        // ingest.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows (purged messages, dropped pending pointers, the clear tables of an
        // upgrade) are overwritten, not left in free pages for anyone reading the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        // Checkpoint every ~32 MiB of WAL instead of SQLite's 4 MiB: ingest touches index pages
        // at random (digests), and a longer interval writes each hot page back once, not many
        // times (100 000-message ingest: about +30%). The file is cut back after checkpoints.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
        let mut store =
            Store { conn, path: path.to_owned(), vault: None, claim_seconds: outbox::CLAIM_SECONDS };
        store.migrate()?;
        for suffix in ["-wal", "-shm"] {
            let mut sibling = path.as_os_str().to_owned();
            sibling.push(suffix);
            let sibling = PathBuf::from(sibling);
            paths::restrict_if_present(&sibling)
                .map_err(|source| StoreError::Io { path: sibling, source })?;
        }
        Ok(store)
    }

    /// Attaches the unlocked vault: from now on rows can be sealed and opened. A database
    /// written before rows were sealed has its clear rows sealed now, in one transaction.
    pub fn unlock(&mut self, vault: &Vault) -> Result<(), StoreError> {
        self.vault = Some(vault.clone());
        upgrade::seal_clear_rows(self)
    }

    /// How long a claim on a delivery this connection takes holds (the settings' `outbox.claim`).
    pub fn set_claim_seconds(&mut self, seconds: i64) {
        self.claim_seconds = seconds.max(1);
    }

    /// The vault, or [`StoreError::Locked`].
    fn sealer(&self) -> Result<Sealer<'_>, StoreError> {
        self.vault.as_ref().map(Sealer).ok_or(StoreError::Locked)
    }

    /// The connection and the vault at once (a transaction borrows the connection mutably).
    fn parts(&mut self) -> Result<(&mut Connection, Sealer<'_>), StoreError> {
        let sealer = self.vault.as_ref().map(Sealer).ok_or(StoreError::Locked)?;
        Ok((&mut self.conn, sealer))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let supported = schema::current_version();
        loop {
            // IMMEDIATE takes the write lock before reading the version, so two processes
            // opening a fresh database at once do not both run the same step.
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
            if found > supported {
                return Err(StoreError::NewerSchema { found, supported });
            }
            let Some(step) = schema::MIGRATIONS.get(found as usize) else {
                return Ok(());
            };
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", found + 1)?;
            tx.commit()?;
        }
    }

    /// Lets the page cache grow to `mib` MiB: for a long-running writer (the daemon), whose
    /// batches otherwise spill dirty pages mid-transaction and read index pages back again.
    pub fn set_cache_mib(&self, mib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -(mib * 1024))?;
        Ok(())
    }

    /// Frees what the connection can of its page cache (it fills up again as needed).
    pub fn release_memory(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "shrink_memory", 1)?;
        Ok(())
    }

    /// Copies the WAL into the main database file and truncates the WAL (SQLite does this on
    /// its own from time to time; useful before backups and in tests).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Records the local identity: the sender name of outgoing pointers (sealed).
    pub fn set_identity(&self, name: &str) -> Result<(), StoreError> {
        let sealed = self.sealer()?.seal_bytes(&format!("meta:{META_IDENTITY}"), name.as_bytes())?;
        self.conn.execute(
            "INSERT INTO sealed_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![META_IDENTITY, sealed],
        )?;
        Ok(())
    }

    /// The local identity, if `init` recorded one.
    pub fn identity(&self) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM sealed_meta WHERE key = ?1", [META_IDENTITY], |row| row.get(0))
            .optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let name = self.sealer()?.open_bytes(&format!("meta:{META_IDENTITY}"), &sealed)?;
        String::from_utf8(name.to_vec())
            .map(Some)
            .map_err(|_| StoreError::Corrupt("the identity is not UTF-8".into()))
    }

    /// The stored vault header, if a vault was created.
    pub fn vault_header(&self) -> Result<Option<VaultHeader>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT kdf, m_kib, t, p, salt, check_blob FROM vault WHERE id = 1", [], |row| {
                Ok(VaultHeader {
                    kdf: row.get(0)?,
                    params: KdfParams { m_kib: row.get(1)?, t: row.get(2)?, p: row.get(3)? },
                    salt: row.get(4)?,
                    check: row.get(5)?,
                })
            })
            .optional()?)
    }

    /// Stores the vault header (replacing any earlier one: only when the key changes and every
    /// sealed value is resealed in the same transaction).
    pub fn set_vault_header(&self, header: &VaultHeader) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO vault (id, kdf, m_kib, t, p, salt, check_blob) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET kdf = excluded.kdf, m_kib = excluded.m_kib, t = excluded.t,
                 p = excluded.p, salt = excluded.salt, check_blob = excluded.check_blob",
            params![
                header.kdf,
                header.params.m_kib,
                header.params.t,
                header.params.p,
                header.salt,
                header.check
            ],
        )?;
        Ok(())
    }

    /// The stored vault header, or [`StoreError::NoVault`].
    pub fn require_vault_header(&self) -> Result<VaultHeader, StoreError> {
        self.vault_header()?.ok_or(StoreError::NoVault)
    }
}

/// Switches the database to WAL journaling (a persistent setting, so only a fresh database
/// actually changes). The switch needs an exclusive lock and SQLite reports a conflict with a
/// second process creating the same database as busy without calling the busy handler, so
/// this retries until [`BUSY_TIMEOUT`].
fn enable_wal(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(StoreError::Database(format!(
                    "could not switch {} to WAL journaling (got {mode:?}): is it on a network file system?",
                    path.display()
                )));
            }
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_events;
#[cfg(test)]
mod tests_relays;
#[cfg(test)]
mod tests_sealed;

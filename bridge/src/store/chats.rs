//! Chats, their sealed secrets, and their routes.

use clm_core::Format;
use rusqlite::{OptionalExtension as _, Row, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::{ChatId, FormatColumn, Store, StoreError};
use crate::vault::Vault;

/// A chat to add.
#[derive(Debug, Clone, Copy)]
pub struct NewChat<'a> {
    /// Its local name (unique).
    pub name: &'a str,
    /// Its pointer format.
    pub format: Format,
    /// The chat secret (for clm201, the master seed). Sealed before it is stored.
    pub secret: &'a [u8],
    /// clm201: the chat id that travels in clear in `c`.
    pub clm201_chat_id: Option<&'a str>,
    /// clm201: the seed suffix.
    pub seed_suffix: Option<&'a str>,
    /// Native: the Argon2id root of the secret, cached so that opening the vault does not run
    /// the chat KDF again. Sealed before it is stored.
    pub native_root: Option<&'a [u8; 32]>,
    /// When the chat was added (Unix seconds).
    pub created_at: i64,
}

/// A stored chat, without its secrets (see [`Store::chat_secret`], [`Store::chat_native_root`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// Row id.
    pub id: ChatId,
    /// Local name.
    pub name: String,
    /// Pointer format.
    pub format: Format,
    /// clm201 chat id.
    pub clm201_chat_id: Option<String>,
    /// clm201 seed suffix.
    pub seed_suffix: Option<String>,
    /// When it was added (Unix seconds).
    pub created_at: i64,
}

/// Where a chat's outgoing pointers go: a transport (adapter instance) and a target in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Adapter instance, e.g. `drop.usb`.
    pub transport: String,
    /// Where in that transport, e.g. a folder, a mail address, a room.
    pub target: String,
}

/// Sealing context of a chat secret: bound to the chat's row, so blobs cannot be swapped.
fn secret_context(id: ChatId) -> String {
    format!("chat-secret:{id}")
}

/// Sealing context of a native chat's cached Argon2id root.
fn native_root_context(id: ChatId) -> String {
    format!("chat-native-root:{id}")
}

const CHAT_COLUMNS: &str = "id, name, format, clm201_chat_id, seed_suffix, created_at";

fn chat_from_row(row: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: row.get(0)?,
        name: row.get(1)?,
        format: row.get::<_, FormatColumn>(2)?.0,
        clm201_chat_id: row.get(3)?,
        seed_suffix: row.get(4)?,
        created_at: row.get(5)?,
    })
}

impl Store {
    /// Adds a chat, sealing its secret (and native root). Fails with
    /// [`StoreError::ChatExists`] if the name is taken.
    pub fn add_chat(&mut self, vault: &Vault, chat: &NewChat<'_>) -> Result<ChatId, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM chats WHERE name = ?1)", [chat.name], |row| {
                row.get(0)
            })?;
        if taken {
            return Err(StoreError::ChatExists(chat.name.to_owned()));
        }
        // The sealing contexts name the row id, which exists only after the insert: insert
        // with an empty placeholder, then seal and fill in, all in one transaction.
        tx.execute(
            "INSERT INTO chats (name, format, clm201_chat_id, seed_suffix, secret, created_at)
             VALUES (?1, ?2, ?3, ?4, x'', ?5)",
            params![chat.name, chat.format.name(), chat.clm201_chat_id, chat.seed_suffix, chat.created_at],
        )?;
        let id = tx.last_insert_rowid();
        let secret = vault.seal(&secret_context(id), chat.secret)?;
        let root = chat.native_root.map(|root| vault.seal(&native_root_context(id), root)).transpose()?;
        tx.execute(
            "UPDATE chats SET secret = ?2, native_root = ?3 WHERE id = ?1",
            params![id, secret, root],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// All chats, by name.
    pub fn list_chats(&self) -> Result<Vec<Chat>, StoreError> {
        let mut statement =
            self.conn.prepare_cached(&format!("SELECT {CHAT_COLUMNS} FROM chats ORDER BY name"))?;
        let rows = statement.query_map([], chat_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The chat called `name`, or [`StoreError::NoSuchChat`].
    pub fn chat(&self, name: &str) -> Result<Chat, StoreError> {
        let found = self
            .conn
            .query_row(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE name = ?1"), [name], chat_from_row)
            .optional()?;
        found.ok_or_else(|| StoreError::NoSuchChat(name.to_owned()))
    }

    /// The chat with row id `id`, or [`StoreError::NoSuchChatId`].
    pub fn chat_by_id(&self, id: ChatId) -> Result<Chat, StoreError> {
        let found = self
            .conn
            .query_row(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?1"), [id], chat_from_row)
            .optional()?;
        found.ok_or(StoreError::NoSuchChatId(id))
    }

    /// Renames a chat. Its secrets stay valid: they are bound to the row id, not the name.
    pub fn rename_chat(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM chats WHERE name = ?1)", [new], |row| row.get(0))?;
        if taken && old != new {
            return Err(StoreError::ChatExists(new.to_owned()));
        }
        if tx.execute("UPDATE chats SET name = ?2 WHERE name = ?1", [old, new])? == 0 {
            return Err(StoreError::NoSuchChat(old.to_owned()));
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a chat and its routes. A chat with messages in history (trashed or not) is only
    /// removed with `purge_messages`, which deletes those messages for good; otherwise the
    /// result is [`StoreError::ChatHasMessages`] and nothing changes. History never shows
    /// messages of a chat that no longer exists. Returns how many messages were purged.
    pub fn remove_chat(&mut self, name: &str, purge_messages: bool) -> Result<u64, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: ChatId = tx
            .query_row("SELECT id FROM chats WHERE name = ?1", [name], |row| row.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoSuchChat(name.to_owned()))?;
        let messages: u64 =
            tx.query_row("SELECT count(*) FROM messages WHERE chat_id = ?1", [id], |row| row.get(0))?;
        if messages > 0 && !purge_messages {
            return Err(StoreError::ChatHasMessages { name: name.to_owned(), messages });
        }
        tx.execute("DELETE FROM messages WHERE chat_id = ?1", [id])?;
        tx.execute("DELETE FROM chats WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(messages)
    }

    /// The chat's secret (for clm201, the master seed), unsealed.
    pub fn chat_secret(&self, vault: &Vault, id: ChatId) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let sealed: Vec<u8> = self
            .conn
            .query_row("SELECT secret FROM chats WHERE id = ?1", [id], |row| row.get(0))
            .optional()?
            .ok_or(StoreError::NoSuchChatId(id))?;
        Ok(vault.open_sealed(&secret_context(id), &sealed)?)
    }

    /// The native chat's cached Argon2id root, unsealed, if one is stored.
    pub fn chat_native_root(
        &self,
        vault: &Vault,
        id: ChatId,
    ) -> Result<Option<Zeroizing<[u8; 32]>>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT native_root FROM chats WHERE id = ?1", [id], |row| row.get(0))
            .optional()?
            .ok_or(StoreError::NoSuchChatId(id))?;
        let Some(sealed) = sealed else { return Ok(None) };
        let root = vault.open_sealed(&native_root_context(id), &sealed)?;
        let mut out = Zeroizing::new([0u8; 32]);
        if root.len() != out.len() {
            return Err(StoreError::Corrupt(format!(
                "chat {id}: a native root of {} bytes, not 32",
                root.len()
            )));
        }
        out.copy_from_slice(&root);
        Ok(Some(out))
    }

    /// Caches a native chat's Argon2id root (sealed), e.g. for a chat added before the cache.
    pub fn set_chat_native_root(&self, vault: &Vault, id: ChatId, root: &[u8; 32]) -> Result<(), StoreError> {
        let sealed = vault.seal(&native_root_context(id), root)?;
        if self.conn.execute("UPDATE chats SET native_root = ?2 WHERE id = ?1", params![id, sealed])? == 0 {
            return Err(StoreError::NoSuchChatId(id));
        }
        Ok(())
    }

    /// Adds a route to a chat. Returns false if it was there already.
    pub fn add_route(&self, chat_id: ChatId, transport: &str, target: &str) -> Result<bool, StoreError> {
        let exists: bool =
            self.conn.query_row("SELECT EXISTS (SELECT 1 FROM chats WHERE id = ?1)", [chat_id], |row| {
                row.get(0)
            })?;
        if !exists {
            return Err(StoreError::NoSuchChatId(chat_id));
        }
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO routes (chat_id, transport, target) VALUES (?1, ?2, ?3)",
            params![chat_id, transport, target],
        )?;
        Ok(added == 1)
    }

    /// Removes a route from a chat. Returns false if there was no such route.
    pub fn remove_route(&self, chat_id: ChatId, transport: &str, target: &str) -> Result<bool, StoreError> {
        let removed = self.conn.execute(
            "DELETE FROM routes WHERE chat_id = ?1 AND transport = ?2 AND target = ?3",
            params![chat_id, transport, target],
        )?;
        Ok(removed == 1)
    }

    /// A chat's routes, sorted.
    pub fn routes(&self, chat_id: ChatId) -> Result<Vec<Route>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT transport, target FROM routes WHERE chat_id = ?1 ORDER BY transport, target",
        )?;
        let rows = statement
            .query_map([chat_id], |row| Ok(Route { transport: row.get(0)?, target: row.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

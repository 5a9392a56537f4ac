//! Chats, their sealed secrets, and their routes. A chat's name, format and parameters are one
//! sealed record (context `chat:<id>`), its name found by keyed hash; its secret is sealed with
//! a context naming its row and format, so an edited database can neither swap secrets between
//! chats nor make a native chat's secret be used under a weaker format.

use clm_core::Format;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::sealer::{Sealer, hex};
use super::{ChatId, Store, StoreError, format_named};

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
    /// Native v2: the chat's Argon2id salt (random for a chat made by `chat new`, carried by
    /// its invite; the typed-secret salt for a secret people agreed on).
    pub native_salt: Option<&'a [u8; 16]>,
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
    /// Native v2 salt.
    pub native_salt: Option<[u8; 16]>,
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

/// A chat's sealed record.
#[derive(Serialize, Deserialize)]
struct ChatRecord {
    name: String,
    format: String,
    clm201_chat_id: Option<String>,
    seed_suffix: Option<String>,
    created_at: i64,
    /// Native v2: the salt, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
}

impl ChatRecord {
    fn of(chat: &NewChat<'_>) -> ChatRecord {
        ChatRecord {
            name: chat.name.to_owned(),
            format: chat.format.name().to_owned(),
            clm201_chat_id: chat.clm201_chat_id.map(str::to_owned),
            seed_suffix: chat.seed_suffix.map(str::to_owned),
            created_at: chat.created_at,
            salt: chat.native_salt.map(|salt| hex(salt)),
        }
    }

    fn into_chat(self, id: ChatId) -> Result<Chat, StoreError> {
        let native_salt = match &self.salt {
            Some(salt) => Some(
                super::transport_secrets::unhex(salt)?
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("chat {id}: a salt of the wrong length")))?,
            ),
            None => None,
        };
        Ok(Chat {
            native_salt,
            id,
            format: format_named(&self.format)?,
            name: self.name,
            clm201_chat_id: self.clm201_chat_id,
            seed_suffix: self.seed_suffix,
            created_at: self.created_at,
        })
    }
}

/// A route's sealed record.
#[derive(Serialize, Deserialize)]
struct RouteRecord {
    transport: String,
    target: String,
}

fn record_context(id: ChatId) -> String {
    format!("chat:{id}")
}

/// Sealing context of a chat secret: bound to the chat's row and format.
fn secret_context(id: ChatId, format: Format) -> String {
    format!("chat-secret:{id}:{}", format.name())
}

/// Sealing context of a native chat's cached Argon2id root.
fn native_root_context(id: ChatId, format: Format) -> String {
    format!("chat-native-root:{id}:{}", format.name())
}

fn name_key(sealer: Sealer<'_>, name: &str) -> [u8; 32] {
    sealer.key("chat-name", &[name.as_bytes()])
}

fn route_key(sealer: Sealer<'_>, chat_id: ChatId, transport: &str, target: &str) -> [u8; 32] {
    sealer.key("route", &[&chat_id.to_be_bytes(), transport.as_bytes(), target.as_bytes()])
}

fn route_context(chat_id: ChatId, key: &[u8; 32]) -> String {
    format!("route:{chat_id}:{}", hex(key))
}

/// Reads and opens the chat with row id `id`, if there is one.
fn read_chat(conn: &Connection, sealer: Sealer<'_>, id: ChatId) -> Result<Option<Chat>, StoreError> {
    let record: Option<Vec<u8>> = conn
        .prepare_cached("SELECT record FROM chats WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    record.map(|record| sealer.open::<ChatRecord>(&record_context(id), &record)?.into_chat(id)).transpose()
}

/// The row id of the chat called `name`, if any.
fn id_of(conn: &Connection, sealer: Sealer<'_>, name: &str) -> Result<Option<ChatId>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM chats WHERE name_key = ?1")?
        .query_row([name_key(sealer, name)], |row| row.get(0))
        .optional()?)
}

/// Inserts a chat under a given row id (`None`: a new one) with its record and sealed secrets.
pub(super) fn insert_chat(
    conn: &Connection,
    sealer: Sealer<'_>,
    id: Option<ChatId>,
    chat: &NewChat<'_>,
) -> Result<ChatId, StoreError> {
    // The sealing contexts name the row id, which exists only after the insert: insert with
    // placeholders, then seal and fill in, all in the caller's transaction.
    conn.prepare_cached("INSERT INTO chats (id, name_key, record, secret) VALUES (?1, ?2, x'', x'')")?
        .execute(params![id, name_key(sealer, chat.name)])?;
    let id = conn.last_insert_rowid();
    let record = sealer.seal(&record_context(id), &ChatRecord::of(chat))?;
    let secret = sealer.seal_bytes(&secret_context(id, chat.format), chat.secret)?;
    let root = chat
        .native_root
        .map(|root| sealer.seal_bytes(&native_root_context(id, chat.format), root))
        .transpose()?;
    conn.prepare_cached("UPDATE chats SET record = ?2, secret = ?3, native_root = ?4 WHERE id = ?1")?
        .execute(params![id, record, secret, root])?;
    Ok(id)
}

/// Inserts a route (inside the caller's transaction); false if it was there already.
pub(super) fn insert_route(
    conn: &Connection,
    sealer: Sealer<'_>,
    chat_id: ChatId,
    transport: &str,
    target: &str,
) -> Result<bool, StoreError> {
    let key = route_key(sealer, chat_id, transport, target);
    let record = RouteRecord { transport: transport.to_owned(), target: target.to_owned() };
    let record = sealer.seal(&route_context(chat_id, &key), &record)?;
    let added = conn
        .prepare_cached("INSERT OR IGNORE INTO routes (chat_id, route_key, record) VALUES (?1, ?2, ?3)")?
        .execute(params![chat_id, key, record])?;
    Ok(added == 1)
}

/// Every route of every chat, opened.
pub(super) fn all_routes(conn: &Connection, sealer: Sealer<'_>) -> Result<Vec<(ChatId, Route)>, StoreError> {
    let mut statement = conn.prepare("SELECT chat_id, route_key, record FROM routes")?;
    let mut rows = statement.query([])?;
    let mut routes = Vec::new();
    while let Some(row) = rows.next()? {
        let (chat_id, key, record): (ChatId, [u8; 32], Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let RouteRecord { transport, target } = sealer.open(&route_context(chat_id, &key), &record)?;
        routes.push((chat_id, Route { transport, target }));
    }
    Ok(routes)
}

/// Opens chat `id`'s record and secrets with `old` and seals them with `new` (a new vault key).
pub(super) fn reseal_chat(
    conn: &Connection,
    old: Sealer<'_>,
    new: Sealer<'_>,
    id: ChatId,
) -> Result<(), StoreError> {
    let (record, secret, root): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) =
        conn.query_row("SELECT record, secret, native_root FROM chats WHERE id = ?1", [id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let record: ChatRecord = old.open(&record_context(id), &record)?;
    let format = format_named(&record.format)?;
    let secret = old.open_bytes(&secret_context(id, format), &secret)?;
    let root = root.map(|root| old.open_bytes(&native_root_context(id, format), &root)).transpose()?;
    conn.execute(
        "UPDATE chats SET name_key = ?2, record = ?3, secret = ?4, native_root = ?5 WHERE id = ?1",
        params![
            id,
            name_key(new, &record.name),
            new.seal(&record_context(id), &record)?,
            new.seal_bytes(&secret_context(id, format), &secret)?,
            root.map(|root| new.seal_bytes(&native_root_context(id, format), &root)).transpose()?
        ],
    )?;
    Ok(())
}

impl Store {
    /// Adds a chat, sealing its record and secret (and native root). Fails with
    /// [`StoreError::ChatExists`] if the name is taken.
    pub fn add_chat(&mut self, chat: &NewChat<'_>) -> Result<ChatId, StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if id_of(&tx, sealer, chat.name)?.is_some() {
            return Err(StoreError::ChatExists(chat.name.to_owned()));
        }
        let id = insert_chat(&tx, sealer, None, chat)?;
        tx.commit()?;
        Ok(id)
    }

    /// How many chats there are (nothing unsealed).
    pub fn chat_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM chats", [], |row| row.get(0))?)
    }

    /// All chats, by name.
    pub fn list_chats(&self) -> Result<Vec<Chat>, StoreError> {
        let sealer = self.sealer()?;
        let mut statement = self.conn.prepare_cached("SELECT id, record FROM chats")?;
        let mut rows = statement.query([])?;
        let mut chats = Vec::new();
        while let Some(row) = rows.next()? {
            let id: ChatId = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            chats.push(sealer.open::<ChatRecord>(&record_context(id), &record)?.into_chat(id)?);
        }
        chats.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(chats)
    }

    /// The chat called `name`, or [`StoreError::NoSuchChat`].
    pub fn chat(&self, name: &str) -> Result<Chat, StoreError> {
        let sealer = self.sealer()?;
        let id = id_of(&self.conn, sealer, name)?.ok_or_else(|| StoreError::NoSuchChat(name.to_owned()))?;
        read_chat(&self.conn, sealer, id)?.ok_or_else(|| StoreError::NoSuchChat(name.to_owned()))
    }

    /// The chat with row id `id`, or [`StoreError::NoSuchChatId`].
    pub fn chat_by_id(&self, id: ChatId) -> Result<Chat, StoreError> {
        read_chat(&self.conn, self.sealer()?, id)?.ok_or(StoreError::NoSuchChatId(id))
    }

    /// Renames a chat. Its secrets stay valid: they are bound to the row id, not the name.
    pub fn rename_chat(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = id_of(&tx, sealer, old)?.ok_or_else(|| StoreError::NoSuchChat(old.to_owned()))?;
        if old != new && id_of(&tx, sealer, new)?.is_some() {
            return Err(StoreError::ChatExists(new.to_owned()));
        }
        let record: Vec<u8> =
            tx.query_row("SELECT record FROM chats WHERE id = ?1", [id], |row| row.get(0))?;
        let mut record: ChatRecord = sealer.open(&record_context(id), &record)?;
        record.name = new.to_owned();
        let sealed = sealer.seal(&record_context(id), &record)?;
        tx.execute(
            "UPDATE chats SET name_key = ?2, record = ?3 WHERE id = ?1",
            params![id, name_key(sealer, new), sealed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a chat and its routes. A chat with messages in history (trashed or not) is only
    /// removed with `purge_messages`, which deletes those messages for good (leaving
    /// tombstones); otherwise the result is [`StoreError::ChatHasMessages`] and nothing changes.
    /// History never shows messages of a chat that no longer exists. Returns how many messages
    /// were purged.
    pub fn remove_chat(&mut self, name: &str, purge_messages: bool, now: i64) -> Result<u64, StoreError> {
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = id_of(&tx, sealer, name)?.ok_or_else(|| StoreError::NoSuchChat(name.to_owned()))?;
        let messages: u64 =
            tx.query_row("SELECT count(*) FROM messages WHERE chat_id = ?1", [id], |row| row.get(0))?;
        if messages > 0 && !purge_messages {
            return Err(StoreError::ChatHasMessages { name: name.to_owned(), messages });
        }
        super::trash::tombstone_where(&tx, sealer, "chat_id = ?1", id, now)?;
        tx.execute("DELETE FROM messages WHERE chat_id = ?1", [id])?;
        tx.execute("DELETE FROM chats WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(messages)
    }

    /// The chat's secret (for clm201, the master seed), unsealed.
    pub fn chat_secret(&self, id: ChatId) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let sealer = self.sealer()?;
        let chat = self.chat_by_id(id)?;
        let sealed: Vec<u8> =
            self.conn.query_row("SELECT secret FROM chats WHERE id = ?1", [id], |row| row.get(0))?;
        sealer.open_bytes(&secret_context(id, chat.format), &sealed)
    }

    /// The native chat's cached Argon2id root, unsealed, if one is stored.
    pub fn chat_native_root(&self, id: ChatId) -> Result<Option<Zeroizing<[u8; 32]>>, StoreError> {
        let sealer = self.sealer()?;
        let chat = self.chat_by_id(id)?;
        let sealed: Option<Vec<u8>> =
            self.conn.query_row("SELECT native_root FROM chats WHERE id = ?1", [id], |row| row.get(0))?;
        let Some(sealed) = sealed else { return Ok(None) };
        let root = sealer.open_bytes(&native_root_context(id, chat.format), &sealed)?;
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
    pub fn set_chat_native_root(&self, id: ChatId, root: &[u8; 32]) -> Result<(), StoreError> {
        let chat = self.chat_by_id(id)?;
        let sealed = self.sealer()?.seal_bytes(&native_root_context(id, chat.format), root)?;
        self.conn.execute("UPDATE chats SET native_root = ?2 WHERE id = ?1", params![id, sealed])?;
        Ok(())
    }

    /// Adds a route to a chat. Returns false if it was there already.
    pub fn add_route(&self, chat_id: ChatId, transport: &str, target: &str) -> Result<bool, StoreError> {
        let sealer = self.sealer()?;
        let exists: bool =
            self.conn.query_row("SELECT EXISTS (SELECT 1 FROM chats WHERE id = ?1)", [chat_id], |row| {
                row.get(0)
            })?;
        if !exists {
            return Err(StoreError::NoSuchChatId(chat_id));
        }
        insert_route(&self.conn, sealer, chat_id, transport, target)
    }

    /// Removes a route from a chat. Returns false if there was no such route.
    pub fn remove_route(&self, chat_id: ChatId, transport: &str, target: &str) -> Result<bool, StoreError> {
        let key = route_key(self.sealer()?, chat_id, transport, target);
        let removed = self
            .conn
            .execute("DELETE FROM routes WHERE chat_id = ?1 AND route_key = ?2", params![chat_id, key])?;
        Ok(removed == 1)
    }

    /// A chat's routes, sorted.
    pub fn routes(&self, chat_id: ChatId) -> Result<Vec<Route>, StoreError> {
        let sealer = self.sealer()?;
        let mut statement =
            self.conn.prepare_cached("SELECT route_key, record FROM routes WHERE chat_id = ?1")?;
        let mut rows = statement.query([chat_id])?;
        let mut routes = Vec::new();
        while let Some(row) = rows.next()? {
            let key: [u8; 32] = row.get(0)?;
            let record: Vec<u8> = row.get(1)?;
            let RouteRecord { transport, target } = sealer.open(&route_context(chat_id, &key), &record)?;
            routes.push(Route { transport, target });
        }
        routes.sort();
        Ok(routes)
    }
}

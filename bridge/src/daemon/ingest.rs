//! The daemon's side of the store: what arrived goes through the shared pipeline in one
//! transaction per batch (messages and transport cursors together), and new messages become
//! output lines. Runs on blocking threads; the async side only moves batches in and out.

use clm_adapters::Cursor;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::pipeline::{self, Incoming, Ingested, KnownChats, Received};
use crate::store::{Chat, Store};

/// The daemon's page cache: a batch of 500 messages dirties ~1 000 pages (digest index,
/// arrivals, cursors); SQLite's default 2 MiB made it spill them mid-transaction. Freed when
/// the daemon goes quiet after a burst.
const STORE_CACHE_MIB: i64 = 16;

/// What arrived, detached from the transport's acknowledgement channel.
#[derive(Debug)]
pub struct Item {
    /// Transport instance.
    pub transport: String,
    /// Where within it.
    pub origin: String,
    /// The text to scan.
    pub text: Vec<u8>,
    /// The transport's position after it.
    pub cursor: Option<Cursor>,
}

/// The store, the vault and the chats as recognised, owned by the daemon.
#[derive(Debug)]
pub struct Storage {
    store: Store,
    known: KnownChats,
    /// The chats `known` was loaded from, to notice `chat add`, `rename` and `remove` made by
    /// other processes while the daemon runs.
    chats: Vec<Chat>,
}

impl Storage {
    /// Loads the known chats (native roots come from the store: no KDF for them).
    /// `store` is unlocked.
    pub fn open(store: Store, now: u64) -> Result<Storage, Error> {
        let chats = store.list_chats()?;
        let known = KnownChats::load(&store, now)?;
        store.set_cache_mib(STORE_CACHE_MIB)?;
        Ok(Storage { store, known, chats })
    }

    /// How many chats are known.
    pub fn chat_count(&self) -> usize {
        self.known.len()
    }

    /// The cursors stored for a transport.
    pub fn cursors(&self, transport: &str) -> Result<Vec<Cursor>, Error> {
        Ok(self.store.cursors(transport)?.into_iter().map(|(key, value)| Cursor { key, value }).collect())
    }

    /// Frees the store's page cache (after a burst, when quiet).
    pub fn release_memory(&self) -> Result<(), Error> {
        Ok(self.store.release_memory()?)
    }

    /// Moves the native recognition window to `now`.
    pub fn set_now(&mut self, now: u64) {
        self.known.set_now(now);
    }

    /// Stores one batch with its cursors, in one transaction. Picks up chats changed by other
    /// processes first, so a chat added while the daemon runs opens its next pointer.
    pub fn ingest(&mut self, items: &[Item], now: u64) -> Result<Ingested, Error> {
        let chats = self.store.list_chats()?;
        if chats != self.chats {
            self.known = KnownChats::load(&self.store, now)?;
            tracing::info!(chats = chats.len(), "the chats changed; recognising the new set");
            self.chats = chats;
        }
        let batch: Vec<Incoming<'_>> = items
            .iter()
            .map(|item| Incoming {
                transport: &item.transport,
                origin: &item.origin,
                text: &item.text,
                cursor: item.cursor.as_ref().map(|c| (c.key.as_str(), c.value.as_str())),
            })
            .collect();
        Ok(pipeline::ingest(&mut self.store, &mut self.known, &batch, now.cast_signed())?)
    }
}

/// A new message as one JSON object ([`crate::display::MessageJson`]): the daemon's `--json`
/// lines and the `on_message` input. No newline.
pub fn json_line(message: &Received) -> Zeroizing<String> {
    message.json(None).line()
}

/// `TIME CHAT FROM: TEXT`, the sender's time in UTC, control characters escaped.
pub fn text_line(message: &Received) -> String {
    message.line()
}

/// Logs what did not become a message, never with a message text.
pub fn report(ingested: &Ingested) {
    for (chat, error) in &ingested.broken {
        tracing::warn!(chat = %chat.escape_debug(), error = %error, "a pointer of this chat does not open (altered or forged?)");
    }
    for error in &ingested.rejected {
        tracing::warn!(error = %error, "rejected pointer-like text");
    }
    if ingested.pending > 0 {
        tracing::info!(
            pointers = ingested.pending,
            "no known chat opens these: kept as pending (`chat add` retries them)"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clm_core::{Clm202Chat, Format, Pointer};

    use super::*;
    use crate::store::NewChat;
    use crate::vault::{KdfParams, Vault};

    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    /// Storage in a temporary directory, with a cheap vault and no chat.
    pub(crate) fn storage() -> (tempfile::TempDir, Storage) {
        let temp = tempfile::tempdir().unwrap();
        let store = Store::open(&temp.path().join("bridge.db")).unwrap();
        let (vault, header) = Vault::create(b"pass", CHEAP, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        let mut store = store;
        store.unlock(&vault).unwrap();
        (temp, Storage::open(store, 1_763_700_000).unwrap())
    }

    /// Adds a clm202 chat.
    pub(crate) fn add_chat(storage: &mut Storage, name: &str, secret: &str) {
        let chat = NewChat {
            name,
            format: Format::Clm202,
            secret: secret.as_bytes(),
            clm201_chat_id: None,
            seed_suffix: None,
            native_root: None,
            native_salt: None,
            created_at: 1,
        };
        storage.store.add_chat(&chat).unwrap();
    }

    /// A drop file holding one clm202 pointer from alice, with its seen cursor.
    pub(crate) fn item(origin: &str, secret: &str, chat: &str, text: &str) -> Item {
        let pointer = Clm202Chat::new(secret, chat).encode("alice", text, 1_763_700_000, origin).unwrap();
        Item {
            transport: "drop.t".into(),
            origin: origin.into(),
            text: Pointer::Clm202(pointer).to_json().into_bytes(),
            cursor: Some(Cursor { key: format!("seen:{origin}"), value: format!("digest of {origin}") }),
        }
    }

    #[test]
    fn a_batch_is_stored_with_its_cursors_and_repeats_are_not_new() {
        let (_temp, mut storage) = storage();
        add_chat(&mut storage, "Family", "s");
        let batch = [item("a", "s", "Family", "one"), item("b", "s", "Family", "two")];
        let ingested = storage.ingest(&batch, 1_763_700_001).unwrap();
        let new: Vec<(&str, bool)> = ingested.received.iter().map(|r| (r.text.as_str(), r.new)).collect();
        assert_eq!(new, [("one", true), ("two", true)]);
        let cursors = storage.cursors("drop.t").unwrap();
        assert_eq!(cursors.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["seen:a", "seen:b"]);
        assert_eq!(cursors[0].value, "digest of a");

        let again = storage.ingest(&[item("a", "s", "Family", "one")], 1_763_700_002).unwrap();
        assert!(!again.received[0].new);
        assert_eq!(storage.store.message_count().unwrap(), 2);
    }

    #[test]
    fn a_chat_added_by_another_process_opens_the_next_pointer() {
        let (temp, mut storage) = storage();
        let first = storage.ingest(&[item("a", "w", "Work", "early")], 1_763_700_001).unwrap();
        assert_eq!((first.received.len(), first.pending), (0, 1));
        // Another connection (the CLI) adds the chat while the daemon runs.
        let mut other = Store::open(&temp.path().join("bridge.db")).unwrap();
        let vault = Vault::open(b"pass", &other.require_vault_header().unwrap()).unwrap();
        other.unlock(&vault).unwrap();
        other
            .add_chat(&NewChat {
                name: "Work",
                format: Format::Clm202,
                secret: b"w",
                clm201_chat_id: None,
                seed_suffix: None,
                native_root: None,
                native_salt: None,
                created_at: 2,
            })
            .unwrap();
        let next = storage.ingest(&[item("b", "w", "Work", "later")], 1_763_700_002).unwrap();
        assert_eq!(next.received.len(), 1);
        assert_eq!((next.received[0].chat.as_str(), next.received[0].text.as_str()), ("Work", "later"));
        assert_eq!(storage.chat_count(), 1);
    }

    #[test]
    fn lines_show_the_message_and_escape_what_could_forge_output() {
        let message = Received {
            id: 7,
            new: true,
            chat: "Family".into(),
            from: "al\u{1b}[31mice".into(),
            text: Zeroizing::new("two\nlines".into()),
            epoch: 1_763_700_000,
            format: Format::Native,
            truncated: true,
            from_the_future: false,
            transport: "drop.usb".into(),
            origin: "clm-1.json".into(),
        };
        assert_eq!(
            text_line(&message),
            "2025-11-21T04:40:00Z Family al\\u{1b}[31mice: two\\nlines [truncated by the sender's CLM]"
        );
        assert_eq!(
            json_line(&message).as_str(),
            "{\"id\":7,\"chat\":\"Family\",\"from\":\"al\\u001b[31mice\",\"text\":\"two\\nlines\",\
             \"epoch\":1763700000,\"format\":\"native\",\"truncated\":true,\"transport\":\"drop.usb\",\
             \"origin\":\"clm-1.json\"}"
        );
    }
}

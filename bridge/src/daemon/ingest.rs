//! The daemon's side of the store: what arrived goes through the shared pipeline (messages and
//! transport cursors together, in transactions of at most `limits.batch_pointers` pointers),
//! with the daemon's per-origin quota of pending pointers, and new messages become output
//! lines. Runs on blocking threads; the async side only moves batches in and out.

use std::collections::BTreeMap;

use clm_adapters::Cursor;
use zeroize::Zeroizing;

use crate::config::Gateway;
use crate::error::Error;
use crate::limits::Limits;
use crate::pipeline::gateways::Gateways;
use crate::pipeline::{self, Incoming, Ingested, KnownChats, OriginQuota, Policy, Received, Unopened};
use crate::store::{Chat, Shed, Store};

/// Pending pointers dropped at least when the disk is full (else a quarter of them).
const SHED_FOR_SPACE: u64 = 1000;

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
    /// The place it arrived in, as a route names it (see [`clm_adapters::Inbound::place`]).
    pub place: String,
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
    limits: Limits,
    quota: OriginQuota,
    gateways: Gateways,
}

impl Storage {
    /// Loads the known chats (native roots come from the store: no KDF for them).
    /// `store` is unlocked; `gateways` relay what arrives on their routes.
    pub fn open(
        store: Store,
        limits: Limits,
        gateways: &BTreeMap<String, Gateway>,
        now: u64,
    ) -> Result<Storage, Error> {
        let chats = store.list_chats()?;
        let known = KnownChats::load(&store, now)?;
        store.set_cache_mib(STORE_CACHE_MIB)?;
        let period = limits.origin_period.as_secs();
        let quota = OriginQuota::new(limits.pending_per_origin, period);
        let gateways = Gateways::new(gateways, period);
        Ok(Storage { store, known, chats, limits, quota, gateways })
    }

    /// How many chats are known.
    pub fn chat_count(&self) -> usize {
        self.known.len()
    }

    /// The cursors stored for a transport.
    pub fn cursors(&self, transport: &str) -> Result<Vec<Cursor>, Error> {
        Ok(self.store.transport_cursors(transport)?)
    }

    /// Frees the store's page cache (after a burst, when quiet).
    pub fn release_memory(&self) -> Result<(), Error> {
        Ok(self.store.release_memory()?)
    }

    /// Moves the native recognition window to `now`.
    pub fn set_now(&mut self, now: u64) {
        self.known.set_now(now);
    }

    /// Stores one batch with its cursors, adding what it did to `into` (on an error, what the
    /// transactions before it stored). Pointers no known chat opens are kept as pending within
    /// the origin's quota when `keep_unopened`, else dropped. Picks up chats changed by other
    /// processes first, so a chat added while the daemon runs opens its next pointer.
    pub fn ingest(
        &mut self,
        items: &[Item],
        now: u64,
        keep_unopened: bool,
        into: &mut Ingested,
    ) -> Result<(), Error> {
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
                place: &item.place,
                text: &item.text,
                cursor: item.cursor.as_ref().map(|c| (c.key.as_str(), c.value.as_str())),
            })
            .collect();
        let unopened = if keep_unopened { Unopened::Keep(Some(&mut self.quota)) } else { Unopened::Drop };
        let gateways = (!self.gateways.is_empty()).then_some(&mut self.gateways);
        let mut policy = Policy { limits: self.limits, unopened, gateways };
        let now = now.cast_signed();
        pipeline::ingest(&mut self.store, &mut self.known, &batch, now, &mut policy, into)?;
        Ok(())
    }

    /// Drops the oldest pending pointers to make room on a full disk: a quarter of them, at
    /// least `SHED_FOR_SPACE`. The write-ahead log is checkpointed and cut back first (on a
    /// small disk it may hold much of the space), and when even the deletion finds no room
    /// (deleted rows are overwritten, which writes too) fewer rows are tried, down to one.
    pub fn shed_for_space(&mut self) -> Result<Shed, Error> {
        if let Err(error) = self.store.checkpoint() {
            tracing::debug!(error = %error, "cannot checkpoint the write-ahead log now");
        }
        let mut rows = (self.store.pending_totals()?.count / 4).max(SHED_FOR_SPACE);
        loop {
            match self.store.shed_oldest_pending(rows) {
                Ok(shed) => return Ok(shed),
                Err(_) if rows > 1 => rows /= 8,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Drops pending pointers past their age (and any over the caps), and forgets relays
    /// older than `relays_remembered`.
    pub fn shed_old(&mut self, now: u64) -> Result<Shed, Error> {
        let remembered = i64::try_from(self.limits.relays_remembered.as_secs()).unwrap_or(i64::MAX);
        self.store.forget_relays_before(now.cast_signed().saturating_sub(remembered))?;
        Ok(self.store.shed_pending(self.limits.pending_caps(now.cast_signed()))?)
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
        (temp, Storage::open(store, Limits::default(), &BTreeMap::new(), 1_763_700_000).unwrap())
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

    /// Stores `items`, keeping unopened pointers as pending.
    pub(crate) fn ingest_all(storage: &mut Storage, items: &[Item], now: u64) -> Ingested {
        let mut ingested = Ingested::default();
        storage.ingest(items, now, true, &mut ingested).unwrap();
        ingested
    }

    /// A drop file holding one clm202 pointer from alice, with its seen cursor.
    pub(crate) fn item(origin: &str, secret: &str, chat: &str, text: &str) -> Item {
        let pointer = Clm202Chat::new(secret, chat).encode("alice", text, 1_763_700_000, origin).unwrap();
        Item {
            transport: "drop.t".into(),
            origin: origin.into(),
            place: String::new(),
            text: Pointer::Clm202(pointer).to_json().into_bytes(),
            cursor: Some(Cursor { key: format!("seen:{origin}"), value: format!("digest of {origin}") }),
        }
    }

    #[test]
    fn a_batch_is_stored_with_its_cursors_and_repeats_are_not_new() {
        let (_temp, mut storage) = storage();
        add_chat(&mut storage, "Family", "s");
        let batch = [item("a", "s", "Family", "one"), item("b", "s", "Family", "two")];
        let ingested = ingest_all(&mut storage, &batch, 1_763_700_001);
        let new: Vec<(&str, bool)> = ingested.received.iter().map(|r| (r.text.as_str(), r.new)).collect();
        assert_eq!(new, [("one", true), ("two", true)]);
        let cursors = storage.cursors("drop.t").unwrap();
        assert_eq!(cursors.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["seen:a", "seen:b"]);
        assert_eq!(cursors[0].value, "digest of a");

        let again = ingest_all(&mut storage, &[item("a", "s", "Family", "one")], 1_763_700_002);
        assert!(!again.received[0].new);
        assert_eq!(storage.store.message_count().unwrap(), 2);
    }

    #[test]
    fn a_chat_added_by_another_process_opens_the_next_pointer() {
        let (temp, mut storage) = storage();
        let first = ingest_all(&mut storage, &[item("a", "w", "Work", "early")], 1_763_700_001);
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
        let next = ingest_all(&mut storage, &[item("b", "w", "Work", "later")], 1_763_700_002);
        assert_eq!(next.received.len(), 1);
        assert_eq!((next.received[0].chat.as_str(), next.received[0].text.as_str()), ("Work", "later"));
        assert_eq!(storage.chat_count(), 1);
    }

    #[test]
    fn a_gateway_relays_what_arrives_on_its_route_and_the_known_chat_still_opens_it() {
        let (_temp, mut storage) = storage();
        add_chat(&mut storage, "Family", "s");
        let gateway = pipeline::gateways::test_gateway(&["drop.t", "drop.share"]);
        let mut with_gateway =
            Storage::open(storage.store, Limits::default(), &BTreeMap::from([("g".into(), gateway)]), 1)
                .unwrap();
        let batch = [item("a", "s", "Family", "ours"), item("b", "other", "Other", "not ours")];
        let ingested = ingest_all(&mut with_gateway, &batch, 1_763_700_001);
        assert_eq!((ingested.received.len(), ingested.pending, ingested.relayed), (1, 1, 2));
        let outbox = with_gateway.store.outbox().unwrap();
        assert!(outbox.iter().all(|d| d.transport == "drop.share" && d.gateway.as_deref() == Some("g")));
        assert_eq!(outbox[0].pointer.as_bytes(), batch[0].text.as_slice(), "the pointer's canonical text");

        // The relay comes back through the other folder: neither shown twice nor relayed again.
        let echo = Item { transport: "drop.share".into(), ..item("a", "s", "Family", "ours") };
        let again = ingest_all(&mut with_gateway, &[echo], 1_763_700_002);
        assert_eq!((again.received[0].new, again.relayed), (false, 0));
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

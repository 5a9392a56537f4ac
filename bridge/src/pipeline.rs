//! From arriving text to stored messages: detect the pointers, recognise which known chat each
//! belongs to, open it, and store them with the transports' cursors. `scan`, `receive`,
//! `chat add` (retrying pending pointers) and the daemon all go through here, so every transport
//! shares one detector, one history and one set of [`Limits`]:
//!
//! - at most `pointers_per_input` pointers are read from one input ([`Scanner`]: bounded memory
//!   however many pointer-shaped objects a stranger packs into a mail or a file);
//! - pointers no known chat opens are kept as pending within the per-origin quota
//!   ([`OriginQuota`], the daemon's), and the pending table within its caps (the oldest dropped
//!   first: [`Store::shed_pending`]);
//! - a batch is stored in transactions of at most `batch_pointers` pointers; an input's cursor
//!   goes in the transaction that stores its last pointer, so a failure stores nothing of an
//!   input's position that its pointers are not stored for.

pub mod gateways;
mod quota;
mod scanner;

use std::collections::{BTreeMap, HashMap};

use clm_core::{
    ChatKeys, Clm201Chat, Clm202Chat, Format, Native2Keys, NativeKeys, OpenError, Pointer, PointerError,
    Recognition, Registry,
};
use zeroize::Zeroizing;

use self::gateways::{Arrived, Gateways};
pub use self::quota::OriginQuota;
pub use self::scanner::{Scanner, Tally};
use crate::display::{MessageJson, message_line};
use crate::limits::Limits;
use crate::store::{
    Arrival, ArrivalItem, Chat, ChatId, IngestOutcome, MessageId, PendingKey, Relaying, Shed, Store,
    StoreError,
};

/// A page of pending pointers retried at once: at most this many ...
const RETRY_PAGE_ROWS: usize = 500;
/// ... and about this many bytes of pointer text.
const RETRY_PAGE_BYTES: usize = 4 << 20;

/// Why a batch could not be taken in. Nothing of the batch is stored then.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored chat secret is not UTF-8 (CLM formats need text): the store is damaged.
    #[error("the stored secret of chat {0} is not valid UTF-8")]
    StoredSecretNotUtf8(String),
    /// A stored chat's parameters do not make keys (a damaged or hand-edited store).
    #[error("chat {chat}: {error}")]
    ChatKeys {
        /// The chat's name.
        chat: String,
        /// What the engine said.
        error: clm_core::EncodeError,
    },
}

/// The chats this bridge knows, keyed for recognition.
pub struct KnownChats {
    registry: Registry<ChatId>,
    names: HashMap<ChatId, String>,
}

impl std::fmt::Debug for KnownChats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownChats").field("chats", &self.names.len()).finish_non_exhaustive()
    }
}

impl KnownChats {
    /// Loads every chat's keys from the store (native roots are cached there, so no KDF runs
    /// except for a chat whose root was never stored).
    pub fn load(store: &Store, now: u64) -> Result<KnownChats, PipelineError> {
        let mut known = KnownChats { registry: Registry::new(), names: HashMap::new() };
        known.registry.set_now(now);
        for chat in store.list_chats()? {
            let keys = chat_keys(store, &chat)?;
            known.insert(&chat, keys);
        }
        Ok(known)
    }

    /// Adds one chat.
    pub fn insert(&mut self, chat: &Chat, keys: ChatKeys) {
        self.registry.insert(chat.id, keys);
        self.names.insert(chat.id, chat.name.clone());
    }

    /// Moves the native tag window (call as time passes).
    pub fn set_now(&mut self, now: u64) {
        self.registry.set_now(now);
    }

    /// Number of chats.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no chat is known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A chat's keys from its stored (sealed) secret.
pub fn chat_keys(store: &Store, chat: &Chat) -> Result<ChatKeys, PipelineError> {
    let secret = store.chat_secret(chat.id)?;
    let text =
        || std::str::from_utf8(&secret).map_err(|_| PipelineError::StoredSecretNotUtf8(chat.name.clone()));
    Ok(match chat.format {
        Format::Clm201 => {
            let id = chat.clm201_chat_id.as_deref().unwrap_or_default();
            ChatKeys::Clm201(
                Clm201Chat::new(text()?, id, chat.seed_suffix.as_deref())
                    .map_err(|error| PipelineError::ChatKeys { chat: chat.name.clone(), error })?,
            )
        }
        Format::Clm202 => ChatKeys::Clm202(Clm202Chat::new(text()?, &chat.name)),
        Format::Native2 => {
            let salt = chat.native_salt.unwrap_or(clm_core::format::native2::TYPED_SECRET_SALT);
            let root = match store.chat_native_root(chat.id)? {
                Some(root) => root,
                None => {
                    let root = Native2Keys::stretch(&secret, &salt);
                    store.set_chat_native_root(chat.id, &root)?;
                    root
                }
            };
            ChatKeys::Native2(Native2Keys::from_root(&root))
        }
        _ => {
            let root = match store.chat_native_root(chat.id)? {
                Some(root) => root,
                None => {
                    let root = NativeKeys::stretch(&secret);
                    store.set_chat_native_root(chat.id, &root)?;
                    root
                }
            };
            ChatKeys::Native(NativeKeys::from_root(&root))
        }
    })
}

/// Text that arrived, with where it came from and the transport position to store with it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Transport instance (`drop.usb`) or `scan` / `receive` for text given by hand.
    pub transport: &'a str,
    /// Where within it (a file name, a mail).
    pub origin: &'a str,
    /// The place it arrived in, as a route names it (a chat id, a room id; empty for a drop
    /// folder, a mailbox or text given by hand): what gateways match their routes on.
    pub place: &'a str,
    /// The text, HTML or mail.
    pub text: &'a [u8],
    /// `(key, value)` position of the transport after this text.
    pub cursor: Option<(&'a str, &'a str)>,
}

/// A message a pointer opened to, stored now or before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its history id.
    pub id: MessageId,
    /// True when it was not in history before this arrival.
    pub new: bool,
    /// Chat name.
    pub chat: String,
    /// Sender name.
    pub from: String,
    /// Message text.
    pub text: Zeroizing<String>,
    /// The sender's epoch.
    pub epoch: u64,
    /// Pointer format.
    pub format: Format,
    /// Bytes were lost by CLM 2.0.2's sender.
    pub truncated: bool,
    /// Its epoch is more than a day ahead of this machine's clock: the sender's clock is wrong,
    /// or the pointer was made to look newer than it is.
    pub from_the_future: bool,
    /// Transport it arrived over.
    pub transport: String,
    /// Where within the transport.
    pub origin: String,
}

impl Received {
    /// The message as the JSON object every part of the bridge prints; `new` where the
    /// printer tells new from known messages.
    pub fn json(&self, new: Option<bool>) -> MessageJson<'_> {
        MessageJson {
            id: self.id,
            chat: &self.chat,
            from: &self.from,
            text: &self.text,
            epoch: self.epoch,
            format: self.format.name(),
            truncated: self.truncated,
            transport: &self.transport,
            origin: &self.origin,
            new,
            from_the_future: self.from_the_future,
        }
    }

    /// `TIME CHAT FROM: TEXT`, the sender's time in UTC, other people's text escaped.
    pub fn line(&self) -> String {
        let mut line = message_line(self.epoch, &self.chat, &self.from, &self.text, self.truncated);
        if self.from_the_future {
            line.push_str(" [dated more than a day ahead]");
        }
        line
    }
}

/// What becomes of pointers no known chat opens.
#[derive(Debug)]
pub enum Unopened<'q> {
    /// Kept as pending, within this per-origin quota when given.
    Keep(Option<&'q mut OriginQuota>),
    /// Not kept: the store is full, or they are pending already (a retry).
    Drop,
}

/// How a batch is taken in.
#[derive(Debug)]
pub struct Policy<'q> {
    /// The limits.
    pub limits: Limits,
    /// What becomes of pointers no known chat opens.
    pub unopened: Unopened<'q>,
    /// The gateways relaying what arrives (the daemon's), if any.
    pub gateways: Option<&'q mut Gateways>,
}

impl Policy<'_> {
    /// Pointers no known chat opens are kept (within the pending caps), without a quota per
    /// origin, and nothing is relayed: what the commands that scan text given by hand do.
    pub fn keep(limits: Limits) -> Policy<'static> {
        Policy { limits, unopened: Unopened::Keep(None), gateways: None }
    }
}

/// What one ingest did.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Every message opened, new or already known, in input order.
    pub received: Vec<Received>,
    /// Pointers no known chat opens kept as pending (or pending already).
    pub pending: usize,
    /// Pointers no known chat opens that were not kept (over their origin's quota, or the store
    /// was full).
    pub dropped: usize,
    /// Pending pointers dropped, oldest first, to keep the pending caps.
    pub shed: Shed,
    /// Per chat: pointers the chat claims that do not open (forged, altered): not stored.
    pub broken: BTreeMap<String, Tally<OpenError>>,
    /// Pointer-like text the detector had to reject (too large, bad field).
    pub rejected: Tally<PointerError>,
    /// For each input of the batch, in order: what was found in it.
    pub per_input: Vec<InputOutcome>,
    /// Relays queued in the outbox by gateways (one per pointer and route it went to).
    pub relayed: usize,
    /// Pointers a gateway held back (format, chats relayed, quota), per gateway and reason.
    pub relays_held: BTreeMap<String, Tally<gateways::Held>>,
}

/// What one input of a batch held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputOutcome {
    /// Pointers read.
    pub pointers: usize,
    /// Of those, the ones a known chat opened.
    pub opened: usize,
    /// Of those, the ones kept as pending.
    pub pending: usize,
    /// Of those, the ones no chat opens that were not kept.
    pub dropped: usize,
    /// Reading stopped at `pointers_per_input` before the end of the input.
    pub stopped_at_limit: bool,
}

/// Arrivals waiting to be stored in one transaction.
#[derive(Debug, Default)]
struct Chunk<'b> {
    arrivals: Vec<Arrival>,
    /// For each opened arrival: its index, its chat, and where it came from.
    opened: Vec<(usize, ChatId, &'b str, &'b str)>,
    /// `(transport, key, value)` of the inputs whose last pointer is in this chunk.
    cursors: Vec<(&'b str, &'b str, &'b str)>,
    /// Some arrival will be kept as pending.
    unopened: bool,
    /// Gateways' relays of the pointers in this chunk.
    relays: Vec<Relaying>,
}

/// One ingest at work.
struct Ingest<'s, 'q> {
    store: &'s mut Store,
    known: &'s mut KnownChats,
    now: i64,
    policy: &'s mut Policy<'q>,
}

/// Detects, recognises and stores `batch`, adding what it did to `into`, in transactions of at
/// most `batch_pointers` pointers. On an error, `into` holds what the transactions committed
/// before it did (the messages among them are stored: show them).
pub fn ingest(
    store: &mut Store,
    known: &mut KnownChats,
    batch: &[Incoming<'_>],
    now: i64,
    policy: &mut Policy<'_>,
    into: &mut Ingested,
) -> Result<(), PipelineError> {
    let mut work = Ingest { store, known, now, policy };
    let mut chunk = Chunk::default();
    for incoming in batch {
        let outcome = work.take_input(incoming, &mut chunk, into)?;
        into.per_input.push(outcome);
        if let Some((key, value)) = incoming.cursor {
            chunk.cursors.push((incoming.transport, key, value));
        }
    }
    work.commit(&mut chunk, into)
}

impl<'b> Ingest<'_, '_> {
    /// Reads one input's pointers into `chunk`, committing it whenever it is full.
    fn take_input(
        &mut self,
        incoming: &Incoming<'b>,
        chunk: &mut Chunk<'b>,
        into: &mut Ingested,
    ) -> Result<InputOutcome, PipelineError> {
        let mut outcome = InputOutcome::default();
        let mut scanner = Scanner::new(incoming.text, self.policy.limits.pointers_per_input);
        for pointer in scanner.by_ref() {
            outcome.pointers += 1;
            self.take_pointer(&pointer, incoming, &mut outcome, chunk, into);
            if chunk.arrivals.len() + chunk.relays.len() >= self.policy.limits.batch_pointers {
                self.commit(chunk, into)?;
            }
        }
        outcome.stopped_at_limit = scanner.stopped_at_limit();
        into.rejected.merge(scanner.take_rejected());
        Ok(outcome)
    }

    /// Recognises one pointer: an arrival to store, or counted and left.
    fn take_pointer(
        &mut self,
        pointer: &Pointer,
        incoming: &Incoming<'b>,
        outcome: &mut InputOutcome,
        chunk: &mut Chunk<'b>,
        into: &mut Ingested,
    ) {
        let digest = pointer.digest();
        let recognition = self.known.registry.recognize(pointer);
        if !matches!(recognition, Recognition::Broken { .. }) {
            let known = matches!(recognition, Recognition::Opened { .. });
            self.relay(pointer, digest, known, incoming, chunk, into);
        }
        let item = match recognition {
            Recognition::Opened { chat, message } => {
                outcome.opened += 1;
                chunk.opened.push((chunk.arrivals.len(), chat, incoming.transport, incoming.origin));
                ArrivalItem::Opened {
                    chat_id: chat,
                    digest,
                    pointer_text: pointer.to_json(),
                    format: message.format,
                    epoch: message.epoch,
                    sender: message.from.clone(),
                    text: message.text.clone(),
                    truncated: message.truncated,
                }
            }
            Recognition::Broken { chat, error } => {
                into.broken.entry(self.known.names[&chat].clone()).or_default().add(error);
                return;
            }
            Recognition::NotMine => {
                let kept = match &mut self.policy.unopened {
                    Unopened::Keep(None) => true,
                    Unopened::Keep(Some(quota)) => {
                        quota.admit(incoming.transport, incoming.origin, self.now.max(0).cast_unsigned())
                    }
                    Unopened::Drop => false,
                };
                if !kept {
                    outcome.dropped += 1;
                    into.dropped += 1;
                    return;
                }
                outcome.pending += 1;
                chunk.unopened = true;
                ArrivalItem::Unopened { digest, pointer_text: pointer.to_json() }
            }
        };
        chunk.arrivals.push(Arrival {
            transport: incoming.transport.to_owned(),
            origin: incoming.origin.to_owned(),
            now: self.now,
            item,
        });
    }

    /// Plans the gateways' relays of a pointer that arrived (a known chat's or not; never one a
    /// known chat claims and does not open: altered or forged).
    fn relay(
        &mut self,
        pointer: &Pointer,
        digest: [u8; 32],
        known: bool,
        incoming: &Incoming<'b>,
        chunk: &mut Chunk<'b>,
        into: &mut Ingested,
    ) {
        let Some(gateways) = self.policy.gateways.as_deref_mut() else { return };
        let arrived = Arrived { transport: incoming.transport, place: incoming.place };
        let planned = gateways.plan(arrived, pointer.format(), known, self.now.max(0).cast_unsigned());
        for (gateway, why) in planned.held {
            into.relays_held.entry(gateway).or_default().add(why);
        }
        let pointer_text = if planned.relays.is_empty() { return } else { pointer.to_json() };
        chunk.relays.extend(planned.relays.into_iter().map(|relay| Relaying {
            gateway: relay.gateway,
            arrived_on: relay.arrived_on,
            targets: relay.targets,
            digest,
            pointer_text: pointer_text.clone(),
            now: self.now,
        }));
    }

    /// Stores `chunk` in one transaction, then keeps the pending table within its caps.
    fn commit(&mut self, chunk: &mut Chunk<'b>, into: &mut Ingested) -> Result<(), PipelineError> {
        if chunk.arrivals.is_empty() && chunk.cursors.is_empty() && chunk.relays.is_empty() {
            return Ok(());
        }
        let (outcomes, relayed) =
            self.store.ingest_relaying(&chunk.arrivals, &chunk.cursors, &chunk.relays)?;
        into.relayed += relayed;
        into.pending += outcomes.iter().filter(|o| matches!(o, IngestOutcome::Pending)).count();
        for &(index, chat, transport, origin) in &chunk.opened {
            let (id, new) = match outcomes[index] {
                IngestOutcome::New(id) => (id, true),
                IngestOutcome::Duplicate(id) => (id, false),
                IngestOutcome::Pending | IngestOutcome::Purged => continue,
            };
            let ArrivalItem::Opened { format, epoch, sender, text, truncated, .. } =
                &chunk.arrivals[index].item
            else {
                continue;
            };
            into.received.push(Received {
                id,
                new,
                chat: self.known.names[&chat].clone(),
                from: sender.clone(),
                text: Zeroizing::new(text.clone()),
                epoch: *epoch,
                format: *format,
                truncated: *truncated,
                from_the_future: clm_core::is_from_the_future(*epoch, self.now.cast_unsigned()),
                transport: transport.to_owned(),
                origin: origin.to_owned(),
            });
        }
        if chunk.unopened {
            into.shed.merge(self.store.shed_pending(self.policy.limits.pending_caps(self.now))?);
        }
        *chunk = Chunk::default();
        Ok(())
    }
}

/// Retries the pending pointers against the known chats (after a chat was added: CLM's "a
/// chat is born when its first message is received"), a bounded page at a time. Returns what
/// opened now; the others stay pending as they were.
pub fn retry_pending(
    store: &mut Store,
    known: &mut KnownChats,
    now: i64,
    limits: Limits,
) -> Result<Ingested, PipelineError> {
    let mut result = Ingested::default();
    let mut after: Option<PendingKey> = None;
    loop {
        let page = store.pending_page(after.as_ref(), RETRY_PAGE_ROWS, RETRY_PAGE_BYTES)?;
        let Some(next) = page.next else { break };
        after = Some(next);
        let incoming: Vec<Incoming<'_>> = page
            .pointers
            .iter()
            .map(|p| Incoming {
                transport: &p.transport,
                origin: &p.origin,
                place: "",
                text: p.pointer_text.as_bytes(),
                cursor: None,
            })
            .collect();
        let mut policy = Policy { limits, unopened: Unopened::Drop, gateways: None };
        ingest(store, known, &incoming, now, &mut policy, &mut result)?;
        // Still-pending pointers were pending before: nothing is dropped, nothing new kept.
        result.per_input.clear();
        result.dropped = 0;
    }
    Ok(result)
}

#[cfg(test)]
mod tests;

//! From arriving text to stored messages: detect every pointer, recognise which known chat it
//! belongs to, open it, and store the batch with the transports' cursors in one transaction.
//! `scan`, `receive`, `chat add` (retrying pending pointers) and the daemon all go through here,
//! so every transport shares one detector and one history.

use std::collections::HashMap;

use clm_core::{
    ChatKeys, Clm201Chat, Clm202Chat, Format, Native2Keys, NativeKeys, OpenError, Recognition, Registry,
    detect,
};
use zeroize::Zeroizing;

use crate::display::{MessageJson, message_line};
use crate::store::{Arrival, ArrivalItem, Chat, ChatId, IngestOutcome, MessageId, Store, StoreError};

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

/// What one ingest did.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Every message opened, new or already known, in input order.
    pub received: Vec<Received>,
    /// Pointers no known chat opens: kept as pending.
    pub pending: usize,
    /// Pointers a chat claims but that do not open (forged, altered): reported, not stored.
    pub broken: Vec<(String, OpenError)>,
    /// Pointer-like text the detector had to reject (too large, bad field).
    pub rejected: Vec<clm_core::PointerError>,
    /// For each input of the batch, in order: what was found in it.
    pub per_input: Vec<InputOutcome>,
}

/// What one input of a batch held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputOutcome {
    /// Pointers detected.
    pub pointers: usize,
    /// Of those, the ones a known chat opened.
    pub opened: usize,
}

/// Detects, recognises and stores one batch in one transaction.
pub fn ingest(
    store: &mut Store,
    known: &mut KnownChats,
    batch: &[Incoming<'_>],
    now: i64,
) -> Result<Ingested, PipelineError> {
    let mut arrivals = Vec::new();
    let mut opened = Vec::new();
    let mut result = Ingested::default();
    for incoming in batch {
        let detection = detect(incoming.text);
        result.rejected.extend(detection.rejected.into_iter().map(|r| r.error));
        let mut outcome = InputOutcome { pointers: detection.found.len(), opened: 0 };
        for found in detection.found {
            let digest = found.pointer.digest();
            let pointer_text = found.pointer.to_json();
            let item = match known.registry.recognize(&found.pointer) {
                Recognition::Opened { chat, message } => {
                    outcome.opened += 1;
                    opened.push((arrivals.len(), chat, incoming.transport, incoming.origin));
                    ArrivalItem::Opened {
                        chat_id: chat,
                        digest,
                        pointer_text,
                        format: message.format,
                        epoch: message.epoch,
                        sender: message.from.clone(),
                        text: message.text.clone(),
                        truncated: message.truncated,
                    }
                }
                Recognition::Broken { chat, error } => {
                    result.broken.push((known.names[&chat].clone(), error));
                    continue;
                }
                Recognition::NotMine => ArrivalItem::Unopened { digest, pointer_text },
            };
            arrivals.push(Arrival {
                transport: incoming.transport.to_owned(),
                origin: incoming.origin.to_owned(),
                now,
                item,
            });
        }
        result.per_input.push(outcome);
    }
    let cursors: Vec<(&str, &str, &str)> =
        batch.iter().filter_map(|i| i.cursor.map(|(key, value)| (i.transport, key, value))).collect();
    let outcomes = store.ingest(&arrivals, &cursors)?;
    result.pending = outcomes.iter().filter(|o| matches!(o, IngestOutcome::Pending)).count();
    for (index, chat, transport, origin) in opened {
        let (id, new) = match outcomes[index] {
            IngestOutcome::New(id) => (id, true),
            IngestOutcome::Duplicate(id) => (id, false),
            IngestOutcome::Pending | IngestOutcome::Purged => continue,
        };
        let ArrivalItem::Opened { format, epoch, sender, text, truncated, .. } = &arrivals[index].item else {
            continue;
        };
        result.received.push(Received {
            id,
            new,
            chat: known.names[&chat].clone(),
            from: sender.clone(),
            text: Zeroizing::new(text.clone()),
            epoch: *epoch,
            format: *format,
            truncated: *truncated,
            from_the_future: clm_core::is_from_the_future(*epoch, now.cast_unsigned()),
            transport: transport.to_owned(),
            origin: origin.to_owned(),
        });
    }
    Ok(result)
}

/// Retries every pending pointer against the known chats (after a chat was added: CLM's "a
/// chat is born when its first message is received"). Returns what opened now.
pub fn retry_pending(store: &mut Store, known: &mut KnownChats, now: i64) -> Result<Ingested, PipelineError> {
    let pending = store.pending()?;
    let incoming: Vec<Incoming<'_>> = pending
        .iter()
        .map(|p| Incoming {
            transport: &p.transport,
            origin: &p.origin,
            text: p.pointer_text.as_bytes(),
            cursor: None,
        })
        .collect();
    let mut result = ingest(store, known, &incoming, now)?;
    result.pending = 0; // still-pending pointers were pending before; nothing new is kept
    Ok(result)
}

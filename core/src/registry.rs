//! Recognises which known chat a pointer belongs to, and opens it.
//!
//! - clm201: the chat id travels in clear, so a hash lookup finds the candidates;
//! - clm202: nothing travels, so every clm202 chat is tried; one keystream block rejects a
//!   chat that is not the pointer's (its plaintext must start with `#name|¶|`);
//! - native (v1 and v2 alike, one table): tags are looked up in a table of every chat's tags for
//!   the periods around `now` (one hash lookup whatever the number of chats); tables of other
//!   periods are built on demand and a few are kept, so a backlog from last week costs one
//!   build per hour of it.
//!
//! "Not mine" (no chat claims the pointer) and "mine but broken" (a chat claims it, but it
//! fails to open: forged MAC, damaged ciphertext) are distinct outcomes.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::format::clm201::Clm201Chat;
use crate::format::clm202::{Clm202Chat, Probe};
use crate::format::native::{NativeKeys, period_of};
use crate::format::native2::Native2Keys;
use crate::pointer::TAG_LEN;
use crate::{OpenError, Opened, Pointer};

/// Periods kept in the live window: the current one, one before and one after (clock skew).
const WINDOW_BEFORE: u64 = 1;
const WINDOW_AFTER: u64 = 1;
/// Tables of periods outside the window kept at once.
const CACHED_PERIODS: usize = 16;

/// A chat's keys in one of the formats.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChatKeys {
    /// CLM v2.0.1.
    Clm201(Clm201Chat),
    /// CLM v2.0.2.
    Clm202(Clm202Chat),
    /// Native, version 1.
    Native(NativeKeys),
    /// Native, version 2.
    Native2(Native2Keys),
}

impl ChatKeys {
    /// The recognition tag of a native chat (v1 or v2) for a period.
    fn native_tag(&self, period: u64) -> Option<[u8; TAG_LEN]> {
        match self {
            ChatKeys::Native(keys) => Some(keys.tag_for_period(period)),
            ChatKeys::Native2(keys) => Some(keys.tag_for_period(period)),
            ChatKeys::Clm201(_) | ChatKeys::Clm202(_) => None,
        }
    }
}

/// The outcome of [`Registry::recognize`].
#[derive(Debug)]
pub enum Recognition<Id> {
    /// A chat opened the pointer.
    Opened {
        /// The chat's id as given to [`Registry::insert`].
        chat: Id,
        /// The message.
        message: Opened,
    },
    /// A chat claims the pointer but it does not open: altered, forged or damaged.
    Broken {
        /// The chat that claims it.
        chat: Id,
        /// Why it did not open.
        error: OpenError,
    },
    /// No known chat claims the pointer.
    NotMine,
}

/// Tags are HMAC outputs, already uniform: hashing their first eight bytes is enough, and
/// since only our own tags are inserted, chosen tags in pointers cannot flood a bucket.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }
}

type TagMap = HashMap<[u8; TAG_LEN], Slot, BuildHasherDefault<TagHasher>>;

/// Usually one chat per tag; two chats with the same secret share their tags.
#[derive(Debug, Clone)]
enum Slot {
    One(u32),
    Many(Vec<u32>),
}

impl Slot {
    fn add(&mut self, chat: u32) {
        match self {
            Slot::One(first) => *self = Slot::Many(vec![*first, chat]),
            Slot::Many(all) => all.push(chat),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Slot::One(one) => std::slice::from_ref(one),
            Slot::Many(all) => all,
        }
    }
}

struct PeriodTable {
    period: u64,
    tags: TagMap,
}

/// Known chats, indexed for recognition. `Id` is the caller's handle for a chat.
pub struct Registry<Id> {
    chats: Vec<(Id, ChatKeys)>,
    clm201_by_id: HashMap<String, Vec<u32>>,
    clm202: Vec<u32>,
    /// Native chats of both versions: their tags share the tables.
    native: Vec<u32>,
    now_period: Option<u64>,
    window: Vec<PeriodTable>,
    cache: VecDeque<PeriodTable>,
}

impl<Id> core::fmt::Debug for Registry<Id> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry")
            .field("chats", &self.chats.len())
            .field("now_period", &self.now_period)
            .finish_non_exhaustive()
    }
}

impl<Id> Default for Registry<Id> {
    fn default() -> Self {
        Registry {
            chats: Vec::new(),
            clm201_by_id: HashMap::new(),
            clm202: Vec::new(),
            native: Vec::new(),
            now_period: None,
            window: Vec::new(),
            cache: VecDeque::new(),
        }
    }
}

impl<Id: Clone> Registry<Id> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of chats.
    pub fn len(&self) -> usize {
        self.chats.len()
    }

    /// True when no chat is known.
    pub fn is_empty(&self) -> bool {
        self.chats.is_empty()
    }

    /// Adds a chat.
    pub fn insert(&mut self, id: Id, keys: ChatKeys) {
        let index = u32::try_from(self.chats.len()).expect("fewer than 2^32 chats");
        match &keys {
            ChatKeys::Clm201(chat) => {
                self.clm201_by_id.entry(chat.chat_id().to_owned()).or_default().push(index)
            }
            ChatKeys::Clm202(_) => self.clm202.push(index),
            ChatKeys::Native(_) | ChatKeys::Native2(_) => {
                self.native.push(index);
                for table in self.window.iter_mut().chain(self.cache.iter_mut()) {
                    let tag = keys.native_tag(table.period).expect("a native chat");
                    add_tag(&mut table.tags, tag, index);
                }
            }
        }
        self.chats.push((id, keys));
    }

    /// Moves the live tag window to `now` (seconds since the Unix epoch). Call it as time passes;
    /// until it is called every native lookup builds its period's table on demand.
    pub fn set_now(&mut self, now: u64) {
        let current = period_of(now);
        if self.now_period == Some(current) {
            return;
        }
        self.now_period = Some(current);
        let wanted = current.saturating_sub(WINDOW_BEFORE)..=current.saturating_add(WINDOW_AFTER);
        let mut old = std::mem::take(&mut self.window);
        for period in wanted {
            let table = match old.iter().position(|t| t.period == period) {
                Some(i) => old.swap_remove(i),
                None => match self.cache.iter().position(|t| t.period == period) {
                    Some(i) => self.cache.remove(i).expect("index in range"),
                    None => self.build_table(period),
                },
            };
            self.window.push(table);
        }
        for table in old {
            self.remember(table);
        }
    }

    /// Finds the chat a pointer belongs to and opens it.
    pub fn recognize(&mut self, pointer: &Pointer) -> Recognition<Id> {
        let mut claimed: Option<(u32, OpenError)> = None;
        let mut outcome = |this: &Self, index: u32, result: Result<Opened, OpenError>| match result {
            Ok(message) => Some(Recognition::Opened { chat: this.chats[index as usize].0.clone(), message }),
            Err(OpenError::NotThisChat) => None,
            Err(error) => {
                claimed.get_or_insert((index, error));
                None
            }
        };
        let found = match pointer {
            Pointer::Clm201(p) => self.clm201_by_id.get(&p.chat_id).and_then(|candidates| {
                candidates.iter().find_map(|&i| match &self.chats[i as usize].1 {
                    ChatKeys::Clm201(chat) => outcome(self, i, chat.open(p)),
                    _ => None,
                })
            }),
            Pointer::Clm202(p) => {
                let mut probe = Probe::new(p);
                self.clm202.iter().find_map(|&i| match &self.chats[i as usize].1 {
                    ChatKeys::Clm202(chat) => outcome(self, i, chat.open_probed(p, &mut probe)),
                    _ => None,
                })
            }
            Pointer::Native(p) => {
                let candidates = self.tag_candidates(p.epoch, &p.tag);
                candidates.into_iter().find_map(|i| match &self.chats[i as usize].1 {
                    ChatKeys::Native(keys) => outcome(self, i, keys.open_recognized(p)),
                    _ => None,
                })
            }
            Pointer::Native2(p) => {
                let candidates = self.tag_candidates(p.epoch, &p.tag);
                candidates.into_iter().find_map(|i| match &self.chats[i as usize].1 {
                    ChatKeys::Native2(keys) => outcome(self, i, keys.open_recognized(p)),
                    _ => None,
                })
            }
        };
        found.unwrap_or_else(|| match claimed {
            Some((index, error)) => Recognition::Broken { chat: self.chats[index as usize].0.clone(), error },
            None => Recognition::NotMine,
        })
    }

    /// The native chats whose tag for the epoch's period is `tag` (usually none or one).
    fn tag_candidates(&mut self, epoch: u64, tag: &[u8; TAG_LEN]) -> Vec<u32> {
        self.table_for(period_of(epoch)).get(tag).map(|s| s.as_slice().to_vec()).unwrap_or_default()
    }

    fn table_for(&mut self, period: u64) -> &TagMap {
        if let Some(i) = self.window.iter().position(|t| t.period == period) {
            return &self.window[i].tags;
        }
        if let Some(i) = self.cache.iter().position(|t| t.period == period) {
            return &self.cache[i].tags;
        }
        let table = self.build_table(period);
        self.remember(table);
        &self.cache.back().expect("just pushed").tags
    }

    fn remember(&mut self, table: PeriodTable) {
        if self.cache.len() == CACHED_PERIODS {
            self.cache.pop_front();
        }
        self.cache.push_back(table);
    }

    fn build_table(&self, period: u64) -> PeriodTable {
        let mut tags = TagMap::with_capacity_and_hasher(self.native.len(), Default::default());
        for &index in &self.native {
            if let Some(tag) = self.chats[index as usize].1.native_tag(period) {
                add_tag(&mut tags, tag, index);
            }
        }
        PeriodTable { period, tags }
    }
}

fn add_tag(tags: &mut TagMap, tag: [u8; TAG_LEN], index: u32) {
    tags.entry(tag).and_modify(|slot| slot.add(index)).or_insert(Slot::One(index));
}

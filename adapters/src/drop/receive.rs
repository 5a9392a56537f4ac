//! The receive loop: inotify events plus periodic full rescans, a settle check so files still
//! being written are never read half, and the seen set that keeps every content reported once.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{DropTransport, MIN_POLL_INTERVAL, SEEN_CURSOR_PREFIX, Sha256Digest, digest_file_name};
use crate::{Cursor, Inbound, TransportError};

/// Events queued between the watcher thread and the loop; beyond that a full rescan catches up.
const EVENT_QUEUE: usize = 1024;
/// A NUL byte in this much of the start of a file marks it as binary.
const BINARY_PROBE_BYTES: usize = 8 * 1024;
/// Periodic rescans that `stat` only new or unsettled files, between two that `stat` all.
const QUICK_SCANS_PER_THOROUGH: u32 = 9;
/// Files read by one blocking task, and the bytes they may add up to (a bound on memory).
const READ_BATCH_FILES: usize = 256;
const READ_BATCH_BYTES: u64 = 1024 * 1024;

type WatchEvent = notify::Result<notify::Event>;

pub(super) async fn run(
    transport: Arc<DropTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let receiver = Receiver::new(transport, cursors, events_tx);
    let result = receiver.run(events_rx, &inbound, &stop).await;
    match result {
        Ok(()) | Err(Halt::Stopped) => Ok(()),
        Err(Halt::Failed(err)) => Err(err),
    }
}

/// Why the loop ends.
enum Halt {
    Stopped,
    Failed(TransportError),
}

/// What identifies one state of a file: if none of it changed, neither did the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified_ns: i64,
    changed_ns: i64,
    inode: u64,
    device: u64,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
        Self {
            len: meta.len(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &Metadata) -> Self {
        Self {
            len: meta.len(),
            modified_ns: meta.modified().map_or(0, unix_ns),
            changed_ns: 0,
            inode: 0,
            device: 0,
        }
    }
}

fn unix_ns(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |ns| -ns),
    }
}

/// Which folder is mounted at the path: changes when the folder is re-created or a stick is
/// re-plugged, which kills an inotify watch silently.
#[cfg(unix)]
fn folder_identity(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn folder_identity(_meta: &Metadata) -> (u64, u64) {
    (0, 0)
}

/// Why a folder entry is not read. One warning per entry and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Empty,
    TooLarge,
    Binary,
    Unreadable,
    Symlink,
    Directory,
    Special,
    BadName,
}

impl Skip {
    fn describe(self) -> &'static str {
        match self {
            Skip::Empty => "empty file",
            Skip::TooLarge => "file too large for a pointer",
            Skip::Binary => "binary file (NUL bytes)",
            Skip::Unreadable => "unreadable file",
            Skip::Symlink => "symbolic link (never followed)",
            Skip::Directory => "subfolder (only the folder itself is read)",
            Skip::Special => "not a regular file",
            Skip::BadName => "file name is not UTF-8",
        }
    }
}

/// One folder entry as looked at (without following symlinks).
#[derive(Debug)]
enum Entry {
    File { name: String, stamp: Stamp },
    Other { name: String, skip: Skip, detail: String },
    Gone { name: String },
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::File { name, .. } | Entry::Other { name, .. } | Entry::Gone { name } => name,
        }
    }

    /// Oldest first, then by name, so a backlog flows in the order it was written.
    fn order(&self) -> (i64, &str) {
        match self {
            Entry::File { name, stamp } => (stamp.modified_ns, name),
            Entry::Other { name, .. } | Entry::Gone { name } => (i64::MIN, name),
        }
    }
}

/// Temporary files (ours, rsync's, Syncthing's, editors') and hidden files are not pointers.
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp")
}

/// Names written by [`DropTransport::send`]: `clm-` + 32 lowercase hex digits + `.json`.
fn is_digest_name(name: &str) -> bool {
    name.strip_prefix("clm-").and_then(|rest| rest.strip_suffix(".json")).is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn classify(name: String, meta: &Metadata) -> Entry {
    let kind = meta.file_type();
    if kind.is_file() {
        return Entry::File { name, stamp: Stamp::of(meta) };
    }
    let skip = if kind.is_symlink() {
        Skip::Symlink
    } else if kind.is_dir() {
        Skip::Directory
    } else {
        Skip::Special
    };
    Entry::Other { name, skip, detail: String::new() }
}

/// A folder listing: the names to look at, entries to warn about, and how many names there were.
#[derive(Debug)]
struct Listing {
    to_look_at: Vec<String>,
    odd: Vec<Entry>,
    count: usize,
}

/// Lists the folder (skipping hidden and temporary names) without a `stat` per file where the
/// file system reports types in the listing, and keeps only the names `needs_look(name, inode,
/// is_file)` asks for: a large folder whose files were all dealt with costs no memory per file.
/// Names that are not UTF-8 come back as entries to warn about. An error means the folder
/// itself is unavailable.
fn list_folder(folder: &Path, mut needs_look: impl FnMut(&str, u64, bool) -> bool) -> io::Result<Listing> {
    let mut listing = Listing { to_look_at: Vec::new(), odd: Vec::new(), count: 0 };
    for item in fs::read_dir(folder)? {
        let item = item?;
        match item.file_name().into_string() {
            Ok(name) if is_ignored(&name) => {}
            Ok(name) => {
                listing.count += 1;
                // Never follows symlinks: a symlink's type is "symlink".
                let is_file = item.file_type().is_ok_and(|kind| kind.is_file());
                if needs_look(&name, listed_inode(&item), is_file) {
                    listing.to_look_at.push(name);
                }
            }
            Err(raw) => {
                let name = raw.to_string_lossy().into_owned();
                listing.odd.push(Entry::Other { name, skip: Skip::BadName, detail: String::new() });
            }
        }
    }
    Ok(listing)
}

#[cfg(unix)]
fn listed_inode(item: &fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(item)
}

#[cfg(not(unix))]
fn listed_inode(_item: &fs::DirEntry) -> u64 {
    0
}

/// Looks at the named entries only (after events).
fn look_at(folder: &Path, names: Vec<String>) -> Vec<Entry> {
    names
        .into_iter()
        .map(|name| match fs::symlink_metadata(folder.join(&name)) {
            Ok(meta) => classify(name, &meta),
            Err(err) if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                Entry::Gone { name }
            }
            Err(err) => Entry::Other { name, skip: Skip::Unreadable, detail: err.to_string() },
        })
        .collect()
}

/// A file to read, as listed.
#[derive(Debug)]
struct ReadRequest {
    name: String,
    stamp: Stamp,
    /// Not settled yet: accept the content only if it hashes to the file's own name (a file
    /// written by `send`, complete by construction).
    only_if_named_by_digest: bool,
}

#[derive(Debug)]
enum ReadOutcome {
    Content {
        bytes: Vec<u8>,
        digest: Sha256Digest,
        stamp: Stamp,
    },
    /// The file changed since it was listed or while it was read: look again after it settles.
    Changed(Stamp),
    Gone,
    TooLarge(u64),
    Unreadable(io::Error),
}

/// Reads one file whole, making sure it is the regular file that was listed (no symlink swapped
/// in) and that it did not change while being read.
fn read_file(folder: &Path, request: &ReadRequest, max_file_bytes: u64) -> ReadOutcome {
    let file = match File::open(folder.join(&request.name)) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return ReadOutcome::Gone,
        Err(err) => return ReadOutcome::Unreadable(err),
    };
    let before = match file.metadata() {
        Ok(meta) if meta.is_file() => Stamp::of(&meta),
        Ok(_) => return ReadOutcome::Changed(request.stamp),
        Err(err) => return ReadOutcome::Unreadable(err),
    };
    if before != request.stamp {
        return ReadOutcome::Changed(before);
    }
    if before.len > max_file_bytes {
        return ReadOutcome::TooLarge(before.len);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(before.len).unwrap_or(0));
    if let Err(err) = (&file).take(max_file_bytes + 1).read_to_end(&mut bytes) {
        return ReadOutcome::Unreadable(err);
    }
    if bytes.len() as u64 > max_file_bytes {
        return ReadOutcome::TooLarge(bytes.len() as u64);
    }
    let after = match file.metadata() {
        Ok(meta) => Stamp::of(&meta),
        Err(err) => return ReadOutcome::Unreadable(err),
    };
    if after != before || bytes.len() as u64 != before.len {
        return ReadOutcome::Changed(after);
    }
    let digest = Sha256::digest(&bytes).into();
    ReadOutcome::Content { bytes, digest, stamp: after }
}

/// A file dealt with, in the state it was dealt with. Kept for every file in the folder, so it
/// is small: the inode (compared on quick scans) and a fingerprint of the rest of the stamp.
#[derive(Debug, Clone, Copy)]
struct Settled {
    inode: u64,
    fingerprint: u64,
    /// The last listing that showed it.
    listing: u32,
}

impl Settled {
    /// The same file state, whichever listing saw it.
    fn same_state(&self, other: &Settled) -> bool {
        (self.inode, self.fingerprint) == (other.inode, other.fingerprint)
    }
}

/// Keys of the map that covers the whole folder: a per-process random SipHash of the name
/// instead of the name (a 100 000-file folder costs ~4 MiB, not ~15). Random keys: names
/// chosen by someone else cannot be made to collide; a chance collision (about 1 in 4·10⁹ for
/// 100 000 names) costs one more read of a file, never a message: what was reported is decided
/// by the seen set, whose keys are 128 bits of SHA-256.
#[derive(Debug, Clone)]
struct NameKeys(RandomState);

impl NameKeys {
    fn new() -> Self {
        Self(RandomState::new())
    }

    fn key(&self, name: &str) -> u64 {
        self.0.hash_one(name)
    }

    fn fingerprint(&self, stamp: &Stamp) -> u64 {
        self.0.hash_one((stamp.len, stamp.modified_ns, stamp.changed_ns, stamp.device))
    }
}

/// A seen-set cursor value: the hex of one or more 16-byte seen keys.
fn parse_seen_keys(text: &str) -> Option<Vec<u128>> {
    if text.is_empty() || !text.len().is_multiple_of(32) {
        return None;
    }
    (0..text.len()).step_by(32).map(|at| u128::from_str_radix(text.get(at..at + 32)?, 16).ok()).collect()
}

/// The cursor recording a group of files reported together: key `seen:` + the first key, value
/// every key, in hex. One row per read batch instead of one per file: storing 100 000
/// per-file rows cost the store a third of its time.
fn seen_cursor(keys: &[u128]) -> Option<Cursor> {
    let first = keys.first()?;
    let mut value = String::with_capacity(keys.len() * 32);
    for key in keys {
        value.push_str(&format!("{key:032x}"));
    }
    Some(Cursor { key: format!("{SEEN_CURSOR_PREFIX}{first:032x}"), value })
}

/// What the seen set holds for a file name and the content reported under it: 128 bits of
/// SHA-256 over both. Deterministic, as it is rebuilt from the stored cursors after a restart.
fn seen_key(name: &str, digest: &Sha256Digest) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(digest);
    let full: [u8; 32] = hasher.finalize().into();
    let mut half = [0u8; 16];
    half.copy_from_slice(&full[..16]);
    u128::from_le_bytes(half)
}

/// A file not settled yet, and since when it has looked like this.
#[derive(Debug)]
struct Pending {
    stamp: Stamp,
    since: Instant,
}

/// A file read and not seen before: its message, and what to note once it is handed over.
#[derive(Debug)]
struct Ready {
    message: Inbound,
    seen_key: u128,
    name: String,
    stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FolderState {
    NotLookedAt,
    Present,
    Missing,
}

struct Receiver {
    transport: Arc<DropTransport>,
    /// Absolute, so it compares equal to the paths in watcher events.
    folder: PathBuf,
    settle: Duration,
    /// (name, content) pairs already reported ([`seen_key`]): rebuilt from the `seen:` cursors.
    seen: HashSet<u128>,
    /// Files dealt with (reported, already seen, or skipped) in the state they were in, by
    /// [`NameKeys::key`].
    settled: HashMap<u64, Settled>,
    names: NameKeys,
    /// Counts folder listings, to sweep `settled` of files that are gone.
    listing: u32,
    /// Files waiting to settle.
    pending: HashMap<String, Pending>,
    /// When a watcher event last named a file: a file still being written locally.
    last_event: HashMap<String, Instant>,
    /// Entries warned about, and why, so each is warned about once.
    warned: HashMap<String, Skip>,
    /// Kept only to keep the watch alive.
    watch: Option<RecommendedWatcher>,
    /// The folder (device, inode) last seen at the path.
    watched_identity: Option<(u64, u64)>,
    /// Periodic rescans since the last thorough one.
    quick_scans: u32,
    /// An event said the watched folder itself went away.
    watch_dead: bool,
    watch_failure_warned: bool,
    folder_state: FolderState,
    events_tx: mpsc::Sender<WatchEvent>,
    /// Set by the watcher thread when the event queue was full: a full rescan catches up.
    events_lost: Arc<AtomicBool>,
}

impl Receiver {
    fn new(transport: Arc<DropTransport>, cursors: Vec<Cursor>, events_tx: mpsc::Sender<WatchEvent>) -> Self {
        let configured = transport.settings.path.clone();
        let folder = std::path::absolute(&configured).unwrap_or(configured);
        let mut seen = HashSet::with_capacity(cursors.len());
        for cursor in cursors {
            if !cursor.key.starts_with(SEEN_CURSOR_PREFIX) {
                continue;
            }
            match parse_seen_keys(&cursor.value) {
                Some(keys) => seen.extend(keys),
                None => tracing::warn!(
                    transport = %transport.name, key = %cursor.key,
                    "ignoring a stored drop cursor that is not a list of seen keys"
                ),
            }
        }
        Self {
            settle: transport.settings.settle_time,
            transport,
            folder,
            seen,
            settled: HashMap::new(),
            names: NameKeys::new(),
            listing: 0,
            pending: HashMap::new(),
            last_event: HashMap::new(),
            warned: HashMap::new(),
            watch: None,
            watched_identity: None,
            quick_scans: 0,
            watch_dead: false,
            watch_failure_warned: false,
            folder_state: FolderState::NotLookedAt,
            events_tx,
            events_lost: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn run(
        mut self,
        mut events: mpsc::Receiver<WatchEvent>,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let poll = self.transport.settings.poll_interval.max(MIN_POLL_INTERVAL);
        // The first tick is immediate: the initial full scan.
        let mut rescan = tokio::time::interval(poll);
        rescan.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let next_settle = self.pending.values().map(|p| p.since + self.settle).min();
            let settle_timer = async move {
                match next_settle {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => return Err(Halt::Stopped),
                () = inbound.closed() => return Err(Halt::Failed(TransportError::Closed)),
                _ = rescan.tick() => {
                    let thorough = self.quick_scans >= QUICK_SCANS_PER_THOROUGH || self.watch.is_none();
                    self.quick_scans = if thorough { 0 } else { self.quick_scans + 1 };
                    self.full_scan(thorough, inbound, stop).await?;
                }
                () = settle_timer => {
                    let now = Instant::now();
                    let due = self
                        .pending
                        .iter()
                        .filter(|(_, p)| p.since + self.settle <= now)
                        .map(|(name, _)| name.clone())
                        .collect();
                    self.look_again(due, inbound, stop).await?;
                }
                Some(event) = events.recv() => {
                    let mut names = HashSet::new();
                    let mut full = self.absorb(event, &mut names);
                    while let Ok(event) = events.try_recv() {
                        full |= self.absorb(event, &mut names);
                    }
                    full |= self.events_lost.swap(false, Ordering::Relaxed);
                    if full {
                        self.full_scan(true, inbound, stop).await?;
                    } else if !names.is_empty() {
                        self.look_again(names.into_iter().collect(), inbound, stop).await?;
                    }
                }
            }
        }
    }

    /// Notes the files a watcher event names; true if it calls for a full rescan.
    fn absorb(&mut self, event: WatchEvent, names: &mut HashSet<String>) -> bool {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                tracing::debug!(transport = %self.transport.name, error = %err, "watcher error; rescanning");
                return true;
            }
        };
        if event.need_rescan() {
            return true;
        }
        let now = Instant::now();
        let mut full = false;
        for path in &event.paths {
            if path.parent() == Some(self.folder.as_path()) {
                match path.file_name().and_then(|name| name.to_str()) {
                    Some(name) if is_ignored(name) => {}
                    Some(name) => {
                        self.last_event.insert(name.to_owned(), now);
                        names.insert(name.to_owned());
                    }
                    // A name that is not UTF-8: the full listing reports it.
                    None => full = true,
                }
            } else if path == &self.folder {
                // The folder itself was removed, moved away or unmounted: its watch may be dead
                // even if a new folder appears at the path before the next look.
                self.watch_dead = true;
                full = true;
            }
        }
        full
    }

    /// Lists the whole folder. A quick scan `stat`s only files that are new, replaced, or not
    /// dealt with yet; a thorough one `stat`s every file, to catch content rewritten in place
    /// where no event told of it (network shares).
    async fn full_scan(
        &mut self,
        thorough: bool,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let folder = self.folder.clone();
        let identity = self
            .blocking(stop, move || {
                let meta = fs::metadata(&folder)?;
                if meta.is_dir() {
                    Ok(folder_identity(&meta))
                } else {
                    Err(io::Error::new(io::ErrorKind::NotADirectory, "it is not a folder"))
                }
            })
            .await?;
        let identity = match identity {
            Ok(identity) => identity,
            Err(err) => {
                self.folder_unavailable(&err);
                return Ok(());
            }
        };
        // Watch before listing, so nothing created in between goes unnoticed.
        let thorough = self.folder_available(identity) || thorough;
        let folder = self.folder.clone();
        // A file dealt with and still under the same inode needs no `stat` on a quick scan: new
        // files and atomic replacements show up in the listing itself. The check runs during
        // the listing, on the blocking thread, so settled files cost no allocation.
        self.listing = self.listing.wrapping_add(1);
        let listing = self.listing;
        let mut settled = std::mem::take(&mut self.settled);
        let pending: HashSet<String> = self.pending.keys().cloned().collect();
        let names = self.names.clone();
        let (listed, settled) = self
            .blocking(stop, move || {
                let listed = list_folder(&folder, |name, inode, is_file| {
                    let unchanged = match settled.get_mut(&names.key(name)) {
                        Some(state) => {
                            state.listing = listing;
                            state.inode == inode
                        }
                        None => false,
                    };
                    thorough || !is_file || !unchanged || pending.contains(name)
                });
                (listed, settled)
            })
            .await?;
        self.settled = settled;
        let Listing { to_look_at, odd: mut entries, count } = match listed {
            Ok(listing) => listing,
            Err(err) => {
                self.folder_unavailable(&err);
                return Ok(());
            }
        };
        // Sized once for the whole folder, before the reads: grown step by step in between the
        // reads' short-lived buffers, the table's old copies fragmented the heap for good.
        self.settled.reserve(count.saturating_sub(self.settled.len()));
        self.seen.reserve(count.saturating_sub(self.seen.len()));
        // Forget what is gone (what was seen of it stays seen).
        self.settled.retain(|_, settled| settled.listing == listing);
        if !(self.pending.is_empty() && self.warned.is_empty()) {
            let looked_at: HashSet<&str> =
                to_look_at.iter().map(String::as_str).chain(entries.iter().map(Entry::name)).collect();
            self.pending.retain(|name, _| looked_at.contains(name.as_str()));
            let (settled, names) = (&self.settled, &self.names);
            self.warned.retain(|name, _| {
                looked_at.contains(name.as_str()) || settled.contains_key(&names.key(name))
            });
        }
        let now = Instant::now();
        let settle = self.settle;
        self.last_event.retain(|_, at| now.duration_since(*at) < settle);
        let folder = self.folder.clone();
        entries.extend(self.blocking(stop, move || look_at(&folder, to_look_at)).await?);
        self.process(entries, inbound, stop).await
    }

    async fn look_again(
        &mut self,
        names: Vec<String>,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        if names.is_empty() {
            return Ok(());
        }
        let folder = self.folder.clone();
        let entries = self.blocking(stop, move || look_at(&folder, names)).await?;
        self.process(entries, inbound, stop).await
    }

    fn folder_unavailable(&mut self, err: &io::Error) {
        self.watch = None;
        if self.folder_state != FolderState::Missing {
            tracing::warn!(
                transport = %self.transport.name, folder = %self.folder.display(), error = %err,
                "drop folder unavailable; looking again every {:?}",
                self.transport.settings.poll_interval.max(MIN_POLL_INTERVAL)
            );
            self.folder_state = FolderState::Missing;
        }
    }

    /// Notes the folder is there; returns true if it is new to this loop (first look, back
    /// after being missing, or another folder at the path), which calls for a thorough scan.
    fn folder_available(&mut self, identity: (u64, u64)) -> bool {
        let was_missing = self.folder_state == FolderState::Missing;
        if was_missing {
            tracing::info!(transport = %self.transport.name, folder = %self.folder.display(), "drop folder is back");
        }
        let first_look = self.folder_state == FolderState::NotLookedAt;
        self.folder_state = FolderState::Present;
        if std::mem::take(&mut self.watch_dead) {
            self.watch = None;
        }
        let changed = self.watched_identity != Some(identity);
        self.watched_identity = Some(identity);
        if self.watch.is_some() && !changed {
            return first_look || was_missing;
        }
        // A new folder at the path (re-created, re-plugged): the old watch is dead.
        self.watch = None;
        match self.start_watcher() {
            Ok(watcher) => {
                tracing::debug!(transport = %self.transport.name, folder = %self.folder.display(), "watching the drop folder");
                self.watch = Some(watcher);
                self.watch_failure_warned = false;
            }
            Err(err) if !self.watch_failure_warned => {
                tracing::warn!(
                    transport = %self.transport.name, folder = %self.folder.display(), error = %err,
                    "cannot watch the drop folder for changes; relying on rescans"
                );
                self.watch_failure_warned = true;
            }
            Err(_) => {}
        }
        first_look || was_missing || changed
    }

    fn start_watcher(&self) -> notify::Result<RecommendedWatcher> {
        let events = self.events_tx.clone();
        let lost = Arc::clone(&self.events_lost);
        let mut watcher = notify::recommended_watcher(move |event: WatchEvent| {
            // Opening and closing without writing (our own reads among them) changes nothing;
            // dropped here so a large backlog being read does not flood the queue.
            if let Ok(event) = &event
                && let EventKind::Access(access) = event.kind
                && access != AccessKind::Close(AccessMode::Write)
            {
                return;
            }
            if events.try_send(event).is_err() {
                lost.store(true, Ordering::Relaxed);
            }
        })?;
        watcher.watch(&self.folder, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    }

    /// Handles looked-at entries: warns about what is skipped, reads what settled (in batches,
    /// off the async threads), and reports what was not seen before.
    async fn process(
        &mut self,
        mut entries: Vec<Entry>,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        entries.sort_by(|a, b| a.order().cmp(&b.order()));
        let now = Instant::now();
        let wall_now_ns = unix_ns(SystemTime::now());
        let mut to_read = Vec::new();
        for entry in entries {
            match entry {
                Entry::Gone { name } => self.forget(&name),
                Entry::Other { name, skip, detail } => {
                    self.settled.remove(&self.names.key(&name));
                    self.pending.remove(&name);
                    self.warn_once(&name, skip, &detail);
                }
                Entry::File { name, stamp } => {
                    if let Some(request) = self.triage(name, stamp, now, wall_now_ns) {
                        to_read.push(request);
                    }
                }
            }
        }
        let total = to_read.len();
        if total > 1 {
            tracing::debug!(transport = %self.transport.name, files = total, "reading new drop files");
        }
        self.transport.set_backlog(total);
        let mut handled = 0;
        let mut queue = to_read.into_iter().peekable();
        while queue.peek().is_some() {
            let mut batch = Vec::new();
            let mut batch_bytes = 0;
            while let Some(request) = queue.next_if(|request| {
                batch.is_empty()
                    || (batch.len() < READ_BATCH_FILES && batch_bytes + request.stamp.len <= READ_BATCH_BYTES)
            }) {
                batch_bytes += request.stamp.len;
                batch.push(request);
            }
            let batch_len = batch.len();
            let folder = self.folder.clone();
            let max_file_bytes = self.transport.settings.max_file_bytes;
            let results = self
                .blocking(stop, move || {
                    batch
                        .into_iter()
                        .map(|request| {
                            let outcome = read_file(&folder, &request, max_file_bytes);
                            (request, outcome)
                        })
                        .collect::<Vec<_>>()
                })
                .await?;
            let mut ready = Vec::new();
            for (request, outcome) in results {
                ready.extend(self.conclude(request, outcome));
            }
            // The group's seen keys travel with its last file: if the bridge stops before that
            // one is stored, the group is read again on restart, and what was stored already
            // is recognised by its digest there.
            let keys: Vec<u128> = ready.iter().map(|ready| ready.seen_key).collect();
            let last = ready.len().saturating_sub(1);
            let mut sent_of_batch = 0;
            for (i, Ready { mut message, seen_key, name, stamp }) in ready.into_iter().enumerate() {
                if i == last {
                    message.cursor = seen_cursor(&keys);
                }
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return Err(Halt::Stopped),
                    sent = inbound.send(message) => {
                        if sent.is_err() {
                            return Err(Halt::Failed(TransportError::Closed));
                        }
                    }
                }
                tracing::trace!(transport = %self.transport.name, file = %name, "drop file delivered");
                self.seen.insert(seen_key);
                self.mark_settled(&name, stamp);
                sent_of_batch += 1;
                self.transport.set_backlog(total - handled - sent_of_batch);
            }
            // Files of the batch that were skipped or seen count as handled too.
            handled += batch_len;
            self.transport.set_backlog(total - handled);
        }
        Ok(())
    }

    /// Decides what to do with a regular file as listed: nothing (handled in this state),
    /// skip, wait for it to settle, or read it.
    fn triage(&mut self, name: String, stamp: Stamp, now: Instant, wall_now_ns: i64) -> Option<ReadRequest> {
        let now_settled = self.settled_now(&stamp);
        if self.settled.get(&self.names.key(&name)).is_some_and(|settled| settled.same_state(&now_settled)) {
            return None;
        }
        let max_file_bytes = self.transport.settings.max_file_bytes;
        if stamp.len > max_file_bytes {
            let detail = format!("{} bytes, the limit is {max_file_bytes}", stamp.len);
            self.skip_file(name, stamp, Skip::TooLarge, &detail);
            return None;
        }
        let settle_ns = i64::try_from(self.settle.as_nanos()).unwrap_or(i64::MAX);
        // Two ways to know a file is complete: it has not changed for the settle time across two
        // looks, or it was last modified longer ago than that and no local writer touched it
        // since (events veto the modification time, which a copy may have preserved).
        let quiet = self.last_event.get(&name).is_none_or(|at| now.duration_since(*at) >= self.settle);
        let old_enough = quiet && wall_now_ns.saturating_sub(stamp.modified_ns) >= settle_ns;
        let steady = self.pending.get(&name).is_some_and(|pending| {
            pending.stamp == stamp && now.duration_since(pending.since) >= self.settle
        });
        if !(old_enough || steady) {
            self.note_pending(&name, stamp, now);
            // Our own files are complete when their content matches their name: no need to wait.
            let only_if_named_by_digest = stamp.len > 0 && is_digest_name(&name);
            return only_if_named_by_digest.then_some(ReadRequest { name, stamp, only_if_named_by_digest });
        }
        if stamp.len == 0 {
            self.skip_file(name, stamp, Skip::Empty, "");
            return None;
        }
        Some(ReadRequest { name, stamp, only_if_named_by_digest: false })
    }

    /// Deals with a read file: a message to report, or nothing (skipped, unchanged, or seen).
    fn conclude(&mut self, request: ReadRequest, outcome: ReadOutcome) -> Option<Ready> {
        let ReadRequest { name, stamp: listed, only_if_named_by_digest } = request;
        let (bytes, digest, stamp) = match outcome {
            ReadOutcome::Content { bytes, digest, stamp } => (bytes, digest, stamp),
            ReadOutcome::Changed(stamp) => {
                // Seen changing just now: the settle time starts again.
                self.pending.insert(name, Pending { stamp, since: Instant::now() });
                return None;
            }
            ReadOutcome::Gone => {
                self.forget(&name);
                return None;
            }
            ReadOutcome::TooLarge(len) => {
                let detail = format!("{len} bytes, the limit is {}", self.transport.settings.max_file_bytes);
                self.skip_file(name, listed, Skip::TooLarge, &detail);
                return None;
            }
            ReadOutcome::Unreadable(err) => {
                self.skip_file(name, listed, Skip::Unreadable, &err.to_string());
                return None;
            }
        };
        if only_if_named_by_digest && digest_file_name(&digest) != name {
            // Not complete yet (or not ours): it stays pending until it settles.
            return None;
        }
        if bytes[..bytes.len().min(BINARY_PROBE_BYTES)].contains(&0) {
            self.skip_file(name, stamp, Skip::Binary, "");
            return None;
        }
        self.pending.remove(&name);
        self.warned.remove(&name);
        let seen_key = seen_key(&name, &digest);
        if self.seen.contains(&seen_key) {
            self.mark_settled(&name, stamp);
            return None;
        }
        let message = Inbound {
            transport: self.transport.name.clone(),
            origin: name.clone(),
            text: bytes,
            cursor: None,
            committed: None,
        };
        Some(Ready { message, seen_key, name, stamp })
    }

    /// What `settled` holds for a file in state `stamp` as of the current listing.
    fn settled_now(&self, stamp: &Stamp) -> Settled {
        Settled { inode: stamp.inode, fingerprint: self.names.fingerprint(stamp), listing: self.listing }
    }

    fn mark_settled(&mut self, name: &str, stamp: Stamp) {
        let settled = self.settled_now(&stamp);
        self.settled.insert(self.names.key(name), settled);
    }

    fn note_pending(&mut self, name: &str, stamp: Stamp, now: Instant) {
        match self.pending.get_mut(name) {
            Some(pending) if pending.stamp == stamp => {}
            Some(pending) => *pending = Pending { stamp, since: now },
            None => {
                self.pending.insert(name.to_owned(), Pending { stamp, since: now });
            }
        }
    }

    fn skip_file(&mut self, name: String, stamp: Stamp, skip: Skip, detail: &str) {
        self.pending.remove(&name);
        self.warn_once(&name, skip, detail);
        self.mark_settled(&name, stamp);
    }

    fn warn_once(&mut self, name: &str, skip: Skip, detail: &str) {
        if self.warned.get(name) == Some(&skip) {
            return;
        }
        tracing::warn!(
            transport = %self.transport.name, folder = %self.folder.display(), file = %name, detail = %detail,
            "skipping {}", skip.describe()
        );
        self.warned.insert(name.to_owned(), skip);
    }

    /// The entry is gone; what was seen of it stays seen.
    fn forget(&mut self, name: &str) {
        self.settled.remove(&self.names.key(name));
        self.pending.remove(name);
        self.last_event.remove(name);
        self.warned.remove(name);
    }

    /// Runs file-system work off the async threads; gives up waiting when stopped.
    async fn blocking<T: Send + 'static>(
        &self,
        stop: &CancellationToken,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Halt> {
        let task = tokio::task::spawn_blocking(work);
        tokio::select! {
            biased;
            () = stop.cancelled() => Err(Halt::Stopped),
            joined = task => joined.map_err(|err| {
                Halt::Failed(TransportError::Io {
                    path: self.folder.display().to_string(),
                    source: io::Error::other(format!("a file-system task failed: {err}")),
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_cursors_round_trip_and_refuse_garbage() {
        let keys = [seen_key("a.json", &[1; 32]), seen_key("b.json", &[1; 32]), seen_key("a.json", &[2; 32])];
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 3, "name and content both count");
        let cursor = seen_cursor(&keys).unwrap();
        assert_eq!(cursor.key, format!("seen:{:032x}", keys[0]));
        assert_eq!(parse_seen_keys(&cursor.value), Some(keys.to_vec()));
        assert_eq!(seen_cursor(&[]), None);
        for bad in ["", "00", &"zz".repeat(16), &"é".repeat(16), &"0".repeat(33)] {
            assert_eq!(parse_seen_keys(bad), None, "{bad:?}");
        }
    }
}

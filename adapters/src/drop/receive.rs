//! The receive loop: inotify events plus periodic full rescans, a settle check so files still
//! being written are never read half, and the seen set that keeps every content reported once.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
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

use super::{
    DropTransport, MIN_POLL_INTERVAL, SEEN_CURSOR_PREFIX, Sha256Digest, digest_file_name, hex,
    parse_digest_hex,
};
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

/// A folder entry as the directory listing gives it, before any `stat`.
#[derive(Debug)]
struct Listed {
    name: String,
    inode: u64,
    is_file: bool,
}

/// Lists the folder's names (skipping hidden and temporary ones) without a `stat` per file where
/// the file system reports types in the listing; names that are not UTF-8 come back as entries
/// to warn about. An error means the folder itself is unavailable.
fn list_folder(folder: &Path) -> io::Result<(Vec<Listed>, Vec<Entry>)> {
    let mut listed = Vec::new();
    let mut odd = Vec::new();
    for item in fs::read_dir(folder)? {
        let item = item?;
        match item.file_name().into_string() {
            Ok(name) if is_ignored(&name) => {}
            Ok(name) => {
                // Never follows symlinks: a symlink's type is "symlink".
                let is_file = item.file_type().is_ok_and(|kind| kind.is_file());
                listed.push(Listed { name, inode: listed_inode(&item), is_file });
            }
            Err(raw) => {
                let name = raw.to_string_lossy().into_owned();
                odd.push(Entry::Other { name, skip: Skip::BadName, detail: String::new() });
            }
        }
    }
    Ok((listed, odd))
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

/// A file dealt with, in the state it was dealt with.
#[derive(Debug)]
struct Settled {
    stamp: Stamp,
    /// The last listing that showed it.
    listing: u32,
}

/// A file not settled yet, and since when it has looked like this.
#[derive(Debug)]
struct Pending {
    stamp: Stamp,
    since: Instant,
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
    /// Content already reported, by file name: rebuilt from the `seen:` cursors.
    seen: HashMap<String, Sha256Digest>,
    /// Files dealt with (reported, already seen, or skipped) in the state they were in.
    settled: HashMap<String, Settled>,
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
        let mut seen = HashMap::new();
        for cursor in cursors {
            let Some(name) = cursor.key.strip_prefix(SEEN_CURSOR_PREFIX) else { continue };
            match parse_digest_hex(&cursor.value) {
                Some(digest) => {
                    seen.insert(name.to_owned(), digest);
                }
                None => tracing::warn!(
                    transport = %transport.name, key = %cursor.key,
                    "ignoring a stored drop cursor whose value is not a SHA-256 digest"
                ),
            }
        }
        Self {
            settle: transport.settings.settle_time,
            transport,
            folder,
            seen,
            settled: HashMap::new(),
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
        let (listed, mut entries) = match self.blocking(stop, move || list_folder(&folder)).await? {
            Ok(listing) => listing,
            Err(err) => {
                self.folder_unavailable(&err);
                return Ok(());
            }
        };
        // A file dealt with and still under the same inode needs no `stat` on a quick scan: new
        // files and atomic replacements show up in the listing itself.
        self.listing = self.listing.wrapping_add(1);
        let listing = self.listing;
        let mut to_look_at = Vec::new();
        for item in listed {
            let unchanged = match self.settled.get_mut(&item.name) {
                Some(settled) => {
                    settled.listing = listing;
                    settled.stamp.inode == item.inode
                }
                None => false,
            };
            if thorough || !item.is_file || !unchanged || self.pending.contains_key(&item.name) {
                to_look_at.push(item.name);
            }
        }
        // Forget what is gone (what was seen of it stays seen).
        self.settled.retain(|_, settled| settled.listing == listing);
        if !(self.pending.is_empty() && self.warned.is_empty()) {
            let looked_at: HashSet<&str> =
                to_look_at.iter().map(String::as_str).chain(entries.iter().map(Entry::name)).collect();
            self.pending.retain(|name, _| looked_at.contains(name.as_str()));
            let settled = &self.settled;
            self.warned.retain(|name, _| looked_at.contains(name.as_str()) || settled.contains_key(name));
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
                    self.settled.remove(&name);
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
            for (request, outcome) in results {
                self.conclude(request, outcome, inbound, stop).await?;
                handled += 1;
                self.transport.set_backlog(total - handled);
            }
        }
        Ok(())
    }

    /// Decides what to do with a regular file as listed: nothing (handled in this state),
    /// skip, wait for it to settle, or read it.
    fn triage(&mut self, name: String, stamp: Stamp, now: Instant, wall_now_ns: i64) -> Option<ReadRequest> {
        if self.settled.get(&name).is_some_and(|settled| settled.stamp == stamp) {
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

    async fn conclude(
        &mut self,
        request: ReadRequest,
        outcome: ReadOutcome,
        inbound: &mpsc::Sender<Inbound>,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let ReadRequest { name, stamp: listed, only_if_named_by_digest } = request;
        let (bytes, digest, stamp) = match outcome {
            ReadOutcome::Content { bytes, digest, stamp } => (bytes, digest, stamp),
            ReadOutcome::Changed(stamp) => {
                // Seen changing just now: the settle time starts again.
                self.pending.insert(name, Pending { stamp, since: Instant::now() });
                return Ok(());
            }
            ReadOutcome::Gone => {
                self.forget(&name);
                return Ok(());
            }
            ReadOutcome::TooLarge(len) => {
                let detail = format!("{len} bytes, the limit is {}", self.transport.settings.max_file_bytes);
                self.skip_file(name, listed, Skip::TooLarge, &detail);
                return Ok(());
            }
            ReadOutcome::Unreadable(err) => {
                self.skip_file(name, listed, Skip::Unreadable, &err.to_string());
                return Ok(());
            }
        };
        if only_if_named_by_digest && digest_file_name(&digest) != name {
            // Not complete yet (or not ours): it stays pending until it settles.
            return Ok(());
        }
        if bytes[..bytes.len().min(BINARY_PROBE_BYTES)].contains(&0) {
            self.skip_file(name, stamp, Skip::Binary, "");
            return Ok(());
        }
        self.pending.remove(&name);
        self.warned.remove(&name);
        if self.seen.get(&name) == Some(&digest) {
            self.mark_settled(name, stamp);
            return Ok(());
        }
        let message = Inbound {
            transport: self.transport.name.clone(),
            origin: name.clone(),
            text: bytes,
            cursor: Some(Cursor { key: format!("{SEEN_CURSOR_PREFIX}{name}"), value: hex(&digest) }),
            committed: None,
        };
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
        self.seen.insert(name.clone(), digest);
        self.mark_settled(name, stamp);
        Ok(())
    }

    fn mark_settled(&mut self, name: String, stamp: Stamp) {
        self.settled.insert(name, Settled { stamp, listing: self.listing });
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
        self.mark_settled(name, stamp);
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
        self.settled.remove(name);
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

//! The drop folder's receive side as a pure state machine (the quinn-proto shape): it does no
//! I/O and reads no clock. The driver (`receive.rs`) feeds it what it found (the folder there or
//! not, listing entries, `lstat`s, file contents, watcher events) and the time, and asks it
//! what to do next: [`Folder::poll_action`] (the I/O to perform), [`Folder::poll_delivery`]
//! (files to hand to the bridge), [`Folder::poll_notice`] (what to log) and
//! [`Folder::poll_timeout`] (when to wake it with [`Folder::handle_timeout`]).
//!
//! Every decision lives here: when to scan and whether to `stat` every file (thorough) or only
//! new ones (quick), when a file has settled, in which order a backlog is read and in windows of
//! what size, which entries are skipped and warned about once, which contents were reported
//! already (the seen set and its cursors), and which of our own temporary files are stale.

mod files;
mod scans;
mod seen;
mod settle;
mod triage;
mod window;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use self::files::Files;
use self::scans::{Cadence, Looks, Presence};
use self::seen::Seen;
use self::settle::Settling;
pub(super) use self::window::WINDOW_BYTES;
use self::window::Window;
use super::Sha256Digest;
use crate::Cursor;

/// Files read by one blocking task, and the bytes they may add up to (a bound on memory).
pub(super) const READ_BATCH_FILES: usize = 256;
const READ_BATCH_BYTES: u64 = 1024 * 1024;
/// Queues with room for more than this many items give it back once empty.
const SMALL_QUEUE: usize = 64;

/// What the state machine works with: the transport's settings, and the size of a backlog
/// window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Config {
    /// How often the folder is listed when nothing else happens.
    pub poll_interval: Duration,
    /// How long a file must stay unchanged (or have been last modified) before it is read.
    pub settle_time: Duration,
    /// Larger files are skipped.
    pub max_file_bytes: u64,
    /// Our own temporary files older than this are removed.
    pub stale_temp_age: Duration,
    /// The bookkeeping a listing may hold for files waiting to be read (see [`Window`]).
    pub window_bytes: usize,
}

/// A moment as the driver read it: monotonic for timers, and wall-clock (nanoseconds since the
/// Unix epoch) to compare with file times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Now {
    /// For timers.
    pub at: Instant,
    /// For file times.
    pub wall_ns: i64,
}

/// What identifies one state of a regular file: if none of it changed, neither did the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Stamp {
    pub len: u64,
    pub modified_ns: i64,
    pub changed_ns: i64,
    pub inode: u64,
    pub device: u64,
}

/// What a folder entry is, as the listing or `lstat` tells (symlinks never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    File,
    Directory,
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

/// Which folder is at the path (device, inode): changes when it is re-created or a stick is
/// re-plugged, which kills a watch silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity {
    pub device: u64,
    pub inode: u64,
}

/// Why an entry is not read. Each entry is warned about once per reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Skip {
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
    /// What the warning says is skipped.
    pub fn describe(self) -> &'static str {
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

    fn for_kind(kind: Kind) -> Skip {
        match kind {
            Kind::Symlink => Skip::Symlink,
            Kind::Directory => Skip::Directory,
            Kind::File | Kind::Special => Skip::Special,
        }
    }
}

/// One entry of a folder listing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listed<'a> {
    /// The name's bytes (any bytes but `/` and NUL).
    pub name: &'a [u8],
    pub inode: u64,
    pub kind: Kind,
}

/// What `lstat` found under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Looked {
    File(Stamp),
    Other {
        kind: Kind,
        inode: u64,
    },
    Gone,
    /// `lstat` failed for another reason than the entry being gone.
    Failed(String),
}

/// A file to read, as it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReadRequest {
    pub name: String,
    pub stamp: Stamp,
    /// Not settled yet: take the content only if it hashes to the file's own name (a file
    /// written by `send`, complete by construction).
    pub only_if_named_by_digest: bool,
}

/// What reading a file found.
#[derive(Debug)]
pub(super) enum ReadOutcome {
    Content {
        bytes: Vec<u8>,
        digest: Sha256Digest,
        stamp: Stamp,
    },
    /// The file changed since it was seen, or while it was read.
    Changed(Stamp),
    Gone,
    TooLarge(u64),
    /// Something else was swapped in under the name (a FIFO, a symlink, a folder).
    NotRegular(Kind),
    Unreadable(String),
}

/// A watcher event, as far as the state machine cares.
#[derive(Debug, Clone, Copy)]
pub(super) enum WatchEvent<'a> {
    /// Something happened to the entry of this name in the folder.
    Named(&'a [u8]),
    /// The folder itself was removed, moved or unmounted: its watch may be dead.
    FolderItself,
    /// Events were lost or the watcher failed: only a thorough scan catches up.
    Rescan,
}

/// I/O the driver performs for the state machine, reporting the result back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Check the folder is there: [`Folder::on_folder`].
    CheckFolder,
    /// Start watching the folder (replacing any watcher): [`Folder::on_watch`].
    Watch,
    /// Drop the watcher.
    Unwatch,
    /// List the folder: [`Folder::on_listed`] for each entry (with [`Folder::on_looked`] for
    /// the names it returns), then [`Folder::on_listing_done`].
    List { thorough: bool },
    /// `lstat` these names: [`Folder::on_looked`].
    Look(Vec<String>),
    /// Read these files: [`Folder::on_read_batch`].
    Read(Vec<ReadRequest>),
    /// Remove this stale temporary file of ours, if it is still a regular file.
    RemoveTemp(String),
}

/// A file to hand to the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delivery {
    /// The file name, as it is.
    pub name: String,
    pub text: Vec<u8>,
    /// On the last file of a read batch: the seen keys of the whole batch.
    pub cursor: Option<Cursor>,
}

/// Something to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Notice {
    /// An entry is skipped (a warning, once per entry and reason).
    Skipped {
        name: Vec<u8>,
        skip: Skip,
        detail: String,
    },
    FolderUnavailable {
        error: String,
    },
    FolderBack,
    Watching,
    WatchFailed {
        error: String,
    },
    /// A stored cursor that is not a list of seen keys, ignored.
    BadCursor {
        key: String,
    },
    /// A group of files is about to be read.
    Reading {
        files: usize,
    },
}

/// The listing in progress.
#[derive(Debug, Clone, Copy)]
struct Pass {
    thorough: bool,
    /// Its number, stamped on the records of the files it listed.
    listing: u32,
    /// Entries listed so far.
    listed: usize,
}

/// The receive side of one drop folder.
#[derive(Debug)]
pub(super) struct Folder {
    config: Config,
    seen: Seen,
    files: Files,
    settling: Settling,
    presence: Presence,
    cadence: Cadence,
    pass: Option<Pass>,
    window: Window,
    looks: Looks,
    /// Files to read, in order, and how many are being read now.
    reads: VecDeque<ReadRequest>,
    reading: usize,
    /// Files the last listing found but left out of its window: the next one reads them.
    beyond_window: usize,
    actions: VecDeque<Action>,
    deliveries: VecDeque<Delivery>,
    notices: VecDeque<Notice>,
}

impl Folder {
    /// A folder not looked at yet, resuming from the `seen:` cursors stored earlier (others
    /// are ignored). The first scan is due at once.
    pub fn new(config: Config, cursors: &[Cursor], now: Now) -> Self {
        let (seen, bad_keys) = Seen::from_cursors(cursors);
        let notices = bad_keys.into_iter().map(|key| Notice::BadCursor { key }).collect();
        Self {
            seen,
            files: Files::new(),
            settling: Settling::new(config.settle_time),
            presence: Presence::default(),
            cadence: Cadence::new(config.poll_interval, now.at),
            pass: None,
            window: Window::new(config.window_bytes),
            looks: Looks::default(),
            reads: VecDeque::new(),
            reading: 0,
            beyond_window: 0,
            actions: VecDeque::new(),
            deliveries: VecDeque::new(),
            notices,
            config,
        }
    }

    /// The next I/O to perform, if any: follow-ups first (watch, list), then reads, then looks
    /// at single files, then a scan. Deliveries of one read batch should be handed over before
    /// the next action, so reading never runs ahead of the bridge.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(action) = self.actions.pop_front() {
            return Some(action);
        }
        if let Some(batch) = self.next_read_batch() {
            return Some(Action::Read(batch));
        }
        if self.cadence.thorough_requested() {
            // A thorough scan looks at every file anyway.
            self.looks.clear();
        }
        if let Some(names) = self.looks.take() {
            return Some(Action::Look(names));
        }
        let thorough = self.cadence.take_request()?;
        self.presence.checking = Some(thorough);
        Some(Action::CheckFolder)
    }

    /// The next file to hand to the bridge.
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.deliveries.pop_front()
    }

    /// The next thing to log. The driver logs after every action and every listing chunk, so
    /// at most a window's or a chunk's warnings wait here.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        let notice = self.notices.pop_front();
        if notice.is_none() && self.notices.capacity() > SMALL_QUEUE {
            // A burst of warnings (a folder of junk) is not kept for an idle folder.
            self.notices = VecDeque::new();
        }
        notice
    }

    /// When [`Folder::handle_timeout`] is next due: the next periodic scan or the first file
    /// whose settle time ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let scan = self.cadence.next_scan();
        Some(self.settling.next_due().map_or(scan, |due| due.min(scan)))
    }

    /// Files found and not yet handed over: a progress figure for a large backlog.
    pub fn backlog(&self) -> usize {
        self.reads.len() + self.reading + self.deliveries.len() + self.beyond_window
    }

    /// The next read batch: up to [`READ_BATCH_FILES`] files and [`READ_BATCH_BYTES`] bytes
    /// (at least one file).
    fn next_read_batch(&mut self) -> Option<Vec<ReadRequest>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(request) = self.reads.front() {
            let fits = batch.len() < READ_BATCH_FILES && bytes + request.stamp.len <= READ_BATCH_BYTES;
            if !(batch.is_empty() || fits) {
                break;
            }
            bytes += request.stamp.len;
            batch.extend(self.reads.pop_front());
        }
        if self.reads.is_empty() && self.reads.capacity() > SMALL_QUEUE {
            // A backlog's queue is not kept for an idle folder.
            self.reads = VecDeque::new();
        }
        self.reading = batch.len();
        (!batch.is_empty()).then_some(batch)
    }
}

//! The folder state machine driven by a simulated folder and a fake clock: every policy is
//! tested without a file system and without sleeping. Time passes only by [`Harness::sleep`].

mod backlog;
mod hostile;
mod scans;
mod settling;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{
    Action, Config, Delivery, Folder, Identity, Kind, Listed, Looked, Notice, Now, ReadOutcome, ReadRequest,
    Skip, Stamp, WINDOW_BYTES, WatchEvent,
};
use crate::Cursor;
use crate::drop::DropTransport;

const POLL: Duration = Duration::from_secs(2);
const SETTLE: Duration = Duration::from_millis(200);
const MAX_FILE_BYTES: u64 = 4096;
const HOUR: Duration = Duration::from_secs(3600);
/// Entries the simulated listing hands over at a time: small, so listings span chunks.
const CHUNK: usize = 3;
/// More steps than any test needs: beyond, the machine is spinning.
const STEP_GUARD: usize = 100_000;

fn config() -> Config {
    Config {
        poll_interval: POLL,
        settle_time: SETTLE,
        max_file_bytes: MAX_FILE_BYTES,
        stale_temp_age: HOUR,
        window_bytes: WINDOW_BYTES,
    }
}

fn pointer(n: u32) -> String {
    format!(r#"{{"e": {}, "n": "nonce-{n}", "d": "{:0>64x}"}}"#, 1_700_000_000 + n, n)
}

/// An entry of the simulated folder.
#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    inode: u64,
    content: Vec<u8>,
    modified_ns: i64,
    changed_ns: i64,
    unreadable: bool,
}

impl Entry {
    fn stamp(&self) -> Stamp {
        let len = self.content.len() as u64;
        Stamp {
            len,
            modified_ns: self.modified_ns,
            changed_ns: self.changed_ns,
            inode: self.inode,
            device: 1,
        }
    }
}

/// A folder, a clock and a machine; performs the machine's actions on the folder the way the
/// driver performs them on a real one, and keeps what came out.
struct Harness {
    folder: Folder,
    now: Now,
    entries: BTreeMap<Vec<u8>, Entry>,
    present: bool,
    identity: Identity,
    next_inode: u64,
    watch_fails: bool,
    /// Applied to the folder right before the next read: a stranger's swap after the listing.
    swap_before_read: Option<(String, Option<Entry>)>,
    /// Names `lstat`ed, by listings and looks.
    lstats: usize,
    performed: Vec<Action>,
    /// [`Folder::backlog`] after each read, before its deliveries are handed over.
    backlogs: Vec<usize>,
    delivered: Vec<Delivery>,
    notices: Vec<Notice>,
}

impl Harness {
    fn new() -> Self {
        Self::with(config(), &[])
    }

    fn with(config: Config, cursors: &[Cursor]) -> Self {
        let now = Now { at: Instant::now(), wall_ns: 1_760_000_000_000_000_000 };
        Self {
            folder: Folder::new(config, cursors, now),
            now,
            entries: BTreeMap::new(),
            present: true,
            identity: Identity { device: 1, inode: 1 },
            next_inode: 100,
            watch_fails: false,
            swap_before_read: None,
            lstats: 0,
            performed: Vec::new(),
            backlogs: Vec::new(),
            delivered: Vec::new(),
            notices: Vec::new(),
        }
    }

    // --- The folder.

    fn new_entry(&mut self, kind: Kind, content: &[u8], age: Duration) -> Entry {
        self.next_inode += 1;
        let modified_ns = self.now.wall_ns - i64::try_from(age.as_nanos()).unwrap();
        Entry {
            kind,
            inode: self.next_inode,
            content: content.to_vec(),
            modified_ns,
            changed_ns: self.now.wall_ns,
            unreadable: false,
        }
    }

    /// A file that appears whole (written elsewhere, then renamed in), modified `age` ago.
    fn place_aged(&mut self, name: &str, content: &[u8], age: Duration) {
        let entry = self.new_entry(Kind::File, content, age);
        self.entries.insert(name.as_bytes().to_vec(), entry);
    }

    /// A file that appears whole just now.
    fn place(&mut self, name: &str, content: &[u8]) {
        self.place_aged(name, content, Duration::ZERO);
    }

    /// Writes into a file in place (same inode), now.
    fn write(&mut self, name: &str, content: &[u8]) {
        let now = self.now.wall_ns;
        match self.entries.get_mut(name.as_bytes()) {
            Some(entry) => {
                entry.content = content.to_vec();
                (entry.modified_ns, entry.changed_ns) = (now, now);
            }
            None => self.place(name, content),
        }
    }

    /// An entry that is not a regular file, or a file under a name that is not UTF-8.
    fn add(&mut self, name: &[u8], kind: Kind) {
        let entry = self.new_entry(kind, b"x", HOUR);
        self.entries.insert(name.to_vec(), entry);
    }

    fn remove(&mut self, name: &str) {
        self.entries.remove(name.as_bytes());
    }

    // --- Time and events.

    /// Lets `duration` pass, waking the machine whenever it asked to be.
    fn sleep(&mut self, duration: Duration) {
        let end = self.now.at + duration;
        for _ in 0..STEP_GUARD {
            match self.folder.poll_timeout() {
                Some(due) if due <= end => {
                    self.advance_to(due.max(self.now.at));
                    self.folder.handle_timeout(self.now);
                    self.run();
                }
                _ => {
                    self.advance_to(end);
                    return;
                }
            }
        }
        panic!("the machine keeps waking up at the same time");
    }

    /// The first scan, due at once.
    fn start(&mut self) {
        self.sleep(Duration::ZERO);
    }

    fn advance_to(&mut self, at: Instant) {
        let step = at - self.now.at;
        self.now.at = at;
        self.now.wall_ns += i64::try_from(step.as_nanos()).unwrap();
    }

    /// A watcher event naming `name`, and what follows at once.
    fn event(&mut self, name: &str) {
        self.folder.on_event(WatchEvent::Named(name.as_bytes()), self.now);
        self.run();
    }

    // --- The driver's part.

    /// Performs what the machine asks for until it asks for nothing.
    fn run(&mut self) {
        for _ in 0..STEP_GUARD {
            self.notices.extend(std::iter::from_fn(|| self.folder.poll_notice()));
            let Some(action) = self.folder.poll_action() else { return };
            self.performed.push(action.clone());
            self.perform(action);
            self.delivered.extend(std::iter::from_fn(|| self.folder.poll_delivery()));
        }
        panic!("the machine keeps asking for work");
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::CheckFolder => {
                let found =
                    if self.present { Ok(self.identity) } else { Err("No such file or directory".into()) };
                self.folder.on_folder(found, self.now);
            }
            Action::Watch => {
                let watch = if self.watch_fails { Err("no inotify watches left".into()) } else { Ok(()) };
                self.folder.on_watch(watch);
            }
            Action::Unwatch => {}
            Action::List { .. } => self.list(),
            Action::Look(names) => {
                let looked = self.look(names);
                self.folder.on_looked(looked, self.now);
            }
            Action::Read(batch) => {
                if let Some((name, swapped)) = self.swap_before_read.take() {
                    match swapped {
                        Some(entry) => self.entries.insert(name.into_bytes(), entry),
                        None => self.entries.remove(name.as_bytes()),
                    };
                }
                let results =
                    batch.into_iter().map(|request| (request.clone(), self.read(&request))).collect();
                self.folder.on_read_batch(results, self.now);
                self.backlogs.push(self.folder.backlog());
            }
            Action::RemoveTemp(name) => {
                if self.entries.get(name.as_bytes()).is_some_and(|e| e.kind == Kind::File) {
                    self.entries.remove(name.as_bytes());
                }
            }
        }
    }

    fn list(&mut self) {
        if !self.present {
            return self.folder.on_listing_done(Err("No such file or directory".into()), self.now);
        }
        let listing: Vec<(Vec<u8>, u64, Kind)> =
            self.entries.iter().map(|(n, e)| (n.clone(), e.inode, e.kind)).collect();
        for chunk in listing.chunks(CHUNK) {
            let names: Vec<String> = chunk
                .iter()
                .filter_map(|(name, inode, kind)| {
                    self.folder.on_listed(Listed { name, inode: *inode, kind: *kind })
                })
                .collect();
            if !names.is_empty() {
                let looked = self.look(names);
                self.folder.on_looked(looked, self.now);
            }
        }
        self.folder.on_listing_done(Ok(()), self.now);
    }

    fn look(&mut self, names: Vec<String>) -> Vec<(String, Looked)> {
        self.lstats += names.len();
        names
            .into_iter()
            .map(|name| {
                let looked = match self.entries.get(name.as_bytes()) {
                    None => Looked::Gone,
                    Some(entry) if entry.kind == Kind::File => Looked::File(entry.stamp()),
                    Some(entry) => Looked::Other { kind: entry.kind, inode: entry.inode },
                };
                (name, looked)
            })
            .collect()
    }

    fn read(&self, request: &ReadRequest) -> ReadOutcome {
        let Some(entry) = self.entries.get(request.name.as_bytes()) else { return ReadOutcome::Gone };
        if entry.kind != Kind::File {
            return ReadOutcome::NotRegular(entry.kind);
        }
        if entry.unreadable {
            return ReadOutcome::Unreadable("Permission denied (os error 13)".into());
        }
        if entry.stamp() != request.stamp {
            return ReadOutcome::Changed(entry.stamp());
        }
        if entry.stamp().len > MAX_FILE_BYTES {
            return ReadOutcome::TooLarge(entry.stamp().len);
        }
        let digest = Sha256::digest(&entry.content).into();
        ReadOutcome::Content { bytes: entry.content.clone(), digest, stamp: entry.stamp() }
    }

    // --- What came out.

    /// The names delivered since the last call, in order.
    fn take_delivered(&mut self) -> Vec<String> {
        self.delivered.drain(..).map(|delivery| delivery.name).collect()
    }

    /// The entries skipped (with why), in order of the warnings.
    fn skipped(&self) -> Vec<(Vec<u8>, Skip)> {
        self.notices
            .iter()
            .filter_map(|notice| match notice {
                Notice::Skipped { name, skip, .. } => Some((name.clone(), *skip)),
                _ => None,
            })
            .collect()
    }

    /// The listings performed since the last call: whether each was thorough.
    fn take_listings(&mut self) -> Vec<bool> {
        let listings = self.performed.iter().filter_map(|a| match a {
            Action::List { thorough } => Some(*thorough),
            _ => None,
        });
        let listings = listings.collect();
        self.performed.clear();
        listings
    }

    /// How many names were `lstat`ed since the last call.
    fn take_lstats(&mut self) -> usize {
        std::mem::take(&mut self.lstats)
    }
}

/// The name `send` gives a pointer.
fn digest_name(text: &str) -> String {
    DropTransport::file_name_for(text)
}

//! What happens to each entry: listed, looked at, waiting to settle, read, reported or skipped.

use super::seen::{seen_cursor, seen_key};
use super::{
    Action, Delivery, Folder, Kind, Listed, Looked, Notice, Now, ReadOutcome, ReadRequest, Skip, Stamp,
};
use crate::drop::digest_file_name;
use crate::drop::names::{is_digest_name, is_ignored};
use crate::drop::write::is_temp_name;

/// A NUL byte in this much of the start of a file marks it as binary.
const BINARY_PROBE_BYTES: usize = 8 * 1024;

impl Folder {
    /// One entry of the listing under way. Returns the name when the entry should be looked
    /// at (`lstat`, then [`Folder::on_looked`]): a regular file new or changed under its name,
    /// waiting to settle, or any file on a thorough scan. Other entries are judged by the
    /// kind the listing gives, without a look.
    pub fn on_listed(&mut self, entry: Listed<'_>) -> Option<String> {
        let pass = self.pass.as_mut()?;
        pass.listed += 1;
        let (thorough, listing) = (pass.thorough, pass.listing);
        if is_ignored(entry.name) {
            // Only thorough scans look for stale temporary files of ours: a folder flooded with
            // such names costs no more than a thorough scan does anyway.
            let name = std::str::from_utf8(entry.name).ok().filter(|name| is_temp_name(name));
            return name.filter(|_| thorough && entry.kind == Kind::File).map(str::to_owned);
        }
        let key = self.files.key(entry.name);
        let unchanged = self.files.listed(key, entry.inode, entry.kind);
        let odd = Odd { name: entry.name, key, inode: entry.inode, kind: entry.kind };
        let name = match std::str::from_utf8(entry.name) {
            Ok(name) if entry.kind == Kind::File => name,
            Ok(_) if unchanged => return None,
            Ok(_) => return self.skip_other(odd, Skip::for_kind(entry.kind), String::new()),
            Err(_) if unchanged => return None,
            Err(_) => return self.skip_other(odd, Skip::BadName, String::new()),
        };
        let waiting = self.settling.listed(name, listing);
        (thorough || !unchanged || waiting).then(|| name.to_owned())
    }

    /// The end of the listing under way: `Err` if it failed (the folder went away). Forgets
    /// the entries it did not show, then triages the files it found, oldest first.
    pub fn on_listing_done(&mut self, listing: Result<(), String>, now: Now) {
        let Some(pass) = self.pass.take() else { return };
        if let Err(error) = listing {
            self.window.clear();
            return self.folder_unavailable(error);
        }
        self.files.sweep(pass.listed);
        self.seen.reserve_for(pass.listed);
        self.settling.sweep(pass.listing, now.at);
        self.beyond_window = self.drain_window(now);
        if self.beyond_window > 0 {
            // The next window, once this one is read.
            self.cadence.request(false);
        }
    }

    /// What `lstat` found under these names. Outside a listing the files are triaged at once.
    pub fn on_looked(&mut self, looked: Vec<(String, Looked)>, now: Now) {
        for (name, looked) in looked {
            if is_ignored(name.as_bytes()) {
                self.check_temp(name, &looked, now);
                continue;
            }
            let key = self.files.key(name.as_bytes());
            match looked {
                Looked::File(stamp) => self.window.push(name, stamp),
                Looked::Other { kind, inode } => {
                    let odd = Odd { name: name.as_bytes(), key, inode, kind };
                    self.skip_other(odd, Skip::for_kind(kind), String::new());
                }
                Looked::Gone => self.forget(&name, key),
                Looked::Failed(error) => {
                    let odd = Odd { name: name.as_bytes(), key, inode: 0, kind: Kind::File };
                    self.skip_other(odd, Skip::Unreadable, error);
                }
            }
        }
        if self.pass.is_none() {
            self.drain_window(now);
        }
    }

    /// Our own temporary file, if stale: a `send` killed between writing and renaming.
    fn check_temp(&mut self, name: String, looked: &Looked, now: Now) {
        let age_ns = i64::try_from(self.config.stale_temp_age.as_nanos()).unwrap_or(i64::MAX);
        if let Looked::File(stamp) = looked
            && is_temp_name(&name)
            && now.wall_ns.saturating_sub(stamp.modified_ns) >= age_ns
        {
            self.actions.push_back(Action::RemoveTemp(name));
        }
    }

    /// Triages the window's files, oldest first; returns how many it left out.
    fn drain_window(&mut self, now: Now) -> usize {
        let (files, left_out) = self.window.take();
        let before = self.reads.len();
        for (name, stamp) in files {
            if let Some(request) = self.triage(name, stamp, now) {
                self.reads.push_back(request);
            }
        }
        let queued = self.reads.len() - before;
        if queued > 1 {
            self.notices.push_back(Notice::Reading { files: queued });
        }
        left_out
    }

    /// Decides what to do with a regular file as seen: nothing (handled in this state), skip,
    /// wait for it to settle, or read it.
    fn triage(&mut self, name: String, stamp: Stamp, now: Now) -> Option<ReadRequest> {
        let key = self.files.key(name.as_bytes());
        if self.files.same_state(key, &stamp) {
            self.settling.remove(&name);
            return None;
        }
        let max_file_bytes = self.config.max_file_bytes;
        if stamp.len > max_file_bytes {
            let detail = format!("{} bytes, the limit is {max_file_bytes}", stamp.len);
            self.skip_file(&name, key, &stamp, Skip::TooLarge, detail);
            return None;
        }
        if !self.settling.settled(&name, key, &stamp, now) {
            self.settling.note(&name, stamp, now.at, self.files.latest_listing());
            // Our own files are complete when their content matches their name: no need to wait.
            let only_if_named_by_digest = stamp.len > 0 && is_digest_name(&name);
            return only_if_named_by_digest.then_some(ReadRequest { name, stamp, only_if_named_by_digest });
        }
        if stamp.len == 0 {
            self.skip_file(&name, key, &stamp, Skip::Empty, String::new());
            return None;
        }
        Some(ReadRequest { name, stamp, only_if_named_by_digest: false })
    }

    /// What reading a batch of files found: the files to report are queued as deliveries, the
    /// batch's seen keys travel with the last of them. If the bridge stops before that one is
    /// stored, the batch is read again on restart, and what was stored already is recognised
    /// by its digest there.
    pub fn on_read_batch(&mut self, results: Vec<(ReadRequest, ReadOutcome)>, now: Now) {
        self.reading = 0;
        let ready: Vec<(String, Vec<u8>, u128)> = results
            .into_iter()
            .filter_map(|(request, outcome)| self.conclude(request, outcome, now))
            .collect();
        let keys: Vec<u128> = ready.iter().map(|(_, _, key)| *key).collect();
        let mut cursor = seen_cursor(&keys);
        let last = ready.len().saturating_sub(1);
        for (i, (name, text, _)) in ready.into_iter().enumerate() {
            let cursor = if i == last { cursor.take() } else { None };
            self.deliveries.push_back(Delivery { name, text, cursor });
        }
    }

    /// Deals with a read file: its name, content and seen key to report, or nothing (skipped,
    /// changed, or seen).
    fn conclude(
        &mut self,
        request: ReadRequest,
        outcome: ReadOutcome,
        now: Now,
    ) -> Option<(String, Vec<u8>, u128)> {
        let ReadRequest { name, stamp: listed, only_if_named_by_digest } = request;
        let key = self.files.key(name.as_bytes());
        let (bytes, digest, stamp) = match outcome {
            ReadOutcome::Content { bytes, digest, stamp } => (bytes, digest, stamp),
            ReadOutcome::Changed(stamp) => {
                self.settling.restart(&name, stamp, now.at, self.files.latest_listing());
                return None;
            }
            ReadOutcome::Gone => {
                self.forget(&name, key);
                return None;
            }
            ReadOutcome::TooLarge(len) => {
                let detail = format!("{len} bytes, the limit is {}", self.config.max_file_bytes);
                self.skip_file(&name, key, &listed, Skip::TooLarge, detail);
                return None;
            }
            ReadOutcome::NotRegular(kind) => {
                let odd = Odd { name: name.as_bytes(), key, inode: 0, kind };
                self.skip_other(odd, Skip::for_kind(kind), "swapped in after the listing".into());
                return None;
            }
            ReadOutcome::Unreadable(error) => {
                self.skip_file(&name, key, &listed, Skip::Unreadable, error);
                return None;
            }
        };
        if only_if_named_by_digest && digest_file_name(&digest) != name {
            // Not complete yet (or not ours): it stays pending until it settles.
            return None;
        }
        if bytes[..bytes.len().min(BINARY_PROBE_BYTES)].contains(&0) {
            self.skip_file(&name, key, &stamp, Skip::Binary, String::new());
            return None;
        }
        self.settling.remove(&name);
        self.files.mark_file(key, &stamp, None);
        let seen_key = seen_key(&name, &digest);
        self.seen.insert(seen_key).then_some((name, bytes, seen_key))
    }

    /// Skips a regular file in state `stamp`, warning unless it was skipped for that already.
    fn skip_file(&mut self, name: &str, key: u64, stamp: &Stamp, skip: Skip, detail: String) {
        self.settling.remove(name);
        self.warn_once(name.as_bytes(), key, skip, detail);
        self.files.mark_file(key, stamp, Some(skip));
    }

    /// Skips an entry for what it is (or for its name), warning unless it was skipped for
    /// that already. Returns nothing to look at.
    fn skip_other(&mut self, odd: Odd<'_>, skip: Skip, detail: String) -> Option<String> {
        if let Ok(name) = std::str::from_utf8(odd.name) {
            self.settling.remove(name);
        }
        self.warn_once(odd.name, odd.key, skip, detail);
        self.files.mark_other(odd.key, odd.inode, odd.kind, skip);
        None
    }

    fn warn_once(&mut self, name: &[u8], key: u64, skip: Skip, detail: String) {
        if self.files.warned(key) != Some(skip) {
            self.notices.push_back(Notice::Skipped { name: name.to_vec(), skip, detail });
        }
    }

    /// The entry is gone; what was seen of it stays seen.
    fn forget(&mut self, name: &str, key: u64) {
        self.files.forget(key);
        self.settling.forget(name, key);
    }
}

/// An entry that is not a regular file to read, or whose name is not UTF-8.
#[derive(Debug, Clone, Copy)]
struct Odd<'a> {
    name: &'a [u8],
    /// [`super::files::Files::key`] of the name.
    key: u64,
    inode: u64,
    kind: Kind,
}

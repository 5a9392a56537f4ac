//! When the folder is listed and how thoroughly, whether it is there and watched, and what
//! watcher events and timers ask for.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{Action, Folder, Identity, Notice, Now, Pass, WatchEvent};
use crate::drop::names::is_ignored;

/// Periodic scans that `stat` only new or unsettled files, between two that `stat` all.
pub(super) const QUICK_SCANS_PER_THOROUGH: u32 = 9;
/// Names from events or settle timers waiting for a look, at most: beyond, a thorough scan.
pub(super) const MAX_LOOKS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    NotLookedAt,
    Present,
    Missing,
}

/// Whether the folder is there, which one it is, and whether it is watched.
#[derive(Debug, Default)]
pub(super) struct Presence {
    state: State,
    identity: Option<Identity>,
    /// The driver holds a working watcher.
    watching: bool,
    /// An event said the folder itself went away: its watch may be dead even if a folder is
    /// back at the path by the next look.
    watch_dead: bool,
    watch_failure_warned: bool,
    /// The scan whose folder check is under way: whether it is thorough.
    pub checking: Option<bool>,
}

/// When the next periodic scan is due, and whether it is quick or thorough.
#[derive(Debug)]
pub(super) struct Cadence {
    poll_interval: Duration,
    next_scan: Instant,
    quick_scans: u32,
    /// A scan asked for (by a timer, an event or a backlog): whether it must be thorough.
    requested: Option<bool>,
}

impl Cadence {
    pub fn new(poll_interval: Duration, now: Instant) -> Self {
        Self { poll_interval, next_scan: now, quick_scans: 0, requested: None }
    }

    pub fn next_scan(&self) -> Instant {
        self.next_scan
    }

    pub fn request(&mut self, thorough: bool) {
        self.requested = Some(self.requested.unwrap_or(false) || thorough);
    }

    pub fn thorough_requested(&self) -> bool {
        self.requested == Some(true)
    }

    pub fn take_request(&mut self) -> Option<bool> {
        self.requested.take()
    }

    /// Requests the periodic scan if it is due: thorough every tenth time, or always without a
    /// watch (then nothing else tells of a file rewritten in place).
    fn on_timeout(&mut self, now: Instant, watching: bool) {
        if now < self.next_scan {
            return;
        }
        let thorough = self.quick_scans >= QUICK_SCANS_PER_THOROUGH || !watching;
        self.quick_scans = if thorough { 0 } else { self.quick_scans + 1 };
        self.request(thorough);
        self.next_scan = now + self.poll_interval;
    }
}

/// Names to look at (`lstat`) soon, bounded.
#[derive(Debug, Default)]
pub(super) struct Looks(HashSet<String>);

impl Looks {
    /// Adds a name; false if there are too many already (they are dropped: scan instead).
    fn insert(&mut self, name: &str) -> bool {
        if self.0.len() >= MAX_LOOKS && !self.0.contains(name) {
            self.0.clear();
            return false;
        }
        self.0.insert(name.to_owned());
        true
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn take(&mut self) -> Option<Vec<String>> {
        (!self.0.is_empty()).then(|| std::mem::take(&mut self.0).into_iter().collect())
    }
}

impl Folder {
    /// Wakes the machine at (or after) [`Folder::poll_timeout`]: a periodic scan, and looks at
    /// files whose settle time has ended.
    pub fn handle_timeout(&mut self, now: Now) {
        self.cadence.on_timeout(now.at, self.presence.watching);
        let due: Vec<String> = self.settling.due(now.at).map(str::to_owned).collect();
        for name in due {
            self.look_soon(&name);
        }
    }

    /// A watcher event.
    pub fn on_event(&mut self, event: WatchEvent<'_>, now: Now) {
        match event {
            WatchEvent::Named(name) if is_ignored(name) => {}
            WatchEvent::Named(name) => match std::str::from_utf8(name) {
                Ok(name) => {
                    self.settling.note_event(self.files.key(name.as_bytes()), now.at);
                    self.look_soon(name);
                }
                // Only a listing reports a name that is not UTF-8.
                Err(_) => self.cadence.request(true),
            },
            WatchEvent::FolderItself => {
                self.presence.watch_dead = true;
                self.cadence.request(true);
            }
            WatchEvent::Rescan => self.cadence.request(true),
        }
    }

    fn look_soon(&mut self, name: &str) {
        if !self.looks.insert(name) {
            self.cadence.request(true);
        }
    }

    /// What [`Action::CheckFolder`] found: the folder (a directory, followed if the configured
    /// path is a symlink), or why it is not there.
    pub fn on_folder(&mut self, folder: Result<Identity, String>, _now: Now) {
        let thorough = self.presence.checking.take().unwrap_or(true);
        let identity = match folder {
            Ok(identity) => identity,
            Err(error) => return self.folder_unavailable(error),
        };
        let presence = &mut self.presence;
        let was_missing = presence.state == State::Missing;
        let first_look = presence.state == State::NotLookedAt;
        if was_missing {
            self.notices.push_back(Notice::FolderBack);
        }
        presence.state = State::Present;
        if std::mem::take(&mut presence.watch_dead) {
            presence.watching = false;
        }
        // Another folder at the path (re-created, re-plugged): the old watch is dead.
        let replaced = presence.identity.replace(identity).is_some_and(|before| before != identity);
        if !presence.watching || replaced {
            // Watch before listing, so nothing created in between goes unnoticed.
            self.actions.push_back(Action::Watch);
        }
        let thorough = thorough || first_look || was_missing || replaced;
        let listing = self.files.begin_listing();
        self.pass = Some(Pass { thorough, listing, listed: 0 });
        self.actions.push_back(Action::List { thorough });
    }

    /// Whether [`Action::Watch`] worked.
    pub fn on_watch(&mut self, watch: Result<(), String>) {
        match watch {
            Ok(()) => {
                self.presence.watching = true;
                self.presence.watch_failure_warned = false;
                self.notices.push_back(Notice::Watching);
            }
            Err(error) => {
                self.presence.watching = false;
                if !std::mem::replace(&mut self.presence.watch_failure_warned, true) {
                    self.notices.push_back(Notice::WatchFailed { error });
                }
            }
        }
    }

    /// The folder is gone (stick pulled, share unmounted) or cannot be listed: said once, and
    /// looked for again at every periodic scan.
    pub(super) fn folder_unavailable(&mut self, error: String) {
        if std::mem::take(&mut self.presence.watching) {
            self.actions.push_back(Action::Unwatch);
        }
        if self.presence.state != State::Missing {
            self.presence.state = State::Missing;
            self.notices.push_back(Notice::FolderUnavailable { error });
        }
    }
}

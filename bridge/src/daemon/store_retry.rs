//! What the daemon does when storing a batch fails: the store is busy (another program holds
//! the write lock: a large `chat add`, `purge`, `import-clm`, a backup), the disk is full, the
//! data directory is read-only or not ours to write. None of these ends the daemon: it waits
//! with backoff and tries again (nothing is acknowledged to a transport meanwhile, so nothing is
//! lost), and when the disk is full it first drops pending pointers, oldest first, and stores
//! only what known chats open, so real messages keep coming while junk cannot fill the disk.
//! Anything else (a damaged store) is tried a few times, then ends the daemon as before.

use std::path::Path;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::error::Error;
use crate::pipeline::PipelineError;
use crate::store::StoreError;

/// Attempts at a batch that fails for another reason before the daemon gives up.
pub const OTHER_ATTEMPTS: u32 = 5;
/// Waits between attempts.
pub const BACKOFF: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(60) };
/// Below this much free space, a write that failed with an I/O error counts as a full disk.
const NEARLY_FULL_BYTES: u64 = 4 << 20;

/// Why storing failed, as far as the daemon's response goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Another connection holds the write lock for longer than the busy timeout.
    Busy,
    /// No space left on the device (or in the database's size limit).
    Full,
    /// The database or its directory cannot be written: a read-only file system, or permissions.
    ReadOnly,
    /// The database cannot be opened or read now (an I/O error with space to spare).
    Unavailable,
    /// Something else: a damaged store, a bug.
    Other,
}

impl StoreFailure {
    /// Classifies a failed store attempt; `free_bytes` tells the space left in the data
    /// directory (consulted for I/O errors, which a full disk also causes).
    pub fn of(error: &Error, free_bytes: impl Fn() -> Option<u64>) -> StoreFailure {
        let store_error = match error {
            Error::Store(error) | Error::Pipeline(PipelineError::Store(error)) => error,
            _ => return StoreFailure::Other,
        };
        match store_error {
            StoreError::Database(message) => {
                let message = message.to_ascii_lowercase();
                if message.contains("locked") || message.contains("busy") {
                    StoreFailure::Busy
                } else if message.contains("full") {
                    StoreFailure::Full
                } else if message.contains("readonly") || message.contains("read-only") {
                    StoreFailure::ReadOnly
                } else if message.contains("i/o error") || message.contains("unable to open") {
                    if free_bytes().is_some_and(|free| free < NEARLY_FULL_BYTES) {
                        StoreFailure::Full
                    } else {
                        StoreFailure::Unavailable
                    }
                } else {
                    StoreFailure::Other
                }
            }
            StoreError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => StoreFailure::Full,
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
                    StoreFailure::ReadOnly
                }
                _ => StoreFailure::Unavailable,
            },
            _ => StoreFailure::Other,
        }
    }

    /// What to do after the `failures`-th failure in a row of this kind: `None` is give up.
    pub fn next_step(self, failures: u32) -> Option<Step> {
        match self {
            StoreFailure::Other if failures >= OTHER_ATTEMPTS => None,
            // Dropping pending pointers most likely made room: the first retry goes at once.
            StoreFailure::Full => Some(Step { shed_pending: true, keep_unopened: false, wait: failures > 1 }),
            _ => Some(Step { shed_pending: false, keep_unopened: true, wait: true }),
        }
    }

    /// What the log says, with the database's path.
    pub fn describe(self, database: &Path) -> String {
        let path = database.display();
        match self {
            StoreFailure::Busy => {
                format!("database busy: {path} (another program holds its write lock); waiting for it")
            }
            StoreFailure::Full => format!(
                "disk full: {path}; dropping pending pointers (oldest first) and storing only messages of known chats until there is space"
            ),
            StoreFailure::ReadOnly => format!(
                "cannot write {path}: read-only or permission denied; waiting until it can be written"
            ),
            StoreFailure::Unavailable => format!("cannot use {path} now (I/O error); waiting"),
            StoreFailure::Other => format!("cannot store what arrived in {path}"),
        }
    }
}

/// The next attempt at a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Drop the oldest pending pointers first, to make room.
    pub shed_pending: bool,
    /// Keep pointers no known chat opens as pending in this attempt.
    pub keep_unopened: bool,
    /// Wait (with backoff) before it.
    pub wait: bool,
}

/// Free bytes for unprivileged users on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(message: &str) -> Error {
        Error::Pipeline(PipelineError::Store(StoreError::Database(message.into())))
    }

    #[test]
    fn failures_are_told_apart_by_what_sqlite_and_the_system_say() {
        let plenty = || Some(1 << 30);
        let none_left = || Some(0);
        for (message, kind) in [
            ("database is locked", StoreFailure::Busy),
            ("The database file is locked", StoreFailure::Busy),
            ("database or disk is full", StoreFailure::Full),
            ("attempt to write a readonly database", StoreFailure::ReadOnly),
            ("disk I/O error", StoreFailure::Unavailable),
            ("UNIQUE constraint failed: messages.digest", StoreFailure::Other),
        ] {
            assert_eq!(StoreFailure::of(&database(message), plenty), kind, "{message}");
        }
        assert_eq!(StoreFailure::of(&database("disk I/O error"), none_left), StoreFailure::Full);
        let io =
            |kind| Error::Store(StoreError::Io { path: "/d".into(), source: std::io::Error::from(kind) });
        assert_eq!(StoreFailure::of(&io(std::io::ErrorKind::StorageFull), plenty), StoreFailure::Full);
        assert_eq!(
            StoreFailure::of(&io(std::io::ErrorKind::PermissionDenied), plenty),
            StoreFailure::ReadOnly
        );
        assert_eq!(StoreFailure::of(&Error::Clock, plenty), StoreFailure::Other);
    }

    #[test]
    fn only_unknown_failures_end_the_daemon_and_a_full_disk_sheds_first() {
        for kind in
            [StoreFailure::Busy, StoreFailure::ReadOnly, StoreFailure::Unavailable, StoreFailure::Full]
        {
            assert!(kind.next_step(10_000).is_some(), "{kind:?} is waited out");
        }
        assert!(StoreFailure::Other.next_step(OTHER_ATTEMPTS - 1).is_some());
        assert!(StoreFailure::Other.next_step(OTHER_ATTEMPTS).is_none());
        assert_eq!(
            StoreFailure::Full.next_step(1),
            Some(Step { shed_pending: true, keep_unopened: false, wait: false })
        );
        assert!(StoreFailure::Full.next_step(2).is_some_and(|step| step.wait));
        assert_eq!(
            StoreFailure::Busy.next_step(1),
            Some(Step { shed_pending: false, keep_unopened: true, wait: true })
        );
    }

    #[test]
    fn messages_name_the_path_and_the_cause() {
        let text = StoreFailure::Full.describe(Path::new("/data/history.sqlite3"));
        assert!(text.starts_with("disk full: /data/history.sqlite3"), "{text}");
        assert!(StoreFailure::Busy.describe(Path::new("/d/h")).contains("busy: /d/h"));
    }
}

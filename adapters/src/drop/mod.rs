//! The filesystem drop: pointers as files in a shared folder (Syncthing, NFS, a network share)
//! or on a USB stick carried between machines.
//!
//! Outgoing, every pointer becomes its own file named by its content digest
//! (`clm-<32 hex>.json`), written through a hidden temporary file that is synced and renamed
//! into place: a reader never sees half a file, and copies of the same pointer on two sticks
//! or two synced folders carry the same name, so they never collide.
//!
//! Incoming, the folder is watched with inotify (the `notify` crate) and listed again every
//! poll interval, because USB sticks and network shares often deliver no events. Most rescans
//! `stat` only files that are new, replaced or not dealt with yet; every tenth `stat`s them all,
//! to catch a file rewritten in place where no event told of it, at a bounded cost for a folder
//! holding years of pointers. A file is read once it has settled: unchanged in size and times
//! for the settle time (or older than that and untouched by any local writer), or, for the names
//! `send` writes, once its content hashes to its name. A backlog is read oldest first, in
//! windows of bounded size. Every file is reported once per content: the seen set holds a
//! 128-bit key per (name, content) reported, and is stored as one [`Cursor`] per read batch,
//! `seen:<first key>` = the hex of every key of the batch, carried by the batch's last file; it
//! is rebuilt from those cursors on restart.
//!
//! The adapter never modifies, moves or deletes a file it reads; the one file it removes is a
//! temporary file of `send`'s own naming older than [`DropSettings::stale_temp_age`] (a send
//! killed before its rename). Other hidden files and `*.tmp` are ignored, and empty, oversized,
//! binary, unreadable and non-regular entries and names that are not UTF-8 are skipped with one
//! warning each; FIFOs, devices and symlinks are never opened through, whenever they appear.
//! Whatever the folder holds, memory stays bounded: a fixed-size record per entry (never its
//! name) besides the seen set, and bounded windows, queues and waiting sets.
//!
//! The receive side is a pure state machine (`folder/`, no I/O and no clock) and a thin async
//! driver (`receive.rs`) doing the I/O it asks for (`disk.rs`).

mod disk;
mod folder;
mod names;
mod receive;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, Sent, Transport, TransportError};

pub use crate::settings::drop::{
    DEFAULT_MAX_FILE_BYTES, DEFAULT_POLL_INTERVAL, DEFAULT_SETTLE_TIME, DEFAULT_STALE_TEMP_AGE, DropSettings,
};

/// The shortest poll interval accepted: a zero interval would spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Prefix of the cursor keys that record which contents of which files were already reported:
/// `seen:<first key>` = the hex of 16-byte keys, SHA-256(name, 0, content digest) truncated, one
/// per file of a group read together.
pub const SEEN_CURSOR_PREFIX: &str = "seen:";

/// Checks a drop route's target: empty or `.` (the folder itself) or the name of one direct
/// subfolder; never a path that leaves the folder. Asked when a route is added and before
/// every write.
pub fn check_route(route: &Route) -> Result<(), TransportError> {
    let target = route.0.as_str();
    if target.is_empty() || target == "." {
        return Ok(());
    }
    let invalid =
        |reason: &str| TransportError::InvalidRoute { route: target.to_owned(), reason: reason.to_owned() };
    if target == ".." {
        return Err(invalid("a drop route may not leave the drop folder"));
    }
    if target.contains(['/', '\\']) || Path::new(target).is_absolute() {
        return Err(invalid("a drop route is the name of a subfolder, without separators"));
    }
    if target.contains('\0') {
        return Err(invalid("a folder name cannot contain NUL"));
    }
    Ok(())
}

/// A drop folder as a [`Transport`].
#[derive(Debug)]
pub struct DropTransport {
    name: String,
    settings: DropSettings,
    /// Files found by the current pass over the folder and not yet handled.
    backlog: AtomicUsize,
}

impl DropTransport {
    /// A drop transport named `name` (e.g. `drop.usb`) over the folder in `settings`.
    pub fn new(name: String, settings: DropSettings) -> Self {
        Self { name, settings, backlog: AtomicUsize::new(0) }
    }

    /// The settings this transport was made with.
    pub fn settings(&self) -> &DropSettings {
        &self.settings
    }

    /// How many files the running receive loop has found and not yet handled: a progress
    /// figure for a large backlog (a stick full of pointers), zero when idle.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    /// The file name a pointer is written under: `clm-` + the first 32 hex digits of the
    /// SHA-256 of its text + `.json`. The same text always gets the same name.
    pub fn file_name_for(pointer_text: &str) -> String {
        digest_file_name(&Sha256::digest(pointer_text.as_bytes()).into())
    }

    /// The folder a route points at: the configured folder for `""` or `"."`, else one of its
    /// direct subfolders.
    fn target_folder(&self, route: &Route) -> Result<PathBuf, TransportError> {
        check_route(route)?;
        let target = route.0.as_str();
        if target.is_empty() || target == "." {
            return Ok(self.settings.path.clone());
        }
        Ok(self.settings.path.join(target))
    }

    fn set_backlog(&self, files: usize) {
        self.backlog.store(files, Ordering::Relaxed);
    }
}

impl Transport for DropTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        route: &'a Route,
        pointer_text: &'a str,
    ) -> BoxFuture<'a, Result<Sent, TransportError>> {
        Box::pin(async move {
            let folder = self.target_folder(route)?;
            if pointer_text.len() as u64 > self.settings.max_file_bytes {
                // Readers with these settings would skip the file: say so now instead.
                return Err(TransportError::Refused(
                    self.name.clone(),
                    format!(
                        "a pointer of {} bytes exceeds the drop folder's limit of {} bytes",
                        pointer_text.len(),
                        self.settings.max_file_bytes
                    ),
                ));
            }
            let file_name = Self::file_name_for(pointer_text);
            let text = pointer_text.as_bytes().to_vec();
            let transport = self.name.clone();
            let written = {
                let (folder, file_name) = (folder.clone(), file_name.clone());
                tokio::task::spawn_blocking(move || write::write_pointer_file(&folder, &file_name, &text))
            }
            .await
            .map_err(|join| TransportError::Io {
                path: folder.display().to_string(),
                source: std::io::Error::other(format!("the writing task failed: {join}")),
            })?;
            match written {
                Ok(outcome) => {
                    tracing::debug!(transport = %transport, file = %file_name, ?outcome, "pointer file written");
                    Ok(Sent { id: file_name })
                }
                Err(write::WriteError::FolderMissing(reason)) => {
                    Err(TransportError::Unavailable(format!("drop folder {}", folder.display()), reason))
                }
                Err(write::WriteError::Io { path, source }) => {
                    Err(TransportError::Io { path: path.display().to_string(), source })
                }
            }
        })
    }

    fn run(
        self: Arc<Self>,
        cursors: Vec<Cursor>,
        inbound: mpsc::Sender<Inbound>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, Result<(), TransportError>> {
        Box::pin(receive::run(self, cursors, inbound, stop))
    }
}

/// A SHA-256 digest.
type Sha256Digest = [u8; 32];

fn digest_file_name(digest: &Sha256Digest) -> String {
    format!("clm-{}.json", hex(&digest[..16]))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_stay_inside_the_folder() {
        let transport = DropTransport::new("drop.t".into(), DropSettings::new("/srv/drop"));
        let folder = |t: &str| transport.target_folder(&Route(t.to_owned()));
        assert_eq!(folder("").unwrap(), PathBuf::from("/srv/drop"));
        assert_eq!(folder(".").unwrap(), PathBuf::from("/srv/drop"));
        assert_eq!(folder("alice").unwrap(), PathBuf::from("/srv/drop/alice"));
        for bad in ["..", "/etc", "a/b", "a\\b", "../x", "a\0b"] {
            assert!(matches!(folder(bad), Err(TransportError::InvalidRoute { .. })), "{bad:?} accepted");
        }
    }
}

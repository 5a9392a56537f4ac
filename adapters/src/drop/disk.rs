//! The receive loop's file-system work, all blocking (run off the async threads): what the
//! state machine in `folder/` asks for, translated to and from `std::fs`.

use std::ffi::OsString;
use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::folder::{Identity, Kind, Listed, Looked, ReadOutcome, ReadRequest, Stamp};

/// Entries handed over per chunk of a listing: a huge folder is listed in pieces of this many,
/// never collected whole.
const LIST_CHUNK: usize = 1024;

/// One entry of a listing, as `readdir` gives it (no `stat`).
#[derive(Debug)]
pub(super) struct RawEntry {
    name: OsString,
    inode: u64,
    kind: Kind,
}

impl RawEntry {
    pub fn listed(&self) -> Listed<'_> {
        Listed { name: os_bytes(&self.name), inode: self.inode, kind: self.kind }
    }
}

#[cfg(unix)]
pub(super) fn os_bytes(name: &std::ffi::OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(name)
}

#[cfg(not(unix))]
pub(super) fn os_bytes(name: &std::ffi::OsStr) -> &[u8] {
    name.to_str().map_or(b"\xff", str::as_bytes)
}

/// Nanoseconds since the Unix epoch (negative before it).
pub(super) fn unix_ns(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |ns| -ns),
    }
}

#[cfg(unix)]
fn stamp_of(meta: &Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
    Stamp {
        len: meta.len(),
        modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
        changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
        inode: meta.ino(),
        device: meta.dev(),
    }
}

#[cfg(not(unix))]
fn stamp_of(meta: &Metadata) -> Stamp {
    let modified_ns = meta.modified().map_or(0, unix_ns);
    Stamp { len: meta.len(), modified_ns, changed_ns: 0, inode: 0, device: 0 }
}

fn kind_of(kind: FileType) -> Kind {
    if kind.is_file() {
        Kind::File
    } else if kind.is_dir() {
        Kind::Directory
    } else if kind.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Special
    }
}

#[cfg(unix)]
fn inode_of(meta: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode_of(_meta: &Metadata) -> u64 {
    0
}

/// The folder at `folder` (followed if the configured path is a symlink), if it is a folder.
pub(super) fn identity(folder: &Path) -> Result<Identity, String> {
    match fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => Ok(Identity { device: device_of(&meta), inode: inode_of(&meta) }),
        Ok(_) => Err("it is not a folder".to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(unix)]
fn device_of(meta: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::dev(meta)
}

#[cfg(not(unix))]
fn device_of(_meta: &Metadata) -> u64 {
    0
}

/// Lists `folder` in chunks of [`LIST_CHUNK`] entries, handing each to `deliver` until it
/// returns false. An error (the folder cannot be opened or read) is handed over last.
pub(super) fn list(folder: &Path, deliver: impl FnMut(io::Result<Vec<RawEntry>>) -> bool) {
    list_in_chunks(folder, LIST_CHUNK, deliver);
}

fn list_in_chunks(
    folder: &Path,
    chunk_len: usize,
    mut deliver: impl FnMut(io::Result<Vec<RawEntry>>) -> bool,
) {
    let items = match fs::read_dir(folder) {
        Ok(items) => items,
        Err(err) => {
            deliver(Err(err));
            return;
        }
    };
    let mut chunk = Vec::with_capacity(chunk_len);
    for item in items {
        let item = match item {
            Ok(item) => item,
            Err(err) => {
                deliver(Err(err));
                return;
            }
        };
        // The type comes with the listing on most file systems; an entry gone meanwhile is
        // looked at as a file, and found gone.
        let kind = item.file_type().map_or(Kind::File, kind_of);
        chunk.push(RawEntry { name: item.file_name(), inode: listed_inode(&item), kind });
        if chunk.len() == chunk_len
            && !deliver(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(chunk_len))))
        {
            return;
        }
    }
    if !chunk.is_empty() {
        deliver(Ok(chunk));
    }
}

#[cfg(unix)]
fn listed_inode(item: &fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(item)
}

#[cfg(not(unix))]
fn listed_inode(_item: &fs::DirEntry) -> u64 {
    0
}

/// `lstat`s each name (never following symlinks).
pub(super) fn look(folder: &Path, names: Vec<String>) -> Vec<(String, Looked)> {
    names
        .into_iter()
        .map(|name| {
            let looked = match fs::symlink_metadata(folder.join(&name)) {
                Ok(meta) if meta.is_file() => Looked::File(stamp_of(&meta)),
                Ok(meta) => Looked::Other { kind: kind_of(meta.file_type()), inode: inode_of(&meta) },
                Err(err) if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    Looked::Gone
                }
                Err(err) => Looked::Failed(err.to_string()),
            };
            (name, looked)
        })
        .collect()
}

/// Reads each file of a batch.
pub(super) fn read(
    folder: &Path,
    batch: Vec<ReadRequest>,
    max_file_bytes: u64,
) -> Vec<(ReadRequest, ReadOutcome)> {
    batch
        .into_iter()
        .map(|request| {
            let outcome = read_file(folder, &request, max_file_bytes);
            (request, outcome)
        })
        .collect()
}

/// Opens a folder entry for reading without ever blocking or following a symlink: whatever was
/// listed, a stranger may have swapped a FIFO (whose `open` waits for a writer forever), a
/// device or a symlink in under the name since.
fn open_entry(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY);
    }
    options.open(path)
}

#[cfg(unix)]
fn is_symlink_refusal(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_refusal(_err: &io::Error) -> bool {
    false
}

/// Reads one file whole, making sure it is the regular file that was seen (nothing swapped in)
/// and that it did not change while being read.
fn read_file(folder: &Path, request: &ReadRequest, max_file_bytes: u64) -> ReadOutcome {
    let file = match open_entry(&folder.join(&request.name)) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return ReadOutcome::Gone,
        Err(err) if is_symlink_refusal(&err) => return ReadOutcome::NotRegular(Kind::Symlink),
        Err(err) => return ReadOutcome::Unreadable(err.to_string()),
    };
    // The descriptor's own `fstat`: what was opened, not what the name points at by now.
    let before = match file.metadata() {
        Ok(meta) if meta.is_file() => stamp_of(&meta),
        Ok(meta) => return ReadOutcome::NotRegular(kind_of(meta.file_type())),
        Err(err) => return ReadOutcome::Unreadable(err.to_string()),
    };
    if before != request.stamp {
        return ReadOutcome::Changed(before);
    }
    if before.len > max_file_bytes {
        return ReadOutcome::TooLarge(before.len);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(before.len).unwrap_or(0));
    if let Err(err) = (&file).take(max_file_bytes + 1).read_to_end(&mut bytes) {
        return ReadOutcome::Unreadable(err.to_string());
    }
    if bytes.len() as u64 > max_file_bytes {
        return ReadOutcome::TooLarge(bytes.len() as u64);
    }
    let after = match file.metadata() {
        Ok(meta) => stamp_of(&meta),
        Err(err) => return ReadOutcome::Unreadable(err.to_string()),
    };
    if after != before || bytes.len() as u64 != before.len {
        return ReadOutcome::Changed(after);
    }
    let digest = Sha256::digest(&bytes).into();
    ReadOutcome::Content { bytes, digest, stamp: after }
}

/// Removes `name` if it is (still) a regular file: only ever called for a stale temporary
/// file of ours. Returns whether it removed it.
pub(super) fn remove_temp(folder: &Path, name: &str) -> io::Result<bool> {
    let path = folder.join(name);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => fs::remove_file(&path).map(|()| true),
        Ok(_) => Ok(false),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::process::Command;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Reads `name` as if it had been listed as the regular file `listed`, on another thread:
    /// a read that blocks fails the test instead of hanging it.
    fn read_as_listed(folder: &Path, name: &str, listed: Stamp) -> ReadOutcome {
        let folder = folder.to_owned();
        let request = ReadRequest { name: name.to_owned(), stamp: listed, only_if_named_by_digest: false };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(read_file(&folder, &request, 1024)));
        rx.recv_timeout(Duration::from_secs(10)).expect("the read returned instead of blocking")
    }

    /// A regular file listed under `name`, then replaced by what `swap` puts there.
    fn listed_then_swapped(folder: &Path, name: &str, swap: impl FnOnce(&Path)) -> Stamp {
        let path = folder.join(name);
        fs::write(&path, b"{}").unwrap();
        let listed = stamp_of(&fs::symlink_metadata(&path).unwrap());
        fs::remove_file(&path).unwrap();
        swap(&path);
        listed
    }

    fn mkfifo(path: &Path) {
        assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    }

    #[test]
    fn regression_a_fifo_swapped_in_after_the_listing_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let listed = listed_then_swapped(dir.path(), "p.json", mkfifo);
        let outcome = read_as_listed(dir.path(), "p.json", listed);
        assert!(matches!(outcome, ReadOutcome::NotRegular(Kind::Special)), "{outcome:?}");
    }

    #[test]
    fn regression_a_symlink_swapped_in_after_the_listing_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // Behind the link: a FIFO (following it would block) and a pointer (would leak it).
        mkfifo(&outside.path().join("fifo"));
        fs::write(outside.path().join("secret.json"), b"{}").unwrap();
        for target in ["fifo", "secret.json"] {
            let target = outside.path().join(target);
            let listed = listed_then_swapped(dir.path(), "l.json", |path| {
                std::os::unix::fs::symlink(&target, path).unwrap()
            });
            let outcome = read_as_listed(dir.path(), "l.json", listed);
            assert!(matches!(outcome, ReadOutcome::NotRegular(Kind::Symlink)), "{target:?}: {outcome:?}");
            fs::remove_file(dir.path().join("l.json")).unwrap();
        }
    }

    #[test]
    fn a_folder_swapped_in_is_refused_and_the_listed_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let listed = listed_then_swapped(dir.path(), "d.json", |path| fs::create_dir(path).unwrap());
        let outcome = read_as_listed(dir.path(), "d.json", listed);
        assert!(matches!(outcome, ReadOutcome::NotRegular(Kind::Directory)), "{outcome:?}");

        fs::write(dir.path().join("ok.json"), b"{\"e\":1}").unwrap();
        let stamp = stamp_of(&fs::symlink_metadata(dir.path().join("ok.json")).unwrap());
        match read_as_listed(dir.path(), "ok.json", stamp) {
            ReadOutcome::Content { bytes, digest, .. } => {
                assert_eq!(bytes, b"{\"e\":1}");
                assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"{\"e\":1}")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_listing_comes_in_chunks_with_kinds_and_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..7 {
            fs::write(dir.path().join(format!("{n}.json")), b"x").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("link")).unwrap();
        let mut chunks = Vec::new();
        list_in_chunks(dir.path(), 4, |chunk| {
            chunks.push(chunk.unwrap());
            true
        });
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
        let kind = |name: &str| chunks.iter().flatten().find(|e| e.name == name).map(|e| e.kind);
        assert_eq!(
            (kind("0.json"), kind("sub"), kind("link")),
            (Some(Kind::File), Some(Kind::Directory), Some(Kind::Symlink))
        );

        let mut calls = 0;
        list_in_chunks(dir.path(), 4, |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1, "no chunk after the receiver said stop");
        let mut failed = false;
        list(&dir.path().join("missing"), |chunk| {
            failed = chunk.is_err();
            true
        });
        assert!(failed);
    }
}

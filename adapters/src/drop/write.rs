//! Writing one pointer file so that no reader ever sees it half written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What writing a pointer file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteOutcome {
    /// The file is new.
    Written,
    /// An identical file was already there (sent before, or synced from elsewhere).
    AlreadyThere,
    /// A file of that name with other content (a broken copy) was replaced.
    Replaced,
}

#[derive(Debug)]
pub(super) enum WriteError {
    /// The folder is not there (stick pulled, share unmounted) or is not a folder.
    FolderMissing(String),
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `text` as `folder/file_name`: a hidden temporary file in the same folder (readers
/// skip names starting with `.` and ending in `.tmp`), synced, renamed into place, and the
/// folder synced, so the file appears whole or not at all and survives a crash once this returns.
pub(super) fn write_pointer_file(
    folder: &Path,
    file_name: &str,
    text: &[u8],
) -> Result<WriteOutcome, WriteError> {
    match fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(WriteError::FolderMissing("it is not a folder".to_owned())),
        Err(err) => return Err(classify(folder, err)),
    }
    let final_path = folder.join(file_name);
    let outcome = match fs::symlink_metadata(&final_path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => WriteOutcome::Written,
        Err(err) => return Err(classify(&final_path, err)),
        Ok(meta) if meta.is_file() && meta.len() == text.len() as u64 && holds(&final_path, text) => {
            return Ok(WriteOutcome::AlreadyThere);
        }
        Ok(_) => WriteOutcome::Replaced,
    };

    let (temp_path, temp) = create_temp(folder, file_name)?;
    if let Err(err) = fill_and_place(temp, text, &temp_path, &final_path) {
        // Our own temporary file, never anyone else's: leave no debris behind.
        let _ = fs::remove_file(&temp_path);
        return Err(classify(&final_path, err));
    }
    sync_folder(folder)?;
    if outcome == WriteOutcome::Replaced {
        tracing::warn!(file = %final_path.display(), "replaced a pointer file whose content did not match its name");
    }
    Ok(outcome)
}

fn fill_and_place(mut temp: File, text: &[u8], temp_path: &Path, final_path: &Path) -> io::Result<()> {
    temp.write_all(text)?;
    temp.sync_all()?;
    drop(temp);
    fs::rename(temp_path, final_path)
}

/// Whether the file at `path` holds exactly `text`.
fn holds(path: &Path, text: &[u8]) -> bool {
    let mut existing = Vec::with_capacity(text.len());
    File::open(path)
        .and_then(|file| file.take(text.len() as u64 + 1).read_to_end(&mut existing))
        .is_ok_and(|_| existing == text)
}

fn create_temp(folder: &Path, file_name: &str) -> Result<(PathBuf, File), WriteError> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut last_error = None;
    for _ in 0..16 {
        let serial = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = folder.join(format!(".{file_name}.{}-{nanos}-{serial}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_error = Some(err),
            Err(err) => return Err(classify(&temp_path, err)),
        }
    }
    let err = last_error.unwrap_or_else(|| io::Error::other("no free temporary file name"));
    Err(classify(folder, err))
}

/// Makes the rename durable. Some file systems (certain network shares) cannot sync a folder;
/// the file is in place by then, so only real I/O errors count.
fn sync_folder(folder: &Path) -> Result<(), WriteError> {
    match File::open(folder).and_then(|dir| dir.sync_all()) {
        Ok(()) => Ok(()),
        Err(err) if matches!(err.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => {
            tracing::debug!(folder = %folder.display(), error = %err, "this file system cannot sync a folder");
            Ok(())
        }
        Err(err) => Err(classify(folder, err)),
    }
}

/// A vanished folder is "unavailable" (worth retrying when the stick is back); anything else
/// is an I/O error on `path`.
fn classify(path: &Path, err: io::Error) -> WriteError {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => WriteError::FolderMissing(err.to_string()),
        _ => WriteError::Io { path: path.to_owned(), source: err },
    }
}

//! Writing one pointer file so that no reader ever sees it half written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::names::is_digest_name;

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
/// skip names starting with `.` and ending in `.tmp`, and remove such files of ours once they
/// are older than the stale-temp age), synced, renamed into place, and the
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

/// The name of a temporary file `send` writes `file_name` through:
/// `.<file name>.<process id>-<nanoseconds>-<serial>.tmp`.
fn temp_name(file_name: &str, process: u32, nanos: u32, serial: u64) -> String {
    format!(".{file_name}.{process}-{nanos}-{serial}.tmp")
}

/// Whether `name` is exactly what [`temp_name`] makes of a digest-named pointer file: the
/// receive loop removes such files once they are stale (a `send` killed before its rename),
/// and never a file named any other way.
pub(super) fn is_temp_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|rest| rest.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((file_name, numbers)) = inner.rsplit_once('.') else {
        return false;
    };
    let mut parts = numbers.split('-');
    let decimal = |part: Option<&str>| {
        part.is_some_and(|p| (1..=20).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    is_digest_name(file_name)
        && decimal(parts.next())
        && decimal(parts.next())
        && decimal(parts.next())
        && parts.next().is_none()
}

fn create_temp(folder: &Path, file_name: &str) -> Result<(PathBuf, File), WriteError> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut last_error = None;
    for _ in 0..16 {
        let serial = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = folder.join(temp_name(file_name, std::process::id(), nanos, serial));
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

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST_NAME: &str = "clm-0123456789abcdef0123456789abcdef.json";

    #[test]
    fn temporary_names_are_recognised_exactly() {
        assert!(is_temp_name(&temp_name(DIGEST_NAME, 4242, 999_999_999, u64::MAX)));
        assert!(is_temp_name(&temp_name(DIGEST_NAME, 1, 0, 0)));
        for other in [
            format!(".{DIGEST_NAME}.partial"),
            format!("{DIGEST_NAME}.1-2-3.tmp"),
            format!(".{DIGEST_NAME}.1-2-3.tmp.bak"),
            format!(".{DIGEST_NAME}.1-2.tmp"),
            format!(".{DIGEST_NAME}.1-2-3-4.tmp"),
            format!(".{DIGEST_NAME}.1-x-3.tmp"),
            format!(".{DIGEST_NAME}.1--3.tmp"),
            format!(".{DIGEST_NAME}.+1-2-3.tmp"),
            ".notes.json.1-2-3.tmp".to_owned(),
            ".clm-0123.json.1-2-3.tmp".to_owned(),
        ] {
            assert!(!is_temp_name(&other), "{other}");
        }
    }

    #[test]
    fn a_send_writes_through_a_temporary_file_the_receive_loop_recognises() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = create_temp(dir.path(), DIGEST_NAME).unwrap();
        drop(file);
        assert!(is_temp_name(path.file_name().unwrap().to_str().unwrap()), "{path:?}");
    }
}

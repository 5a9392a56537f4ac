//! The data directory: where it is, keeping it private, and the one daemon that owns it.
//!
//! Lookup order: `--data-dir`, `$CLM_BRIDGE_DATA_DIR`, `$XDG_DATA_HOME/clm-bridge`,
//! `$HOME/.local/share/clm-bridge`. The directory is kept at mode 0700 and the files in it at
//! 0600, set explicitly so the result does not depend on the caller's umask.
//!
//! `clm-bridge run` holds an exclusive lock ([`RunLock`], `flock` on `run.lock`, which holds its
//! PID) for its whole life: two daemons on one data directory would split the incoming messages
//! between them (and two pollers of one Telegram bot steal each other's updates). One-shot
//! commands take no such lock and keep working beside the daemon.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions, TryLockError};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Mode of the data directory: only its owner may list or enter it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data directory: only its owner may read or write it.
pub const FILE_MODE: u32 = 0o600;
/// File name of the SQLite history database inside the data directory.
pub const DB_FILE_NAME: &str = "history.sqlite3";
/// Environment variable naming the data directory (after `--data-dir`).
pub const DATA_DIR_ENV: &str = "CLM_BRIDGE_DATA_DIR";
/// File name of the daemon's lock inside the data directory.
pub const RUN_LOCK_FILE_NAME: &str = "run.lock";

/// Why the data directory could not be found or prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// No flag, no `$CLM_BRIDGE_DATA_DIR`, no `$XDG_DATA_HOME` and no `$HOME`.
    #[error("no data directory: give --data-dir, or set CLM_BRIDGE_DATA_DIR, XDG_DATA_HOME or HOME")]
    NoLocation,
    /// The path exists but is not a directory.
    #[error("data directory {0} exists but is not a directory")]
    NotADirectory(PathBuf),
    /// Another `clm-bridge run` holds the data directory.
    #[error(
        "another `clm-bridge run` ({}) is using the data directory {path}: one daemon per data directory \
         (stop that one first; other commands work beside it)",
        match pid { Some(pid) => format!("PID {pid}"), None => "PID unknown".to_owned() }
    )]
    InUse {
        /// The data directory.
        path: PathBuf,
        /// The daemon's process id, as its lock file says.
        pid: Option<u32>,
    },
    /// Creating the directory or changing a mode failed.
    #[error("data directory {path}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// The data directory of one bridge identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Finds the data directory from the flag and the process environment (see the module
    /// documentation for the order). Does not create it: see [`DataDir::create`].
    pub fn resolve(flag: Option<PathBuf>) -> Result<DataDir, DataDirError> {
        DataDir::resolve_with(flag, |name| std::env::var_os(name))
    }

    /// [`DataDir::resolve`] with `lookup` reading environment variables, so tests need not
    /// touch the process environment. Empty variables count as unset; a relative
    /// `$XDG_DATA_HOME` is ignored, as the XDG Base Directory specification requires.
    pub fn resolve_with(
        flag: Option<PathBuf>,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<DataDir, DataDirError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.is_empty()).map(PathBuf::from);
        let root = if let Some(path) = flag {
            path
        } else if let Some(path) = non_empty(DATA_DIR_ENV) {
            path
        } else if let Some(xdg) = non_empty("XDG_DATA_HOME").filter(|path| path.is_absolute()) {
            xdg.join("clm-bridge")
        } else if let Some(home) = non_empty("HOME") {
            home.join(".local/share/clm-bridge")
        } else {
            return Err(DataDirError::NoLocation);
        };
        Ok(DataDir { root })
    }

    /// A data directory at exactly `root` (no lookup).
    pub fn at(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite history database: `history.sqlite3` in the directory.
    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE_NAME)
    }

    /// The daemon's lock file: `run.lock` in the directory.
    pub fn run_lock_path(&self) -> PathBuf {
        self.root.join(RUN_LOCK_FILE_NAME)
    }

    /// Creates the directory (and missing parents) if needed and sets its mode to 0700, also
    /// when it already existed with a looser mode.
    pub fn create(&self) -> Result<(), DataDirError> {
        let io_error = |source| DataDirError::Io { path: self.root.clone(), source };
        match fs::metadata(&self.root) {
            Ok(meta) if !meta.is_dir() => return Err(DataDirError::NotADirectory(self.root.clone())),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                DirBuilder::new().recursive(true).mode(DIR_MODE).create(&self.root).map_err(io_error)?;
            }
            Err(error) => return Err(io_error(error)),
        }
        // Explicitly, because the umask may have narrowed the creation mode and an existing
        // directory may be wider.
        fs::set_permissions(&self.root, Permissions::from_mode(DIR_MODE)).map_err(io_error)
    }
}

/// The daemon's exclusive hold on a data directory, released when dropped (or when the process
/// ends, however it ends: the lock is the kernel's).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `dir` (which must exist), writing this process's id into the lock
    /// file; refuses with [`DataDirError::InUse`], naming the holder's PID, when another process
    /// holds it.
    pub fn acquire(dir: &DataDir) -> Result<RunLock, DataDirError> {
        let path = dir.run_lock_path();
        let io_error = |source| DataDirError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io_error)?;
        fs::set_permissions(&path, Permissions::from_mode(FILE_MODE)).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                return Err(DataDirError::InUse { path: dir.root.clone(), pid });
            }
            Err(TryLockError::Error(error)) => return Err(io_error(error)),
        }
        // Best effort: on a full disk the PID may not fit, and the lock holds all the same.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(RunLock { _file: file })
    }
}

/// Creates `path` as an empty file with mode 0600 if it does not exist yet, then sets 0600 on
/// it whatever the umask. SQLite gives the `-wal` and `-shm` files it creates later the mode
/// of the database file, so creating the database this way keeps them private too.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    OpenOptions::new().write(true).create(true).truncate(false).mode(FILE_MODE).open(path)?;
    fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
}

/// Sets mode 0600 on `path` if it exists (for files SQLite created itself).
pub fn restrict_if_present(path: &Path) -> io::Result<()> {
    match fs::set_permissions(path, Permissions::from_mode(FILE_MODE)) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> =
            pairs.iter().map(|(name, value)| (name.to_string(), OsString::from(value))).collect();
        move |name| map.get(name).cloned()
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn lookup_order_is_flag_env_xdg_home() {
        let all = env(&[
            ("CLM_BRIDGE_DATA_DIR", "/from/env"),
            ("XDG_DATA_HOME", "/xdg"),
            ("HOME", "/home/someone"),
        ]);
        let flag = Some(PathBuf::from("/from/flag"));
        assert_eq!(DataDir::resolve_with(flag, &all).unwrap().root(), Path::new("/from/flag"));
        assert_eq!(DataDir::resolve_with(None, &all).unwrap().root(), Path::new("/from/env"));

        let no_env = env(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/someone")]);
        assert_eq!(DataDir::resolve_with(None, no_env).unwrap().root(), Path::new("/xdg/clm-bridge"));

        let home_only = env(&[("HOME", "/home/someone")]);
        assert_eq!(
            DataDir::resolve_with(None, home_only).unwrap().root(),
            Path::new("/home/someone/.local/share/clm-bridge")
        );
    }

    #[test]
    fn empty_variables_and_relative_xdg_are_skipped() {
        let lookup = env(&[("CLM_BRIDGE_DATA_DIR", ""), ("XDG_DATA_HOME", "relative/dir"), ("HOME", "/h")]);
        assert_eq!(
            DataDir::resolve_with(None, lookup).unwrap().root(),
            Path::new("/h/.local/share/clm-bridge")
        );
    }

    #[test]
    fn nothing_to_go_by_is_an_error() {
        assert!(matches!(DataDir::resolve_with(None, env(&[])), Err(DataDirError::NoLocation)));
    }

    #[test]
    fn db_path_is_inside_the_directory() {
        assert_eq!(DataDir::at("/d").db_path(), Path::new("/d/history.sqlite3"));
    }

    #[test]
    fn create_makes_a_private_directory_and_tightens_an_existing_one() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(temp.path().join("a/b/clm-bridge"));
        dir.create().unwrap();
        assert_eq!(mode_of(dir.root()), 0o700);

        fs::set_permissions(dir.root(), Permissions::from_mode(0o755)).unwrap();
        dir.create().unwrap();
        assert_eq!(mode_of(dir.root()), 0o700);
    }

    #[test]
    fn one_run_lock_per_data_directory_naming_the_holder() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(temp.path());
        let held = RunLock::acquire(&dir).unwrap();
        assert_eq!(fs::read_to_string(dir.run_lock_path()).unwrap(), format!("{}\n", std::process::id()));
        assert_eq!(mode_of(&dir.run_lock_path()), 0o600);
        // flock locks belong to open files: a second open in this process conflicts too.
        match RunLock::acquire(&dir) {
            Err(error @ DataDirError::InUse { pid: Some(pid), .. }) => {
                assert_eq!(pid, std::process::id());
                assert!(error.to_string().contains(&format!("PID {pid}")), "{error}");
            }
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(held);
        RunLock::acquire(&dir).expect("free again once dropped");
    }

    #[test]
    fn create_refuses_a_file_in_the_way() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("occupied");
        fs::write(&path, b"x").unwrap();
        assert!(matches!(DataDir::at(&path).create(), Err(DataDirError::NotADirectory(_))));
    }

    #[test]
    fn private_files_are_0600_even_when_they_existed_wider() {
        let temp = tempfile::tempdir().unwrap();
        let fresh = temp.path().join("fresh");
        create_private_file(&fresh).unwrap();
        assert_eq!(mode_of(&fresh), 0o600);

        let wide = temp.path().join("wide");
        fs::write(&wide, b"keep me").unwrap();
        fs::set_permissions(&wide, Permissions::from_mode(0o644)).unwrap();
        create_private_file(&wide).unwrap();
        assert_eq!(mode_of(&wide), 0o600);
        assert_eq!(fs::read(&wide).unwrap(), b"keep me", "an existing file is not truncated");

        restrict_if_present(&temp.path().join("absent")).unwrap();
    }
}

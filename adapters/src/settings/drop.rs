//! `[drop.NAME]`: a shared folder or USB stick. Every key is documented in
//! `config.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;

/// Files larger than this are skipped: the largest pointer the core accepts (2 MiB of
/// ciphertext, 4 Mi hex characters) plus room for the JSON around it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 + 64 * 1024;
/// How often the whole folder is rescanned when no event arrives.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a file written by other software must stay unchanged before it is read.
pub const DEFAULT_SETTLE_TIME: Duration = Duration::from_millis(200);
/// How old one of `send`'s temporary files must be before the receive loop removes it: a
/// send takes milliseconds, so one this old was interrupted.
pub const DEFAULT_STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// How a drop folder is used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropSettings {
    /// The folder (a mount point, a synced folder, a share).
    pub path: PathBuf,
    /// How often the folder is rescanned in full (events are used too, when the medium has them).
    #[serde(default = "default_poll_interval", deserialize_with = "super::duration")]
    pub poll_interval: Duration,
    /// Files larger than this are skipped with a warning.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// How long a file written by other software must keep its size and modification time
    /// before it is read, so a file still being written is never read half.
    #[serde(default = "default_settle_time", deserialize_with = "super::duration")]
    pub settle_time: Duration,
    /// How old a temporary file of `send`'s own naming (`.clm-<32 hex>.json.<pid>-<ns>-<n>.tmp`)
    /// must be before the receive loop removes it as left behind by an interrupted send. Files
    /// named any other way are never removed.
    #[serde(default = "default_stale_temp_age", deserialize_with = "super::duration")]
    pub stale_temp_age: Duration,
}

fn default_poll_interval() -> Duration {
    DEFAULT_POLL_INTERVAL
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn default_settle_time() -> Duration {
    DEFAULT_SETTLE_TIME
}

fn default_stale_temp_age() -> Duration {
    DEFAULT_STALE_TEMP_AGE
}

impl DropSettings {
    /// Settings for `path` with the default poll interval, size limit and settle time.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            settle_time: DEFAULT_SETTLE_TIME,
            stale_temp_age: DEFAULT_STALE_TEMP_AGE,
        }
    }

    /// Checks what deserializing could not.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.path.as_os_str().is_empty() {
            return Err(SettingsError::new("path", "is empty"));
        }
        if self.max_file_bytes == 0 {
            return Err(SettingsError::new("max_file_bytes", "is 0: no file could be read"));
        }
        Ok(())
    }
}

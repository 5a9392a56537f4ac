//! `[matrix.NAME]`: a Matrix account. Every key is documented in `config.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{SecretRef, SettingsError};

/// How long the homeserver may hold a `/sync` open when nothing happens.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `sync_timeout`.
pub const MAX_SYNC_TIMEOUT: Duration = Duration::from_secs(300);
/// Pointers longer than this (bytes) go as an `m.file`: a Matrix event may be 64 KiB in all,
/// and the body may be escaped and wrapped (encryption adds a third).
pub const DEFAULT_FILE_THRESHOLD: usize = 32 * 1024;
/// The largest `file_threshold`.
pub const MAX_FILE_THRESHOLD: usize = 48 * 1024;
/// Files larger than this are not downloaded: the largest pointer the core accepts (2 MiB of
/// ciphertext, 4 Mi hex characters) plus room for the JSON around it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 + 64 * 1024;
/// Events fetched from one room's history to fill one gap in one sync.
pub const DEFAULT_GAP_EVENTS_PER_ROOM: usize = 1_000;
/// Events fetched from all rooms' histories in one sync.
pub const DEFAULT_GAP_EVENTS_PER_SYNC: usize = 5_000;

/// How a Matrix account is used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSettings {
    /// The homeserver's client-server API base URL (`http://` only for this machine).
    #[serde(deserialize_with = "homeserver")]
    pub homeserver: String,
    /// The account, `@name:server`.
    #[serde(deserialize_with = "user_id")]
    pub user_id: String,
    /// The environment variable holding the password; see [`MatrixSettings::login`].
    #[serde(default)]
    pub password_env: Option<String>,
    /// The file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The environment variable holding an existing device's access token.
    #[serde(default)]
    pub access_token_env: Option<String>,
    /// The file holding that access token.
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// Invites from these are accepted: user ids (`@alice:example.org`) or server names
    /// (`example.org`, anyone there).
    #[serde(default)]
    pub allowed_inviters: Vec<String>,
    /// The rooms read (ids `!id:server` or aliases `#alias:server`); empty: every joined room.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Whether a new account's first sync imports the recent history of its rooms.
    #[serde(default)]
    pub backfill: bool,
    /// How long the server may hold a `/sync` open.
    #[serde(default = "default_sync_timeout", deserialize_with = "super::duration")]
    pub sync_timeout: Duration,
    /// Pointers longer than this (bytes) go as an `m.file`.
    #[serde(default = "default_file_threshold")]
    pub file_threshold: usize,
    /// Files larger than this are skipped: by their declared size first, then by the bytes
    /// actually read (a download is cut off beyond it).
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Events fetched from one room's history per gap and sync; the rest is fetched next time.
    #[serde(default = "default_gap_events_per_room")]
    pub gap_events_per_room: usize,
    /// Events fetched from all rooms' histories per sync; the rest is fetched next time.
    #[serde(default = "default_gap_events_per_sync")]
    pub gap_events_per_sync: usize,
}

/// Where the account's login comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixLogin {
    /// A password: each device logs in once, then its session is restored.
    Password(SecretRef),
    /// The access token of an existing device.
    AccessToken(SecretRef),
}

fn default_sync_timeout() -> Duration {
    DEFAULT_SYNC_TIMEOUT
}

fn default_file_threshold() -> usize {
    DEFAULT_FILE_THRESHOLD
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn default_gap_events_per_room() -> usize {
    DEFAULT_GAP_EVENTS_PER_ROOM
}

fn default_gap_events_per_sync() -> usize {
    DEFAULT_GAP_EVENTS_PER_SYNC
}

fn homeserver<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    super::check_http_url(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

fn user_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if !is_user_id(&text) {
        return Err(serde::de::Error::custom(format!(
            "`{text}` is not a Matrix user id like @bot:example.org"
        )));
    }
    Ok(text)
}

/// `@local:server`, without blanks.
fn is_user_id(text: &str) -> bool {
    !text.contains(char::is_whitespace)
        && text
            .strip_prefix('@')
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

/// `!id:server` (or `!id` alone, as room version 12 writes them) or `#alias:server`, without
/// blanks.
fn is_room(text: &str) -> bool {
    if text.contains(char::is_whitespace) {
        return false;
    }
    if let Some(id) = text.strip_prefix('!') {
        return !id.is_empty() && !id.starts_with(':') && !id.ends_with(':');
    }
    text.strip_prefix('#')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

/// A user id, or a server name (`example.org`, also written `:example.org`).
fn is_inviter(text: &str) -> bool {
    if text.starts_with('@') {
        return is_user_id(text);
    }
    let server = text.strip_prefix(':').unwrap_or(text);
    !server.is_empty() && !server.contains(['@', ':', '/']) && !server.contains(char::is_whitespace)
}

impl MatrixSettings {
    /// Settings for `user_id` at `homeserver` with the defaults for everything else (no login
    /// source: set one before [`MatrixSettings::validate`]).
    pub fn new(homeserver: impl Into<String>, user_id: impl Into<String>) -> Self {
        MatrixSettings {
            homeserver: homeserver.into(),
            user_id: user_id.into(),
            password_env: None,
            password_file: None,
            access_token_env: None,
            access_token_file: None,
            allowed_inviters: Vec::new(),
            rooms: Vec::new(),
            backfill: false,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            file_threshold: DEFAULT_FILE_THRESHOLD,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            gap_events_per_room: DEFAULT_GAP_EVENTS_PER_ROOM,
            gap_events_per_sync: DEFAULT_GAP_EVENTS_PER_SYNC,
        }
    }

    /// Where the login comes from: a password or an access token, exactly one.
    pub fn login(&self) -> Result<MatrixLogin, SettingsError> {
        let password = SecretRef::from_keys(
            "password",
            self.password_env.as_deref(),
            self.password_file.as_ref(),
            false,
        )?;
        let token = SecretRef::from_keys(
            "access_token",
            self.access_token_env.as_deref(),
            self.access_token_file.as_ref(),
            false,
        )?;
        match (password, token) {
            (Some(password), None) => Ok(MatrixLogin::Password(password)),
            (None, Some(token)) => Ok(MatrixLogin::AccessToken(token)),
            (Some(_), Some(_)) => {
                Err(SettingsError::new("password_env", "set a password or an access token, not both"))
            }
            (None, None) => Err(SettingsError::new(
                "password_env",
                "is required: name where the password (password_env / password_file) or an access \
                 token (access_token_env / access_token_file) comes from",
            )),
        }
    }

    /// Whether an invite from `inviter` (`@user:server`) is accepted.
    pub fn inviter_allowed(&self, inviter: &str) -> bool {
        let server = inviter.split_once(':').map_or("", |(_, server)| server);
        self.allowed_inviters.iter().any(|allowed| {
            let allowed = allowed.trim();
            if allowed.starts_with('@') {
                allowed == inviter
            } else {
                !server.is_empty() && allowed.trim_start_matches(':') == server
            }
        })
    }

    /// Checks what deserializing could not.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.login()?;
        if let Some(bad) = self.allowed_inviters.iter().find(|inviter| !is_inviter(inviter)) {
            return Err(SettingsError::new(
                "allowed_inviters",
                format!("`{bad}` is neither a user id (@alice:example.org) nor a server name (example.org)"),
            ));
        }
        if let Some(bad) = self.rooms.iter().find(|room| !is_room(room)) {
            return Err(SettingsError::new(
                "rooms",
                format!("`{bad}` is neither a room id (!id:example.org) nor an alias (#name:example.org)"),
            ));
        }
        if self.sync_timeout > MAX_SYNC_TIMEOUT {
            return Err(SettingsError::new("sync_timeout", "is at most 5m"));
        }
        if !(1..=MAX_FILE_THRESHOLD).contains(&self.file_threshold) {
            return Err(SettingsError::new(
                "file_threshold",
                format!("must be 1..={MAX_FILE_THRESHOLD} bytes (a Matrix event holds 64 KiB in all)"),
            ));
        }
        if self.max_file_bytes == 0 {
            return Err(SettingsError::new("max_file_bytes", "is 0: no file could be read"));
        }
        if self.gap_events_per_room == 0 {
            return Err(SettingsError::new("gap_events_per_room", "is 0: no gap could be filled"));
        }
        if self.gap_events_per_sync < self.gap_events_per_room {
            return Err(SettingsError::new(
                "gap_events_per_sync",
                format!("is below gap_events_per_room ({})", self.gap_events_per_room),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MatrixSettings {
        MatrixSettings { password_env: Some("PW".into()), ..MatrixSettings::new("https://h.org", "@b:h.org") }
    }

    #[test]
    fn inviters_match_by_user_or_server() {
        let mut settings = settings();
        settings.allowed_inviters = vec!["@alice:example.org".into(), "friends.net".into()];
        assert!(settings.inviter_allowed("@alice:example.org"));
        assert!(!settings.inviter_allowed("@mallory:example.org"));
        assert!(settings.inviter_allowed("@bob:friends.net"));
        assert!(!settings.inviter_allowed("@bob:evil.friends.net"));
        assert!(!settings.inviter_allowed("friends.net"));
    }

    #[test]
    fn each_broken_rule_names_its_key() {
        let broken = |change: fn(&mut MatrixSettings)| {
            let mut settings = settings();
            change(&mut settings);
            settings.validate().unwrap_err().key
        };
        assert_eq!(settings().validate(), Ok(()));
        assert_eq!(broken(|s| s.password_env = None), "password_env");
        assert_eq!(broken(|s| s.access_token_env = Some("T".into())), "password_env");
        assert_eq!(broken(|s| s.rooms = vec!["general".into()]), "rooms");
        assert_eq!(broken(|s| s.rooms = vec!["#nameonly".into()]), "rooms");
        let rooms = MatrixSettings {
            rooms: vec!["!v12opaqueid".into(), "!id:h.org".into(), "#a:h.org".into()],
            ..settings()
        };
        assert_eq!(rooms.validate(), Ok(()));
        assert_eq!(broken(|s| s.allowed_inviters = vec!["@nouser".into()]), "allowed_inviters");
        assert_eq!(broken(|s| s.max_file_bytes = 0), "max_file_bytes");
        assert_eq!(broken(|s| s.gap_events_per_room = 0), "gap_events_per_room");
        assert_eq!(broken(|s| s.gap_events_per_sync = 10), "gap_events_per_sync");
    }
}

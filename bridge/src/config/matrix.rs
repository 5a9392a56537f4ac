//! `[matrix.NAME]` sections: Matrix accounts. Plain types, compiled with or without the `matrix` feature.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, SecretRef, parse_duration};

/// Default longest time the homeserver holds a `/sync` open.
const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Default size (bytes) above which a pointer goes as an `m.file`.
pub const DEFAULT_FILE_THRESHOLD: usize = 32 * 1024;
/// The largest `file_threshold`: a Matrix event is at most 64 KiB, envelope included.
const MAX_FILE_THRESHOLD: usize = 48 * 1024;

/// A `[matrix.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatrix {
    homeserver: Option<String>,
    user_id: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    access_token_env: Option<String>,
    access_token_file: Option<PathBuf>,
    #[serde(default)]
    allowed_inviters: Vec<String>,
    #[serde(default)]
    backfill: bool,
    sync_timeout: Option<String>,
    file_threshold: Option<usize>,
}

/// How a Matrix account logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixLogin {
    /// With a password (each device logs in once; its session is then restored).
    Password(SecretRef),
    /// With the access token of an existing device.
    AccessToken(SecretRef),
}

/// A validated `[matrix.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixAccount {
    /// The homeserver's client-server API base URL (checked to be an http(s) URL).
    pub homeserver: String,
    /// The account, `@name:server`.
    pub user_id: String,
    /// How it logs in.
    pub login: MatrixLogin,
    /// Users (`@alice:example.org`) or servers (`example.org`) whose invites are accepted.
    pub allowed_inviters: Vec<String>,
    /// Whether the first sync of a new account imports the recent history of its rooms.
    pub backfill: bool,
    /// Longest time the homeserver holds a `/sync` open.
    pub sync_timeout: Duration,
    /// Pointers longer than this (bytes) go as an `m.file`.
    pub file_threshold: usize,
}

/// Validates section `name`; errors name the key (`matrix.NAME.KEY`).
pub(super) fn validate(
    name: &str,
    raw: RawMatrix,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<MatrixAccount, ConfigError> {
    let section = format!("matrix.{name}");
    let key = |key: &str| format!("{section}.{key}");
    let homeserver = raw.homeserver.ok_or_else(|| invalid(key("homeserver"), "is required".into()))?;
    let host =
        homeserver.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    let scheme_ok = homeserver.starts_with("https://") || homeserver.starts_with("http://");
    if !scheme_ok || host.is_empty() || homeserver.contains(char::is_whitespace) {
        return Err(invalid(key("homeserver"), format!("`{homeserver}` is not an http(s) URL")));
    }
    let user_id = raw.user_id.ok_or_else(|| invalid(key("user_id"), "is required".into()))?;
    let well_formed =
        user_id.strip_prefix('@').and_then(|rest| rest.split_once(':')).is_some_and(|(local, server)| {
            !local.is_empty() && !server.is_empty() && !user_id.contains(char::is_whitespace)
        });
    if !well_formed {
        return Err(invalid(
            key("user_id"),
            format!("`{user_id}` is not a Matrix user id like @bot:example.org"),
        ));
    }
    let password =
        SecretRef::from_keys(&section, "password", raw.password_env, raw.password_file, false, invalid)?;
    let token = SecretRef::from_keys(
        &section,
        "access_token",
        raw.access_token_env,
        raw.access_token_file,
        false,
        invalid,
    )?;
    let login = match (password, token) {
        (Some(password), None) => MatrixLogin::Password(password),
        (None, Some(token)) => MatrixLogin::AccessToken(token),
        (Some(_), Some(_)) => {
            return Err(invalid(key("password_env"), "set a password or an access token, not both".into()));
        }
        (None, None) => {
            return Err(invalid(
                key("password_env"),
                "is required: name where the password (password_env / password_file) or an access token \
                 (access_token_env / access_token_file) comes from"
                    .into(),
            ));
        }
    };
    for inviter in &raw.allowed_inviters {
        let ok = match inviter.strip_prefix('@') {
            Some(rest) => rest.split_once(':').is_some_and(|(l, s)| !l.is_empty() && !s.is_empty()),
            None => {
                (!inviter.is_empty() && !inviter.contains(['@', ':', '/']))
                    || inviter.len() > 1 && inviter.starts_with(':')
            }
        };
        if !ok || inviter.contains(char::is_whitespace) {
            return Err(invalid(
                key("allowed_inviters"),
                format!(
                    "`{inviter}` is neither a user id (@alice:example.org) nor a server name (example.org)"
                ),
            ));
        }
    }
    let sync_timeout = match raw.sync_timeout {
        Some(text) => parse_duration(&text).map_err(|reason| invalid(key("sync_timeout"), reason))?,
        None => DEFAULT_SYNC_TIMEOUT,
    };
    if sync_timeout > Duration::from_secs(300) {
        return Err(invalid(key("sync_timeout"), "is at most 5m".into()));
    }
    let file_threshold = raw.file_threshold.unwrap_or(DEFAULT_FILE_THRESHOLD);
    if !(1..=MAX_FILE_THRESHOLD).contains(&file_threshold) {
        return Err(invalid(
            key("file_threshold"),
            format!("must be 1..={MAX_FILE_THRESHOLD} bytes (a Matrix event holds 64 KiB in all)"),
        ));
    }
    Ok(MatrixAccount {
        homeserver,
        user_id,
        login,
        allowed_inviters: raw.allowed_inviters,
        backfill: raw.backfill,
        sync_timeout,
        file_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_text as load;
    use super::*;

    #[test]
    fn a_full_section_validates() {
        let settings = load(
            "[matrix.home]\nhomeserver = \"https://matrix.example.org\"\nuser_id = \"@bot:example.org\"\n\
             password_file = \"/run/secrets/matrix\"\nallowed_inviters = [\"@alice:example.org\", \"friends.net\"]\n\
             backfill = true\nsync_timeout = \"10s\"\nfile_threshold = 1000\n\
             [chats.Family]\nroutes = [\"matrix:!room:example.org\"]\n",
        )
        .unwrap();
        let account = &settings.matrices["home"];
        assert_eq!(account.homeserver, "https://matrix.example.org");
        assert_eq!(account.user_id, "@bot:example.org");
        assert_eq!(account.login, MatrixLogin::Password(SecretRef::File("/run/secrets/matrix".into())));
        assert_eq!(account.allowed_inviters, ["@alice:example.org", "friends.net"]);
        assert!(account.backfill);
        assert_eq!((account.sync_timeout, account.file_threshold), (Duration::from_secs(10), 1000));
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let settings = load(
            "[matrix.m]\nhomeserver = \"http://127.0.0.1:8008\"\nuser_id = \"@b:localhost\"\naccess_token_env = \"T\"\n",
        )
        .unwrap();
        let account = &settings.matrices["m"];
        assert_eq!(account.login, MatrixLogin::AccessToken(SecretRef::Env("T".into())));
        assert!(account.allowed_inviters.is_empty() && !account.backfill);
        assert_eq!(
            (account.sync_timeout, account.file_threshold),
            (DEFAULT_SYNC_TIMEOUT, DEFAULT_FILE_THRESHOLD)
        );
    }

    #[test]
    fn each_bad_key_is_named() {
        let base = "[matrix.m]\nhomeserver = \"http://h\"\nuser_id = \"@b:h\"\n";
        let with_password = format!("{base}password_env = \"P\"\n");
        for (text, key) in [
            ("[matrix.m]\nuser_id = \"@b:h\"\npassword_env = \"P\"\n".to_owned(), "matrix.m.homeserver"),
            (
                "[matrix.m]\nhomeserver = \"ftp://h\"\nuser_id = \"@b:h\"\npassword_env = \"P\"\n".into(),
                "matrix.m.homeserver",
            ),
            ("[matrix.m]\nhomeserver = \"http://h\"\npassword_env = \"P\"\n".into(), "matrix.m.user_id"),
            (
                "[matrix.m]\nhomeserver = \"http://h\"\nuser_id = \"bot\"\npassword_env = \"P\"\n".into(),
                "matrix.m.user_id",
            ),
            (base.to_owned(), "matrix.m.password_env"),
            (format!("{with_password}access_token_env = \"T\"\n"), "matrix.m.password_env"),
            (format!("{base}password_env = \"P\"\npassword_file = \"/f\"\n"), "matrix.m.password_env"),
            (format!("{base}access_token_env = \"\"\n"), "matrix.m.access_token_env"),
            (format!("{with_password}allowed_inviters = [\"not a user\"]\n"), "matrix.m.allowed_inviters"),
            (format!("{with_password}allowed_inviters = [\"@nouser\"]\n"), "matrix.m.allowed_inviters"),
            (format!("{with_password}sync_timeout = \"soon\"\n"), "matrix.m.sync_timeout"),
            (format!("{with_password}sync_timeout = \"10m\"\n"), "matrix.m.sync_timeout"),
            (format!("{with_password}file_threshold = 0\n"), "matrix.m.file_threshold"),
            (format!("{with_password}file_threshold = 70000\n"), "matrix.m.file_threshold"),
        ] {
            let error = load(&text).unwrap_err().to_string();
            assert!(error.contains(key), "{text:?}: {error}");
        }
        let error = load(&format!("{with_password}password = \"inline\"\n")).unwrap_err().to_string();
        assert!(error.contains("password"), "an inline password is refused: {error}");
    }
}

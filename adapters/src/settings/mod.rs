//! Every transport's settings, one type per transport in a file of its own, owned here and
//! compiled whatever features are on (as himalaya's backends' settings are): the bridge reads
//! `[KIND.NAME]` sections straight into these types, validates them once with `validate`, and
//! hands them to the transport. A default is defined only here; adding a setting touches the
//! transport's settings file and `config.example.toml`.
//!
//! Field-level checks run while deserializing (a duration that does not parse, an unknown
//! security mode), so the config loader names the key; checks between fields run in each
//! type's `validate`, which names the key at fault in a [`SettingsError`].

pub mod drop;
pub mod email;
pub mod matrix;
pub mod telegram;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A setting that is of the right type but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {reason}")]
pub struct SettingsError {
    /// The key within its section (`poll_interval`); the bridge prefixes the section.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SettingsError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> SettingsError {
        SettingsError { key: key.into(), reason: reason.into() }
    }
}

/// The shortest duration a setting may hold: a zero interval would spin.
const MIN_DURATION: Duration = Duration::from_millis(10);
/// The longest.
const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// `"500ms"`, `"2s"`, `"1m"`, `"1h"`, or a bare number of seconds; between 10 ms and 24 h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration like 500ms, 2s, 1m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (ms, s, m or h)")),
    };
    if !(MIN_DURATION.as_secs_f64()..=MAX_DURATION.as_secs_f64()).contains(&seconds) {
        return Err(format!("`{text}` is outside 10ms..24h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Serde helper: a duration written as text (`"2s"`) or a bare number of seconds.
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Seconds(f64),
    }
    let text = match Written::deserialize(deserializer)? {
        Written::Text(text) => text,
        Written::Seconds(seconds) => seconds.to_string(),
    };
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Where an account's password or token comes from: an environment variable or a file, never
/// the settings themselves (a config is often shared, synced or backed up in the clear). The
/// bridge reads it when the transport starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (one trailing newline ignored).
    File(PathBuf),
}

impl SecretRef {
    /// The source named by the keys `{key}_env` / `{key}_file`: exactly one must be set when
    /// `required`, at most one otherwise.
    pub fn from_keys(
        key: &str,
        env: Option<&str>,
        file: Option<&PathBuf>,
        required: bool,
    ) -> Result<Option<SecretRef>, SettingsError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(SettingsError::new(
                format!("{key}_env"),
                format!("set either {key}_env or {key}_file, not both"),
            )),
            (Some(name), None) if name.is_empty() || name.contains('=') => {
                Err(SettingsError::new(format!("{key}_env"), "is not an environment variable name"))
            }
            (Some(name), None) => Ok(Some(SecretRef::Env(name.to_owned()))),
            (None, Some(path)) if path.as_os_str().is_empty() => {
                Err(SettingsError::new(format!("{key}_file"), "is empty"))
            }
            (None, Some(path)) => Ok(Some(SecretRef::File(path.clone()))),
            (None, None) if required => {
                Err(SettingsError::new(format!("{key}_env"), format!("set {key}_env or {key}_file")))
            }
            (None, None) => Ok(None),
        }
    }
}

/// True for `localhost` and loopback addresses (`127.0.0.1`, `[::1]`): the only hosts a
/// transport may talk to without encryption.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a service's base URL: `https://HOST[:PORT][/PATH]`, or `http://` for a loopback
/// host only (a password or token sent over plain HTTP to another machine travels in clear).
pub fn check_http_url(text: &str) -> Result<(), String> {
    let lower = text.to_ascii_lowercase();
    let (rest, plain) = if let Some(rest) = lower.strip_prefix("https://") {
        (rest, false)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (rest, true)
    } else {
        return Err(format!("`{text}` is not an http(s) URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(host, _)| host),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() || authority.contains('@') || text.contains(char::is_whitespace) {
        return Err(format!("`{text}` is not an http(s) URL with a host (and no user name)"));
    }
    if plain && !is_loopback(host) {
        return Err(format!(
            "`{text}` is plain http to another machine: passwords and tokens would travel in clear; \
             use https:// (http:// is for localhost only)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err() && parse_duration("2 weeks").is_err());
        assert!(parse_duration("25h").is_err());
    }

    #[test]
    fn secret_refs_take_one_source() {
        let file = PathBuf::from("/run/pw");
        assert_eq!(
            SecretRef::from_keys("password", Some("PW"), None, true),
            Ok(Some(SecretRef::Env("PW".into())))
        );
        assert_eq!(
            SecretRef::from_keys("password", None, Some(&file), true),
            Ok(Some(SecretRef::File(file.clone())))
        );
        assert_eq!(SecretRef::from_keys("password", None, None, false), Ok(None));
        assert_eq!(SecretRef::from_keys("password", None, None, true).unwrap_err().key, "password_env");
        assert_eq!(
            SecretRef::from_keys("token", Some("T"), Some(&file), false).unwrap_err().key,
            "token_env"
        );
        assert!(SecretRef::from_keys("token", Some("A=B"), None, false).is_err());
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in [
            "https://matrix.org",
            "https://h:8448/base",
            "http://127.0.0.1:8008",
            "http://localhost/",
            "http://[::1]:80",
        ] {
            assert_eq!(check_http_url(ok), Ok(()), "{ok}");
        }
        for bad in
            ["ftp://h", "https://", "http://matrix.org", "http://10.0.0.1:8008", "https://u:p@h", "h.org"]
        {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
        assert!(check_http_url("http://example.org").unwrap_err().contains("in clear"));
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "127.0.0.1", "127.5.0.1", "::1", "[::1]", "LOCALHOST"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.org", "10.0.0.1", "localhost.example.org", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}

//! `[email.NAME]`: an e-mail account, SMTP out and IMAP in. Every key is documented in
//! `config.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{SecretRef, SettingsError, is_loopback};

/// The folder watched unless configured.
pub const DEFAULT_FOLDER: &str = "INBOX";
/// The subject of sent mails unless configured: says nothing of what the mail carries.
pub const DEFAULT_SUBJECT: &str = "Message";
/// IDLE is ended and re-issued this often: servers may drop an IDLE older than 30 minutes
/// (RFC 2177 asks clients to re-issue it within 29).
pub const DEFAULT_IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// The longest `idle_renew` accepted.
pub const MAX_IDLE_RENEW: Duration = Duration::from_secs(29 * 60);
/// How often a server without IDLE is polled.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Mails fetched per `UID FETCH` while catching up with a backlog.
pub const DEFAULT_FETCH_BATCH: usize = 200;
/// The largest `fetch_batch` accepted.
pub const MAX_FETCH_BATCH: usize = 10_000;
/// Bytes of mail asked for per `UID FETCH` (a mail larger than this alone is fetched alone):
/// bounds what one request brings in while catching up.
pub const DEFAULT_FETCH_BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// Mails larger than this are skipped, never downloaded. The largest pointer the core accepts
/// is about 4 MiB of JSON; base64-encoded (x4/3) in both a text and an HTML part, quoted once
/// in a reply, a mail carrying it stays under 16 MiB. 32 MiB leaves room for that and for what
/// providers accept (Gmail's 25 MB, most servers' 20-50 MB), while a few such mails in flight
/// stay a memory cost the daemon can carry.
pub const DEFAULT_MAX_MAIL_BYTES: u64 = 32 * 1024 * 1024;
/// The smallest `max_mail_bytes` accepted: any mail has a few hundred bytes of headers.
pub const MIN_MAIL_BYTES: u64 = 1024;
/// The limit on connecting, logging in and each command (IDLE waits excepted).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How a connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (SMTP submission on 465, IMAPS on 993).
    #[default]
    Tls,
    /// A plain connection upgraded with STARTTLS before anything else is said (587, 143).
    StartTls,
    /// No encryption: only for a server on the loopback interface (`validate` checks that).
    None,
}

impl Security {
    /// The usual SMTP port of this security.
    pub fn default_smtp_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::None => 25,
        }
    }

    /// The usual IMAP port of this security.
    pub fn default_imap_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::None => 143,
        }
    }

    /// The name used in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::None => "none",
        }
    }
}

/// A server to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Host name (checked against the certificate) or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
}

/// What is done upstream with a mail a known chat opened a pointer of, once it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AfterAction {
    /// Nothing: the mail stays as it was (unread if it was).
    #[default]
    Leave,
    /// Flag it `\Seen`.
    Seen,
    /// Move it to this folder (created if missing): `UID MOVE`, else COPY + `\Deleted` + UID EXPUNGE.
    Move(String),
}

impl<'de> Deserialize<'de> for AfterAction {
    /// `leave`, `seen` or `move:FOLDER`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "leave" => Ok(AfterAction::Leave),
            "seen" => Ok(AfterAction::Seen),
            other => match other.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => Ok(AfterAction::Move(folder.to_owned())),
                Some(_) => Err(serde::de::Error::custom("move: needs a folder, e.g. move:Archive")),
                None => {
                    Err(serde::de::Error::custom(format!("`{other}` is not one of leave, seen, move:FOLDER")))
                }
            },
        }
    }
}

/// An e-mail account, as written in `[email.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The sender address of sent mails.
    pub address: String,
    /// User name for IMAP and SMTP authentication; see [`EmailSettings::login`].
    #[serde(default)]
    pub login: Option<String>,
    /// The environment variable holding the password; see [`EmailSettings::password`].
    #[serde(default)]
    pub password_env: Option<String>,
    /// The file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The SMTP server.
    pub smtp_host: String,
    /// How the SMTP connection is protected.
    #[serde(default)]
    pub smtp_security: Security,
    /// The SMTP port; see [`EmailSettings::smtp`].
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// Whether to authenticate to the SMTP server (a relay trusting the network needs not).
    #[serde(default = "yes")]
    pub smtp_auth: bool,
    /// The IMAP server; without one the account only sends.
    #[serde(default)]
    pub imap_host: Option<String>,
    /// How the IMAP connection is protected (default `tls`).
    #[serde(default)]
    pub imap_security: Option<Security>,
    /// The IMAP port; see [`EmailSettings::imap`].
    #[serde(default)]
    pub imap_port: Option<u16>,
    /// The folder watched.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Subject of sent mails.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// What is done with a mail that held an opened pointer, once stored.
    #[serde(default)]
    pub after_action: AfterAction,
    /// How often IDLE is re-issued.
    #[serde(default = "default_idle_renew", deserialize_with = "super::duration")]
    pub idle_renew: Duration,
    /// How often a server without IDLE is polled.
    #[serde(default = "default_poll_interval", deserialize_with = "super::duration")]
    pub poll_interval: Duration,
    /// Mails per `UID FETCH` when catching up.
    #[serde(default = "default_fetch_batch")]
    pub fetch_batch: usize,
    /// Bytes of mail per `UID FETCH` when catching up (one larger mail goes alone).
    #[serde(default = "default_fetch_batch_bytes")]
    pub fetch_batch_bytes: u64,
    /// Mails larger than this are skipped with a warning, never downloaded.
    #[serde(default = "default_max_mail_bytes")]
    pub max_mail_bytes: u64,
    /// Limit on connecting and on each command.
    #[serde(default = "default_timeout", deserialize_with = "super::duration")]
    pub timeout: Duration,
}

fn yes() -> bool {
    true
}
fn default_folder() -> String {
    DEFAULT_FOLDER.to_owned()
}
fn default_subject() -> String {
    DEFAULT_SUBJECT.to_owned()
}
fn default_idle_renew() -> Duration {
    DEFAULT_IDLE_RENEW
}
fn default_poll_interval() -> Duration {
    DEFAULT_POLL_INTERVAL
}
fn default_fetch_batch() -> usize {
    DEFAULT_FETCH_BATCH
}
fn default_fetch_batch_bytes() -> u64 {
    DEFAULT_FETCH_BATCH_BYTES
}
fn default_max_mail_bytes() -> u64 {
    DEFAULT_MAX_MAIL_BYTES
}
fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

impl EmailSettings {
    /// An account `address` sending through `smtp_host` (TLS, authenticated), not reading;
    /// everything else at its default.
    pub fn new(address: impl Into<String>, smtp_host: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            login: None,
            password_env: None,
            password_file: None,
            smtp_host: smtp_host.into(),
            smtp_security: Security::Tls,
            smtp_port: None,
            smtp_auth: true,
            imap_host: None,
            imap_security: None,
            imap_port: None,
            folder: default_folder(),
            subject: default_subject(),
            after_action: AfterAction::Leave,
            idle_renew: DEFAULT_IDLE_RENEW,
            poll_interval: DEFAULT_POLL_INTERVAL,
            fetch_batch: DEFAULT_FETCH_BATCH,
            fetch_batch_bytes: DEFAULT_FETCH_BATCH_BYTES,
            max_mail_bytes: DEFAULT_MAX_MAIL_BYTES,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The user name for IMAP and SMTP: `login`, else the address.
    pub fn login(&self) -> &str {
        self.login.as_deref().unwrap_or(&self.address)
    }

    /// The SMTP server, its port defaulted by security.
    pub fn smtp(&self) -> Endpoint {
        let security = self.smtp_security;
        let port = self.smtp_port.unwrap_or_else(|| security.default_smtp_port());
        Endpoint { host: self.smtp_host.clone(), port, security }
    }

    /// The IMAP server, if the account reads; security `tls` and the port by security unless set.
    pub fn imap(&self) -> Option<Endpoint> {
        let host = self.imap_host.clone()?;
        let security = self.imap_security.unwrap_or_default();
        let port = self.imap_port.unwrap_or_else(|| security.default_imap_port());
        Some(Endpoint { host, port, security })
    }

    /// Whether a password is needed: to log in to SMTP, or to read over IMAP.
    pub fn needs_password(&self) -> bool {
        self.smtp_auth || self.imap_host.is_some()
    }

    /// Where the password comes from (`password_env` or `password_file`).
    pub fn password(&self) -> Result<Option<SecretRef>, SettingsError> {
        SecretRef::from_keys(
            "password",
            self.password_env.as_deref(),
            self.password_file.as_ref(),
            self.needs_password(),
        )
    }

    /// Checks what deserializing could not: rules between keys, and values of the right type
    /// that cannot work.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let address = &self.address;
        let valid_address = address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace)
        });
        if !valid_address {
            return Err(SettingsError::new("address", format!("`{address}` is not an e-mail address")));
        }
        if self.login.as_deref().is_some_and(|login| login.trim().is_empty()) {
            return Err(SettingsError::new("login", "is empty"));
        }
        check_server("smtp", &self.smtp_host, self.smtp_port, self.smtp_security)?;
        match &self.imap_host {
            Some(host) => check_server("imap", host, self.imap_port, self.imap_security.unwrap_or_default())?,
            None if self.imap_port.is_some() || self.imap_security.is_some() => {
                return Err(SettingsError::new(
                    "imap_host",
                    "is needed when imap_port or imap_security is set",
                ));
            }
            None => {}
        }
        self.password()?;
        self.validate_receiving()?;
        if self.subject.contains(['\r', '\n']) {
            return Err(SettingsError::new("subject", "must be one line"));
        }
        Ok(())
    }

    fn validate_receiving(&self) -> Result<(), SettingsError> {
        if self.folder.trim().is_empty() {
            return Err(SettingsError::new("folder", "is empty"));
        }
        if self.after_action == AfterAction::Move(self.folder.clone()) {
            return Err(SettingsError::new(
                "after_action",
                "move: needs a folder other than the watched one, e.g. move:Archive",
            ));
        }
        if self.idle_renew > MAX_IDLE_RENEW {
            return Err(SettingsError::new(
                "idle_renew",
                "servers may end an IDLE after 29 minutes: use at most 29m",
            ));
        }
        if !(1..=MAX_FETCH_BATCH).contains(&self.fetch_batch) {
            return Err(SettingsError::new(
                "fetch_batch",
                format!("must be between 1 and {MAX_FETCH_BATCH}"),
            ));
        }
        if self.fetch_batch_bytes == 0 {
            return Err(SettingsError::new("fetch_batch_bytes", "is 0: no mail could be fetched"));
        }
        if self.max_mail_bytes < MIN_MAIL_BYTES {
            return Err(SettingsError::new(
                "max_mail_bytes",
                format!("is below {MIN_MAIL_BYTES}: even a mail's headers would not fit"),
            ));
        }
        Ok(())
    }
}

/// `host`, `port` and `security` of the `smtp` or `imap` server.
fn check_server(kind: &str, host: &str, port: Option<u16>, security: Security) -> Result<(), SettingsError> {
    if host.trim().is_empty() {
        return Err(SettingsError::new(format!("{kind}_host"), "is empty"));
    }
    if security == Security::None && !is_loopback(host) {
        return Err(SettingsError::new(
            format!("{kind}_security"),
            format!("`none` (no encryption) is allowed only for a loopback server, not `{host}`"),
        ));
    }
    if port == Some(0) {
        return Err(SettingsError::new(format!("{kind}_port"), "is 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading() -> EmailSettings {
        let mut settings = EmailSettings::new("me@example.org", "smtp.example.org");
        settings.imap_host = Some("imap.example.org".into());
        settings.password_env = Some("PW".into());
        settings
    }

    #[test]
    fn endpoints_take_their_ports_from_security() {
        let mut settings = reading();
        assert_eq!(settings.smtp().port, 465);
        assert_eq!(settings.imap().map(|imap| imap.port), Some(993));
        settings.smtp_security = Security::StartTls;
        settings.imap_security = Some(Security::StartTls);
        assert_eq!((settings.smtp().port, settings.imap().map(|i| i.port)), (587, Some(143)));
        settings.smtp_port = Some(2525);
        assert_eq!(settings.smtp().port, 2525);
        assert_eq!(settings.login(), "me@example.org");
    }

    #[test]
    fn rules_between_keys() {
        assert_eq!(reading().validate(), Ok(()));
        let broken = |change: fn(&mut EmailSettings)| {
            let mut settings = reading();
            change(&mut settings);
            settings.validate().unwrap_err().key
        };
        assert_eq!(broken(|s| s.after_action = AfterAction::Move("INBOX".into())), "after_action");
        assert_eq!(broken(|s| s.imap_security = Some(Security::None)), "imap_security");
        assert_eq!(broken(|s| s.max_mail_bytes = 10), "max_mail_bytes");
        assert_eq!(broken(|s| s.fetch_batch_bytes = 0), "fetch_batch_bytes");
        assert_eq!(broken(|s| s.password_env = None), "password_env");
        // Sending only, without SMTP authentication: no password needed.
        let mut send_only = EmailSettings::new("me@localhost", "127.0.0.1");
        send_only.smtp_auth = false;
        send_only.smtp_security = Security::None;
        assert_eq!((send_only.validate(), send_only.password()), (Ok(()), Ok(None)));
    }
}

//! `[email.NAME]` sections: e-mail accounts (SMTP out, IMAP in). Plain types, compiled with or
//! without the `email` feature. Every key is documented in `config.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, SecretRef, parse_duration};

/// A `[email.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    address: String,
    login: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    smtp_host: String,
    smtp_port: Option<u16>,
    smtp_security: Option<String>,
    smtp_auth: Option<bool>,
    imap_host: Option<String>,
    imap_port: Option<u16>,
    imap_security: Option<String>,
    folder: Option<String>,
    subject: Option<String>,
    after_action: Option<String>,
    idle_renew: Option<String>,
    poll_interval: Option<String>,
    fetch_batch: Option<usize>,
    timeout: Option<String>,
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailSecurity {
    /// TLS from the first byte.
    Tls,
    /// STARTTLS.
    StartTls,
    /// None: loopback servers only.
    None,
}

/// What happens upstream to a mail that held pointers once they are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailAfterAction {
    /// Nothing.
    Leave,
    /// Flag it seen.
    Seen,
    /// Move it to this folder.
    Move(String),
}

/// A server of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailServer {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: EmailSecurity,
}

/// A validated `[email.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAccount {
    /// Sender address of sent mails.
    pub address: String,
    /// User name for IMAP and SMTP authentication (default: `address`).
    pub login: String,
    /// Where the password is read from.
    pub password: Option<SecretRef>,
    /// SMTP server.
    pub smtp: EmailServer,
    /// Whether to authenticate to the SMTP server.
    pub smtp_auth: bool,
    /// IMAP server; `None` for an account that only sends.
    pub imap: Option<EmailServer>,
    /// Folder watched.
    pub folder: String,
    /// Subject of sent mails.
    pub subject: String,
    /// After-action for mails that held pointers.
    pub after_action: EmailAfterAction,
    /// How often IDLE is re-issued.
    pub idle_renew: Duration,
    /// How often a server without IDLE is polled.
    pub poll_interval: Duration,
    /// Mails per fetch when catching up.
    pub fetch_batch: usize,
    /// Limit on connecting and on each command.
    pub timeout: Duration,
}

/// Default subject (neutral: says nothing of what the mail carries).
pub const DEFAULT_SUBJECT: &str = "Message";
/// Default IDLE renewal: below the 29 minutes RFC 2177 allows.
pub const DEFAULT_IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Longest IDLE renewal accepted.
const MAX_IDLE_RENEW: Duration = Duration::from_secs(29 * 60);
/// Default poll interval for servers without IDLE.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Default fetch batch.
pub const DEFAULT_FETCH_BATCH: usize = 200;
/// Default command timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Validates section `name`; errors name the key (`email.NAME.KEY`).
pub(super) fn validate(
    name: &str,
    raw: RawEmail,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<EmailAccount, ConfigError> {
    let section = format!("email.{name}");
    let key = |k: &str| format!("{section}.{k}");
    let address = raw.address.trim().to_owned();
    let valid_address = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace)
    });
    if !valid_address {
        return Err(invalid(key("address"), format!("`{address}` is not an e-mail address")));
    }
    let login = raw.login.unwrap_or_else(|| address.clone());
    if login.is_empty() {
        return Err(invalid(key("login"), "is empty".into()));
    }
    let security = |k: &str, text: Option<String>| match text.as_deref().unwrap_or("tls") {
        "tls" => Ok(EmailSecurity::Tls),
        "starttls" => Ok(EmailSecurity::StartTls),
        "none" => Ok(EmailSecurity::None),
        other => Err(invalid(key(k), format!("`{other}` is not one of tls, starttls, none"))),
    };
    let server = |host_key: &str,
                  host: String,
                  port: Option<u16>,
                  security_key: &str,
                  security: EmailSecurity,
                  default_port: fn(EmailSecurity) -> u16| {
        if host.trim().is_empty() {
            return Err(invalid(key(host_key), "is empty".into()));
        }
        if security == EmailSecurity::None && !is_loopback(&host) {
            return Err(invalid(
                key(security_key),
                format!("`none` (no encryption) is allowed only for a loopback server, not `{host}`"),
            ));
        }
        if port == Some(0) {
            return Err(invalid(key(&host_key.replace("host", "port")), "is 0".into()));
        }
        Ok(EmailServer { host, port: port.unwrap_or_else(|| default_port(security)), security })
    };
    let smtp_security = security("smtp_security", raw.smtp_security)?;
    let smtp =
        server("smtp_host", raw.smtp_host, raw.smtp_port, "smtp_security", smtp_security, |s| match s {
            EmailSecurity::Tls => 465,
            EmailSecurity::StartTls => 587,
            EmailSecurity::None => 25,
        })?;
    let imap = match raw.imap_host {
        Some(host) => {
            let imap_security = security("imap_security", raw.imap_security)?;
            Some(server("imap_host", host, raw.imap_port, "imap_security", imap_security, |s| match s {
                EmailSecurity::Tls => 993,
                EmailSecurity::StartTls | EmailSecurity::None => 143,
            })?)
        }
        None if raw.imap_port.is_some() || raw.imap_security.is_some() => {
            return Err(invalid(key("imap_host"), "is needed when imap_port or imap_security is set".into()));
        }
        None => None,
    };
    let smtp_auth = raw.smtp_auth.unwrap_or(true);
    let password = SecretRef::from_keys(
        &section,
        "password",
        raw.password_env,
        raw.password_file,
        smtp_auth || imap.is_some(),
        invalid,
    )?;
    let folder = raw.folder.unwrap_or_else(|| "INBOX".to_owned());
    if folder.trim().is_empty() {
        return Err(invalid(key("folder"), "is empty".into()));
    }
    let subject = raw.subject.unwrap_or_else(|| DEFAULT_SUBJECT.to_owned());
    if subject.contains(['\r', '\n']) {
        return Err(invalid(key("subject"), "must be one line".into()));
    }
    let after_action = match raw.after_action.as_deref().unwrap_or("leave") {
        "leave" => EmailAfterAction::Leave,
        "seen" => EmailAfterAction::Seen,
        other => match other.strip_prefix("move:") {
            Some(target) if !target.trim().is_empty() && target != folder => {
                EmailAfterAction::Move(target.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    key("after_action"),
                    "move: needs a folder other than the watched one, e.g. move:Archive".into(),
                ));
            }
            None => {
                return Err(invalid(
                    key("after_action"),
                    format!("`{other}` is not one of leave, seen, move:FOLDER"),
                ));
            }
        },
    };
    let duration = |k: &str, text: Option<String>, default: Duration| match text {
        Some(text) => parse_duration(&text).map_err(|reason| invalid(key(k), reason)),
        None => Ok(default),
    };
    let idle_renew = duration("idle_renew", raw.idle_renew, DEFAULT_IDLE_RENEW)?;
    if idle_renew > MAX_IDLE_RENEW {
        return Err(invalid(
            key("idle_renew"),
            "servers may end an IDLE after 29 minutes: use at most 29m".into(),
        ));
    }
    let poll_interval = duration("poll_interval", raw.poll_interval, DEFAULT_POLL_INTERVAL)?;
    let timeout = duration("timeout", raw.timeout, DEFAULT_TIMEOUT)?;
    let fetch_batch = raw.fetch_batch.unwrap_or(DEFAULT_FETCH_BATCH);
    if !(1..=10_000).contains(&fetch_batch) {
        return Err(invalid(key("fetch_batch"), "must be between 1 and 10000".into()));
    }
    Ok(EmailAccount {
        address,
        login,
        password,
        smtp,
        smtp_auth,
        imap,
        folder,
        subject,
        after_action,
        idle_renew,
        poll_interval,
        fetch_batch,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_text as load;
    use super::*;

    const GOOD: &str = "[email.work]\naddress = \"me@example.org\"\npassword_env = \"MAIL_PW\"\n\
                        smtp_host = \"smtp.example.org\"\nimap_host = \"imap.example.org\"\n";

    #[test]
    fn a_good_section_gets_the_defaults() {
        let settings = load(GOOD).unwrap();
        let account = &settings.emails["work"];
        assert_eq!(account.login, "me@example.org");
        assert_eq!(account.password, Some(SecretRef::Env("MAIL_PW".into())));
        assert_eq!(
            account.smtp,
            EmailServer { host: "smtp.example.org".into(), port: 465, security: EmailSecurity::Tls }
        );
        assert_eq!(account.imap.as_ref().map(|s| s.port), Some(993));
        assert_eq!((account.folder.as_str(), account.subject.as_str()), ("INBOX", DEFAULT_SUBJECT));
        assert_eq!(account.after_action, EmailAfterAction::Leave);
        assert_eq!(account.idle_renew, DEFAULT_IDLE_RENEW);

        let full = load(
            "[email.home]\naddress = \"a@localhost\"\nlogin = \"a\"\npassword_file = \"/run/pw\"\n\
             smtp_host = \"127.0.0.1\"\nsmtp_port = 2525\nsmtp_security = \"none\"\nsmtp_auth = false\n\
             imap_host = \"::1\"\nimap_security = \"starttls\"\nfolder = \"Clm\"\nsubject = \"Hi\"\n\
             after_action = \"move:Done\"\nidle_renew = \"1m\"\npoll_interval = \"5s\"\nfetch_batch = 50\n\
             timeout = \"10s\"\n[chats.F]\nroutes = [\"email:b@localhost\"]\n",
        )
        .unwrap();
        let account = &full.emails["home"];
        assert_eq!(
            (account.smtp.port, account.smtp.security, account.smtp_auth),
            (2525, EmailSecurity::None, false)
        );
        assert_eq!(account.imap.as_ref().map(|s| (s.port, s.security)), Some((143, EmailSecurity::StartTls)));
        assert_eq!(account.after_action, EmailAfterAction::Move("Done".into()));
        assert_eq!((account.idle_renew, account.fetch_batch), (Duration::from_secs(60), 50));
    }

    #[test]
    fn each_bad_key_is_named() {
        let cases = [
            ("address = \"me@example.org\"", "address = \"nobody\"", "email.work.address"),
            ("password_env = \"MAIL_PW\"", "", "email.work.password_env"),
            (
                "password_env = \"MAIL_PW\"",
                "password_env = \"A\"\npassword_file = \"/x\"",
                "email.work.password_env",
            ),
            ("smtp_host = \"smtp.example.org\"", "smtp_host = \"\"", "email.work.smtp_host"),
            (
                "smtp_host = \"smtp.example.org\"",
                "smtp_host = \"s\"\nsmtp_security = \"ssl\"",
                "email.work.smtp_security",
            ),
            (
                "smtp_host = \"smtp.example.org\"",
                "smtp_host = \"s\"\nsmtp_security = \"none\"",
                "email.work.smtp_security",
            ),
            ("smtp_host = \"smtp.example.org\"", "smtp_host = \"s\"\nsmtp_port = 0", "email.work.smtp_port"),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nimap_security = \"none\"",
                "email.work.imap_security",
            ),
            ("imap_host = \"imap.example.org\"", "imap_port = 993", "email.work.imap_host"),
            ("imap_host = \"imap.example.org\"", "imap_host = \"i\"\nfolder = \" \"", "email.work.folder"),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nafter_action = \"delete\"",
                "email.work.after_action",
            ),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nafter_action = \"move:\"",
                "email.work.after_action",
            ),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nafter_action = \"move:INBOX\"",
                "email.work.after_action",
            ),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nidle_renew = \"40m\"",
                "email.work.idle_renew",
            ),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\npoll_interval = \"often\"",
                "email.work.poll_interval",
            ),
            ("imap_host = \"imap.example.org\"", "imap_host = \"i\"\ntimeout = \"0s\"", "email.work.timeout"),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nfetch_batch = 0",
                "email.work.fetch_batch",
            ),
            (
                "imap_host = \"imap.example.org\"",
                "imap_host = \"i\"\nsubject = \"a\\nb\"",
                "email.work.subject",
            ),
            ("imap_host = \"imap.example.org\"", "imap_host = \"i\"\nsmtp_pasword = \"x\"", "smtp_pasword"),
        ];
        for (good, bad, key) in cases {
            let text = GOOD.replace(good, bad);
            assert_ne!(text, GOOD, "case {key} changes nothing");
            let error = load(&text).expect_err(key).to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
        // A send-only account without SMTP authentication needs no password.
        let send_only = "[email.out]\naddress = \"me@localhost\"\nsmtp_host = \"localhost\"\n\
                         smtp_security = \"none\"\nsmtp_auth = false\n";
        assert!(load(send_only).unwrap().emails["out"].password.is_none());
    }
}

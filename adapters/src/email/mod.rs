//! E-mail: pointers go out over SMTP (lettre) as ordinary text/plain UTF-8 mails whose body is
//! the pointer, and come in from an IMAP folder (async-imap over tokio, rustls) watched with IDLE.
//!
//! Outgoing, a route is one or more addresses (`bob@example.org,carol@example.net`); one mail
//! goes to all of them. A 5xx reply (unknown recipient, authentication refused) is
//! [`TransportError::Refused`]; a 4xx reply, a refused or dropped connection, a TLS failure or
//! a timeout is [`TransportError::Unavailable`], which the bridge's outbox retries.
//!
//! Incoming, see [`receive`]: every new mail of the folder is forwarded whole (its RFC 822
//! bytes, fetched with `BODY.PEEK[]` so nothing is marked read) with the cursor
//! `FOLDER = "UIDVALIDITY:UID"`; the bridge's MIME-aware detector finds the pointers.

mod receive;
mod smtp;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, Sent, Transport, TransportError};

/// The subject of sent mails unless configured: says nothing about what the mail carries.
pub const DEFAULT_SUBJECT: &str = "Message";
/// The folder watched unless configured.
pub const DEFAULT_FOLDER: &str = "INBOX";
/// IDLE is ended and re-issued this often: servers may drop an IDLE older than 30 minutes
/// (RFC 2177 asks clients to re-issue it within 29).
pub const DEFAULT_IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// How often a server without IDLE is polled.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Mails fetched per `UID FETCH` while catching up with a backlog.
pub const DEFAULT_FETCH_BATCH: usize = 200;
/// The limit on connecting, logging in and each command (IDLE waits excepted).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (SMTP submission on 465, IMAPS on 993).
    Tls,
    /// A plain connection upgraded with STARTTLS before anything else is said (587, 143).
    StartTls,
    /// No encryption: only for a server on the loopback interface (the settings check that).
    None,
}

impl Security {
    /// The usual port of this security for SMTP.
    pub fn default_smtp_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::None => 25,
        }
    }

    /// The usual port of this security for IMAP.
    pub fn default_imap_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::None => 143,
        }
    }
}

/// A server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name (checked against the certificate) or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
}

/// What is done upstream with a mail that held pointers, once they are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAction {
    /// Nothing: the mail stays as it was (unread if it was).
    Leave,
    /// Flag it `\Seen`.
    Seen,
    /// Move it to this folder (created if missing): `UID MOVE`, else COPY + `\Deleted` + UID EXPUNGE.
    Move(String),
}

/// An e-mail account.
#[derive(Clone)]
pub struct EmailSettings {
    /// The sender address of sent mails.
    pub address: String,
    /// User name for IMAP and for SMTP authentication.
    pub login: String,
    /// The password (never logged; from an environment variable or a file).
    pub password: Option<Zeroizing<String>>,
    /// Where mail is sent.
    pub smtp: Endpoint,
    /// Whether to authenticate to the SMTP server (a relay trusting the network needs not).
    pub smtp_auth: bool,
    /// Where mail is read; `None` for an account that only sends.
    pub imap: Option<Endpoint>,
    /// The folder watched.
    pub folder: String,
    /// Subject of sent mails.
    pub subject: String,
    /// What is done with mails that held pointers, once stored.
    pub after_action: AfterAction,
    /// How often IDLE is re-issued.
    pub idle_renew: Duration,
    /// How often a server without IDLE is polled.
    pub poll_interval: Duration,
    /// Mails per `UID FETCH` when catching up.
    pub fetch_batch: usize,
    /// Limit on connecting and on each command.
    pub timeout: Duration,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("address", &self.address)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("smtp", &self.smtp)
            .field("smtp_auth", &self.smtp_auth)
            .field("imap", &self.imap)
            .field("folder", &self.folder)
            .field("after_action", &self.after_action)
            .finish_non_exhaustive()
    }
}

impl EmailSettings {
    /// Settings with the defaults for everything but the account itself.
    pub fn new(address: String, login: String, smtp: Endpoint, imap: Option<Endpoint>) -> Self {
        Self {
            address,
            login,
            password: None,
            smtp,
            smtp_auth: true,
            imap,
            folder: DEFAULT_FOLDER.to_owned(),
            subject: DEFAULT_SUBJECT.to_owned(),
            after_action: AfterAction::Leave,
            idle_renew: DEFAULT_IDLE_RENEW,
            poll_interval: DEFAULT_POLL_INTERVAL,
            fetch_batch: DEFAULT_FETCH_BATCH,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// An e-mail account as a [`Transport`].
#[derive(Debug)]
pub struct EmailTransport {
    name: String,
    settings: EmailSettings,
    /// Mails found by the current scan and not yet handed over.
    backlog: AtomicUsize,
}

impl EmailTransport {
    /// A transport named `name` (e.g. `email.work`) for the account in `settings`.
    pub fn new(name: String, settings: EmailSettings) -> Self {
        Self { name, settings, backlog: AtomicUsize::new(0) }
    }

    /// The settings this transport was made with.
    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// Mails the running receive loop has found and not yet handed over (zero when idle).
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    fn unavailable(&self, what: impl std::fmt::Display) -> TransportError {
        TransportError::Unavailable(self.name.clone(), what.to_string())
    }

    fn refused(&self, what: impl std::fmt::Display) -> TransportError {
        TransportError::Refused(self.name.clone(), what.to_string())
    }
}

impl Transport for EmailTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        route: &'a Route,
        pointer_text: &'a str,
    ) -> BoxFuture<'a, Result<Sent, TransportError>> {
        Box::pin(smtp::send(self, route, pointer_text))
    }

    fn run(
        self: Arc<Self>,
        cursors: Vec<Cursor>,
        inbound: mpsc::Sender<Inbound>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, Result<(), TransportError>> {
        Box::pin(receive::run(self, cursors, inbound, stop))
    }
}

/// Checks that a route is one or more mail addresses (`bob@example.org[,carol@example.net]`),
/// so a bad route is refused before anything is recorded or queued.
pub fn check_route(route: &Route) -> Result<(), TransportError> {
    smtp::recipients(route).map(|_| ())
}

/// Whether `host` names the loopback interface (the only place a connection without TLS is
/// accepted).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

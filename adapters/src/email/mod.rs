//! E-mail: pointers go out over SMTP (lettre) as ordinary text/plain UTF-8 mails whose body is
//! the pointer, and come in from an IMAP folder (async-imap over tokio, rustls) watched with IDLE.
//!
//! Outgoing, a route is one or more addresses (`bob@example.org,carol@example.net`); one mail
//! goes to all of them. A 5xx reply (unknown recipient, authentication refused) is
//! [`TransportError::Refused`]; a 4xx reply, a refused or dropped connection, a TLS failure or
//! a timeout is [`TransportError::Unavailable`], which the bridge's outbox retries.
//!
//! Incoming (`receive.rs`, its decisions in `mailbox.rs`): every new mail of the folder up to
//! `max_mail_bytes` is forwarded whole (its RFC 822 bytes, fetched with `BODY.PEEK[]` so nothing
//! is marked read) with the cursor `FOLDER = "UIDVALIDITY:UID"`; the bridge's MIME-aware
//! detector finds the pointers, and tells back what opened so the after-action touches only
//! mails that held a real pointer.
//!
//! Also: [`check`], a live self-check of an account for `clm-bridge doctor`, and [`discover`],
//! an account's servers found from its address (autoconfig, then usual host names).

mod check;
mod discover;
mod imap;
mod mailbox;
mod receive;
mod smtp;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

pub use self::check::check;
pub use self::discover::{DiscoverError, Discovered, Discovery, discover};
pub use crate::settings::email::{AfterAction, EmailSettings, Endpoint, Security};
use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, Sent, Transport, TransportError};

/// An e-mail account as a [`Transport`].
pub struct EmailTransport {
    name: String,
    settings: EmailSettings,
    /// For IMAP and SMTP authentication; never logged (`Zeroizing` has no `Display`, and the
    /// `Debug` below hides it).
    password: Option<Zeroizing<String>>,
    /// Mails found by the current scan and not yet handed over.
    backlog: AtomicUsize,
}

impl EmailTransport {
    /// A transport named `name` (e.g. `email.work`) for the account in `settings` (validated),
    /// with the password read from where `settings.password()` says.
    pub fn new(name: String, settings: EmailSettings, password: Option<Zeroizing<String>>) -> Self {
        Self { name, settings, password, backlog: AtomicUsize::new(0) }
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

impl std::fmt::Debug for EmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTransport")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
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

//! Matrix: pointers as messages in Matrix rooms, through matrix-sdk with its SQLite state and
//! crypto store (so end-to-end encrypted rooms work).
//!
//! Outgoing, a pointer is an `m.text` whose body is the pointer; one larger than
//! `file_threshold` (a Matrix event holds at most 64 KiB, envelope included) is
//! uploaded as an `m.file` (`application/json`), encrypted in encrypted rooms.
//!
//! Incoming, a sync loop forwards every `m.text` and `m.notice` of the joined rooms (body, plus
//! the HTML `formatted_body`) and the content of every small text or JSON `m.file` to the bridge,
//! which runs the detector. The loop drives `/sync` itself: the [`Cursor`] `sync` holds the
//! `next_batch` token and rides on the last message of each response, so the token only moves
//! once the bridge committed what the response carried; a restart resumes from it, and a gap the
//! server left out (a `limited` timeline) is fetched with `/messages`. A new account starts at
//! the present unless `backfill` is set. Invites are accepted from allow-listed users or servers
//! only. Events this device sent itself are skipped; others of the same account (the sending
//! device of `clm-bridge send`) are deduplicated by the bridge, by digest.
//!
//! Devices and secrets: the receive loop (`run`) is one device with its store in
//! `STATE/sync`; sends from a process that runs no receive loop (the `send` command) use a second
//! device with its store in `STATE/send` (password accounts only), so two processes never share
//! one device's crypto state. Sessions (user, device, access token) and the random passphrase
//! that encrypts both stores are kept in the bridge's vault through [`SecretStore`], never in a
//! file. Rate limits (`M_LIMIT_EXCEEDED`) are waited out as the server's `retry_after_ms` says
//! (matrix-sdk's request retry does this); a homeserver that goes away makes the loop reconnect
//! with jittered exponential backoff.

mod check;
mod download;
mod errors;
mod gaps;
mod receive;
mod rooms;
mod send;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use matrix_sdk::Client;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

pub use self::check::{check, log_in};
pub use crate::settings::matrix::{MatrixLogin, MatrixSettings};
use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, SecretStore, Sent, Transport, TransportError};

/// The cursor key of the sync token.
pub const SYNC_CURSOR: &str = "sync";

/// How the account logs in, read by the bridge from where the settings name it.
pub enum MatrixAuth {
    /// A password: each device logs in once, then its session is restored.
    Password(Zeroizing<String>),
    /// An access token (of one existing device); sends then go through the receive loop only.
    AccessToken(Zeroizing<String>),
}

impl std::fmt::Debug for MatrixAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MatrixAuth::Password(_) => "Password(..)",
            MatrixAuth::AccessToken(_) => "AccessToken(..)",
        })
    }
}

/// A Matrix account as a [`Transport`].
pub struct MatrixTransport {
    name: String,
    settings: MatrixSettings,
    auth: MatrixAuth,
    /// Where the stores live (created 0700).
    state_dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
    /// Set once `run` was called: sends then go through the receive loop's client.
    receiving: AtomicBool,
    /// The receive loop's client, once logged in.
    sync_client: watch::Sender<Option<Client>>,
    /// Held while the sending device is in use in a process that does not receive.
    send_client: Mutex<()>,
    /// Events of the current response not yet handed over.
    backlog: AtomicUsize,
}

impl std::fmt::Debug for MatrixTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixTransport")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MatrixTransport {
    /// A transport named `name` (e.g. `matrix.home`) for the account in `settings`, logging in
    /// with `auth`, its stores under `state_dir`, its sessions and store passphrase kept in
    /// `secrets`.
    pub fn new(
        name: String,
        settings: MatrixSettings,
        auth: MatrixAuth,
        state_dir: PathBuf,
        secrets: Arc<dyn SecretStore>,
    ) -> Self {
        MatrixTransport {
            name,
            settings,
            auth,
            state_dir,
            secrets,
            receiving: AtomicBool::new(false),
            sync_client: watch::Sender::new(None),
            send_client: Mutex::new(()),
            backlog: AtomicUsize::new(0),
        }
    }

    /// The settings this transport was made with.
    pub fn settings(&self) -> &MatrixSettings {
        &self.settings
    }

    /// Messages of the sync response being handed over that are not handed over yet.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    fn set_backlog(&self, items: usize) {
        self.backlog.store(items, Ordering::Relaxed);
    }

    fn unavailable(&self, reason: impl Into<String>) -> TransportError {
        TransportError::Unavailable(self.name.clone(), reason.into())
    }
}

impl Transport for MatrixTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        route: &'a Route,
        pointer_text: &'a str,
    ) -> BoxFuture<'a, Result<Sent, TransportError>> {
        Box::pin(send::send(self, route, pointer_text))
    }

    fn run(
        self: Arc<Self>,
        cursors: Vec<Cursor>,
        inbound: mpsc::Sender<Inbound>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, Result<(), TransportError>> {
        self.receiving.store(true, Ordering::SeqCst);
        Box::pin(receive::run(self, cursors, inbound, stop))
    }
}

/// Checks a Matrix route's target: a room id (`!room:server`) or an alias (`#alias:server`).
/// Asked when a route is added, before anything is sent.
pub fn check_route(route: &Route) -> Result<(), TransportError> {
    send::parse_target(&route.0).map(|_| ())
}

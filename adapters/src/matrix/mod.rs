//! Matrix: pointers as messages in Matrix rooms, through matrix-sdk with its SQLite state and
//! crypto store (so end-to-end encrypted rooms work).
//!
//! Outgoing, a pointer is an `m.text` whose body is the pointer; one larger than
//! [`DEFAULT_FILE_THRESHOLD`] (a Matrix event holds at most 64 KiB, envelope included) is
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

mod errors;
mod receive;
mod send;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use matrix_sdk::Client;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::transport::BoxFuture;
use crate::{Cursor, Inbound, Route, SecretStore, Sent, Transport, TransportError};

/// Pointers longer than this (in bytes) go as an `m.file` instead of an `m.text`: a Matrix event
/// may be 64 KiB in all, and the body may be escaped and wrapped (encryption adds a third).
pub const DEFAULT_FILE_THRESHOLD: usize = 32 * 1024;

/// Files larger than this are not downloaded: the largest pointer the core accepts (2 MiB of
/// ciphertext, 4 Mi hex characters) plus room for the JSON around it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 + 64 * 1024;

/// How long the server may hold a `/sync` open when nothing happens.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// The cursor key of the sync token.
pub const SYNC_CURSOR: &str = "sync";

/// Parses a homeserver base URL: http or https, with a host.
pub fn parse_homeserver(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` is not an http(s) URL"));
    }
    Ok(url)
}

/// How the account logs in.
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

/// How a Matrix account is used.
#[derive(Debug)]
pub struct MatrixSettings {
    /// The homeserver's client-server API base URL.
    pub homeserver: url::Url,
    /// The account, `@name:server`.
    pub user_id: String,
    /// How it logs in.
    pub auth: MatrixAuth,
    /// Invites from these are accepted: full user ids (`@alice:example.org`) or server names
    /// (`example.org`, any user there).
    pub allowed_inviters: Vec<String>,
    /// Whether a new account's first sync imports the recent history of its rooms.
    pub backfill: bool,
    /// Where the stores live (created 0700).
    pub state_dir: PathBuf,
    /// Pointers longer than this go as files.
    pub file_threshold: usize,
    /// Files larger than this are skipped.
    pub max_file_bytes: u64,
    /// How long the server may hold a `/sync` open.
    pub sync_timeout: Duration,
}

impl MatrixSettings {
    /// Settings with the defaults for everything but the account itself.
    pub fn new(homeserver: url::Url, user_id: String, auth: MatrixAuth, state_dir: PathBuf) -> Self {
        MatrixSettings {
            homeserver,
            user_id,
            auth,
            allowed_inviters: Vec::new(),
            backfill: false,
            state_dir,
            file_threshold: DEFAULT_FILE_THRESHOLD,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
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
}

/// A Matrix account as a [`Transport`].
pub struct MatrixTransport {
    name: String,
    settings: MatrixSettings,
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
    /// A transport named `name` (e.g. `matrix.home`) for the account in `settings`, keeping its
    /// sessions and store passphrase in `secrets`.
    pub fn new(name: String, settings: MatrixSettings, secrets: Arc<dyn SecretStore>) -> Self {
        MatrixTransport {
            name,
            settings,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inviters_match_by_user_or_server() {
        let mut settings = MatrixSettings::new(
            "http://127.0.0.1:8008".parse().unwrap(),
            "@bot:example.org".into(),
            MatrixAuth::Password(Zeroizing::new("pw".into())),
            PathBuf::from("/tmp/x"),
        );
        settings.allowed_inviters = vec!["@alice:example.org".into(), "friends.net".into()];
        assert!(settings.inviter_allowed("@alice:example.org"));
        assert!(!settings.inviter_allowed("@mallory:example.org"));
        assert!(settings.inviter_allowed("@bob:friends.net"));
        assert!(!settings.inviter_allowed("@bob:evil.friends.net"));
        assert!(!settings.inviter_allowed("friends.net"));
    }
}

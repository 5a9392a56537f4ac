//! The boundary every adapter implements: kept small on purpose (see ARCHITECTURE.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// A boxed future, so the trait stays usable as `dyn Transport`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where to deliver a pointer within a transport: a folder, a mail address, a room, a chat id.
/// Its syntax is the adapter's (`TRANSPORT:TARGET` in config, TARGET here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route(pub String);

/// A transport's position, opaque to the bridge: `key` names what it is a position in (a
/// folder, a mailbox), `value` is the position. The bridge stores it in the same transaction as
/// the messages that came with it, and hands every stored cursor back to `run` on restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// What the position is in.
    pub key: String,
    /// The position.
    pub value: String,
}

/// Text that arrived over a transport and may hold pointers.
#[derive(Debug)]
pub struct Inbound {
    /// The transport instance's name (e.g. `drop.usb`).
    pub transport: String,
    /// Where it came from, for display and history (a file name, a sender, a room).
    pub origin: String,
    /// The place within the transport it arrived in, as a route names it (a Telegram chat id,
    /// a Matrix room id); empty where the instance is one place (a drop folder, a mailbox).
    /// Gateways match their routes on it.
    pub place: String,
    /// The text (or mail) to scan: bytes, because mails and files need not be UTF-8.
    pub text: Vec<u8>,
    /// Position to store with whatever this text produced.
    pub cursor: Option<Cursor>,
    /// Fired by the bridge once the text's messages and cursor are committed, with what the
    /// bridge made of the text; an adapter that acknowledges upstream (mark seen, advance an
    /// offset, move a mail) waits for it first. Never fired for text that was not stored.
    pub committed: Option<oneshot::Sender<Committed>>,
}

/// What the bridge found in one [`Inbound`]'s text, told to the adapter once committed: an
/// adapter decides its after-actions on this instead of detecting pointers itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Committed {
    /// Pointers detected in the text.
    pub pointers: usize,
    /// Of those, the ones a known chat opened (new or already in history).
    pub opened: usize,
}

impl Committed {
    /// What was found: `pointers` detected, `opened` of them opened by a known chat.
    pub fn new(pointers: usize, opened: usize) -> Committed {
        Committed { pointers, opened }
    }
}

/// What a successful send produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The transport's id for what it wrote (file name, message id).
    pub id: String,
}

/// Why a transport failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The route is not one this transport can deliver to.
    #[error("invalid route `{route}`: {reason}")]
    InvalidRoute {
        /// The route as given.
        route: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service or medium is not reachable now; worth retrying later.
    #[error("{0} is unavailable: {1}")]
    Unavailable(String, String),
    /// The service refused for good (authentication, permission, a permanent error).
    #[error("{0} refused: {1}")]
    Refused(String, String),
    /// Local I/O failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// What was being read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Secret state could not be loaded or saved by the bridge.
    #[error("secret state: {0}")]
    SecretState(String),
    /// The bridge stopped listening.
    #[error("the bridge closed the inbound channel")]
    Closed,
}

/// Small secret state a transport keeps across restarts (a Matrix session's access token, its
/// store passphrase). The bridge seals each value in its vault; an adapter never writes such
/// values to disk itself.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The value saved under `key`, if any.
    fn load(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, TransportError>;
    /// Saves (replaces) the value under `key`.
    fn save(&self, key: &str, value: &[u8]) -> Result<(), TransportError>;
}

/// A transport: sends pointer text along routes, and runs a receive loop.
pub trait Transport: Send + Sync + 'static {
    /// The instance name, e.g. `drop.usb`.
    fn name(&self) -> &str;

    /// Delivers one pointer's text along `route`.
    fn send<'a>(
        &'a self,
        route: &'a Route,
        pointer_text: &'a str,
    ) -> BoxFuture<'a, Result<Sent, TransportError>>;

    /// Receives until `stop` is cancelled, resuming from the cursors stored earlier, and
    /// forwards what arrives to `inbound`. Reconnects by itself; returns only on stop or on an
    /// error it cannot recover from.
    fn run(
        self: Arc<Self>,
        cursors: Vec<Cursor>,
        inbound: mpsc::Sender<Inbound>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, Result<(), TransportError>>;
}

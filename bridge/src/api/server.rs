//! The daemon's side: the socket (and the optional loopback TCP listener), one task per client,
//! the health recorder and the event log's pruning. Everything the methods touch is in
//! [`Shared`]: an [`App`] of the API's own (its own store connection, the daemon's settings and
//! unlocked vault), a second connection for reading events, the daemon's running transports,
//! the event bell and the transports' health.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clm_adapters::Transport;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::codec;
use super::error::{ErrorCode, RpcError};
use super::events::{EventBell, HealthBoard, HealthChange, HealthSink};
use super::session;
use crate::app::{self, App};
use crate::config::ApiSettings;
use crate::error::{Error, usage};
use crate::store::{Store, StoreError};

/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long stopping waits for the health recorder and the listeners.
const FINISH_GRACE: Duration = Duration::from_secs(5);
/// How long a refusal (a stranger, one client too many) may take to write.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// What every client's task shares.
pub(crate) struct Shared {
    /// The API's own connection, with the daemon's settings and vault.
    pub(crate) app: Mutex<App>,
    /// A second connection, for reading events (so a slow method never holds up the stream).
    pub(crate) events: Mutex<Store>,
    /// Rung after commits.
    pub(crate) bell: EventBell,
    /// The daemon's transports by name: `send` delivers over them.
    pub(crate) running: HashMap<String, Arc<dyn Transport>>,
    /// The transports' latest health.
    pub(crate) board: HealthBoard,
    /// When the daemon started.
    pub(crate) started_at: i64,
    /// `[api]`.
    pub(crate) settings: ApiSettings,
    /// How deliveries that failed for now are spaced (`[outbox]`).
    pub(crate) retries: crate::backoff::Backoff,
    /// TCP only: the bearer token.
    pub(crate) token: Option<Zeroizing<String>>,
    /// Cancelled when the daemon stops.
    pub(crate) stop: CancellationToken,
    /// One permit per client served.
    pub(crate) clients: Arc<Semaphore>,
}

/// The API of a running daemon.
pub struct Server {
    shared: Arc<Shared>,
    health: HealthSink,
    recorder: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    socket: PathBuf,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("socket", &self.socket).finish_non_exhaustive()
    }
}

/// The socket of a data directory: `<data dir>/api.sock`.
pub fn socket_path(data_dir: &crate::paths::DataDir) -> PathBuf {
    data_dir.root().join(super::SOCKET_NAME)
}

impl Server {
    /// Binds the socket (refusing when another process serves it) and the TCP listener if
    /// configured, opens the API's store connections and starts serving until `stop`. Call
    /// from within the daemon's runtime.
    pub fn start(
        app: &App,
        transports: &[Arc<dyn Transport>],
        stop: CancellationToken,
    ) -> Result<Server, Error> {
        let settings = app.settings.api.clone();
        let socket = socket_path(&app.data_dir);
        let unix = bind_socket(&socket)?;
        let tcp = match settings.tcp {
            Some(address) => Some(bind_tcp(address)?),
            None => None,
        };
        let token = settings.token_file.as_deref().map(read_token).transpose()?;
        let now = app::now()?.cast_signed();
        let own = App {
            settings: app.settings.clone(),
            data_dir: app.data_dir.clone(),
            store: open_store(app)?,
            vault: app.vault.clone(),
        };
        let running = transports.iter().map(|t| (t.name().to_owned(), Arc::clone(t))).collect();
        let shared = Arc::new(Shared {
            app: Mutex::new(own),
            events: Mutex::new(open_store(app)?),
            bell: EventBell::default(),
            running,
            board: HealthBoard::new(transports.iter().map(|t| t.name().to_owned()), now),
            started_at: now,
            clients: Arc::new(Semaphore::new(settings.max_clients)),
            settings,
            retries: app.settings.outbox.retries(),
            token,
            stop,
        });
        let (health, changes) = HealthSink::channel();
        let recorder = tokio::spawn(record_health(Arc::clone(&shared), changes));
        let uid = std::fs::metadata(&socket).map_err(|e| io_error(&socket, e))?.uid();
        let mut tasks = vec![
            tokio::spawn(accept_unix(Arc::clone(&shared), unix, uid)),
            tokio::spawn(prune_events(Arc::clone(&shared))),
        ];
        if let Some(tcp) = tcp {
            tasks.push(tokio::spawn(accept_tcp(Arc::clone(&shared), tcp)));
        }
        tracing::info!(socket = %socket.display(), tcp = ?shared.settings.tcp, "API served");
        Ok(Server { shared, health, recorder, tasks, socket })
    }

    /// The bell to ring after commits.
    pub fn bell(&self) -> EventBell {
        self.shared.bell.clone()
    }

    /// Where supervisors report their transports' health.
    pub fn health(&self) -> HealthSink {
        self.health.clone()
    }

    /// Stops serving (the daemon's stop token must be cancelled already, and the supervisors
    /// ended): records the last health reports and removes the socket.
    pub async fn finish(self) {
        let Server { shared, health, recorder, tasks, socket } = self;
        shared.stop.cancel();
        drop(health);
        for task in tasks {
            if tokio::time::timeout(FINISH_GRACE, task).await.is_err() {
                tracing::debug!("an API listener did not stop in time");
            }
        }
        if tokio::time::timeout(FINISH_GRACE, recorder).await.is_err() {
            tracing::warn!("the last health reports were not recorded in time");
        }
        if let Err(error) = std::fs::remove_file(&socket) {
            tracing::debug!(error = %error, "cannot remove the API socket");
        }
    }
}

fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::Runtime(std::io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

/// Another connection to the daemon's store, unlocked with its vault.
fn open_store(app: &App) -> Result<Store, Error> {
    let mut store = Store::open(&app.data_dir.db_path())?;
    store.unlock(&app.vault)?;
    store.set_claim_seconds(app.settings.outbox.claim_seconds());
    Ok(store)
}

/// Binds the socket, mode 0600. A socket someone answers on is another daemon's: refused. One
/// nobody answers on is left from a daemon that was killed: replaced.
fn bind_socket(path: &Path) -> Result<UnixListener, Error> {
    match super::socket_path::with_short_path(path, |path| std::os::unix::net::UnixStream::connect(path)) {
        Ok(_) => {
            return Err(usage(format!(
                "another process serves {}: one clm-bridge daemon per data directory (stop the other first)",
                path.display()
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => {
            let metadata = std::fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
            if !metadata.file_type().is_socket() {
                return Err(usage(format!("{} is in the way: it is not a socket", path.display())));
            }
            std::fs::remove_file(path).map_err(|e| io_error(path, e))?;
        }
    }
    let listener = super::socket_path::with_short_path(path, |path| UnixListener::bind(path))
        .map_err(|e| io_error(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| io_error(path, e))?;
    Ok(listener)
}

fn bind_tcp(address: std::net::SocketAddr) -> Result<TcpListener, Error> {
    let listener = std::net::TcpListener::bind(address)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|e| Error::Runtime(std::io::Error::new(e.kind(), format!("api.tcp {address}: {e}"))))?;
    TcpListener::from_std(listener).map_err(Error::Runtime)
}

/// The token: the whole file but one trailing newline; the file must be private (0600).
fn read_token(path: &Path) -> Result<Zeroizing<String>, Error> {
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(usage(format!(
            "api.token_file {}: others may read it (mode {:o}): chmod 600 it",
            path.display(),
            metadata.permissions().mode() & 0o777
        )));
    }
    let token = crate::secret::read_secret_file(path)?;
    if token.trim().len() < 16 {
        return Err(usage(format!(
            "api.token_file {}: the token is shorter than 16 characters",
            path.display()
        )));
    }
    Ok(token)
}

/// Writes one error line to a client that is not served, then lets it go.
fn refuse<S: AsyncWrite + Unpin + Send + 'static>(mut stream: S, error: RpcError) {
    tokio::spawn(async move {
        let line = codec::line(&codec::response(serde_json::Value::Null, Err(error)));
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
            stream.write_all(&line).await?;
            stream.shutdown().await
        })
        .await;
    });
}

async fn accept_unix(shared: Arc<Shared>, listener: UnixListener, uid: u32) {
    loop {
        let accepted = tokio::select! {
            () = shared.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(error = %error, "API: cannot accept a client");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(peer) if peer.uid() == uid => {}
            peer => {
                tracing::warn!(peer = ?peer.map(|p| p.uid()), "API: refused a client of another user");
                let message = format!("this socket serves uid {uid} only");
                refuse(stream, RpcError::new(ErrorCode::Forbidden, message));
                continue;
            }
        }
        serve(&shared, stream, true);
    }
}

async fn accept_tcp(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            () = shared.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => serve(&shared, stream, false),
            Err(error) => {
                tracing::warn!(error = %error, "API: cannot accept a TCP client");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves a client on a task of its own, if there is room for one more.
fn serve<S>(shared: &Arc<Shared>, stream: S, authenticated: bool)
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = Arc::clone(&shared.clients).try_acquire_owned() else {
        let message =
            format!("the daemon serves {} clients already (api.max_clients)", shared.settings.max_clients);
        refuse(stream, RpcError::new(ErrorCode::TooManyClients, message));
        return;
    };
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        session::serve(stream, shared, authenticated).await;
        drop(permit);
    });
}

/// Records health changes as events (and for `status`) until every sink is gone.
async fn record_health(shared: Arc<Shared>, mut changes: mpsc::Receiver<HealthChange>) {
    while let Some(change) = changes.recv().await {
        let now = app::now().map_or(0, u64::cast_signed);
        shared.board.set(&change, now);
        let (state, detail, transport) = (change.state, change.detail, change.transport);
        let store = Arc::clone(&shared);
        let recorded = tokio::task::spawn_blocking(move || {
            let app = store.app.lock().unwrap_or_else(PoisonError::into_inner);
            app.store.record_health(&transport, state.name(), &detail, now)
        })
        .await;
        match recorded {
            Ok(Ok(_)) => shared.bell.ring(),
            Ok(Err(error)) => tracing::warn!(error = %error, "cannot record a transport's health"),
            Err(error) => tracing::warn!(error = %error, "cannot record a transport's health"),
        }
    }
}

/// Forgets events beyond `api.keep_events` and older than `api.keep_event_days`, hourly.
async fn prune_events(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = shared.stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let store = Arc::clone(&shared);
        let pruned = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
            let now = app::now().map_or(0, u64::cast_signed);
            let before =
                now.saturating_sub(store.settings.keep_event_days.cast_signed().saturating_mul(86_400));
            let app = store.app.lock().unwrap_or_else(PoisonError::into_inner);
            app.store.prune_events(store.settings.keep_events, before)
        })
        .await;
        match pruned {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(events = count, "pruned old events"),
            Ok(Err(error)) => tracing::warn!(error = %error, "cannot prune old events"),
            Err(error) => tracing::warn!(error = %error, "cannot prune old events"),
        }
    }
}

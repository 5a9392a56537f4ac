//! The daemon behind `clm-bridge run`.
//!
//! Every configured transport runs on its own task under a [`supervisor`] that restarts it
//! after a failure (jittered exponential backoff; the others keep running). What they receive
//! flows through one queue bounded in items and bytes ([`intake`](mod@intake)) into the receive loop
//! ([`receiver`]), which takes whatever is waiting (up to [`MAX_BATCH`] items and
//! `limits.batch_bytes`) and stores it with the transports' cursors on a blocking thread, in
//! transactions of at most `limits.batch_pointers` pointers; only then are the transports'
//! acknowledgements fired, one line per new message printed, and `on_message` queued. A kill
//! at any moment therefore loses nothing committed and replays nothing as new: on restart each
//! transport resumes from its stored cursors, and a pointer stored before is recognised by its
//! digest. A busy, full or read-only store is waited out ([`store_retry`]), never the end.
//!
//! One daemon per data directory: `run` holds an exclusive lock on `run.lock` there
//! ([`crate::paths::RunLock`]).
//!
//! SIGINT or SIGTERM stops the transports, stores what they had already handed over, lets
//! `on_message` runs finish (briefly), and returns; a second signal stops at once.

pub mod ingest;
pub mod intake;
pub mod notify;
pub mod progress;
pub mod receiver;
pub mod redelivery;
pub mod store_retry;
pub mod summary;
pub mod supervisor;

use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clm_adapters::Transport;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::ingest::Storage;
pub use self::intake::MAX_BATCH;
use self::intake::{Intake, IntakeReceiver, intake};
use self::notify::{Notifier, Program};
use self::progress::{Backlog, LogQueue, ProgressSlot};
use self::receiver::Receiver;
use self::supervisor::{Restarts, supervise};
use crate::app::{self, App};
use crate::config::Settings;
use crate::error::{Error, usage};
use crate::store::Store;
use crate::transports::{self, Adapter};

/// How long transports get to stop, and `on_message` runs to finish, when asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How the daemon prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// One JSON object per new message instead of a text line.
    pub json: bool,
}

/// Runs the daemon until SIGINT or SIGTERM (or a failure of the store or of standard output).
/// `logs` is the queue the `tracing` subscriber writes to ([`progress::LogWriter`]): the
/// daemon writes it out on this thread, which is the one allowed to write to the terminal.
pub fn run(app: App, options: Options, logs: LogQueue, out: &mut dyn Write) -> Result<(), Error> {
    let adapters =
        transports::configured(&app.settings, &transports::Context::new(&app.data_dir, &app.vault))?;
    if adapters.is_empty() {
        return Err(usage(
            "no transport to run: add a [drop.NAME], [email.NAME], [matrix.NAME] or [telegram.NAME] section to the \
             settings (see config.example.toml)",
        ));
    }
    crate::memory::use_one_malloc_arena();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    let (result, mut logs) = runtime.block_on(serve(app, adapters, options, logs, out));
    // A blocking task still reading a slow medium must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(2));
    progress::write_logs(&mut logs);
    result
}

/// The daemon, joined with the terminal writer (logs and progress bar) on this thread.
async fn serve(
    app: App,
    adapters: Vec<Adapter>,
    options: Options,
    logs: LogQueue,
    out: &mut dyn Write,
) -> (Result<(), Error>, LogQueue) {
    let slot = ProgressSlot::default();
    let (inbound_tx, inbound_rx) = intake(app.settings.limits.inbound_queue_bytes);
    let transports: Vec<Arc<dyn Transport>> = adapters.iter().map(|a| Arc::clone(&a.transport)).collect();
    let backlog = Backlog { adapters, queue: inbound_tx.downgrade(), handled: Arc::default() };
    let handled = Arc::clone(&backlog.handled);
    let terminal_stop = CancellationToken::new();
    let terminal = progress::terminal(slot.clone(), backlog, logs, terminal_stop.clone());
    let daemon = async {
        let queue = (inbound_tx, inbound_rx);
        let result = serve_daemon(app, transports, options, queue, handled, slot, out).await;
        terminal_stop.cancel();
        result
    };
    tokio::join!(daemon, terminal)
}

/// Starts the transports, receives until stopped, and stops everything in order.
async fn serve_daemon(
    app: App,
    transports: Vec<Arc<dyn Transport>>,
    options: Options,
    (inbound_tx, inbound_rx): (Intake, IntakeReceiver),
    handled: Arc<AtomicU64>,
    progress: ProgressSlot,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let stop = CancellationToken::new();
    let force = CancellationToken::new();
    listen_for_signals(stop.clone(), force.clone()).map_err(Error::Runtime)?;
    // The API first: it refuses to start when another process serves this data directory.
    let api = crate::api::Server::start(&app, &transports, stop.clone())?;
    let (outbox, outbox_wake) = start_outbox(&app, &transports, &api, &stop);
    let App { settings, store, .. } = app;
    let limits = settings.limits;
    let database = store.path().to_owned();
    let (storage, initial_cursors) = open_storage(store, &settings, &transports).await?;
    let chats = storage.chat_count();
    let storage = Arc::new(Mutex::new(storage));

    let (requests_tx, requests_rx) = mpsc::channel(16);
    // Only the transports' forwarders hold senders from here on: the queue closes when they
    // have stopped.
    let supervisors = start_transports(&transports, initial_cursors, inbound_tx, requests_tx, &stop, &api);
    let transports = transports.len();
    let notifier = settings.on_message.clone().map(|argv| {
        let program = Program::new(argv, &settings.on_message_env, notify::RUN_TIME_LIMIT);
        Notifier::start(program, limits.on_message_queue_bytes)
    });
    tracing::info!(transports, chats, "clm-bridge is running; stop it with Ctrl-C or SIGTERM");

    let mut receiver = Receiver {
        storage,
        database,
        limits,
        json: options.json,
        progress,
        out,
        notifier: notifier.as_ref(),
        handled,
        summary: summary::Summary::default(),
        full_until: None,
        events: api.bell(),
        outbox_wake,
    };
    let result = receiver.receive(inbound_rx, requests_rx, &stop, &force).await;
    let flushed = receiver.out.flush().map_err(Error::Output);
    stop_in_order(&stop, &force, outbox, supervisors, notifier, api).await;
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(error) => tracing::error!(error = %error, "stopped by an error"),
    }
    result.and(flushed)
}

/// The daemon's storage (chats loaded, gateways planned) and each transport's stored cursors.
async fn open_storage(
    store: Store,
    settings: &Settings,
    transports: &[Arc<dyn Transport>],
) -> Result<(Storage, Vec<Vec<clm_adapters::Cursor>>), Error> {
    let (limits, gateways) = (settings.limits, settings.gateways.clone());
    let names: Vec<String> = transports.iter().map(|t| t.name().to_owned()).collect();
    blocking(move || {
        let storage = Storage::open(store, limits, &gateways, app::now()?)?;
        let cursors = names.iter().map(|name| storage.cursors(name)).collect::<Result<Vec<_>, _>>()?;
        Ok((storage, cursors))
    })
    .await
}

/// Starts the outbox worker over the running transports; returns it and what wakes it.
fn start_outbox(
    app: &App,
    transports: &[Arc<dyn Transport>],
    api: &crate::api::Server,
    stop: &CancellationToken,
) -> (tokio::task::JoinHandle<()>, Arc<tokio::sync::Notify>) {
    let wake = Arc::new(tokio::sync::Notify::new());
    let worker = redelivery::OutboxWorker {
        database: app.data_dir.db_path(),
        settings: app.settings.clone(),
        context: transports::Context::new(&app.data_dir, &app.vault),
        running: transports.iter().map(|t| (t.name().to_owned(), Arc::clone(t))).collect(),
        events: api.bell(),
        wake: Arc::clone(&wake),
    };
    (tokio::spawn(worker.run(stop.clone())), wake)
}

/// Starts one supervisor per transport, each handing over through the intake.
fn start_transports(
    transports: &[Arc<dyn Transport>],
    cursors: Vec<Vec<clm_adapters::Cursor>>,
    intake: Intake,
    requests: mpsc::Sender<supervisor::CursorRequest>,
    stop: &CancellationToken,
    api: &crate::api::Server,
) -> Vec<tokio::task::JoinHandle<()>> {
    transports
        .iter()
        .zip(cursors)
        .map(|(transport, cursors)| {
            tracing::info!(transport = %transport.name(), "starting transport");
            let (sender, _forwarder) = intake.transport_sender();
            let (transport, requests, stop) = (Arc::clone(transport), requests.clone(), stop.clone());
            let health = api.health();
            tokio::spawn(supervise(transport, cursors, sender, requests, stop, Restarts::default(), health))
        })
        .collect()
}

/// Stops the outbox, the transports and `on_message`, each within [`STOP_GRACE`] (at once
/// after `force`).
async fn stop_in_order(
    stop: &CancellationToken,
    force: &CancellationToken,
    outbox: tokio::task::JoinHandle<()>,
    supervisors: Vec<tokio::task::JoinHandle<()>>,
    notifier: Option<Notifier>,
    api: crate::api::Server,
) {
    stop.cancel();
    let deadline = Instant::now() + STOP_GRACE;
    if tokio::time::timeout_at(deadline, outbox).await.is_err() {
        tracing::warn!("the outbox did not stop in time (a delivery in flight stays queued)");
    }
    for mut supervisor in supervisors {
        if force.is_cancelled() || tokio::time::timeout_at(deadline, &mut supervisor).await.is_err() {
            supervisor.abort();
        }
    }
    if let Some(notifier) = notifier {
        notifier.finish(if force.is_cancelled() { Duration::ZERO } else { STOP_GRACE }).await;
    }
    api.finish().await;
}

/// The first SIGINT or SIGTERM cancels `stop`; a second one cancels `force`.
fn listen_for_signals(stop: CancellationToken, force: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            let first = next_signal(&mut terminate, &mut interrupt).await;
            tracing::info!(
                signal = first,
                "stopping: storing what has arrived (signal again to stop at once)"
            );
            stop.cancel();
            let second = next_signal(&mut terminate, &mut interrupt).await;
            tracing::warn!(signal = second, "stopping at once");
            force.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            force.cancel();
        }
    });
    Ok(())
}

#[cfg(unix)]
async fn next_signal(
    terminate: &mut tokio::signal::unix::Signal,
    interrupt: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}

/// Runs store work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join| Error::Runtime(std::io::Error::other(format!("a store task failed: {join}"))))?
}

fn lock(storage: &Mutex<Storage>) -> std::sync::MutexGuard<'_, Storage> {
    // A panic while storing ends the daemon (the task's failure is reported); the data is
    // whatever the last transaction left, which SQLite keeps consistent.
    storage.lock().unwrap_or_else(PoisonError::into_inner)
}

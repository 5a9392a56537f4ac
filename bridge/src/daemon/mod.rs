//! The daemon behind `clm-bridge run`.
//!
//! Every configured transport runs on its own task under a [`supervisor`] that restarts it
//! after a failure (jittered exponential backoff; the others keep running). What they receive
//! flows through one bounded queue into the receive loop, which takes whatever is waiting (up
//! to [`MAX_BATCH`] items) and stores it with the transports' cursors in ONE transaction on a
//! blocking thread; only then are the transports' acknowledgements fired, one line per new
//! message printed, and `on_message` queued. A kill at any moment therefore loses nothing
//! committed and replays nothing as new: on restart each transport resumes from its stored
//! cursors, and a pointer stored before is recognised by its digest.
//!
//! SIGINT or SIGTERM stops the transports, stores what they had already handed over, lets
//! `on_message` runs finish (briefly), and returns; a second signal stops at once.

pub mod ingest;
pub mod notify;
pub mod progress;
pub mod redelivery;
pub mod supervisor;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clm_adapters::{Committed, Cursor, Inbound, Transport};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use self::ingest::{Item, Storage};
use self::notify::Notifier;
use self::progress::{Backlog, LogQueue, ProgressSlot};
use self::supervisor::{CursorRequest, Restarts, supervise};
use crate::app::{self, App};
use crate::error::{Error, usage};
use crate::pipeline::Ingested;
use crate::transports::{self, Adapter};

/// The most items stored in one transaction.
pub const MAX_BATCH: usize = 500;
/// Items the transports may hand over ahead of the store (back-pressure beyond that).
const QUEUE: usize = 512;
/// How often the native recognition window moves with the clock.
const TAG_WINDOW_EVERY: Duration = Duration::from_secs(60);
/// How long transports get to stop, and `on_message` runs to finish, when asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Items stored since memory was last returned to the system that call for doing it again.
const TRIM_AFTER_ITEMS: u64 = 1_000;
/// How long the queue must be quiet before that.
const TRIM_WHEN_QUIET: Duration = Duration::from_secs(2);
/// How often free memory is returned to the system in any case (a few milliseconds each).
const TRIM_EVERY: Duration = Duration::from_secs(10);
/// Attempts at storing one batch before the daemon gives up (the store is broken or full).
const STORE_ATTEMPTS: u32 = 5;

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
    let (inbound_tx, inbound_rx) = mpsc::channel(QUEUE);
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
    (inbound_tx, inbound_rx): (mpsc::Sender<Inbound>, mpsc::Receiver<Inbound>),
    handled: Arc<AtomicU64>,
    progress: ProgressSlot,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let stop = CancellationToken::new();
    let force = CancellationToken::new();
    listen_for_signals(stop.clone(), force.clone()).map_err(Error::Runtime)?;
    // The API first: it refuses to start when another process serves this data directory.
    let api = crate::api::Server::start(&app, &transports, stop.clone())?;

    let outbox = redelivery::OutboxWorker {
        database: app.data_dir.db_path(),
        settings: app.settings.clone(),
        context: transports::Context::new(&app.data_dir, &app.vault),
        running: transports.iter().map(|t| (t.name().to_owned(), Arc::clone(t))).collect(),
        events: api.bell(),
    };
    let outbox = tokio::spawn(outbox.run(stop.clone()));
    let App { settings, store, .. } = app;
    let names: Vec<String> = transports.iter().map(|t| t.name().to_owned()).collect();
    let (storage, initial_cursors) = blocking(move || {
        let storage = Storage::open(store, app::now()?)?;
        let cursors = names.iter().map(|name| storage.cursors(name)).collect::<Result<Vec<_>, _>>()?;
        Ok((storage, cursors))
    })
    .await?;
    let chats = storage.chat_count();
    let storage = Arc::new(Mutex::new(storage));

    let (requests_tx, requests_rx) = mpsc::channel(16);
    let mut supervisors = Vec::new();
    for (transport, cursors) in transports.iter().zip(initial_cursors) {
        tracing::info!(transport = %transport.name(), "starting transport");
        supervisors.push(tokio::spawn(supervise(
            Arc::clone(transport),
            cursors,
            inbound_tx.clone(),
            requests_tx.clone(),
            stop.clone(),
            Restarts::default(),
            api.health(),
        )));
    }
    let transports = transports.len();
    // From here on only the transports hold senders: the queue closes when they have stopped.
    drop((inbound_tx, requests_tx));
    let notifier = settings.on_message.clone().map(|argv| Notifier::start(argv, notify::RUN_TIME_LIMIT));
    tracing::info!(transports, chats, "clm-bridge is running; stop it with Ctrl-C or SIGTERM");

    let mut receiver = Receiver {
        storage,
        json: options.json,
        progress,
        out,
        notifier: notifier.as_ref(),
        handled,
        events: api.bell(),
    };
    let result = receiver.receive(inbound_rx, requests_rx, &stop, &force).await;
    let flushed = receiver.out.flush().map_err(Error::Output);

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
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(error) => tracing::error!(error = %error, "stopped by an error"),
    }
    result.and(flushed)
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

/// The receive loop's state.
struct Receiver<'a> {
    storage: Arc<Mutex<Storage>>,
    json: bool,
    progress: ProgressSlot,
    out: &'a mut dyn Write,
    notifier: Option<&'a Notifier>,
    /// Items stored so far (for the progress bar).
    handled: Arc<AtomicU64>,
    /// Rung after each commit: the API's subscribers read the new events.
    events: crate::api::EventBell,
}

impl Receiver<'_> {
    /// Stores what arrives until every transport has stopped (after `stop`), `force`, a
    /// failure, or [`STOP_GRACE`] after `stop` when a transport does not stop.
    async fn receive(
        &mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut requests: mpsc::Receiver<CursorRequest>,
        stop: &CancellationToken,
        force: &CancellationToken,
    ) -> Result<(), Error> {
        let mut tag_window = tokio::time::interval_at(Instant::now() + TAG_WINDOW_EVERY, TAG_WINDOW_EVERY);
        tag_window.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let drain_deadline = async {
            stop.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::pin!(drain_deadline);
        // After a burst (many items stored), the store's cache and free memory go back to the
        // system once quiet; free memory also every TRIM_EVERY (a transport's own bursts, such as
        // a large folder listed again after a restart, send the bridge nothing).
        let mut trim_every = tokio::time::interval_at(Instant::now() + TRIM_EVERY / 2, TRIM_EVERY);
        trim_every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut since_trim: u64 = 0;
        let mut trim_at: Option<Instant> = None;
        loop {
            let trim_timer = async move {
                match trim_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = force.cancelled() => return Ok(()),
                () = trim_timer => {
                    trim_at = None;
                    since_trim = 0;
                    let storage = Arc::clone(&self.storage);
                    blocking(move || {
                        if let Err(error) = lock(&storage).release_memory() {
                            tracing::debug!(error = %error, "cannot shrink the store's cache");
                        }
                        crate::memory::release_free_memory();
                        Ok(())
                    })
                    .await?;
                }
                _ = trim_every.tick() => {
                    blocking(|| {
                        crate::memory::release_free_memory();
                        Ok(())
                    })
                    .await?;
                }
                () = &mut drain_deadline => {
                    tracing::warn!("a transport did not stop within {STOP_GRACE:?}; not waiting for it");
                    return Ok(());
                }
                Some(request) = requests.recv() => self.answer(request).await,
                _ = tag_window.tick() => {
                    let (storage, now) = (Arc::clone(&self.storage), app::now()?);
                    blocking(move || {
                        lock(&storage).set_now(now);
                        Ok(())
                    })
                    .await?;
                }
                item = inbound.recv() => {
                    let Some(first) = item else { return Ok(()) };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match inbound.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                    since_trim += batch.len() as u64;
                    self.process(batch, force).await?;
                    if since_trim >= TRIM_AFTER_ITEMS {
                        trim_at = Some(Instant::now() + TRIM_WHEN_QUIET);
                    }
                }
            }
        }
    }

    /// A restarting transport's cursors. If they cannot be read it starts from none: what it
    /// reports again is recognised by digest and not shown again.
    async fn answer(&self, request: CursorRequest) {
        let storage = Arc::clone(&self.storage);
        let transport = request.transport.clone();
        let cursors = blocking(move || lock(&storage).cursors(&transport)).await;
        let cursors: Vec<Cursor> = cursors.unwrap_or_else(|error| {
            tracing::warn!(transport = %request.transport, error = %error, "cannot read the stored cursors");
            Vec::new()
        });
        let _ = request.reply.send(cursors);
    }

    /// Stores one batch (retrying a failing store with backoff), then acknowledges, prints and
    /// notifies.
    async fn process(&mut self, batch: Vec<Inbound>, force: &CancellationToken) -> Result<(), Error> {
        let count = batch.len() as u64;
        let mut acknowledgements = Vec::with_capacity(batch.len());
        let items: Arc<Vec<Item>> = Arc::new(
            batch
                .into_iter()
                .map(|inbound| {
                    acknowledgements.push(inbound.committed);
                    Item {
                        transport: inbound.transport,
                        origin: inbound.origin,
                        text: inbound.text,
                        cursor: inbound.cursor,
                    }
                })
                .collect(),
        );
        let mut attempt = 1;
        let ingested = loop {
            let (storage, items, now) = (Arc::clone(&self.storage), Arc::clone(&items), app::now()?);
            match blocking(move || lock(&storage).ingest(&items, now)).await {
                Ok(ingested) => {
                    self.events.ring();
                    break ingested;
                }
                Err(error) if attempt < STORE_ATTEMPTS => {
                    let delay = Duration::from_secs(1 << (attempt - 1));
                    tracing::warn!(error = %error, attempt, retry_in = ?delay, "cannot store what arrived; trying again");
                    tokio::select! {
                        () = force.cancelled() => return Err(error),
                        () = tokio::time::sleep(delay) => {}
                    }
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        };
        for (acknowledgement, found) in acknowledgements.into_iter().zip(&ingested.per_input) {
            if let Some(acknowledgement) = acknowledgement {
                let _ = acknowledgement.send(Committed::new(found.pointers, found.opened));
            }
        }
        self.handled.fetch_add(count, Ordering::Relaxed);
        ingest::report(&ingested);
        self.show(&ingested)
    }

    /// One line per new message on the output, and an `on_message` run for each.
    fn show(&mut self, ingested: &Ingested) -> Result<(), Error> {
        let new: Vec<_> = ingested.received.iter().filter(|message| message.new).collect();
        tracing::debug!(opened = ingested.received.len(), new = new.len(), "batch stored");
        if new.is_empty() {
            return Ok(());
        }
        let (json, out) = (self.json, &mut *self.out);
        self.progress
            .suspend(|| {
                for message in &new {
                    if json {
                        writeln!(out, "{}", ingest::json_line(message).as_str())?;
                    } else {
                        writeln!(out, "{}", ingest::text_line(message))?;
                    }
                }
                out.flush()
            })
            .map_err(Error::Output)?;
        if let Some(notifier) = self.notifier {
            for message in new {
                let mut line = ingest::json_line(message);
                line.push('\n');
                notifier.notify(line);
            }
        }
        Ok(())
    }
}

fn lock(storage: &Mutex<Storage>) -> std::sync::MutexGuard<'_, Storage> {
    // A panic while storing ends the daemon (the task's failure is reported); the data is
    // whatever the last transaction left, which SQLite keeps consistent.
    storage.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::daemon::ingest::tests::{add_chat, item, storage};

    fn inbound(item: Item) -> (Inbound, oneshot::Receiver<Committed>) {
        let (committed, acknowledged) = oneshot::channel();
        let Item { transport, origin, text, cursor } = item;
        (Inbound { transport, origin, text, cursor, committed: Some(committed) }, acknowledged)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_arrives_is_stored_acknowledged_and_shown_once() {
        let (_temp, mut storage) = storage();
        add_chat(&mut storage, "Family", "s");
        let storage = Arc::new(Mutex::new(storage));
        let (inbound_tx, inbound_rx) = mpsc::channel(16);
        let (requests_tx, requests_rx) = mpsc::channel(1);
        let mut acknowledgements = Vec::new();
        for item in [
            item("a", "s", "Family", "one"),
            item("b", "s", "Family", "two"),
            // The same pointer again, in another file.
            Item {
                origin: "c".into(),
                cursor: Some(Cursor { key: "seen:c".into(), value: "digest of c".into() }),
                ..item("a", "s", "Family", "one")
            },
            item("d", "other secret", "Other", "not ours"),
        ] {
            let (inbound, acknowledged) = inbound(item);
            inbound_tx.send(inbound).await.unwrap();
            acknowledgements.push(acknowledged);
        }
        // A transport restarting meanwhile asks for its cursors; then every transport stops.
        let client = async move {
            let (reply, cursors) = oneshot::channel();
            requests_tx.send(CursorRequest { transport: "drop.t".into(), reply }).await.unwrap();
            let cursors = cursors.await.unwrap();
            drop((inbound_tx, requests_tx));
            cursors
        };
        let mut out = Vec::new();
        let handled = Arc::new(AtomicU64::new(0));
        let bell = crate::api::EventBell::default();
        let heard = bell.listen();
        let mut receiver = Receiver {
            storage: Arc::clone(&storage),
            json: true,
            progress: ProgressSlot::default(),
            out: &mut out,
            notifier: None,
            handled: Arc::clone(&handled),
            events: bell,
        };
        let never = CancellationToken::new();
        let (received, cursors) =
            tokio::join!(receiver.receive(inbound_rx, requests_rx, &never, &never), client);
        received.unwrap();

        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
        assert_eq!(
            texts,
            ["one", "two"],
            "a repeat is stored once and shown once; others' pointers not at all"
        );
        let mut found = Vec::new();
        for acknowledged in acknowledgements {
            let committed = acknowledged.await.expect("acknowledged once committed");
            found.push((committed.pointers, committed.opened));
        }
        assert_eq!(found, [(1, 1), (1, 1), (1, 1), (1, 0)], "each input's pointers, and those opened");
        assert_eq!(handled.load(Ordering::Relaxed), 4);
        assert!(heard.has_changed().unwrap(), "the API's subscribers are woken after the commit");
        let stored: Vec<String> =
            lock(&storage).cursors("drop.t").unwrap().into_iter().map(|c| c.key).collect();
        assert_eq!(stored, ["seen:a", "seen:b", "seen:c", "seen:d"]);
        // The request was answered from the store (whatever had been committed by then).
        assert!(cursors.iter().all(|c| stored.contains(&c.key)));
    }
}

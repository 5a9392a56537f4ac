//! The receive loop's driver: performs the I/O the folder state machine (`folder/`) asks for —
//! listings, `lstat`s and reads on blocking threads, the inotify watch, sleeps until its next
//! timeout — feeds it the results with the time, logs its notices, and hands its deliveries to
//! the bridge. It decides nothing itself.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::disk::{self, os_bytes, unix_ns};
use super::folder::WINDOW_BYTES;
use super::folder::{Action, Config, Folder, Notice, Now, WatchEvent};
use super::names::Shown;
use super::{DropTransport, MIN_POLL_INTERVAL};
use crate::{Cursor, Inbound, TransportError};

/// Events queued between the watcher thread and the loop; beyond that a full rescan catches up.
const EVENT_QUEUE: usize = 1024;

type NotifyEvent = notify::Result<notify::Event>;

pub(super) async fn run(
    transport: Arc<DropTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let settings = &transport.settings;
    let config = Config {
        poll_interval: settings.poll_interval.max(MIN_POLL_INTERVAL),
        settle_time: settings.settle_time,
        max_file_bytes: settings.max_file_bytes,
        stale_temp_age: settings.stale_temp_age,
        window_bytes: WINDOW_BYTES,
    };
    let mut machine = Folder::new(config, &cursors, read_clock());
    drop(cursors);
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let configured = settings.path.clone();
    let mut driver = Driver {
        // Absolute, so it compares equal to the paths in watcher events.
        folder: std::path::absolute(&configured).unwrap_or(configured),
        transport,
        inbound,
        stop,
        watcher: None,
        events_tx,
        events_lost: Arc::new(AtomicBool::new(false)),
    };
    match driver.run(&mut machine, events).await {
        Ok(()) | Err(Halt::Stopped) => Ok(()),
        Err(Halt::Failed(err)) => Err(err),
    }
}

/// The one place the loop reads the clocks.
fn read_clock() -> Now {
    Now { at: Instant::now(), wall_ns: unix_ns(SystemTime::now()) }
}

/// Why the loop ends.
enum Halt {
    Stopped,
    Failed(TransportError),
}

struct Driver {
    transport: Arc<DropTransport>,
    folder: PathBuf,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
    /// Kept only to keep the watch alive.
    watcher: Option<RecommendedWatcher>,
    events_tx: mpsc::Sender<NotifyEvent>,
    /// Set by the watcher thread when the event queue was full: a full rescan catches up.
    events_lost: Arc<AtomicBool>,
}

impl Driver {
    async fn run(
        &mut self,
        machine: &mut Folder,
        mut events: mpsc::Receiver<NotifyEvent>,
    ) -> Result<(), Halt> {
        loop {
            self.log(machine);
            while let Some(action) = machine.poll_action() {
                self.perform(machine, action).await?;
                self.log(machine);
                self.deliver(machine).await?;
            }
            self.transport.set_backlog(machine.backlog());
            let timeout = machine.poll_timeout();
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(Halt::Stopped),
                () = self.inbound.closed() => return Err(Halt::Failed(TransportError::Closed)),
                () = sleep_until(timeout) => machine.handle_timeout(read_clock()),
                Some(event) = events.recv() => {
                    let now = read_clock();
                    self.feed(machine, event, now);
                    while let Ok(event) = events.try_recv() {
                        self.feed(machine, event, now);
                    }
                    if self.events_lost.swap(false, Ordering::Relaxed) {
                        machine.on_event(WatchEvent::Rescan, now);
                    }
                }
            }
        }
    }

    async fn perform(&mut self, machine: &mut Folder, action: Action) -> Result<(), Halt> {
        match action {
            Action::CheckFolder => {
                let folder = self.folder.clone();
                let identity = self.blocking(move || disk::identity(&folder)).await?;
                machine.on_folder(identity, read_clock());
            }
            Action::Watch => {
                self.watcher = None;
                match self.start_watcher() {
                    Ok(watcher) => {
                        self.watcher = Some(watcher);
                        machine.on_watch(Ok(()));
                    }
                    Err(err) => machine.on_watch(Err(err.to_string())),
                }
            }
            Action::Unwatch => self.watcher = None,
            Action::List { .. } => self.list(machine).await?,
            Action::Look(names) => {
                let folder = self.folder.clone();
                let looked = self.blocking(move || disk::look(&folder, names)).await?;
                machine.on_looked(looked, read_clock());
            }
            Action::Read(batch) => {
                let (folder, max) = (self.folder.clone(), self.transport.settings.max_file_bytes);
                let results = self.blocking(move || disk::read(&folder, batch, max)).await?;
                machine.on_read_batch(results, read_clock());
            }
            Action::RemoveTemp(name) => self.remove_temp(name).await?,
        }
        Ok(())
    }

    /// Streams a listing into the machine chunk by chunk, looking at what it asks for in
    /// between: a huge folder is never held whole.
    async fn list(&mut self, machine: &mut Folder) -> Result<(), Halt> {
        let (chunks_tx, mut chunks) = mpsc::channel(1);
        let folder = self.folder.clone();
        let lister = tokio::task::spawn_blocking(move || {
            disk::list(&folder, |chunk| chunks_tx.blocking_send(chunk).is_ok());
        });
        let mut outcome = Ok(());
        loop {
            let chunk = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(Halt::Stopped),
                chunk = chunks.recv() => chunk,
            };
            let entries = match chunk {
                None => break,
                Some(Ok(entries)) => entries,
                Some(Err(err)) => {
                    outcome = Err(err.to_string());
                    break;
                }
            };
            let names: Vec<String> =
                entries.iter().filter_map(|entry| machine.on_listed(entry.listed())).collect();
            drop(entries);
            if !names.is_empty() {
                let folder = self.folder.clone();
                let looked = self.blocking(move || disk::look(&folder, names)).await?;
                machine.on_looked(looked, read_clock());
            }
            // Warnings about a chunk's entries are logged now, not held for the whole folder.
            self.log(machine);
        }
        drop(chunks);
        if let Err(err) = lister.await {
            outcome = Err(format!("the listing task failed: {err}"));
        }
        machine.on_listing_done(outcome, read_clock());
        Ok(())
    }

    async fn remove_temp(&mut self, name: String) -> Result<(), Halt> {
        let folder = self.folder.clone();
        let file = name.clone();
        let removed = self.blocking(move || disk::remove_temp(&folder, &file)).await?;
        let (transport, file) = (&self.transport.name, Shown(name.as_bytes()));
        match removed {
            Ok(true) => tracing::info!(
                transport = %transport, folder = %self.shown_folder(), file = %file,
                "removed a stale temporary file of an interrupted send"
            ),
            Ok(false) => {}
            Err(err) => tracing::debug!(
                transport = %transport, folder = %self.shown_folder(), file = %file, error = %err,
                "cannot remove a stale temporary file"
            ),
        }
        Ok(())
    }

    /// Hands the machine's deliveries to the bridge, waiting while its queue is full.
    async fn deliver(&mut self, machine: &mut Folder) -> Result<(), Halt> {
        while let Some(delivery) = machine.poll_delivery() {
            // Formatted only when tracing is on.
            tracing::trace!(
                transport = %self.transport.name, file = %Shown(delivery.name.as_bytes()), "handing a drop file over"
            );
            let message = Inbound {
                transport: self.transport.name.clone(),
                origin: delivery.name,
                place: String::new(),
                text: delivery.text,
                cursor: delivery.cursor,
                committed: None,
            };
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(Halt::Stopped),
                sent = self.inbound.send(message) => sent.map_err(|_| Halt::Failed(TransportError::Closed))?,
            }
            self.transport.set_backlog(machine.backlog());
        }
        Ok(())
    }

    /// Passes a watcher event on, as names within the folder or the folder itself.
    fn feed(&self, machine: &mut Folder, event: NotifyEvent, now: Now) {
        let event = match event {
            Ok(event) if !event.need_rescan() => event,
            Ok(_) => return machine.on_event(WatchEvent::Rescan, now),
            Err(err) => {
                tracing::debug!(transport = %self.transport.name, error = %err, "watcher error; rescanning");
                return machine.on_event(WatchEvent::Rescan, now);
            }
        };
        for path in &event.paths {
            if path.parent() == Some(self.folder.as_path())
                && let Some(name) = path.file_name()
            {
                machine.on_event(WatchEvent::Named(os_bytes(name)), now);
            } else if path == &self.folder {
                machine.on_event(WatchEvent::FolderItself, now);
            }
        }
    }

    fn start_watcher(&self) -> notify::Result<RecommendedWatcher> {
        let events = self.events_tx.clone();
        let lost = Arc::clone(&self.events_lost);
        let mut watcher = notify::recommended_watcher(move |event: NotifyEvent| {
            // Opening and closing without writing changes nothing, nor does a change of
            // metadata alone (reading a file updates its access time): our own reads cause
            // both, so a large backlog being read would flood the queue. A change of mode or
            // owner is caught by the next thorough scan (the file's ctime changed).
            if let Ok(event) = &event
                && match event.kind {
                    EventKind::Access(access) => access != AccessKind::Close(AccessMode::Write),
                    EventKind::Modify(ModifyKind::Metadata(_)) => true,
                    _ => false,
                }
            {
                return;
            }
            if events.try_send(event).is_err() {
                lost.store(true, Ordering::Relaxed);
            }
        })?;
        watcher.watch(&self.folder, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    }

    /// Logs what the machine has to say. Every file name is escaped ([`Shown`]).
    fn log(&self, machine: &mut Folder) {
        let transport = &self.transport.name;
        let folder = self.shown_folder();
        while let Some(notice) = machine.poll_notice() {
            match notice {
                Notice::Skipped { name, skip, detail } => tracing::warn!(
                    transport = %transport, folder = %folder, file = %Shown(&name), detail = %detail,
                    "skipping {}", skip.describe()
                ),
                Notice::FolderUnavailable { error } => tracing::warn!(
                    transport = %transport, folder = %folder, error = %error,
                    "drop folder unavailable; looking again every {:?}",
                    self.transport.settings.poll_interval.max(MIN_POLL_INTERVAL)
                ),
                Notice::FolderBack => {
                    tracing::info!(transport = %transport, folder = %folder, "drop folder is back")
                }
                Notice::Watching => {
                    tracing::debug!(transport = %transport, folder = %folder, "watching the drop folder")
                }
                Notice::WatchFailed { error } => tracing::warn!(
                    transport = %transport, folder = %folder, error = %error,
                    "cannot watch the drop folder for changes; relying on rescans"
                ),
                Notice::BadCursor { key } => tracing::warn!(
                    transport = %transport, key = %Shown(key.as_bytes()),
                    "ignoring a stored drop cursor that is not a list of seen keys"
                ),
                Notice::Reading { files } => {
                    tracing::debug!(transport = %transport, files, "reading new drop files");
                }
            }
        }
    }

    fn shown_folder(&self) -> String {
        Shown(os_bytes(self.folder.as_os_str())).to_string()
    }

    /// Runs file-system work off the async threads; gives up waiting when stopped.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Halt> {
        let task = tokio::task::spawn_blocking(work);
        tokio::select! {
            biased;
            () = self.stop.cancelled() => Err(Halt::Stopped),
            joined = task => joined.map_err(|err| {
                Halt::Failed(TransportError::Io {
                    path: self.folder.display().to_string(),
                    source: io::Error::other(format!("a file-system task failed: {err}")),
                })
            }),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

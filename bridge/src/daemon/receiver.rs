//! The receive loop: batches from the intake are stored (waiting out a busy, full or read-only
//! store), then acknowledged, printed and passed to `on_message`; between batches it answers
//! restarting transports' cursor requests and runs the periodic chores (the native recognition
//! window, returning memory, the summary of what did not become a message).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clm_adapters::{Committed, Cursor};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::ingest::{self, Item, Storage};
use super::intake::{IntakeReceiver, Queued};
use super::notify::Notifier;
use super::progress::ProgressSlot;
use super::store_retry::{self, StoreFailure};
use super::summary::{self, Summary};
use super::supervisor::CursorRequest;
use super::{STOP_GRACE, blocking, lock};
use crate::app;
use crate::error::Error;
use crate::limits::Limits;
use crate::pipeline::Ingested;

/// How often the native recognition window moves with the clock.
const TAG_WINDOW_EVERY: Duration = Duration::from_secs(60);
/// Items stored since memory was last returned to the system that call for doing it again.
const TRIM_AFTER_ITEMS: u64 = 1_000;
/// How long the queue must be quiet before that.
const TRIM_WHEN_QUIET: Duration = Duration::from_secs(2);
/// How often free memory is returned to the system in any case (a few milliseconds each).
const TRIM_EVERY: Duration = Duration::from_secs(10);
/// After the disk was found full, pointers no known chat opens are not kept for this long.
const FULL_HOLD: Duration = Duration::from_secs(60);

/// The receive loop's state.
pub struct Receiver<'a> {
    /// The store.
    pub storage: Arc<Mutex<Storage>>,
    /// The database file (named in messages; its directory's free space is looked at).
    pub database: PathBuf,
    /// The limits.
    pub limits: Limits,
    /// One JSON object per new message instead of a text line.
    pub json: bool,
    /// The progress bar, suspended while lines are printed.
    pub progress: ProgressSlot,
    /// Where new messages are printed.
    pub out: &'a mut dyn Write,
    /// `on_message`, if configured.
    pub notifier: Option<&'a Notifier>,
    /// Rung after each commit: the API's subscribers read the new events.
    pub events: crate::api::EventBell,
    /// Woken when a commit queued gateways' relays: the outbox worker sends them at once.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Items stored so far (for the progress bar).
    pub handled: Arc<AtomicU64>,
    /// What did not become a message in this summary period.
    pub summary: Summary,
    /// Until when the disk counts as full (pointers no known chat opens are not kept).
    pub full_until: Option<Instant>,
}

impl std::fmt::Debug for Receiver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("database", &self.database).finish_non_exhaustive()
    }
}

/// What the loop does next.
enum Event {
    Batch(Vec<Queued>),
    Cursors(CursorRequest),
    Tick(Tick),
}

/// A periodic chore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    TagWindow,
    TrimAfterBurst,
    Trim,
    Summary,
}

/// The periodic chores' clocks.
struct Timers {
    tag_window: Interval,
    trim_every: Interval,
    summary: Interval,
    /// After a burst (many items stored), the store's cache and free memory go back to the
    /// system once quiet; free memory also every TRIM_EVERY (a transport's own bursts, such as
    /// a large folder listed again after a restart, send the bridge nothing).
    trim_at: Option<Instant>,
    since_trim: u64,
}

fn interval(first_in: Duration, every: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + first_in, every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

impl Timers {
    fn new(summary_every: Duration) -> Timers {
        Timers {
            tag_window: interval(TAG_WINDOW_EVERY, TAG_WINDOW_EVERY),
            trim_every: interval(TRIM_EVERY / 2, TRIM_EVERY),
            summary: interval(summary_every, summary_every),
            trim_at: None,
            since_trim: 0,
        }
    }

    /// The next chore due. Cancel-safe.
    async fn next(&mut self) -> Tick {
        let trim_at = self.trim_at;
        let after_burst = async move {
            match trim_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = after_burst => {
                self.trim_at = None;
                self.since_trim = 0;
                Tick::TrimAfterBurst
            }
            _ = self.trim_every.tick() => Tick::Trim,
            _ = self.tag_window.tick() => Tick::TagWindow,
            _ = self.summary.tick() => Tick::Summary,
        }
    }

    fn stored(&mut self, items: usize) {
        self.since_trim += items as u64;
        if self.since_trim >= TRIM_AFTER_ITEMS {
            self.trim_at = Some(Instant::now() + TRIM_WHEN_QUIET);
        }
    }
}

impl Receiver<'_> {
    /// Stores what arrives until every transport has stopped (after `stop`), `force`, an
    /// unrecoverable store failure, or `STOP_GRACE` after `stop` when a transport does not
    /// stop. Then logs the last summary.
    pub async fn receive(
        &mut self,
        mut inbound: IntakeReceiver,
        mut requests: mpsc::Receiver<CursorRequest>,
        stop: &CancellationToken,
        force: &CancellationToken,
    ) -> Result<(), Error> {
        let mut timers = Timers::new(self.limits.summary_period);
        let drain_deadline = async {
            stop.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::pin!(drain_deadline);
        let result = loop {
            let event = tokio::select! {
                biased;
                () = force.cancelled() => break Ok(()),
                () = &mut drain_deadline => {
                    tracing::warn!("a transport did not stop within {STOP_GRACE:?}; not waiting for it");
                    break Ok(());
                }
                tick = timers.next() => Event::Tick(tick),
                Some(request) = requests.recv() => Event::Cursors(request),
                batch = inbound.next_batch(self.limits.batch_bytes) => match batch {
                    Some(batch) => Event::Batch(batch),
                    None => break Ok(()),
                },
            };
            let handled = match event {
                Event::Tick(tick) => self.chore(tick).await.map(|()| true),
                Event::Cursors(request) => {
                    self.answer(request).await;
                    Ok(true)
                }
                Event::Batch(batch) => {
                    timers.stored(batch.len());
                    self.process(batch, stop, force).await
                }
            };
            match handled {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        self.log_summary();
        result
    }

    /// Runs a periodic chore.
    async fn chore(&mut self, tick: Tick) -> Result<(), Error> {
        let storage = Arc::clone(&self.storage);
        match tick {
            Tick::TagWindow => {
                let now = app::now()?;
                blocking(move || {
                    lock(&storage).set_now(now);
                    Ok(())
                })
                .await
            }
            Tick::TrimAfterBurst => {
                blocking(move || {
                    if let Err(error) = lock(&storage).release_memory() {
                        tracing::debug!(error = %error, "cannot shrink the store's cache");
                    }
                    crate::memory::release_free_memory();
                    Ok(())
                })
                .await
            }
            Tick::Trim => {
                blocking(|| {
                    crate::memory::release_free_memory();
                    Ok(())
                })
                .await
            }
            Tick::Summary => {
                let now = app::now()?;
                match blocking(move || lock(&storage).shed_old(now)).await {
                    Ok(shed) => self.summary.add_shed(shed),
                    Err(error) => tracing::debug!(error = %error, "cannot drop old pending pointers now"),
                }
                self.log_summary();
                Ok(())
            }
        }
    }

    /// Logs what did not become a message since the last summary.
    fn log_summary(&mut self) {
        if let Some(notifier) = self.notifier {
            self.summary.add_skipped_runs(notifier.take_skipped());
        }
        summary::log(&self.summary.take_lines(), self.limits.summary_period.as_secs());
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

    /// Stores one batch, then acknowledges, prints and notifies. `false` when stopped while the
    /// store was failing (nothing of the batch acknowledged: the transports hand it over again
    /// after a restart). The batch's share of the intake's byte budget is given back at the end.
    async fn process(
        &mut self,
        batch: Vec<Queued>,
        stop: &CancellationToken,
        force: &CancellationToken,
    ) -> Result<bool, Error> {
        let count = batch.len() as u64;
        let mut acknowledgements = Vec::with_capacity(batch.len());
        let mut permits = Vec::with_capacity(batch.len());
        let mut items = Vec::with_capacity(batch.len());
        for Queued { inbound, permit } in batch {
            acknowledgements.push(inbound.committed);
            permits.push(permit);
            items.push(Item {
                transport: inbound.transport,
                origin: inbound.origin,
                place: inbound.place,
                text: inbound.text,
                cursor: inbound.cursor,
            });
        }
        let items = Arc::new(items);
        let Some(mut ingested) = self.store(&items, stop, force).await? else { return Ok(false) };
        for (acknowledgement, found) in acknowledgements.into_iter().zip(&ingested.per_input) {
            if let Some(acknowledgement) = acknowledgement {
                let _ = acknowledgement.send(Committed::new(found.pointers, found.opened));
            }
        }
        self.handled.fetch_add(count, Ordering::Relaxed);
        self.summary.add_batch(&items, &mut ingested);
        self.show(&ingested)?;
        drop(permits);
        Ok(true)
    }

    /// Stores `items`, waiting out a busy, full or read-only store (see [`store_retry`]).
    /// `None` when stopped meanwhile.
    async fn store(
        &mut self,
        items: &Arc<Vec<Item>>,
        stop: &CancellationToken,
        force: &CancellationToken,
    ) -> Result<Option<Ingested>, Error> {
        let mut failures = 0;
        let mut keep_unopened = !self.disk_full();
        loop {
            let (storage, batch, now) = (Arc::clone(&self.storage), Arc::clone(items), app::now()?);
            let (ingested, result) = blocking(move || {
                let mut into = Ingested::default();
                let result = lock(&storage).ingest(&batch, now, keep_unopened, &mut into);
                Ok((into, result))
            })
            .await?;
            // Whatever was committed, even before a failure, has its events: subscribers look.
            self.events.ring();
            if ingested.relayed > 0 {
                self.outbox_wake.notify_one();
            }
            let Err(error) = result else { return Ok(Some(ingested)) };
            // What the transactions before the failure stored is stored: shown now, and not
            // again (the retry finds it in history).
            self.show(&ingested)?;
            failures += 1;
            let directory = self.database.parent().unwrap_or(&self.database).to_owned();
            let failure = StoreFailure::of(&error, || store_retry::free_bytes(&directory));
            let Some(step) = failure.next_step(failures) else { return Err(error) };
            tracing::warn!(error = %error, attempt = failures, "{}", failure.describe(&self.database));
            if step.shed_pending {
                self.full_until = Some(Instant::now() + FULL_HOLD);
                self.shed_for_space().await;
            }
            keep_unopened = step.keep_unopened && !self.disk_full();
            if step.wait {
                let delay = store_retry::BACKOFF.jittered(failures);
                tokio::select! {
                    () = force.cancelled() => return Ok(None),
                    () = stop.cancelled() => return Ok(None),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }

    /// Whether the disk counts as full.
    fn disk_full(&mut self) -> bool {
        match self.full_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                self.full_until = None;
                tracing::info!("keeping pointers no known chat opens as pending again (the disk was full)");
                false
            }
            None => false,
        }
    }

    /// Drops the oldest pending pointers to make room.
    async fn shed_for_space(&mut self) {
        let storage = Arc::clone(&self.storage);
        match blocking(move || lock(&storage).shed_for_space()).await {
            Ok(shed) => {
                tracing::warn!(
                    dropped = shed.rows(),
                    "disk full: {}: dropped the oldest pending pointers to make room",
                    self.database.display()
                );
                self.summary.add_shed(shed);
            }
            Err(error) => {
                tracing::warn!(error = %error, "disk full: {}: cannot drop pending pointers", self.database.display())
            }
        }
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

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use clm_adapters::Inbound;

    use super::*;
    use crate::daemon::ingest::tests::{add_chat, item, storage};
    use crate::daemon::intake::intake;
    use crate::daemon::lock;

    fn inbound(item: Item) -> (Inbound, oneshot::Receiver<Committed>) {
        let (committed, acknowledged) = oneshot::channel();
        let Item { transport, origin, place, text, cursor } = item;
        (Inbound { transport, origin, place, text, cursor, committed: Some(committed) }, acknowledged)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_arrives_is_stored_acknowledged_and_shown_once() {
        let (_temp, mut storage) = storage();
        add_chat(&mut storage, "Family", "s");
        let storage = Arc::new(Mutex::new(storage));
        let (intake, inbound_rx) = intake(1 << 20);
        let (inbound_tx, _forwarder) = intake.transport_sender();
        drop(intake);
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
            database: PathBuf::from("/nonexistent/history.sqlite3"),
            limits: Limits::default(),
            json: true,
            progress: ProgressSlot::default(),
            out: &mut out,
            notifier: None,
            handled: Arc::clone(&handled),
            summary: Summary::default(),
            full_until: None,
            events: bell,
            outbox_wake: Arc::default(),
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

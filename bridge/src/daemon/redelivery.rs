//! The daemon's outbox worker: retries queued deliveries when they fall due (see
//! [`crate::delivery`]), over the running transport of the same name where there is one (so a
//! logged-in Matrix client or an open SMTP pool is reused), else over one built from the
//! settings. It keeps its own database connection: store writes here are rare and small.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clm_adapters::Transport;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::blocking;
use crate::api::EventBell;
use crate::app;
use crate::config::{RouteSpec, Settings};
use crate::delivery::{self, Attempt};
use crate::error::Error;
use crate::store::{Delivery, Store};
use crate::transports::{self, Context, Resolved};

/// How often the outbox is looked at when nothing is due sooner (a `send` from another process
/// may have queued something).
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Deliveries claimed per round.
const ROUND: usize = 64;
/// Claimed deliveries waiting for their lanes, at most: beyond, nothing more is claimed until a
/// lane takes its next batch, so a transport that falls behind (or hangs: within
/// [`ATTEMPT_LIMIT`]) holds at most this many pointers in memory.
const MAX_WAITING: usize = 8 * ROUND;
/// The longest one attempt may take (a transport that neither answers nor fails is deferred);
/// at most half the claim, so nobody else tries the delivery meanwhile.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(60);

/// What the worker needs.
pub struct OutboxWorker {
    /// The bridge's database.
    pub database: PathBuf,
    /// Settings, to build transports the daemon does not run.
    pub settings: Settings,
    /// Transport context.
    pub context: Context,
    /// The daemon's running transports by name.
    pub running: HashMap<String, Arc<dyn Transport>>,
    /// Rung once attempts' results (delivery events) are committed.
    pub events: EventBell,
    /// Notified when something was queued that is due at once (gateways' relays).
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker").field("database", &self.database).finish_non_exhaustive()
    }
}

/// The worker's connection, opened on first use and kept.
type Connection = Arc<Mutex<Option<Store>>>;

/// Runs `work` with the worker's connection, opening (and unlocking) it first if needed.
fn with_store<T>(
    connection: &Connection,
    context: &Context,
    claim_seconds: i64,
    work: impl FnOnce(&mut Store) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut guard = connection.lock().unwrap_or_else(PoisonError::into_inner);
    let store = match &mut *guard {
        Some(store) => store,
        empty => {
            let mut store = context.open_store()?;
            store.set_claim_seconds(claim_seconds);
            empty.insert(store)
        }
    };
    work(store)
}

/// The lanes at work: per transport, the claimed deliveries waiting for its lane, and the ids
/// of every delivery handed to a lane and not yet recorded (never handed over twice).
#[derive(Debug, Default)]
struct LaneQueues {
    waiting: HashMap<String, VecDeque<Delivery>>,
    in_flight: HashSet<i64>,
}

type Lanes = Arc<Mutex<LaneQueues>>;

impl OutboxWorker {
    /// Retries due deliveries until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let worker = Arc::new(self);
        let connection: Connection = Arc::default();
        let lanes: Lanes = Arc::default();
        loop {
            let wait = match Arc::clone(&worker).round(&connection, &lanes).await {
                Ok(wait) => wait,
                Err(error) => {
                    tracing::warn!(error = %error, "outbox: cannot read the queue");
                    LOOK_EVERY
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = worker.wake.notified() => {}
            }
        }
    }

    /// Claims what is due and hands it to its transport's lane, starting one where none is at
    /// work: each lane tries its transport's deliveries in order and records what came of them,
    /// side by side with the others, so a transport that is down or slow (a homeserver away)
    /// holds back nothing of the others. What a lane was handed stays claimed, so the next
    /// rounds claim past it. Returns how long to wait.
    async fn round(self: Arc<Self>, connection: &Connection, lanes: &Lanes) -> Result<Duration, Error> {
        let waiting: usize =
            lanes.lock().unwrap_or_else(PoisonError::into_inner).waiting.values().map(VecDeque::len).sum();
        if waiting >= MAX_WAITING {
            // A lane wakes the worker when it takes its next batch.
            return Ok(LOOK_EVERY);
        }
        let (context, shared) = (self.context.clone(), Arc::clone(connection));
        let now = app::now()?.cast_signed();
        let claim = self.settings.outbox.claim_seconds();
        let due =
            blocking(move || with_store(&shared, &context, claim, |store| Ok(store.claim_due(now, ROUND)?)))
                .await?;
        let claimed = due.len();
        let handed = self.hand_to_lanes(due, connection, lanes);
        let (context, shared) = (self.context.clone(), Arc::clone(connection));
        blocking(move || {
            with_store(&shared, &context, claim, |store| {
                let now = app::now()?.cast_signed();
                let next = store.next_delivery_due()?;
                let wait = next.map_or(LOOK_EVERY, |due| {
                    Duration::from_secs(u64::try_from(due.saturating_sub(now)).unwrap_or(0)).min(LOOK_EVERY)
                });
                // A full round of new deliveries leaves more due at once (a burst of relays):
                // the next starts now.
                Ok(if claimed == ROUND && handed > 0 {
                    Duration::ZERO
                } else {
                    wait.max(Duration::from_millis(200))
                })
            })
        })
        .await
    }

    /// Queues each delivery not already with a lane on its transport's lane, starting the lanes
    /// that are not at work. Returns how many were handed over.
    fn hand_to_lanes(self: &Arc<Self>, due: Vec<Delivery>, connection: &Connection, lanes: &Lanes) -> usize {
        let mut queues = lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut handed = 0;
        for delivery in due {
            // Claimed again after its claim ran out while its lane was busy: it is there already.
            if !queues.in_flight.insert(delivery.id) {
                continue;
            }
            handed += 1;
            let transport = delivery.transport.clone();
            let at_work = queues.waiting.contains_key(&transport);
            queues.waiting.entry(transport.clone()).or_default().push_back(delivery);
            if !at_work {
                let lane = Lane {
                    worker: Arc::clone(self),
                    connection: Arc::clone(connection),
                    lanes: Arc::clone(lanes),
                    transport,
                };
                tokio::spawn(lane.run());
            }
        }
        handed
    }

    /// The route of a queued delivery: its running transport if any, else one from the settings.
    fn route(&self, delivery: &Delivery) -> Result<Resolved, Error> {
        let route = clm_adapters::Route(delivery.target.clone());
        if let Some(transport) = self.running.get(&delivery.transport) {
            return Ok(Resolved { transport: Arc::clone(transport), route });
        }
        let text = if delivery.target.is_empty() {
            delivery.transport.clone()
        } else {
            format!("{}:{}", delivery.transport, delivery.target)
        };
        let spec = RouteSpec::parse(&text).map_err(crate::error::usage)?;
        Ok(transports::resolve(&self.settings, &self.context, &spec)?)
    }
}

/// A lane's batch being tried: when it ends its ids leave the in-flight set; when it ends in a
/// panic (an adapter's bug) the lane's queue goes too, so the next round starts a new lane
/// (the deliveries stay claimed and are tried again when their claims run out).
struct InFlight<'a> {
    lanes: &'a Lanes,
    transport: &'a str,
    ids: Vec<i64>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut queues = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        for id in &self.ids {
            queues.in_flight.remove(id);
        }
        if std::thread::panicking()
            && let Some(waiting) = queues.waiting.remove(self.transport)
        {
            for delivery in waiting {
                queues.in_flight.remove(&delivery.id);
            }
        }
    }
}

/// One transport's deliveries being tried, in order.
struct Lane {
    worker: Arc<OutboxWorker>,
    connection: Connection,
    lanes: Lanes,
    transport: String,
}

impl Lane {
    /// Takes what waits for this transport, tries it, records what came of it, and again,
    /// until nothing waits; then the lane ends.
    async fn run(self) {
        loop {
            let deliveries: Vec<Delivery> = {
                let mut queues = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                let waiting = queues.waiting.get_mut(&self.transport).map(std::mem::take).unwrap_or_default();
                if waiting.is_empty() {
                    queues.waiting.remove(&self.transport);
                    return;
                }
                waiting.into()
            };
            // Room in the queues again: the worker may claim more.
            self.worker.wake.notify_one();
            let batch = InFlight {
                lanes: &self.lanes,
                transport: &self.transport,
                ids: deliveries.iter().map(|d| d.id).collect(),
            };
            let results = self.attempt_in_order(deliveries).await;
            // Out of the in-flight set before the record, not after: the rows stay claimed until
            // it, and once a delivered row is deleted its id may be the next row's (outbox ids
            // are SQLite rowids), which must not be taken for one still in flight (regression:
            // `bench-gateway` saw one relay wait out its 300 s claim).
            drop(batch);
            if let Err(error) = self.record(results).await {
                // The claims run out and the deliveries are tried again then.
                tracing::warn!(transport = %self.transport, error = %error, "outbox: cannot record the attempts");
            }
            self.worker.events.ring();
        }
    }

    /// Records the attempts' outcomes (and their events).
    async fn record(&self, results: Vec<(Delivery, Attempt)>) -> Result<(), Error> {
        let (worker, connection) = (Arc::clone(&self.worker), Arc::clone(&self.connection));
        let (context, claim) = (worker.context.clone(), worker.settings.outbox.claim_seconds());
        blocking(move || {
            with_store(&connection, &context, claim, |store| {
                let now = app::now()?.cast_signed();
                for (delivery, attempt) in &results {
                    delivery::record(store, delivery, attempt, now)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Once one delivery is deferred (the transport is down), the rest are deferred with it
    /// untried, so a lane spends one attempt's time on a transport that is away. Each attempt
    /// is bounded by [`ATTEMPT_LIMIT`] (within the claim, so nobody else tries it meanwhile).
    async fn attempt_in_order(&self, deliveries: Vec<Delivery>) -> Vec<(Delivery, Attempt)> {
        let settings = &self.worker.settings.outbox;
        let retries = settings.retries();
        let limit = ATTEMPT_LIMIT.min(settings.claim / 2);
        let mut down: Option<String> = None;
        let mut results = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let attempt = match (&down, self.worker.route(&delivery)) {
                (Some(error), _) => Attempt::Deferred {
                    error: format!("not tried: {error}"),
                    retry_in: retries.jittered(delivery.attempts.saturating_add(1)),
                },
                (None, Ok(route)) => {
                    match tokio::time::timeout(limit, delivery::attempt(&route, &delivery, &retries)).await {
                        Ok(attempt) => attempt,
                        Err(_) => Attempt::Deferred {
                            error: format!("no answer within {limit:?}"),
                            retry_in: retries.jittered(delivery.attempts.saturating_add(1)),
                        },
                    }
                }
                (None, Err(error)) => Attempt::Failed(error.to_string()),
            };
            log_attempt(&delivery, &attempt, down.is_none());
            if let Attempt::Deferred { error, .. } = &attempt {
                down.get_or_insert_with(|| error.clone());
            }
            results.push((delivery, attempt));
        }
        results
    }
}

/// One line per attempt; of the deliveries deferred with a transport that is down, the first.
fn log_attempt(delivery: &Delivery, attempt: &Attempt, first_deferral: bool) {
    match attempt {
        Attempt::Delivered(sent) => tracing::info!(
            transport = %delivery.transport, id = %sent.id, attempts = delivery.attempts + 1,
            relay_of = delivery.gateway.as_deref().unwrap_or("-"), "outbox: delivered"
        ),
        Attempt::Deferred { error, retry_in } if first_deferral => tracing::warn!(
            transport = %delivery.transport, error = %error, retry_in_s = retry_in.as_secs(),
            "outbox: not delivered yet"
        ),
        Attempt::Deferred { .. } => {}
        Attempt::Failed(error) => tracing::error!(
            transport = %delivery.transport, error = %error,
            "outbox: refused for good; kept (clm-bridge outbox retry|drop)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use clm_adapters::{Cursor, Inbound, Route, Sent, TransportError};
    use tokio::sync::mpsc;

    use super::*;
    use crate::paths::DataDir;
    use crate::store::NewDelivery;
    use crate::vault::{KdfParams, Vault};

    type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// Delivers at once (counting each pointer it was given), or never answers (a homeserver
    /// that hangs).
    struct Transport {
        name: String,
        hangs: bool,
        sent: Mutex<Vec<String>>,
        /// Panics at its next send (an adapter's bug), once.
        panics: std::sync::atomic::AtomicBool,
    }

    impl clm_adapters::Transport for Transport {
        fn name(&self) -> &str {
            &self.name
        }

        fn send<'a>(&'a self, _: &'a Route, pointer: &'a str) -> BoxFuture<'a, Result<Sent, TransportError>> {
            Box::pin(async move {
                if self.hangs {
                    std::future::pending::<()>().await;
                }
                assert!(!self.panics.swap(false, std::sync::atomic::Ordering::SeqCst), "an adapter's bug");
                tokio::time::sleep(Duration::from_millis(1)).await;
                self.sent.lock().unwrap().push(pointer.to_owned());
                Ok(Sent { id: "sent".into() })
            })
        }

        fn run(
            self: Arc<Self>,
            _: Vec<Cursor>,
            _: mpsc::Sender<Inbound>,
            stop: CancellationToken,
        ) -> BoxFuture<'static, Result<(), TransportError>> {
            Box::pin(async move {
                stop.cancelled().await;
                Ok(())
            })
        }
    }

    /// A store with `queued` deliveries `(transport, pointer)` due, and a worker over
    /// transports `(name, hangs)`.
    fn worker_with(
        queued: &[(&str, String)],
        transports: &[(&str, bool)],
    ) -> (tempfile::TempDir, Store, OutboxWorker, HashMap<String, Arc<Transport>>) {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(temp.path().join("data"));
        dir.create().unwrap();
        let store = Store::open(&dir.db_path()).unwrap();
        let (vault, header) =
            Vault::create(b"pass", KdfParams { m_kib: 64, t: 1, p: 1 }, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        let mut store = store;
        store.unlock(&vault).unwrap();
        for (transport, pointer) in queued {
            // Queued at time 0: its caller's claim ran out long ago.
            store.queue_delivery(&NewDelivery { transport, target: "", pointer, now: 0 }).unwrap();
        }
        let made: HashMap<String, Arc<Transport>> = transports
            .iter()
            .map(|(name, hangs)| {
                let transport = Transport {
                    name: (*name).into(),
                    hangs: *hangs,
                    sent: Mutex::default(),
                    panics: false.into(),
                };
                ((*name).to_owned(), Arc::new(transport))
            })
            .collect();
        let running = made
            .iter()
            .map(|(name, t)| (name.clone(), Arc::clone(t) as Arc<dyn clm_adapters::Transport>))
            .collect();
        let worker = OutboxWorker {
            database: dir.db_path(),
            settings: Settings::default(),
            context: Context::new(&dir, &vault),
            running,
            events: EventBell::default(),
            wake: Arc::default(),
        };
        (temp, store, worker, made)
    }

    /// Waits (a hang guard of 60 s) until the outbox holds exactly `left`.
    async fn wait_for_outbox(store: &Store, left: &[&str]) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let now: Vec<String> = store.outbox().unwrap().into_iter().map(|d| d.pointer).collect();
            if now == left {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "still queued: {} deliveries", now.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transport_that_hangs_holds_back_none_of_the_others() {
        let queued =
            [("matrix.m", "first".to_owned()), ("drop.a", "second".into()), ("drop.a", "third".into())];
        let (_temp, store, worker, _) = worker_with(&queued, &[("matrix.m", true), ("drop.a", false)]);
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        // The folder's two are delivered while the room's attempt still hangs.
        wait_for_outbox(&store, &["first"]).await;
        stop.cancel();
        running.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_larger_than_a_round_is_delivered_once_each_by_one_busy_lane() {
        let queued: Vec<(&str, String)> = (0..300).map(|n| ("drop.a", format!("pointer {n}"))).collect();
        let (_temp, store, worker, transports) = worker_with(&queued, &[("drop.a", false)]);
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        wait_for_outbox(&store, &[]).await;
        stop.cancel();
        running.await.unwrap();
        let mut sent = transports["drop.a"].sent.lock().unwrap().clone();
        sent.sort();
        let mut expected: Vec<String> = queued.into_iter().map(|(_, p)| p).collect();
        expected.sort();
        assert_eq!(sent, expected, "each once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_that_panics_is_started_anew_once_the_claim_runs_out() {
        let queued = [("drop.a", "after the panic".to_owned())];
        let (_temp, store, mut worker, transports) = worker_with(&queued, &[("drop.a", false)]);
        worker.settings.outbox.claim = Duration::from_secs(2);
        transports["drop.a"].panics.store(true, std::sync::atomic::Ordering::SeqCst);
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        wait_for_outbox(&store, &[]).await;
        stop.cancel();
        running.await.unwrap();
        assert_eq!(*transports["drop.a"].sent.lock().unwrap(), ["after the panic"]);
    }
}

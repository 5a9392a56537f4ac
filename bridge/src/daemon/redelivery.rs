//! The daemon's outbox worker: retries queued deliveries when they fall due (see
//! [`crate::delivery`]), over the running transport of the same name where there is one (so a
//! logged-in Matrix client or an open SMTP pool is reused), else over one built from the
//! settings. It keeps its own database connection: store writes here are rare and small.

use std::collections::HashMap;
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
/// Deliveries tried per round.
const ROUND: usize = 64;

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

impl OutboxWorker {
    /// Retries due deliveries until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let worker = Arc::new(self);
        let connection: Connection = Arc::default();
        loop {
            let wait = match Arc::clone(&worker).round(&connection).await {
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

    /// Tries what is due; returns how long to wait before the next round.
    async fn round(self: Arc<Self>, connection: &Connection) -> Result<Duration, Error> {
        let (context, shared) = (self.context.clone(), Arc::clone(connection));
        let now = app::now()?.cast_signed();
        let claim = self.settings.outbox.claim_seconds();
        let due =
            blocking(move || with_store(&shared, &context, claim, |store| Ok(store.claim_due(now, ROUND)?)))
                .await?;
        let mut results = Vec::with_capacity(due.len());
        for delivery in due {
            let attempt = match self.route(&delivery) {
                Ok(route) => delivery::attempt(&route, &delivery, &self.settings.outbox.retries()).await,
                Err(error) => Attempt::Failed(error.to_string()),
            };
            match &attempt {
                Attempt::Delivered(sent) => tracing::info!(
                    transport = %delivery.transport, id = %sent.id, attempts = delivery.attempts + 1,
                    "outbox: delivered"
                ),
                Attempt::Deferred { error, retry_in } => tracing::warn!(
                    transport = %delivery.transport, error = %error, retry_in_s = retry_in.as_secs(),
                    "outbox: not delivered yet"
                ),
                Attempt::Failed(error) => tracing::error!(
                    transport = %delivery.transport, error = %error,
                    "outbox: refused for good; kept (clm-bridge outbox retry|drop)"
                ),
            }
            results.push((delivery, attempt));
        }
        let (context, shared) = (self.context.clone(), Arc::clone(connection));
        let claim = self.settings.outbox.claim_seconds();
        let attempted = !results.is_empty();
        // A full round leaves more due at once (a burst of relays): the next starts now.
        let full_round = results.len() == ROUND;
        let wait = blocking(move || {
            with_store(&shared, &context, claim, |store| {
                let now = app::now()?.cast_signed();
                for (delivery, attempt) in &results {
                    delivery::record(store, delivery, attempt, now)?;
                }
                let next = store.next_delivery_due()?;
                let wait = next.map_or(LOOK_EVERY, |due| {
                    Duration::from_secs(u64::try_from(due.saturating_sub(now)).unwrap_or(0)).min(LOOK_EVERY)
                });
                Ok(if full_round { Duration::ZERO } else { wait.max(Duration::from_millis(200)) })
            })
        })
        .await;
        if attempted {
            self.events.ring();
        }
        wait
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

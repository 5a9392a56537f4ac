//! Events for subscribers, always read from the store's event log (never from memory), so a
//! client that reconnects with the last id it saw gets everything after it, once, in order.
//! What is in memory is only a bell: whoever commits events rings it ([`EventBell`]), and each
//! subscriber wakes and reads the log after its own position. A missed ring costs latency, never
//! an event: subscribers also look every few seconds (events written by another process, such
//! as `clm-bridge scan`, ring nothing here).
//!
//! Transports' health reaches the log through a [`HealthSink`]: supervisors report state changes
//! without waiting, a recorder task writes them as events and keeps the latest per transport for
//! `status`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};

use super::codec;
use super::types::{DeliveryEvent, HealthEvent, MessageEvent, TransportHealth};
use crate::store::{Direction, Event, EventBody, Store, StoreError};

/// Rung after events were committed; subscribers wake and read the log. Cloning gives another
/// handle on the same bell; the default bell has nobody listening (rings cost nothing then).
#[derive(Debug, Clone)]
pub struct EventBell(Arc<watch::Sender<u64>>);

impl Default for EventBell {
    fn default() -> EventBell {
        EventBell(Arc::new(watch::Sender::new(0)))
    }
}

impl EventBell {
    /// Wakes every subscriber (call after a commit that may have written events).
    pub fn ring(&self) {
        self.0.send_modify(|rings| *rings = rings.wrapping_add(1));
    }

    /// A receiver that sees the next ring.
    pub(crate) fn listen(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// A transport's state, as its supervisor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthState {
    /// Running.
    Up,
    /// Failed; restarting after a delay.
    Down,
    /// Stopped with the daemon.
    Stopped,
}

impl HealthState {
    /// The name in events and `status`.
    pub fn name(self) -> &'static str {
        match self {
            HealthState::Up => "up",
            HealthState::Down => "down",
            HealthState::Stopped => "stopped",
        }
    }
}

/// One state change.
#[derive(Debug)]
pub(crate) struct HealthChange {
    pub(crate) transport: String,
    pub(crate) state: HealthState,
    pub(crate) detail: String,
}

/// Changes waiting for the recorder; beyond this, reports are dropped (with a warning).
const HEALTH_QUEUE: usize = 256;

/// Where supervisors report their transport's state changes. Never blocks; the default sink
/// (no daemon API, as in tests) drops them.
#[derive(Debug, Clone, Default)]
pub struct HealthSink(Option<mpsc::Sender<HealthChange>>);

impl HealthSink {
    /// A sink and the recorder's end of it.
    pub(crate) fn channel() -> (HealthSink, mpsc::Receiver<HealthChange>) {
        let (sender, receiver) = mpsc::channel(HEALTH_QUEUE);
        (HealthSink(Some(sender)), receiver)
    }

    /// Reports that `transport` is now `state`; `detail` says why (never a secret).
    pub fn report(&self, transport: &str, state: HealthState, detail: impl Into<String>) {
        let Some(sender) = &self.0 else { return };
        let change = HealthChange { transport: transport.to_owned(), state, detail: detail.into() };
        if sender.try_send(change).is_err() {
            tracing::warn!(transport = %transport, state = state.name(), "health report dropped (the recorder is behind)");
        }
    }
}

/// The latest health of each transport, for `status`.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthBoard(Arc<Mutex<BTreeMap<String, TransportHealth>>>);

impl HealthBoard {
    /// Every transport starts as `starting`.
    pub(crate) fn new(transports: impl IntoIterator<Item = String>, now: i64) -> HealthBoard {
        let board = transports
            .into_iter()
            .map(|name| {
                let health = TransportHealth {
                    name: name.clone(),
                    state: "starting".into(),
                    detail: String::new(),
                    since: now,
                };
                (name, health)
            })
            .collect();
        HealthBoard(Arc::new(Mutex::new(board)))
    }

    pub(crate) fn set(&self, change: &HealthChange, now: i64) {
        let health = TransportHealth {
            name: change.transport.clone(),
            state: change.state.name().to_owned(),
            detail: change.detail.clone(),
            since: now,
        };
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(change.transport.clone(), health);
    }

    pub(crate) fn all(&self) -> Vec<TransportHealth> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }
}

/// A page of notifications read from the log.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The notification lines, in event order.
    pub(crate) lines: Vec<u8>,
    /// How many notifications.
    pub(crate) count: usize,
    /// The last event read (sent, or skipped: a message purged since); 0 when none was.
    pub(crate) last: i64,
}

/// Reads events after `after` into notification lines: at most `events` of them, and no more
/// once `bytes` are filled (one message more at most), so a page stays small whatever the
/// messages' size.
pub(crate) fn read_page(store: &Store, after: i64, events: usize, bytes: usize) -> Result<Page, StoreError> {
    let mut page = Page::default();
    for event in store.events_after(after, events)? {
        page.last = event.id;
        if let Some(line) = notification(store, &event)? {
            page.lines.extend_from_slice(&line);
            page.count += 1;
        }
        if page.lines.len() >= bytes {
            break;
        }
    }
    Ok(page)
}

/// The notification line of an event, or `None` when there is nothing left to tell (its
/// message was purged since).
pub(crate) fn notification(store: &Store, event: &Event) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(match &event.body {
        EventBody::Message { message_id } => {
            let Some(message) = store.message(*message_id)? else { return Ok(None) };
            // A sent message may come back over a transport (a shared folder): it still was not
            // received over it.
            let first = message.arrivals.first().filter(|_| message.direction == Direction::Received);
            let params = MessageEvent {
                event_id: event.id,
                id: message.id,
                chat: message.chat,
                direction: message.direction.name().to_owned(),
                from: message.sender,
                text: message.text,
                epoch: message.epoch,
                format: message.format.name().to_owned(),
                truncated: message.truncated,
                transport: first.map(|a| a.transport.clone()),
                origin: first.map(|a| a.origin.clone()),
                stored_at: message.stored_at,
            };
            Some(codec::notification("message", &params))
        }
        EventBody::Delivery { outbox_id, message_id, route, state, error } => {
            let params = DeliveryEvent {
                event_id: event.id,
                at: event.at,
                outbox_id: *outbox_id,
                message_id: *message_id,
                route: route.clone(),
                state: state.clone(),
                error: error.clone(),
            };
            Some(codec::notification("delivery", &params))
        }
        EventBody::Health { transport, state, detail } => {
            let params = HealthEvent {
                event_id: event.id,
                at: event.at,
                transport: transport.clone(),
                state: state.clone(),
                detail: detail.clone(),
            };
            Some(codec::notification("health", &params))
        }
        // An event kind newer than this build: nothing to tell in a shape it knows.
        #[allow(unreachable_patterns)]
        _ => None,
    })
}

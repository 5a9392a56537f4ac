//! The hand-over from the transports to the store, bounded in items and in bytes.
//!
//! Each transport sends into a channel of its own that holds one item; a forwarding task moves
//! each item on into the daemon's queue once its bytes fit in the budget
//! ([`crate::limits::Limits::inbound_queue_bytes`]). The budget is held by the item until the
//! batch it went into is stored, so what waits ahead of the store (queued, or in the batch being
//! stored) never passes the budget, plus at most two items per transport in hand-over (the one
//! in its channel and the one being forwarded). An item larger than the whole budget waits for
//! the queue to empty, then goes alone. The `Transport` trait is untouched: a transport still
//! gets a plain `mpsc::Sender<Inbound>`.
//!
//! Batches are then taken from the queue up to a count ([`MAX_BATCH`]) and a byte size
//! ([`crate::limits::Limits::batch_bytes`], at least one item).

use std::sync::Arc;

use clm_adapters::Inbound;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

/// The most items stored in one batch.
pub const MAX_BATCH: usize = 500;
/// Items the queue holds ahead of the store, whatever their size.
const QUEUE_ITEMS: usize = 512;
/// Budget units: bytes are counted in KiB so that budgets up to terabytes fit a semaphore.
const UNIT: usize = 1024;

/// An item in the queue, with its share of the byte budget (given back when dropped).
#[derive(Debug)]
pub struct Queued {
    /// What the transport handed over.
    pub inbound: Inbound,
    /// Its share of the budget.
    pub permit: OwnedSemaphorePermit,
}

/// The sending side: one channel per transport, forwarded within the budget.
#[derive(Debug, Clone)]
pub struct Intake {
    queue: mpsc::Sender<Queued>,
    budget: Arc<Semaphore>,
    units: u32,
}

/// The receiving side: the queue and an item taken from it that did not fit the last batch.
#[derive(Debug)]
pub struct IntakeReceiver {
    queue: mpsc::Receiver<Queued>,
    held: Option<Queued>,
}

/// The queue, with a budget of `budget_bytes`.
pub fn intake(budget_bytes: usize) -> (Intake, IntakeReceiver) {
    let (queue, receiver) = mpsc::channel(QUEUE_ITEMS);
    let units =
        u32::try_from((budget_bytes / UNIT).max(1)).unwrap_or(u32::MAX).min(Semaphore::MAX_PERMITS as u32);
    let intake = Intake { queue, budget: Arc::new(Semaphore::new(units as usize)), units };
    (intake, IntakeReceiver { queue: receiver, held: None })
}

impl Intake {
    /// A sender for one transport, and the task forwarding what it sends. The task ends when
    /// every clone of the sender is dropped and what they sent is forwarded, or when the queue
    /// is closed.
    pub fn transport_sender(&self) -> (mpsc::Sender<Inbound>, JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Inbound>(1);
        let intake = self.clone();
        let task = tokio::spawn(async move {
            while let Some(inbound) = receiver.recv().await {
                let units = u32::try_from(inbound.text.len().div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
                let Ok(permit) = Arc::clone(&intake.budget).acquire_many_owned(units.min(intake.units)).await
                else {
                    return;
                };
                if intake.queue.send(Queued { inbound, permit }).await.is_err() {
                    return;
                }
            }
        });
        (sender, task)
    }

    /// A weak handle on the queue, to count what waits in it.
    pub fn downgrade(&self) -> mpsc::WeakSender<Queued> {
        self.queue.downgrade()
    }
}

impl IntakeReceiver {
    /// The next batch: waits for one item, then takes what else is queued, up to
    /// [`MAX_BATCH`] items and `max_bytes` of text (the first item whatever its size). `None`
    /// once every sender is gone and the queue is empty. Cancel-safe: the only wait is for the
    /// first item.
    pub async fn next_batch(&mut self, max_bytes: usize) -> Option<Vec<Queued>> {
        let first = match self.held.take() {
            Some(held) => held,
            None => self.queue.recv().await?,
        };
        let mut bytes = first.inbound.text.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let Ok(next) = self.queue.try_recv() else { break };
            if bytes.saturating_add(next.inbound.text.len()) > max_bytes {
                self.held = Some(next);
                break;
            }
            bytes += next.inbound.text.len();
            batch.push(next);
        }
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn inbound(origin: &str, bytes: usize) -> Inbound {
        Inbound {
            transport: "drop.t".into(),
            origin: origin.into(),
            place: String::new(),
            text: vec![b'x'; bytes],
            cursor: None,
            committed: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_waits_never_passes_the_byte_budget() {
        let (intake, mut receiver) = intake(64 * UNIT);
        let (sender, forwarder) = intake.transport_sender();
        let producer = tokio::spawn(async move {
            for n in 0..20 {
                sender.send(inbound(&n.to_string(), 16 * UNIT)).await.unwrap();
            }
        });
        // Nothing is taken out: four items fit the budget; the fifth waits in the forwarder,
        // the sixth in the transport's channel, and the producer waits with the seventh.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(intake.budget.available_permits(), 0);
        assert_eq!(intake.queue.max_capacity() - intake.queue.capacity(), 4);
        let mut seen = 0;
        while seen < 20 {
            let batch = receiver.next_batch(40 * UNIT).await.unwrap();
            assert!(batch.len() <= 2, "a batch holds at most 40 KiB of 16 KiB items: {}", batch.len());
            seen += batch.len();
        }
        producer.await.unwrap();
        forwarder.await.unwrap();
        drop(intake);
        assert!(receiver.next_batch(1).await.is_none(), "closed once every sender is gone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_item_larger_than_the_budget_goes_alone() {
        let (intake, mut receiver) = intake(64 * UNIT);
        let (sender, _forwarder) = intake.transport_sender();
        sender.send(inbound("small", 10)).await.unwrap();
        sender.send(inbound("huge", 1000 * UNIT)).await.unwrap();
        let first = receiver.next_batch(usize::MAX).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].inbound.origin, "small");
        drop(first);
        let second = receiver.next_batch(usize::MAX).await.unwrap();
        assert_eq!(second[0].inbound.origin, "huge");
        assert_eq!(second[0].permit.num_permits(), 64);
    }
}

//! Delivering queued pointers: one attempt at an outbox entry, and what follows from its result.
//! `send` makes the first attempt at once; the daemon retries what is due (see
//! `daemon::redelivery`). Failures for now (a server down, a stick pulled out) are retried with
//! jittered exponential backoff; refusals for good (authentication, a 5xx, a bad route) are
//! kept, marked failed, and reported: a person decides (`outbox retry` or `outbox drop`).

use std::time::Duration;

use clm_adapters::{Sent, TransportError};

use crate::backoff::Backoff;
use crate::store::{Delivery, Store, StoreError};
use crate::transports::Resolved;

/// The delay before the first retry.
pub const FIRST_RETRY: Duration = Duration::from_secs(15);
/// The longest delay between retries.
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);
/// How retries are spaced.
const RETRIES: Backoff = Backoff { first: FIRST_RETRY, max: MAX_RETRY };

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// Delivered; out of the outbox.
    Delivered(Sent),
    /// Not now: due again after the delay.
    Deferred {
        /// Why.
        error: String,
        /// When it is tried again.
        retry_in: Duration,
    },
    /// Refused for good: kept, marked failed.
    Failed(String),
}

/// Whether a transport error is worth retrying by itself.
pub fn is_transient(error: &TransportError) -> bool {
    matches!(error, TransportError::Unavailable(..) | TransportError::Io { .. } | TransportError::Closed)
}

/// The delay after `attempts` failed attempts (1 = the first), scaled by `jitter` in [0, 1].
pub fn retry_delay(attempts: u32, jitter: f64) -> Duration {
    RETRIES.delay(attempts, jitter)
}

/// Tries `delivery` over `route` once; a failure for now is retried after `retries`' delay.
pub async fn attempt(route: &Resolved, delivery: &Delivery, retries: &Backoff) -> Attempt {
    match route.transport.send(&route.route, &delivery.pointer).await {
        Ok(sent) => Attempt::Delivered(sent),
        Err(error) if is_transient(&error) => Attempt::Deferred {
            error: error.to_string(),
            retry_in: retries.jittered(delivery.attempts.saturating_add(1)),
        },
        Err(error) => Attempt::Failed(error.to_string()),
    }
}

/// Records what an attempt came to.
pub fn record(store: &mut Store, delivery: &Delivery, attempt: &Attempt, now: i64) -> Result<(), StoreError> {
    match attempt {
        Attempt::Delivered(_) => store.delivered(delivery.id, now),
        Attempt::Deferred { error, retry_in } => {
            let seconds = i64::try_from(retry_in.as_secs()).unwrap_or(i64::MAX);
            store.delivery_deferred(delivery.id, error, now.saturating_add(seconds), now)
        }
        Attempt::Failed(error) => store.delivery_failed(delivery.id, error, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_to_a_cap() {
        assert_eq!(retry_delay(1, 1.0), FIRST_RETRY);
        assert_eq!(retry_delay(2, 1.0), FIRST_RETRY * 2);
        assert_eq!(retry_delay(1, 0.0), FIRST_RETRY / 2, "jitter spreads over the upper half");
        assert_eq!(retry_delay(40, 1.0), MAX_RETRY);
    }

    #[test]
    fn only_unavailability_is_retried_by_itself() {
        assert!(is_transient(&TransportError::Unavailable("smtp".into(), "connection refused".into())));
        assert!(!is_transient(&TransportError::Refused("smtp".into(), "550 no such user".into())));
        let route = TransportError::InvalidRoute { route: "x".into(), reason: "y".into() };
        assert!(!is_transient(&route));
    }
}

//! Delivering queued pointers: one attempt at an outbox entry, and what follows from its result.
//! `send` makes the first attempt at once; the daemon retries what is due (see
//! `daemon::outbox`). Failures for now (a server down, a stick pulled out) are retried with
//! jittered exponential backoff; refusals for good (authentication, a 5xx, a bad route) are
//! kept, marked failed, and reported: a person decides (`outbox retry` or `outbox drop`).

use std::time::Duration;

use clm_adapters::{Sent, TransportError};

use crate::daemon::transports::Resolved;
use crate::store::{Delivery, Store, StoreError};

/// The delay before the first retry.
pub const FIRST_RETRY: Duration = Duration::from_secs(15);
/// The longest delay between retries.
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);

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

/// The delay after `attempts` failed attempts (1 = the first), scaled by `jitter` in [0, 1] into
/// the upper half of the step so that many queued deliveries do not retry in lockstep.
pub fn retry_delay(attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let step = FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY);
    step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A uniform number in [0, 1] from the operating system's RNG (0.5 if it has none).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

/// Tries `delivery` over `route` once.
pub async fn attempt(route: &Resolved, delivery: &Delivery) -> Attempt {
    match route.transport.send(&route.route, &delivery.pointer).await {
        Ok(sent) => Attempt::Delivered(sent),
        Err(error) if is_transient(&error) => Attempt::Deferred {
            error: error.to_string(),
            retry_in: retry_delay(delivery.attempts.saturating_add(1), jitter()),
        },
        Err(error) => Attempt::Failed(error.to_string()),
    }
}

/// Records what an attempt came to.
pub fn record(store: &Store, delivery: &Delivery, attempt: &Attempt, now: i64) -> Result<(), StoreError> {
    match attempt {
        Attempt::Delivered(_) => store.delivered(delivery.id),
        Attempt::Deferred { error, retry_in } => {
            let seconds = i64::try_from(retry_in.as_secs()).unwrap_or(i64::MAX);
            store.delivery_deferred(delivery.id, error, now.saturating_add(seconds))
        }
        Attempt::Failed(error) => store.delivery_failed(delivery.id, error),
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

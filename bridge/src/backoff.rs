//! Jittered exponential backoff: the one spacing of retries in the bridge (transport restarts,
//! outbox redeliveries, a store that is busy or full).

use std::time::Duration;

/// Delays that double from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure (before jitter).
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after `failures` failures in a row (1 = the first), scaled by `jitter` in
    /// [0, 1] into the upper half of the exponential step, so that many retries started by one
    /// cause (a network down, a queue of deliveries) do not all happen at the same instant.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let step = self.first.saturating_mul(1u32 << doublings).min(self.max);
        step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// [`Backoff::delay`] with a fresh random jitter.
    pub fn jittered(&self, failures: u32) -> Duration {
        self.delay(failures, jitter())
    }
}

/// A uniform number in [0, 1] from the operating system's RNG (0.5 if it has none).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(60) };

    #[test]
    fn delays_double_up_to_the_cap_within_their_jitter_band() {
        assert_eq!(SECONDS.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(SECONDS.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(SECONDS.delay(3, 0.0), Duration::from_secs(2), "jitter spreads over the upper half");
        assert_eq!(SECONDS.delay(3, 7.0), Duration::from_secs(4), "jitter is clamped");
        assert_eq!(SECONDS.delay(40, 1.0), Duration::from_secs(60));
        let jittered = SECONDS.jittered(3);
        assert!((Duration::from_secs(2)..=Duration::from_secs(4)).contains(&jittered), "{jittered:?}");
    }
}

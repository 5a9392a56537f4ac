//! What opening a pointer yields.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Format;

/// How far ahead of the receiver's clock an epoch may be before it is flagged: a day, more than
/// any clock or time-zone error, less than the time a forged date would need to matter.
pub const FUTURE_TOLERANCE_SECONDS: u64 = 86_400;

/// Whether `epoch` is more than [`FUTURE_TOLERANCE_SECONDS`] after `now` (both in seconds since
/// the Unix epoch). Any member of a chat can stamp any epoch: flag such messages when showing them.
pub fn is_from_the_future(epoch: u64, now: u64) -> bool {
    epoch > now.saturating_add(FUTURE_TOLERANCE_SECONDS)
}

/// A message regenerated from a pointer. Its strings are zeroized on drop.
#[derive(Debug, Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Opened {
    /// The pointer's format.
    #[zeroize(skip)]
    pub format: Format,
    /// The chat name carried inside the plaintext (clm202 only).
    pub chat_name: Option<String>,
    /// The sender name.
    pub from: String,
    /// The message text.
    pub text: String,
    /// The sender's epoch.
    #[zeroize(skip)]
    pub epoch: u64,
    /// Bytes were lost at the end (clm202's published sender cuts them; we only know for sure
    /// when the cut falls inside a character or removed a separator).
    #[zeroize(skip)]
    pub truncated: bool,
}

impl Opened {
    /// Whether the sender's epoch is more than a day ahead of `now`; see [`is_from_the_future`].
    pub fn is_from_the_future(&self, now: u64) -> bool {
        is_from_the_future(self.epoch, now)
    }
}

//! What opening a pointer yields.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Format;

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

//! The crate's errors: what went wrong, in our own words, never an underlying crate's type.

use std::ops::Range;

/// Why a piece of text that looks like a pointer is not a usable one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointerError {
    /// The input holds no pointer at all.
    #[error("no pointer found")]
    NotFound,
    /// The input holds more than one pointer where exactly one was expected.
    #[error("{0} pointers found where one was expected")]
    SeveralFound(usize),
    /// A value is larger than the detector allows (a `d` of [`crate::MAX_DATA_BYTES`], other values 1 KiB).
    #[error("pointer too large: its `{field}` value exceeds {max} characters")]
    TooLarge {
        /// The JSON key whose value was too long.
        field: &'static str,
        /// The limit that was exceeded.
        max: usize,
    },
    /// A field is not valid for the pointer's format.
    #[error("invalid `{field}` field: {reason}")]
    InvalidField {
        /// The JSON key at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A native pointer of a version this code does not know (or a version whose fields the
    /// object does not have: `m` belongs to version 1 only).
    #[error("unsupported native pointer version {0}")]
    UnsupportedVersion(u64),
}

/// Why a pointer could not be opened with a given chat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The pointer is of another format than the chat.
    #[error("pointer format does not match the chat's format")]
    FormatMismatch,
    /// The pointer does not belong to this chat (clm201 chat id, clm202 prefix, native tag).
    #[error("pointer does not belong to this chat")]
    NotThisChat,
    /// The native v1 MAC or the native v2 AEAD tag did not verify: forged, altered, or a
    /// recognition tag collision.
    #[error("authentication failed: the pointer was altered or forged")]
    BadMac,
    /// The decrypted bytes are not a message of the format (wrong key or damaged ciphertext).
    #[error("decrypted text is not a valid message: {0}")]
    BadPlaintext(&'static str),
}

/// Why a message could not be turned into a pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The sender name does not fit the format (native: at most 255 bytes; none may be empty
    /// where the format needs a separator after it).
    #[error("sender name is invalid: {0}")]
    InvalidSender(&'static str),
    /// The message would make a pointer whose data exceeds [`crate::MAX_DATA_BYTES`].
    #[error("message too large: it makes {len} bytes of pointer data, at most {max}")]
    TooLarge {
        /// Bytes of data the message would make (with the format's framing and padding).
        len: usize,
        /// The most data a pointer carries.
        max: usize,
    },
    /// A chat parameter is unusable (e.g. an empty clm201 chat id).
    #[error("invalid chat parameter: {0}")]
    InvalidChat(&'static str),
}

/// A candidate the detector found but had to reject, with where it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Byte range of the candidate within the scanned text.
    pub span: Range<usize>,
    /// Which text it was found in.
    pub origin: crate::detect::Origin,
    /// Why it was rejected.
    pub error: PointerError,
}

//! The Chrono-Library Messenger pointer engine.
//!
//! Pure and deterministic: no I/O, no clock, no RNG. Callers pass the time (`epoch`, `now`)
//! and the random nonces. What is here:
//!
//! - [`Keystream`]: CLM's HMAC-DRBG keystream, linear in its length;
//! - [`format`](mod@format): the clm201 and clm202 formats, byte-exact with CLM, and our authenticated
//!   native formats, versions 1 and 2 (docs/PROTOCOL.md);
//! - [`detect()`]: finds pointers in any text, HTML or mail;
//! - [`Registry`]: recognises which known chat a pointer belongs to and opens it;
//! - [`Invite`]: the `clm:` links that carry a chat's name, keys and suggested routes;
//! - [`generated_secret`]: the caller's random bytes written as a secret people can read aloud.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base32;
mod drbg;
mod error;
mod hmac;
mod opened;
mod pointer;
mod registry;

pub mod detect;
pub mod format;
pub mod hex;
pub mod invite;
pub mod secret;

pub use detect::{Detection, Found, Origin, detect, parse};
pub use drbg::Keystream;
pub use error::{EncodeError, OpenError, PointerError, Rejected};
pub use format::MAX_DATA_BYTES;
pub use format::clm201::Clm201Chat;
pub use format::clm202::Clm202Chat;
pub use format::native::NativeKeys;
pub use format::native2::Native2Keys;
pub use hmac::{HmacKey, sha256};
pub use invite::{Invite, InviteError, InviteKeys};
pub use opened::{FUTURE_TOLERANCE_SECONDS, Opened, is_from_the_future};
pub use pointer::{
    Clm201Pointer, Clm202Pointer, Format, Native2Pointer, NativePointer, Pointer, python_json_string,
};
pub use registry::{ChatKeys, Recognition, Registry};
pub use secret::{GENERATED_SECRET_BYTES, generated_secret, normalize_generated_secret};

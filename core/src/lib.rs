//! The Chrono-Library Messenger pointer engine.
//!
//! Pure and deterministic: no I/O, no clock, no RNG. Callers pass the time (`epoch`, `now`)
//! and the random nonces. What is here:
//!
//! - [`Keystream`]: CLM's HMAC-DRBG keystream, linear in its length;
//! - [`format`]: the clm201 and clm202 formats, byte-exact with CLM, and our authenticated
//!   native format (docs/PROTOCOL.md);
//! - [`detect()`]: finds pointers in any text, HTML or mail;
//! - [`Registry`]: recognises which known chat a pointer belongs to and opens it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod drbg;
mod error;
mod hmac;
mod opened;
mod pointer;
mod registry;

pub mod detect;
pub mod format;
pub mod hex;

pub use detect::{Detection, Found, Origin, detect, parse};
pub use drbg::Keystream;
pub use error::{EncodeError, OpenError, PointerError, Rejected};
pub use format::MAX_DATA_BYTES;
pub use format::clm201::Clm201Chat;
pub use format::clm202::Clm202Chat;
pub use format::native::NativeKeys;
pub use hmac::{HmacKey, sha256};
pub use opened::Opened;
pub use pointer::{Clm201Pointer, Clm202Pointer, Format, NativePointer, Pointer, python_json_string};
pub use registry::{ChatKeys, Recognition, Registry};

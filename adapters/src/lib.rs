//! Transports that carry only pointer text: Telegram, Matrix, e-mail, and a drop folder.
//!
//! Each transport lives behind its own cargo feature. Adapters never see chat keys or
//! plaintext: they move pointer text between the bridge and a service, keep their own
//! connection health, reconnects, rate limits and size limits, and report their position
//! (a [`Cursor`]) with every [`Inbound`] so the bridge can store it with the messages.

mod check;
#[cfg(any(feature = "matrix", feature = "telegram"))]
mod log_safe;
pub mod settings;
mod transport;

#[cfg(feature = "drop")]
pub mod drop;

#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "matrix")]
pub mod matrix;
#[cfg(feature = "telegram")]
pub mod telegram;

pub use check::{Check, CheckStatus};
pub use transport::{
    BoxFuture, Committed, Cursor, Inbound, Route, SecretStore, Sent, Transport, TransportError,
};

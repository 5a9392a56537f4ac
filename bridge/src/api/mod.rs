//! The bridge's local API: JSON-RPC 2.0 over `<data dir>/api.sock`, served by `clm-bridge run`,
//! for the CLI, a terminal UI and bots.
//!
//! - **Wire**: one JSON object per line, both ways ([`codec`]). Requests with an `id` get one
//!   response each, in order; the daemon's notifications carry no `id`, so replies are never
//!   confused with events. Batches (a JSON array of requests) are answered with an array.
//! - **Who may talk**: the socket is mode 0600 in the 0700 data directory, and each client's
//!   uid (`SO_PEERCRED`) must be the daemon's: that is the authentication, so no passphrase
//!   travels. With `[api] tcp`, the same API on a loopback port, where the first request must
//!   be `auth` with the token of a 0600 file.
//! - **Methods**: everything a person does with the CLI ([`methods::METHODS`]), through the same
//!   code and with the same error messages; errors carry stable codes ([`ErrorCode`]). Chat
//!   secrets go in (`chat.add`) and come out only as an invite asked for by name
//!   (`chat.invite`, `chat.new`); params are never logged.
//! - **Events**: `subscribe` (`{"after": ID}`, optional) streams notifications `message`,
//!   `delivery` and `health` read from the store's event log ([`events`]), so a client that
//!   reconnects with the last `event_id` it saw gets everything after it: no gap, nothing twice.
//! - **Spec**: `clm-bridge api spec` and the method `rpc.discover` give the OpenRPC document
//!   ([`spec`]); tests hold it and the served methods together and run its examples.
//! - **Bounded**: a request line is capped (`api.max_request_bytes`), clients are capped
//!   (`api.max_clients`), and a client's events are read from the store a page at a time, only
//!   as fast as it reads them; one that reads nothing for 30 s is let go.
//!
//! The server is [`Server`] (started by the daemon); [`Client`] is a small blocking client for
//! the CLI and for bots.

pub mod client;
pub mod codec;
pub mod error;
pub mod events;
mod methods;
mod server;
mod session;
pub mod socket_path;
pub mod spec;
pub mod types;

pub use client::{Client, ClientError, Event};
pub use error::{ErrorCode, RpcError};
pub use events::{EventBell, HealthSink, HealthState};
pub use methods::METHODS;
pub use server::{Server, socket_path};

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "api.sock";
/// The API's version: raised when a method or a shape changes incompatibly.
pub const API_VERSION: u32 = 1;

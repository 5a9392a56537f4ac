//! A small blocking client of the API, for the CLI and for bots (`examples/bots/`): calls wait
//! for their response; notifications that arrive meanwhile are kept, in order, for
//! [`Client::next_event`].
//!
//! ```no_run
//! use clm_bridge::api::{Client, Event};
//! # fn main() -> Result<(), clm_bridge::api::ClientError> {
//! let mut client = Client::connect("/home/me/.local/share/clm-bridge/api.sock")?;
//! let last_seen = None; // or the last event id a previous run saw
//! client.subscribe(last_seen)?;
//! loop {
//!     if let Event::Message(message) = client.next_event()? {
//!         if message.direction == "received" {
//!             client.send(&message.chat, &format!("echo: {}", message.text))?;
//!         }
//!     }
//! }
//! # }
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::RpcError;
use super::types::{DeliveryEvent, HealthEvent, MessageEvent, SendParams, Sent, SubscribeParams, Subscribed};

/// The longest line read from the daemon (a page of 1000 large messages fits).
const MAX_LINE: usize = 256 << 20;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed (or a read timed out).
    #[error("the daemon's socket: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon closed the connection.
    #[error("the daemon closed the connection (is it stopping?)")]
    Closed,
    /// The daemon said something that is not the protocol.
    #[error("the daemon answered outside the protocol: {0}")]
    Protocol(String),
    /// The daemon answered with an error.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// A notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A message new to history.
    Message(MessageEvent),
    /// A delivery of the outbox was made, deferred or refused.
    Delivery(DeliveryEvent),
    /// A transport's health changed.
    Health(HealthEvent),
    /// A notification this build does not know.
    Other {
        /// Its method.
        method: String,
        /// Its params.
        params: Value,
    },
}

impl Event {
    /// The event's id, to pass to [`Client::subscribe`] after a reconnect.
    pub fn event_id(&self) -> Option<i64> {
        match self {
            Event::Message(event) => Some(event.event_id),
            Event::Delivery(event) => Some(event.event_id),
            Event::Health(event) => Some(event.event_id),
            Event::Other { params, .. } => params.get("event_id").and_then(Value::as_i64),
        }
    }
}

#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Unix(stream) => Stream::Unix(stream.try_clone()?),
            Stream::Tcp(stream) => Stream::Tcp(stream.try_clone()?),
        })
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(stream) => stream.read(buf),
            Stream::Tcp(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(stream) => stream.write(buf),
            Stream::Tcp(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(stream) => stream.flush(),
            Stream::Tcp(stream) => stream.flush(),
        }
    }
}

/// A connection to a daemon's API.
#[derive(Debug)]
pub struct Client {
    writer: Stream,
    reader: BufReader<Stream>,
    next_id: u64,
    events: VecDeque<Event>,
}

impl Client {
    /// Connects to a daemon's socket (`<data dir>/api.sock`).
    pub fn connect(socket: impl AsRef<Path>) -> Result<Client, ClientError> {
        Client::over(Stream::Unix(super::socket_path::with_short_path(socket.as_ref(), |path| {
            UnixStream::connect(path)
        })?))
    }

    /// Connects to a daemon's loopback TCP port (`[api] tcp`) and authenticates with `token`.
    pub fn connect_tcp(address: impl ToSocketAddrs, token: &str) -> Result<Client, ClientError> {
        let mut client = Client::over(Stream::Tcp(TcpStream::connect(address)?))?;
        client.call_value("auth", json!({ "token": token }))?;
        Ok(client)
    }

    fn over(stream: Stream) -> Result<Client, ClientError> {
        let reader = BufReader::with_capacity(64 << 10, stream.try_clone()?);
        Ok(Client { writer: stream, reader, next_id: 1, events: VecDeque::new() })
    }

    /// How long a read may wait (`None`: for ever). A call or [`Client::next_event`] that waits
    /// longer fails with [`ClientError::Io`] (`WouldBlock` or `TimedOut`).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        Ok(self.reader.get_ref().set_read_timeout(timeout)?)
    }

    /// Calls `method` with `params` and reads its result as `R`.
    pub fn call<P: Serialize, R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<R, ClientError> {
        let params = serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let result = self.call_value(method, params)?;
        serde_json::from_value(result).map_err(|e| ClientError::Protocol(format!("{method}: {e}")))
    }

    /// Calls `method` with `params`; the raw result.
    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut line = serde_json::to_vec(&request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        zeroize::Zeroize::zeroize(&mut line);
        loop {
            let mut message = self.read_message()?;
            if message.get("method").is_some() && message.get("id").is_none() {
                self.events.push_back(event(message));
                continue;
            }
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                return Err(match message.get_mut("error").map(Value::take) {
                    Some(error) => rpc_error(error),
                    None => ClientError::Protocol(format!("a response to another request: {message}")),
                });
            }
            if let Some(error) = message.get_mut("error").map(Value::take) {
                return Err(rpc_error(error));
            }
            return message.get_mut("result").map(Value::take).ok_or_else(|| {
                ClientError::Protocol(format!("a response with neither result nor error: {message}"))
            });
        }
    }

    /// Starts the event stream after event `after` (the last one seen), or from now.
    pub fn subscribe(&mut self, after: Option<i64>) -> Result<Subscribed, ClientError> {
        self.call("subscribe", &SubscribeParams { after })
    }

    /// The next notification, waiting for it.
    pub fn next_event(&mut self) -> Result<Event, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        loop {
            let message = self.read_message()?;
            if message.get("method").is_some() && message.get("id").is_none() {
                return Ok(event(message));
            }
            if let Some(error) = message.get("error") {
                return Err(rpc_error(error.clone()));
            }
        }
    }

    /// Sends `text` in `chat` over the chat's routes.
    pub fn send(&mut self, chat: &str, text: &str) -> Result<Sent, ClientError> {
        let params = SendParams { chat: chat.to_owned(), text: text.to_owned(), via: None, print: false };
        self.call("send", &params)
    }

    fn read_message(&mut self) -> Result<Value, ClientError> {
        let mut line = Vec::new();
        let read = (&mut self.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Err(if line.len() > MAX_LINE {
                ClientError::Protocol(format!("a line longer than {MAX_LINE} bytes"))
            } else {
                ClientError::Closed
            });
        }
        serde_json::from_slice(&line).map_err(|e| ClientError::Protocol(format!("not JSON: {e}")))
    }
}

fn rpc_error(error: Value) -> ClientError {
    match serde_json::from_value::<RpcError>(error) {
        Ok(error) => ClientError::Rpc(error),
        Err(error) => ClientError::Protocol(format!("an error object that is not one: {error}")),
    }
}

fn event(mut message: Value) -> Event {
    let method = message.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
    let params = message.get_mut("params").map(Value::take).unwrap_or(Value::Null);
    let typed = match method.as_str() {
        "message" => serde_json::from_value(params.clone()).ok().map(Event::Message),
        "delivery" => serde_json::from_value(params.clone()).ok().map(Event::Delivery),
        "health" => serde_json::from_value(params.clone()).ok().map(Event::Health),
        _ => None,
    };
    typed.unwrap_or(Event::Other { method, params })
}

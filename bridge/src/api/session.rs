//! One client: its requests answered in order, and, once it subscribed, the event log streamed
//! to it from its position. Responses and notifications go out through one writer, so they
//! never interleave within a line; requests are read on a task of their own with a line cap, at
//! most one line ahead. Memory per client is bounded: one request line, one page of events
//! (256 events or 256 KiB) and the socket's buffers; a client that reads nothing for
//! [`WRITE_TIMEOUT`] while the daemon has something for it is let go (it resumes by id).

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader, BufWriter};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use zeroize::Zeroizing;

use super::codec::{self, Incoming, Line, Request};
use super::error::{ErrorCode, RpcError};
use super::events;
use super::methods;
use super::server::Shared;
use super::types::{AuthParams, NoParams, SubscribeParams, Subscribed};
use crate::store::{Store, StoreError};

/// Events read from the log at a time.
const PAGE_EVENTS: usize = 256;
/// Notification bytes gathered at a time (one message more at most).
const PAGE_BYTES: usize = 256 << 10;
/// How often a subscriber looks at the log without a ring (events other processes wrote).
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How long a write may wait for the client to read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the reader task hands over.
enum Read {
    /// A request line (zeroed when dropped: it may hold a chat secret).
    Line(Zeroizing<Vec<u8>>),
    /// A line over the cap: the connection ends.
    TooLong,
}

/// A client's position in the event stream.
#[derive(Debug, Clone, Copy)]
struct Subscription {
    /// The last event sent (or skipped).
    after: i64,
    /// The log may hold events after it.
    dirty: bool,
}

struct Session<W> {
    shared: Arc<Shared>,
    out: BufWriter<W>,
    authenticated: bool,
    subscription: Option<Subscription>,
    /// End the connection after this reply.
    closing: bool,
}

/// Serves one client until it goes, fails, or the daemon stops.
pub(crate) async fn serve<S>(stream: S, shared: Arc<Shared>, authenticated: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let (lines_tx, mut lines) = mpsc::channel(1);
    let reader = tokio::spawn(read_lines(read, lines_tx, shared.settings.max_request_bytes));
    let mut session =
        Session { shared, out: BufWriter::new(write), authenticated, subscription: None, closing: false };
    if let Err(error) = session.run(&mut lines).await {
        tracing::debug!(error = %error, "API client gone");
    }
    reader.abort();
}

async fn read_lines<R: AsyncRead + Unpin>(read: R, lines: mpsc::Sender<Read>, max: usize) {
    let mut reader = BufReader::new(read);
    loop {
        let mut line = Zeroizing::new(Vec::new());
        match codec::read_line(&mut reader, &mut line, max).await {
            Ok(Line::Complete) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Line::Complete) => {
                if lines.send(Read::Line(line)).await.is_err() {
                    return;
                }
            }
            Ok(Line::TooLong) => {
                let _ = lines.send(Read::TooLong).await;
                return;
            }
            Ok(Line::Eof) | Err(_) => return,
        }
    }
}

impl<W: AsyncWrite + Unpin> Session<W> {
    async fn run(&mut self, lines: &mut mpsc::Receiver<Read>) -> std::io::Result<()> {
        let mut bell = self.shared.bell.listen();
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let stop = self.shared.stop.clone();
        loop {
            let subscribed = self.subscription.is_some();
            let pump = self.subscription.is_some_and(|s| s.dirty);
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                read = lines.recv() => match read {
                    None => return Ok(()),
                    Some(Read::TooLong) => {
                        let limit = self.shared.settings.max_request_bytes;
                        let error = RpcError::new(ErrorCode::RequestTooLarge, format!("a request line is at most {limit} bytes (api.max_request_bytes)"));
                        return self.write(&codec::line(&codec::response(Value::Null, Err(error)))).await;
                    }
                    Some(Read::Line(line)) => {
                        if let Some(reply) = self.answer(&line, &mut bell).await {
                            self.write(&codec::line(&reply)).await?;
                        }
                        if self.closing {
                            return Ok(());
                        }
                    }
                },
                changed = bell.changed(), if subscribed => {
                    if changed.is_ok() {
                        self.mark_dirty();
                    }
                }
                _ = look.tick(), if subscribed => self.mark_dirty(),
                () = std::future::ready(()), if pump => self.pump().await?,
            }
        }
    }

    fn mark_dirty(&mut self) {
        if let Some(subscription) = &mut self.subscription {
            subscription.dirty = true;
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let written = tokio::time::timeout(WRITE_TIMEOUT, async {
            self.out.write_all(bytes).await?;
            self.out.flush().await
        })
        .await;
        written.unwrap_or_else(|_| {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client reads nothing"))
        })
    }

    /// The response to a line (a batch's responses as one array), if it needs one.
    async fn answer(&mut self, line: &[u8], bell: &mut tokio::sync::watch::Receiver<u64>) -> Option<Value> {
        match codec::parse(line) {
            Incoming::Invalid(reply) => Some(reply),
            Incoming::One(Err(reply)) => Some(reply),
            Incoming::One(Ok(request)) => self.one(request, bell).await,
            Incoming::Batch(items) => {
                let mut replies = Vec::new();
                for item in items {
                    match item {
                        Err(reply) => replies.push(reply),
                        Ok(request) => replies.extend(self.one(request, bell).await),
                    }
                    if self.closing {
                        break;
                    }
                }
                (!replies.is_empty()).then_some(Value::Array(replies))
            }
        }
    }

    async fn one(&mut self, request: Request, bell: &mut tokio::sync::watch::Receiver<u64>) -> Option<Value> {
        let Request { id, method, params } = request;
        let result = self.dispatch(&method, params, bell).await;
        if let Err(error) = &result {
            tracing::debug!(method = %method.escape_debug(), code = error.code, "API request refused");
        }
        id.map(|id| codec::response(id, result))
    }

    async fn dispatch(
        &mut self,
        method: &str,
        params: Value,
        bell: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<Value, RpcError> {
        if !self.authenticated {
            return self.authenticate(method, params);
        }
        match method {
            "subscribe" => {
                let params: SubscribeParams = codec::params(params)?;
                let subscribed = self.subscribe(params.after).await?;
                bell.borrow_and_update();
                codec::result(&subscribed)
            }
            "unsubscribe" => {
                let NoParams {} = codec::params(params)?;
                self.subscription = None;
                Ok(Value::Object(serde_json::Map::new()))
            }
            "auth" if self.shared.token.is_some() => Ok(Value::Object(serde_json::Map::new())),
            "rpc.discover" => {
                let NoParams {} = codec::params(params)?;
                Ok(super::spec::document().clone())
            }
            _ => methods::call(&self.shared, method, params).await,
        }
    }

    /// TCP: the first request must be `auth` with the token; anything else ends the connection.
    fn authenticate(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let refused = |closing: &mut bool| {
            *closing = true;
            RpcError::new(
                ErrorCode::Unauthorized,
                "authenticate first: `auth` with the token of api.token_file",
            )
        };
        if method != "auth" {
            return Err(refused(&mut self.closing));
        }
        let params: AuthParams = codec::params(params).map_err(|_| refused(&mut self.closing))?;
        let given = Zeroizing::new(params.token);
        let expected = self.shared.token.as_ref().map(|t| t.trim_end().as_bytes()).unwrap_or_default();
        let equal: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected).into();
        if !equal || expected.is_empty() {
            return Err(refused(&mut self.closing));
        }
        self.authenticated = true;
        Ok(Value::Object(serde_json::Map::new()))
    }

    /// Starts (or moves) the stream: after `after`, or after the newest event when absent.
    async fn subscribe(&mut self, after: Option<i64>) -> Result<Subscribed, RpcError> {
        let (first, last, sequence) = with_events(&self.shared, |store| {
            Ok((store.first_event_id()?, store.last_event_id()?, store.event_sequence()?))
        })
        .await?;
        let newest = last.max(sequence);
        let after = match after {
            None => newest,
            Some(after) if after < 0 => {
                return Err(RpcError::invalid_params("after is an event id, 0 or more"));
            }
            Some(after) if after > newest => {
                return Err(RpcError::new(
                    ErrorCode::EventAhead,
                    format!(
                        "no event {after} yet: the newest is {newest} (is this the same data directory?)"
                    ),
                )
                .with("last_event_id", newest));
            }
            Some(after) => {
                // The oldest event still kept; with none kept, the next one to come.
                let oldest = first.unwrap_or(newest + 1);
                if after + 1 < oldest {
                    return Err(RpcError::new(
                        ErrorCode::EventsPruned,
                        format!(
                            "events {} to {} were pruned (api.keep_events, api.keep_event_days): the oldest kept is {oldest}",
                            after + 1,
                            oldest - 1
                        ),
                    )
                    .with("first_event_id", oldest));
                }
                after
            }
        };
        self.subscription = Some(Subscription { after, dirty: true });
        Ok(Subscribed { after, last_event_id: newest })
    }

    /// Sends the next page of events, if any.
    async fn pump(&mut self) -> std::io::Result<()> {
        let Some(subscription) = self.subscription else { return Ok(()) };
        let after = subscription.after;
        let page =
            with_events(&self.shared, move |store| events::read_page(store, after, PAGE_EVENTS, PAGE_BYTES))
                .await;
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(error = %error, "API: cannot read the event log");
                if let Some(subscription) = &mut self.subscription {
                    subscription.dirty = false;
                }
                return Ok(());
            }
        };
        if page.last == 0 {
            if let Some(subscription) = &mut self.subscription {
                subscription.dirty = false;
            }
            return Ok(());
        }
        if !page.lines.is_empty() {
            self.write(&page.lines).await?;
        }
        if let Some(subscription) = &mut self.subscription {
            subscription.after = page.last;
        }
        Ok(())
    }
}

/// Runs `work` with the events connection on a blocking thread.
pub(crate) async fn with_events<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, RpcError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let store = shared.events.lock().unwrap_or_else(PoisonError::into_inner);
        work(&store)
    })
    .await
    .map_err(RpcError::internal)?
    .map_err(RpcError::from)
}

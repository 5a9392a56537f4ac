//! Receiving: log in, `SELECT` the folder, fetch what is new since the cursor, then wait with
//! IDLE (re-issued every `idle_renew`) or, where the server lacks IDLE, poll with NOOP.
//!
//! The cursor is `FOLDER = "UIDVALIDITY:UID"`, the last UID handed over. On start the folder's
//! UIDVALIDITY is compared with the cursor's: the same → only UIDs above the cursor are fetched;
//! changed (the folder was rebuilt, its UIDs mean other mails now) → the whole folder is scanned
//! again, which stores nothing twice because the bridge recognises every pointer by its digest.
//! New mails are listed with `UID SEARCH`, then fetched in batches of `fetch_batch` with
//! `BODY.PEEK[]` (nothing is marked read) and handed over one by one, oldest first.
//!
//! The after-action (mark seen, move) applies only to mails that held pointers, and only once
//! the bridge has committed them: the adapter runs core's detector on the mail only to decide
//! that (it has no keys, detection is pure and cheap), so a mail without pointers is never
//! touched. Any failure of the connection ends the run with [`TransportError::Unavailable`];
//! the bridge's supervisor restarts it from the stored cursor with jittered exponential backoff.
//! A refused login is [`TransportError::Refused`], with the server's words.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_imap::extensions::idle::IdleResponse;
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{AfterAction, EmailTransport, Endpoint, Security, tls};
use crate::{Cursor, Inbound, TransportError};

/// A connection, plain or TLS.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Connection for T {}
type Stream = Box<dyn Connection>;

/// Why the loop ends.
enum Halt {
    Stopped,
    Failed(TransportError),
}

impl From<TransportError> for Halt {
    fn from(error: TransportError) -> Self {
        Halt::Failed(error)
    }
}

pub(super) async fn run(
    transport: Arc<EmailTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let Some(endpoint) = transport.settings.imap.clone() else {
        // An account that only sends.
        stop.cancelled().await;
        return Ok(());
    };
    let folder = transport.settings.folder.clone();
    let position = cursors.iter().find(|cursor| cursor.key == folder).and_then(|c| parse_cursor(&c.value));
    let mut receiver = Receiver {
        transport: Arc::clone(&transport),
        inbound,
        stop,
        folder,
        validity: 0,
        last_uid: 0,
        reported: position,
        position,
        pending: VecDeque::new(),
        has_move: false,
        has_uidplus: false,
    };
    let result = receiver.serve(&endpoint).await;
    transport.backlog.store(0, Ordering::Relaxed);
    match result {
        Ok(()) | Err(Halt::Stopped) => Ok(()),
        Err(Halt::Failed(error)) => Err(error),
    }
}

/// `"UIDVALIDITY:UID"`.
fn parse_cursor(value: &str) -> Option<(u32, u32)> {
    let (validity, uid) = value.split_once(':')?;
    Some((validity.parse().ok()?, uid.parse().ok()?))
}

/// A UID set for IMAP commands from sorted UIDs: runs become ranges (`1:5,7,9:12`).
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.saturating_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// `mailbox@host` of the first From address, for history's origin.
fn sender(envelope: Option<&async_imap::imap_proto::Envelope<'_>>) -> Option<String> {
    let address = envelope?.from.as_ref()?.first()?;
    let mailbox = String::from_utf8_lossy(address.mailbox.as_deref()?);
    let host = String::from_utf8_lossy(address.host.as_deref()?);
    Some(format!("{mailbox}@{host}"))
}

struct Receiver {
    transport: Arc<EmailTransport>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
    folder: String,
    /// The folder's UIDVALIDITY in this session.
    validity: u32,
    /// The last UID handed over.
    last_uid: u32,
    /// The position of the last cursor handed over (or stored, at start).
    reported: Option<(u32, u32)>,
    /// The stored position this run started from.
    position: Option<(u32, u32)>,
    /// Mails holding pointers, handed over and waiting for their commit before the after-action.
    pending: VecDeque<(u32, oneshot::Receiver<crate::Committed>)>,
    has_move: bool,
    has_uidplus: bool,
}

impl Receiver {
    fn name(&self) -> &str {
        &self.transport.name
    }

    fn unavailable(&self, what: impl std::fmt::Display) -> Halt {
        Halt::Failed(self.transport.unavailable(what))
    }

    /// Runs an IMAP command under the timeout; a failure is the connection's (unavailable).
    async fn timed<T>(
        &self,
        what: &str,
        command: impl Future<Output = async_imap::error::Result<T>>,
    ) -> Result<T, Halt> {
        match tokio::time::timeout(self.transport.settings.timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.unavailable(format!("IMAP {what}: {error}"))),
            Err(_) => Err(self
                .unavailable(format!("IMAP {what}: no answer within {:?}", self.transport.settings.timeout))),
        }
    }

    async fn serve(&mut self, endpoint: &Endpoint) -> Result<(), Halt> {
        let mut session = self.login(endpoint).await?;
        let capabilities = self.timed("CAPABILITY", session.capabilities()).await?;
        let idle = capabilities.has_str("IDLE");
        self.has_move = capabilities.has_str("MOVE");
        self.has_uidplus = capabilities.has_str("UIDPLUS");
        if let AfterAction::Move(target) = &self.transport.settings.after_action {
            // Usually it exists already; a NO then is expected.
            match tokio::time::timeout(self.transport.settings.timeout, session.create(target)).await {
                Ok(Ok(())) => {
                    tracing::info!(transport = %self.name(), folder = %target, "created the folder mails are moved to")
                }
                Ok(Err(async_imap::error::Error::No(_))) => {}
                Ok(Err(error)) => return Err(self.unavailable(format!("IMAP CREATE {target}: {error}"))),
                Err(_) => return Err(self.unavailable("IMAP CREATE: no answer")),
            }
        }
        let mailbox =
            match tokio::time::timeout(self.transport.settings.timeout, session.select(&self.folder)).await {
                Ok(Ok(mailbox)) => mailbox,
                Ok(Err(async_imap::error::Error::No(reason))) => {
                    return Err(Halt::Failed(
                        self.transport
                            .refused(format!("IMAP folder `{}` cannot be selected: {reason}", self.folder)),
                    ));
                }
                Ok(Err(error)) => return Err(self.unavailable(format!("IMAP SELECT: {error}"))),
                Err(_) => return Err(self.unavailable("IMAP SELECT: no answer")),
            };
        self.validity = mailbox.uid_validity.unwrap_or(0);
        self.last_uid = match self.position {
            Some((validity, uid)) if validity == self.validity => uid,
            Some((validity, _)) => {
                tracing::warn!(
                    transport = %self.name(), folder = %self.folder, old = validity, new = self.validity,
                    "the folder's UIDVALIDITY changed: scanning it again (pointers stored before are not stored twice)"
                );
                0
            }
            None => 0,
        };
        tracing::info!(
            transport = %self.name(), folder = %self.folder, mails = mailbox.exists, after_uid = self.last_uid,
            idle, "watching the folder"
        );
        loop {
            self.scan(&mut session).await?;
            self.settle(&mut session, true).await?;
            if self.stop.is_cancelled() {
                break;
            }
            if idle {
                session = self.idle(session).await?;
            } else {
                tokio::select! {
                    () = self.stop.cancelled() => {}
                    () = tokio::time::sleep(self.transport.settings.poll_interval) => {
                        self.timed("NOOP", session.noop()).await?;
                    }
                }
            }
            if self.stop.is_cancelled() {
                break;
            }
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), session.logout()).await;
        Err(Halt::Stopped)
    }

    /// Connects (TLS, STARTTLS or plain on loopback) and logs in.
    async fn login(&self, endpoint: &Endpoint) -> Result<Session<Stream>, Halt> {
        let limit = self.transport.settings.timeout;
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let tcp =
            match tokio::time::timeout(limit, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(error)) => return Err(self.unavailable(format!("IMAP server {address}: {error}"))),
                Err(_) => {
                    return Err(
                        self.unavailable(format!("IMAP server {address}: no connection within {limit:?}"))
                    );
                }
            };
        let _ = tcp.set_nodelay(true);
        let stream: Stream = match endpoint.security {
            Security::None => Box::new(tcp),
            Security::Tls => Box::new(self.tls(&endpoint.host, tcp).await?),
            Security::StartTls => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.timed("STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await?;
                Box::new(self.tls(&endpoint.host, client.into_inner()).await?)
            }
        };
        let mut client = Client::new(stream);
        if endpoint.security != Security::StartTls {
            self.greeting(&mut client).await?;
        }
        let settings = &self.transport.settings;
        let Some(password) = settings.password.as_ref() else {
            return Err(Halt::Failed(
                self.transport.refused("the account has no password configured for IMAP"),
            ));
        };
        match tokio::time::timeout(limit, client.login(&settings.login, password.as_str())).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err((async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason), _))) => {
                Err(Halt::Failed(self.transport.refused(format!(
                    "IMAP server {address} refused the login as `{}`: {reason}",
                    settings.login
                ))))
            }
            Ok(Err((error, _))) => Err(self.unavailable(format!("IMAP login at {address}: {error}"))),
            Err(_) => Err(self.unavailable(format!("IMAP login at {address}: no answer within {limit:?}"))),
        }
    }

    async fn tls(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Halt> {
        match tokio::time::timeout(self.transport.settings.timeout, tls::connect(host, tcp)).await {
            Ok(result) => result.map_err(|error| self.unavailable(error)),
            Err(_) => Err(self.unavailable(format!("TLS handshake with {host}: no answer"))),
        }
    }

    async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
        &self,
        client: &mut Client<T>,
    ) -> Result<(), Halt> {
        match tokio::time::timeout(self.transport.settings.timeout, client.read_response()).await {
            Ok(Ok(Some(_))) => Ok(()),
            Ok(Ok(None)) => {
                Err(self.unavailable("the IMAP server closed the connection before its greeting"))
            }
            Ok(Err(error)) => Err(self.unavailable(format!("IMAP greeting: {error}"))),
            Err(_) => Err(self.unavailable("IMAP greeting: none within the timeout")),
        }
    }

    /// Hands over every mail above the last UID, in batches, until none is left.
    async fn scan(&mut self, session: &mut Session<Stream>) -> Result<(), Halt> {
        let batch = self.transport.settings.fetch_batch.max(1);
        loop {
            let query = format!("UID {}:*", self.last_uid.saturating_add(1));
            let found = self.timed("UID SEARCH", session.uid_search(&query)).await?;
            let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > self.last_uid).collect();
            if uids.is_empty() {
                break;
            }
            uids.sort_unstable();
            self.transport.backlog.store(uids.len(), Ordering::Relaxed);
            tracing::debug!(transport = %self.name(), mails = uids.len(), "new mail");
            for chunk in uids.chunks(batch) {
                self.fetch(session, &uid_set(chunk)).await?;
                self.settle(session, false).await?;
            }
        }
        self.transport.backlog.store(0, Ordering::Relaxed);
        let position = Some((self.validity, self.last_uid));
        if self.reported != position {
            // A new UIDVALIDITY (or a first run on an empty folder): store where we are.
            let cursor = self.cursor(self.last_uid);
            self.forward(Inbound {
                transport: self.transport.name.clone(),
                origin: self.folder.clone(),
                text: Vec::new(),
                cursor: Some(cursor),
                committed: None,
            })
            .await?;
            self.reported = position;
        }
        Ok(())
    }

    fn cursor(&self, uid: u32) -> Cursor {
        Cursor { key: self.folder.clone(), value: format!("{}:{uid}", self.validity) }
    }

    async fn forward(&self, inbound: Inbound) -> Result<(), Halt> {
        tokio::select! {
            sent = self.inbound.send(inbound) => sent.map_err(|_| Halt::Failed(TransportError::Closed)),
            () = self.stop.cancelled() => Err(Halt::Stopped),
        }
    }

    /// Fetches the mails of `set` and hands each over with its cursor.
    async fn fetch(&mut self, session: &mut Session<Stream>, set: &str) -> Result<(), Halt> {
        let detect = self.transport.settings.after_action != AfterAction::Leave;
        let limit = self.transport.settings.timeout;
        let fetches =
            match tokio::time::timeout(limit, session.uid_fetch(set, "(UID ENVELOPE BODY.PEEK[])")).await {
                Ok(Ok(fetches)) => fetches,
                Ok(Err(error)) => return Err(self.unavailable(format!("IMAP UID FETCH: {error}"))),
                Err(_) => return Err(self.unavailable("IMAP UID FETCH: no answer")),
            };
        let mut fetches = pin!(fetches);
        loop {
            let fetch = match tokio::time::timeout(limit, fetches.try_next()).await {
                Ok(Ok(Some(fetch))) => fetch,
                Ok(Ok(None)) => break,
                Ok(Err(error)) => return Err(self.unavailable(format!("IMAP UID FETCH: {error}"))),
                Err(_) => return Err(self.unavailable("IMAP UID FETCH: the server stopped answering")),
            };
            let Some(uid) = fetch.uid else { continue };
            if uid <= self.last_uid {
                continue;
            }
            let text = fetch.body().unwrap_or_default().to_vec();
            let origin = sender(fetch.envelope()).unwrap_or_else(|| format!("{} UID {uid}", self.folder));
            let committed = if detect && !clm_core::detect(&text).found.is_empty() {
                let (committed, acknowledged) = oneshot::channel();
                self.pending.push_back((uid, acknowledged));
                Some(committed)
            } else {
                None
            };
            let cursor = self.cursor(uid);
            let inbound = Inbound {
                transport: self.transport.name.clone(),
                origin,
                text,
                cursor: Some(cursor),
                committed,
            };
            tokio::select! {
                sent = self.inbound.send(inbound) => sent.map_err(|_| Halt::Failed(TransportError::Closed))?,
                () = self.stop.cancelled() => return Err(Halt::Stopped),
            }
            self.last_uid = uid;
            self.reported = Some((self.validity, uid));
            let _ = self
                .transport
                .backlog
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        Ok(())
    }

    /// Runs the after-action on the mails whose commit has fired: all of them, waiting, when
    /// `wait`; else those already committed.
    async fn settle(&mut self, session: &mut Session<Stream>, wait: bool) -> Result<(), Halt> {
        let mut committed = Vec::new();
        while let Some((uid, acknowledged)) = self.pending.front_mut() {
            let uid = *uid;
            let fired = if wait {
                tokio::select! {
                    fired = acknowledged => fired.is_ok(),
                    () = self.stop.cancelled() => break,
                }
            } else {
                match acknowledged.try_recv() {
                    Ok(_) => true,
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    // Not committed (the bridge is stopping): the mail is fetched again next run.
                    Err(oneshot::error::TryRecvError::Closed) => false,
                }
            };
            self.pending.pop_front();
            if fired {
                committed.push(uid);
            }
        }
        if committed.is_empty() {
            return Ok(());
        }
        let set = uid_set(&committed);
        match self.transport.settings.after_action.clone() {
            AfterAction::Leave => {}
            AfterAction::Seen => self.store_flag(session, &set, "\\Seen").await?,
            AfterAction::Move(target) if self.has_move => {
                self.timed("UID MOVE", session.uid_mv(&set, &target)).await?;
            }
            AfterAction::Move(target) => {
                self.timed("UID COPY", session.uid_copy(&set, &target)).await?;
                self.store_flag(session, &set, "\\Deleted").await?;
                if self.has_uidplus {
                    let limit = self.transport.settings.timeout;
                    let expunged = self.timed("UID EXPUNGE", session.uid_expunge(&set)).await?;
                    let drained = tokio::time::timeout(limit, expunged.try_collect::<Vec<_>>()).await;
                    if !matches!(drained, Ok(Ok(_))) {
                        return Err(self.unavailable("IMAP UID EXPUNGE did not finish"));
                    }
                }
            }
        }
        tracing::debug!(transport = %self.name(), mails = committed.len(), "after-action done");
        Ok(())
    }

    async fn store_flag(&self, session: &mut Session<Stream>, set: &str, flag: &str) -> Result<(), Halt> {
        let limit = self.transport.settings.timeout;
        let query = format!("+FLAGS.SILENT ({flag})");
        let updates = self.timed("UID STORE", session.uid_store(set, &query)).await?;
        match tokio::time::timeout(limit, updates.try_collect::<Vec<_>>()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(self.unavailable(format!("IMAP UID STORE: {error}"))),
            Err(_) => Err(self.unavailable("IMAP UID STORE: no answer")),
        }
    }

    /// One IDLE: until the server reports a change, `idle_renew` passes, or stop.
    async fn idle(&self, session: Session<Stream>) -> Result<Session<Stream>, Halt> {
        let renew = self.transport.settings.idle_renew;
        let mut handle = session.idle();
        self.timed("IDLE", handle.init()).await?;
        let outcome = {
            let (wait, _interrupt) = handle.wait_with_timeout(renew);
            tokio::select! {
                outcome = wait => Some(outcome),
                () = tokio::time::sleep(renew) => None,
                () = self.stop.cancelled() => None,
            }
        };
        match outcome {
            Some(Err(error)) => return Err(self.unavailable(format!("IMAP IDLE: {error}"))),
            Some(Ok(IdleResponse::NewData(data))) => {
                tracing::trace!(transport = %self.name(), response = ?data.parsed(), "IDLE: the folder changed");
            }
            Some(Ok(_)) | None => {}
        }
        self.timed("DONE", handle.done()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn cursors_parse() {
        assert_eq!(parse_cursor("1700000000:42"), Some((1_700_000_000, 42)));
        assert_eq!(parse_cursor("x:1"), None);
        assert_eq!(parse_cursor("17"), None);
    }
}

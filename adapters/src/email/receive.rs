//! Receiving: the thin async driver of [`Mailbox`]. It logs in, `SELECT`s the folder, lists new
//! mail with its sizes (`UID FETCH n:* (UID RFC822.SIZE)`), fetches in the batches the mailbox
//! plans (`BODY.PEEK[]` cut one byte past `max_mail_bytes`, so nothing is marked read and no
//! mail larger than the limit is ever downloaded whole), hands each mail over with its cursor
//! `FOLDER = "UIDVALIDITY:UID"` and a `committed` channel, then waits with IDLE or polls.
//!
//! The after-action (seen, move) runs only once the bridge committed a mail and said that a
//! known chat opened a pointer in it: mails with no pointer, or only pointer-shaped junk, are
//! never touched. Any failure of the connection ends the run with
//! [`TransportError::Unavailable`]; the bridge's supervisor restarts it from the stored cursor
//! with jittered exponential backoff. A refused login is [`TransportError::Refused`].

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Fetch;
use futures_util::TryStreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::EmailTransport;
use super::imap::{self, Failure, Stream, loggable, timed, uid_set};
use super::mailbox::{Mailbox, Position, Resumed};
use crate::settings::email::{AfterAction, Endpoint};
use crate::{Committed, Cursor, Inbound, TransportError};

/// Why the loop ends.
enum Halt {
    Stopped,
    Failed(TransportError),
}

/// Mails handed over, each with the channel its commit comes back on, oldest first.
type Commits = VecDeque<(u32, oneshot::Receiver<Committed>)>;

pub(super) async fn run(
    transport: Arc<EmailTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let Some(endpoint) = transport.settings.imap() else {
        // An account that only sends.
        stop.cancelled().await;
        return Ok(());
    };
    let folder = transport.settings.folder.clone();
    let stored = cursors.iter().find(|cursor| cursor.key == folder).map(|cursor| cursor.value.as_str());
    let mut receiver = Receiver {
        mailbox: Mailbox::new(&transport.settings, stored),
        transport: Arc::clone(&transport),
        inbound,
        stop,
        folder,
        commits: VecDeque::new(),
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

/// `mailbox@host` of the first From address, for history's origin.
fn sender(fetch: &Fetch) -> Option<String> {
    let address = fetch.envelope()?.from.as_ref()?.first()?;
    let mailbox = String::from_utf8_lossy(address.mailbox.as_deref()?);
    let host = String::from_utf8_lossy(address.host.as_deref()?);
    Some(format!("{mailbox}@{host}"))
}

/// Feeds the bridge's commits to `mailbox`, oldest first: every one, waiting for it, when
/// `wait` and an after-action may follow; else those already in. A commit that can never come
/// (the bridge dropped it: not stored) is abandoned, and its mail left as it is.
async fn collect_commits(commits: &mut Commits, mailbox: &mut Mailbox, wait: bool, stop: &CancellationToken) {
    while let Some((uid, commit)) = commits.front_mut() {
        let uid = *uid;
        let outcome = if wait && mailbox.waits_for_commits() {
            tokio::select! {
                outcome = commit => outcome.ok(),
                () = stop.cancelled() => return,
            }
        } else {
            match commit.try_recv() {
                Ok(found) => Some(found),
                Err(oneshot::error::TryRecvError::Empty) => return,
                Err(oneshot::error::TryRecvError::Closed) => None,
            }
        };
        commits.pop_front();
        match outcome {
            Some(found) => mailbox.committed(uid, found),
            None => mailbox.abandoned(uid),
        }
    }
}

struct Receiver {
    transport: Arc<EmailTransport>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
    folder: String,
    mailbox: Mailbox,
    commits: Commits,
    has_move: bool,
    has_uidplus: bool,
}

impl Receiver {
    fn name(&self) -> &str {
        &self.transport.name
    }

    fn fail(&self, failure: Failure) -> Halt {
        Halt::Failed(match failure {
            Failure::Unavailable(text) => self.transport.unavailable(text),
            Failure::Refused(text) => self.transport.refused(text),
        })
    }

    /// Runs one IMAP step under the timeout.
    async fn timed<T>(
        &self,
        what: &str,
        step: impl Future<Output = async_imap::error::Result<T>>,
    ) -> Result<T, Halt> {
        timed(self.transport.settings.timeout, what, step).await.map_err(|failure| self.fail(failure))
    }

    async fn serve(&mut self, endpoint: &Endpoint) -> Result<(), Halt> {
        let settings = &self.transport.settings;
        let Some(password) = self.transport.password.as_ref() else {
            return Err(self.fail(Failure::Refused("the account has no password configured for IMAP".into())));
        };
        let mut session = imap::login(endpoint, settings.login(), password.as_str(), settings.timeout)
            .await
            .map_err(|failure| self.fail(failure))?;
        let capabilities = self.timed("CAPABILITY", session.capabilities()).await?;
        let idle = capabilities.has_str("IDLE");
        self.has_move = capabilities.has_str("MOVE");
        self.has_uidplus = capabilities.has_str("UIDPLUS");
        self.create_move_target(&mut session).await?;
        self.select(&mut session, idle).await?;
        while !self.stop.is_cancelled() {
            self.scan(&mut session).await?;
            self.settle(&mut session, true).await?;
            if self.stop.is_cancelled() {
                break;
            }
            session = self.wait(session, idle).await?;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), session.logout()).await;
        Err(Halt::Stopped)
    }

    /// Creates the folder mails are moved to; usually it exists already (a NO then).
    async fn create_move_target(&self, session: &mut Session<Stream>) -> Result<(), Halt> {
        let AfterAction::Move(target) = &self.transport.settings.after_action else { return Ok(()) };
        match tokio::time::timeout(self.transport.settings.timeout, session.create(target)).await {
            Ok(Ok(())) => {
                tracing::info!(transport = %self.name(), folder = %target, "created the folder mails are moved to");
                Ok(())
            }
            Ok(Err(async_imap::error::Error::No(_))) => Ok(()),
            Ok(Err(error)) => Err(self.fail(Failure::Unavailable(format!("IMAP CREATE {target}: {error}")))),
            Err(_) => Err(self.fail(Failure::Unavailable("IMAP CREATE: no answer".into()))),
        }
    }

    async fn select(&mut self, session: &mut Session<Stream>, idle: bool) -> Result<(), Halt> {
        let selected =
            match tokio::time::timeout(self.transport.settings.timeout, session.select(&self.folder)).await {
                Ok(Ok(selected)) => selected,
                Ok(Err(async_imap::error::Error::No(reason))) => {
                    let text = format!("IMAP folder `{}` cannot be selected: {reason}", self.folder);
                    return Err(self.fail(Failure::Refused(text)));
                }
                Ok(Err(error)) => {
                    return Err(self.fail(Failure::Unavailable(format!("IMAP SELECT: {error}"))));
                }
                Err(_) => return Err(self.fail(Failure::Unavailable("IMAP SELECT: no answer".into()))),
            };
        let validity = selected.uid_validity.unwrap_or(0);
        if let Resumed::ValidityChanged { stored, now } = self.mailbox.selected(validity) {
            tracing::warn!(
                transport = %self.name(), folder = %self.folder, old = stored, new = now,
                "the folder's UIDVALIDITY changed (it was rebuilt): reading it again; pointers stored before are not stored twice"
            );
        }
        tracing::info!(
            transport = %self.name(), folder = %self.folder, mails = selected.exists,
            range = %self.mailbox.listing_range(), idle, "watching the folder"
        );
        Ok(())
    }

    /// Hands over every new mail, batch by batch, until the listing finds none.
    async fn scan(&mut self, session: &mut Session<Stream>) -> Result<(), Halt> {
        while self.list(session).await? > 0 {
            while let Some(batch) = self.mailbox.next_batch() {
                self.transport.backlog.store(self.mailbox.backlog(), Ordering::Relaxed);
                if !batch.oversized.is_empty() {
                    self.warn_oversized(session, &batch.oversized).await?;
                }
                if !batch.fetch.is_empty() {
                    self.fetch(session, &batch.fetch).await?;
                }
                self.mailbox.batch_done();
                self.settle(session, false).await?;
            }
        }
        self.transport.backlog.store(0, Ordering::Relaxed);
        if let Some(position) = self.mailbox.position_to_report() {
            // Nothing handed over carried it (mails skipped, a new UIDVALIDITY, a first run).
            self.forward(self.inbound_cursor(position)).await?;
        }
        Ok(())
    }

    /// Lists the mails above the position with their sizes; returns how many are new.
    async fn list(&mut self, session: &mut Session<Stream>) -> Result<usize, Halt> {
        let range = self.mailbox.listing_range();
        let limit = self.transport.settings.timeout;
        let listing = self.timed("UID FETCH (sizes)", session.uid_fetch(&range, "(UID RFC822.SIZE)")).await?;
        let mut listing = pin!(listing);
        let mut mails = Vec::new();
        while let Some(fetch) =
            timed(limit, "UID FETCH (sizes)", listing.try_next()).await.map_err(|f| self.fail(f))?
        {
            if let Some(uid) = fetch.uid {
                mails.push((uid, fetch.size.unwrap_or(0)));
            }
        }
        let new = self.mailbox.listed(mails);
        if new > 0 {
            tracing::debug!(transport = %self.name(), mails = new, "new mail");
        }
        Ok(new)
    }

    /// One warning per mail over `max_mail_bytes`, naming its sender and subject (escaped).
    async fn warn_oversized(
        &mut self,
        session: &mut Session<Stream>,
        mails: &[(u32, u32)],
    ) -> Result<(), Halt> {
        let uids: Vec<u32> = mails.iter().map(|&(uid, _)| uid).collect();
        let limit = self.transport.settings.timeout;
        let envelopes =
            self.timed("UID FETCH (envelopes)", session.uid_fetch(uid_set(&uids), "(UID ENVELOPE)")).await?;
        let mut envelopes = pin!(envelopes);
        let mut described = std::collections::HashMap::new();
        while let Some(fetch) =
            timed(limit, "UID FETCH (envelopes)", envelopes.try_next()).await.map_err(|f| self.fail(f))?
        {
            let subject = fetch.envelope().and_then(|e| e.subject.as_deref()).map(|s| loggable(s, 120));
            let from = sender(&fetch).map(|s| loggable(s.as_bytes(), 120));
            if let Some(uid) = fetch.uid {
                described.insert(uid, (from.unwrap_or_default(), subject.unwrap_or_default()));
            }
        }
        for &(uid, size) in mails {
            let (from, subject) = described.remove(&uid).unwrap_or_default();
            tracing::warn!(
                transport = %self.name(), folder = %self.folder, uid, size, max_mail_bytes = self.mailbox.max_mail_bytes(),
                from = %from, subject = %subject, "skipped a mail larger than max_mail_bytes (not downloaded)"
            );
        }
        Ok(())
    }

    /// Fetches `uids` (at most `max_mail_bytes` + 1 bytes each) and hands each over.
    async fn fetch(&mut self, session: &mut Session<Stream>, uids: &[u32]) -> Result<(), Halt> {
        let limit = self.transport.settings.timeout;
        let max = self.mailbox.max_mail_bytes();
        let query = format!("(UID ENVELOPE BODY.PEEK[]<0.{}>)", max.saturating_add(1));
        let fetches = self.timed("UID FETCH", session.uid_fetch(uid_set(uids), &query)).await?;
        let mut fetches = pin!(fetches);
        while let Some(fetch) =
            timed(limit, "UID FETCH", fetches.try_next()).await.map_err(|f| self.fail(f))?
        {
            let Some(uid) = fetch.uid else { continue };
            let text = fetch.body().unwrap_or_default();
            if text.len() as u64 > max {
                // The server listed it smaller than it is.
                tracing::warn!(transport = %self.name(), folder = %self.folder, uid, "skipped a mail larger than max_mail_bytes (its listed size was wrong)");
                self.mailbox.refused(uid);
                continue;
            }
            let Some(position) = self.mailbox.handed_over(uid) else { continue };
            let (committed, commit) = oneshot::channel();
            let inbound = Inbound {
                transport: self.transport.name.clone(),
                origin: sender(&fetch).unwrap_or_else(|| format!("{} UID {uid}", self.folder)),
                // The mailbox is one place: a gateway's route names the address it sends to.
                place: String::new(),
                text: text.to_vec(),
                cursor: Some(self.cursor(position)),
                committed: Some(committed),
            };
            self.forward(inbound).await?;
            self.commits.push_back((uid, commit));
            self.transport.backlog.store(self.mailbox.backlog(), Ordering::Relaxed);
        }
        Ok(())
    }

    fn cursor(&self, position: Position) -> Cursor {
        Cursor { key: self.folder.clone(), value: position.to_cursor_value() }
    }

    fn inbound_cursor(&self, position: Position) -> Inbound {
        Inbound {
            transport: self.transport.name.clone(),
            origin: self.folder.clone(),
            place: String::new(),
            text: Vec::new(),
            cursor: Some(self.cursor(position)),
            committed: None,
        }
    }

    async fn forward(&self, inbound: Inbound) -> Result<(), Halt> {
        tokio::select! {
            sent = self.inbound.send(inbound) => sent.map_err(|_| Halt::Failed(TransportError::Closed)),
            () = self.stop.cancelled() => Err(Halt::Stopped),
        }
    }

    /// Takes in the commits (waiting for them all when `wait`) and runs the due after-actions.
    async fn settle(&mut self, session: &mut Session<Stream>, wait: bool) -> Result<(), Halt> {
        collect_commits(&mut self.commits, &mut self.mailbox, wait, &self.stop).await;
        let due = self.mailbox.take_due();
        if due.is_empty() {
            return Ok(());
        }
        let set = uid_set(&due);
        match self.mailbox.after_action().clone() {
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
                    timed(limit, "UID EXPUNGE", expunged.try_collect::<Vec<_>>())
                        .await
                        .map_err(|f| self.fail(f))?;
                }
            }
        }
        tracing::debug!(transport = %self.name(), mails = due.len(), "after-action done");
        Ok(())
    }

    async fn store_flag(&self, session: &mut Session<Stream>, set: &str, flag: &str) -> Result<(), Halt> {
        let limit = self.transport.settings.timeout;
        let updates =
            self.timed("UID STORE", session.uid_store(set, format!("+FLAGS.SILENT ({flag})"))).await?;
        timed(limit, "UID STORE", updates.try_collect::<Vec<_>>()).await.map_err(|f| self.fail(f))?;
        Ok(())
    }

    /// Waits for news: one IDLE until the server reports a change, its renewal is due, or stop;
    /// without IDLE, a pause of `poll_interval` and a NOOP.
    async fn wait(&mut self, mut session: Session<Stream>, idle: bool) -> Result<Session<Stream>, Halt> {
        let now = Instant::now();
        self.mailbox.waiting(now.into_std());
        let deadline = Instant::from_std(self.mailbox.wait_deadline(idle, now.into_std()));
        if !idle {
            tokio::select! {
                () = self.stop.cancelled() => {}
                () = tokio::time::sleep_until(deadline) => self.timed("NOOP", session.noop()).await?,
            }
            return Ok(session);
        }
        let mut handle = session.idle();
        self.timed("IDLE", handle.init()).await?;
        let outcome = {
            let (news, _interrupt) = handle.wait_with_timeout(deadline.saturating_duration_since(now));
            tokio::select! {
                outcome = news => Some(outcome),
                () = tokio::time::sleep_until(deadline) => None,
                () = self.stop.cancelled() => None,
            }
        };
        match outcome {
            Some(Err(error)) => return Err(self.fail(Failure::Unavailable(format!("IMAP IDLE: {error}")))),
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
    use crate::settings::email::EmailSettings;

    /// A mailbox with `seen` as after-action that handed over mails 1..=n.
    fn handed_over(n: u32) -> (Mailbox, Commits, Vec<oneshot::Sender<Committed>>) {
        let mut settings = EmailSettings::new("me@example.org", "smtp.example.org");
        settings.after_action = AfterAction::Seen;
        let mut mailbox = Mailbox::new(&settings, None);
        mailbox.selected(1);
        mailbox.listed((1..=n).map(|uid| (uid, 10)));
        mailbox.next_batch();
        let (mut commits, mut senders) = (Commits::new(), Vec::new());
        for uid in 1..=n {
            mailbox.handed_over(uid);
            let (sender, receiver) = oneshot::channel();
            commits.push_back((uid, receiver));
            senders.push(sender);
        }
        mailbox.batch_done();
        (mailbox, commits, senders)
    }

    #[tokio::test]
    async fn an_inbound_whose_commit_never_fires_gets_no_after_action() {
        let stop = CancellationToken::new();
        let (mut mailbox, mut commits, senders) = handed_over(2);
        drop(senders); // the bridge stopped before storing them
        collect_commits(&mut commits, &mut mailbox, true, &stop).await;
        assert!(commits.is_empty());
        assert_eq!(mailbox.take_due(), Vec::<u32>::new());
    }

    #[tokio::test]
    async fn after_actions_wait_for_the_commit_and_an_opened_pointer() {
        let stop = CancellationToken::new();
        let (mut mailbox, mut commits, mut senders) = handed_over(3);
        let third = senders.pop().unwrap();
        let second = senders.pop().unwrap();
        senders.pop().unwrap().send(Committed::new(1, 1)).unwrap();
        // Not waiting: the first is in, the second not yet.
        collect_commits(&mut commits, &mut mailbox, false, &stop).await;
        assert_eq!((mailbox.take_due(), commits.len()), (vec![1], 2));
        second.send(Committed::new(1, 0)).unwrap(); // junk only: never touched
        let waiting = tokio::spawn(async move {
            collect_commits(&mut commits, &mut mailbox, true, &stop).await;
            mailbox.take_due()
        });
        third.send(Committed::new(2, 1)).unwrap();
        assert_eq!(waiting.await.unwrap(), [3]);
    }

    #[tokio::test]
    async fn waiting_for_commits_ends_on_stop() {
        let stop = CancellationToken::new();
        let (mut mailbox, mut commits, _senders) = handed_over(1);
        stop.cancel();
        collect_commits(&mut commits, &mut mailbox, true, &stop).await;
        assert_eq!((mailbox.take_due(), commits.len()), (vec![], 1));
    }
}

//! The receiving side's decisions, with no I/O (the quinn-proto shape): where in the folder we
//! are, what to fetch next and in what batches, which mails are too large to download, which
//! mails get their after-action (and when), what a new UIDVALIDITY means, and when IDLE is
//! renewed. The IMAP driver (`receive.rs`) feeds it what the server said and the bridge's
//! commits, and does what it answers.
//!
//! Positions are `UIDVALIDITY:UID` cursors: the UID is the highest one *passed*: handed over,
//! skipped as too large, or gone from the server. A mail's cursor never claims a lower UID of
//! its batch that is still outstanding, so servers answering out of order lose nothing.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::Committed;
use crate::settings::email::{AfterAction, EmailSettings};

/// A place in a folder: its UIDVALIDITY and the highest UID passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub validity: u32,
    pub uid: u32,
}

impl Position {
    /// `"UIDVALIDITY:UID"`, as stored in the cursor.
    pub fn parse(value: &str) -> Option<Position> {
        let (validity, uid) = value.split_once(':')?;
        Some(Position { validity: validity.parse().ok()?, uid: uid.parse().ok()? })
    }

    pub fn to_cursor_value(self) -> String {
        format!("{}:{}", self.validity, self.uid)
    }
}

/// How the stored position relates to the folder just selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resumed {
    /// No position stored: the whole folder is read.
    FirstRun,
    /// Same UIDVALIDITY: reading goes on after the stored UID.
    After(u32),
    /// The folder was rebuilt (its UIDs now name other mails): it is read again from the start;
    /// the bridge stores no pointer twice (it knows them by digest), so only new ones show.
    ValidityChanged { stored: u32, now: u32 },
}

/// One `UID FETCH` worth of work, in UID order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Batch {
    /// Mails to download whole.
    pub fetch: Vec<u32>,
    /// Mails over `max_mail_bytes`, with their sizes: passed without being downloaded.
    pub oversized: Vec<(u32, u32)>,
}

/// The receiving state of one watched folder during one connection.
#[derive(Debug)]
pub(super) struct Mailbox {
    after_action: AfterAction,
    fetch_batch: usize,
    fetch_batch_bytes: u64,
    max_mail_bytes: u64,
    idle_renew: Duration,
    poll_interval: Duration,
    /// The position stored by the bridge when this connection began.
    stored: Option<Position>,
    /// The selected folder's UIDVALIDITY (0 before `selected`).
    validity: u32,
    /// The highest UID passed.
    passed: u32,
    /// The last position given to the bridge (with a mail, or alone).
    reported: Option<Position>,
    /// Listed above `passed` and not yet in a batch, with their sizes, in UID order.
    queue: VecDeque<(u32, u32)>,
    /// The current batch's mails not yet handed over, and its highest UID.
    outstanding: BTreeSet<u32>,
    batch_end: u32,
    /// Handed over, the bridge's commit not yet known.
    awaiting: BTreeSet<u32>,
    /// Committed with an opened pointer: the after-action is due.
    due: BTreeSet<u32>,
    /// When the current IDLE (or poll wait) began.
    waiting_since: Option<Instant>,
}

impl Mailbox {
    /// The state at the start of a connection, from the settings and the stored cursor value.
    pub fn new(settings: &EmailSettings, stored: Option<&str>) -> Mailbox {
        Mailbox {
            after_action: settings.after_action.clone(),
            fetch_batch: settings.fetch_batch.max(1),
            fetch_batch_bytes: settings.fetch_batch_bytes.max(1),
            max_mail_bytes: settings.max_mail_bytes,
            idle_renew: settings.idle_renew,
            poll_interval: settings.poll_interval,
            stored: stored.and_then(Position::parse),
            validity: 0,
            passed: 0,
            reported: None,
            queue: VecDeque::new(),
            outstanding: BTreeSet::new(),
            batch_end: 0,
            awaiting: BTreeSet::new(),
            due: BTreeSet::new(),
            waiting_since: None,
        }
    }

    /// The folder was selected with this UIDVALIDITY: where reading starts.
    pub fn selected(&mut self, validity: u32) -> Resumed {
        self.validity = validity;
        self.reported = self.stored;
        match self.stored {
            None => Resumed::FirstRun,
            Some(stored) if stored.validity == validity => {
                self.passed = stored.uid;
                Resumed::After(stored.uid)
            }
            Some(stored) => {
                self.passed = 0;
                Resumed::ValidityChanged { stored: stored.validity, now: validity }
            }
        }
    }

    /// The UID range to list (with sizes) for new mail: everything above what is passed or queued.
    pub fn listing_range(&self) -> String {
        let after = self.queue.back().map_or(self.passed.max(self.batch_end), |&(uid, _)| uid);
        format!("{}:*", after.saturating_add(1))
    }

    /// The server listed these mails (UID, RFC822.SIZE); returns how many are new. `n:*` also
    /// names the highest mail when none is above `n`: such UIDs are ignored.
    pub fn listed(&mut self, mails: impl IntoIterator<Item = (u32, u32)>) -> usize {
        let floor = self.queue.back().map_or(self.passed.max(self.batch_end), |&(uid, _)| uid);
        let mut new: Vec<(u32, u32)> = mails.into_iter().filter(|&(uid, _)| uid > floor).collect();
        new.sort_unstable();
        new.dedup_by_key(|&mut (uid, _)| uid);
        self.queue.extend(&new);
        new.len()
    }

    /// Mails listed and not yet handed over or passed (a progress figure).
    pub fn backlog(&self) -> usize {
        self.queue.len() + self.outstanding.len()
    }

    /// The next batch: at most `fetch_batch` mails and `fetch_batch_bytes` bytes (one larger
    /// mail goes alone); mails over `max_mail_bytes` ride along to be passed unread.
    pub fn next_batch(&mut self) -> Option<Batch> {
        debug_assert!(self.outstanding.is_empty(), "the previous batch is finished first");
        let mut batch = Batch::default();
        let mut bytes = 0u64;
        while let Some(&(uid, size)) = self.queue.front() {
            if batch.fetch.len() + batch.oversized.len() >= self.fetch_batch {
                break;
            }
            if u64::from(size) > self.max_mail_bytes {
                batch.oversized.push((uid, size));
            } else if batch.fetch.is_empty() || bytes + u64::from(size) <= self.fetch_batch_bytes {
                bytes += u64::from(size);
                batch.fetch.push(uid);
            } else {
                break;
            }
            self.queue.pop_front();
            self.batch_end = uid;
        }
        if batch.fetch.is_empty() && batch.oversized.is_empty() {
            return None;
        }
        self.outstanding = batch.fetch.iter().copied().collect();
        Some(batch)
    }

    /// The most a fetched mail may hold: what the partial fetch asks for is one byte more, so
    /// a server that under-reported a size is caught too.
    pub fn max_mail_bytes(&self) -> u64 {
        self.max_mail_bytes
    }

    /// Mail `uid` of the current batch is handed over now: the position to send with it, or
    /// `None` when it is not one the batch asked for (a duplicate or stray answer, ignored).
    pub fn handed_over(&mut self, uid: u32) -> Option<Position> {
        if !self.outstanding.remove(&uid) {
            return None;
        }
        self.awaiting.insert(uid);
        let upto = match self.outstanding.first() {
            Some(&lowest) => lowest - 1,
            None => self.batch_end,
        };
        // Never behind what was reported already (a lower UID came late).
        let position = Position { validity: self.validity, uid: upto.max(self.passed) };
        self.passed = position.uid;
        self.reported = Some(position);
        Some(position)
    }

    /// Mail `uid` of the current batch turned out too large (the server under-reported it):
    /// passed like an oversized one.
    pub fn refused(&mut self, uid: u32) {
        self.outstanding.remove(&uid);
    }

    /// The batch's answers are all in: what was not handed over (expunged meanwhile, too large)
    /// is passed.
    pub fn batch_done(&mut self) {
        self.outstanding.clear();
        self.passed = self.passed.max(self.batch_end);
    }

    /// The position to store on its own once a scan is over, when it moved past what the last
    /// mail carried (skipped mails at the end, a first run or new UIDVALIDITY with no mail).
    pub fn position_to_report(&mut self) -> Option<Position> {
        let position = Position { validity: self.validity, uid: self.passed };
        if self.reported == Some(position) {
            return None;
        }
        self.reported = Some(position);
        Some(position)
    }

    /// The bridge committed mail `uid` and says what it held.
    pub fn committed(&mut self, uid: u32, found: Committed) {
        if self.awaiting.remove(&uid) && found.opened > 0 && self.after_action != AfterAction::Leave {
            self.due.insert(uid);
        }
    }

    /// The bridge will never commit mail `uid` (it stopped first): nothing is done to it; the
    /// next run fetches it again, since its position was not stored either.
    pub fn abandoned(&mut self, uid: u32) {
        self.awaiting.remove(&uid);
    }

    /// Whether to wait for commits before idling: only when an after-action may follow.
    pub fn waits_for_commits(&self) -> bool {
        self.after_action != AfterAction::Leave && !self.awaiting.is_empty()
    }

    /// The mails whose after-action is due, in UID order; they are then no longer due.
    pub fn take_due(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.due).into_iter().collect()
    }

    /// The after-action of the settings.
    pub fn after_action(&self) -> &AfterAction {
        &self.after_action
    }

    /// A wait for news begins (an IDLE, or a pause between polls).
    pub fn waiting(&mut self, now: Instant) {
        self.waiting_since = Some(now);
    }

    /// When the current wait ends by itself: IDLE is renewed before servers drop it, and a
    /// server without IDLE is polled again.
    pub fn wait_deadline(&self, idle: bool, now: Instant) -> Instant {
        let since = self.waiting_since.unwrap_or(now);
        since + if idle { self.idle_renew } else { self.poll_interval }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(change: impl FnOnce(&mut EmailSettings)) -> EmailSettings {
        let mut settings = EmailSettings::new("me@example.org", "smtp.example.org");
        change(&mut settings);
        settings
    }

    fn reading(stored: Option<&str>, validity: u32) -> Mailbox {
        let mut mailbox = Mailbox::new(&settings(|s| s.after_action = AfterAction::Seen), stored);
        mailbox.selected(validity);
        mailbox
    }

    /// Hands over a whole batch in order; returns the positions sent.
    fn hand_over_all(mailbox: &mut Mailbox) -> Vec<u32> {
        let batch = mailbox.next_batch().expect("a batch");
        let positions = batch.fetch.iter().map(|&uid| mailbox.handed_over(uid).unwrap().uid).collect();
        mailbox.batch_done();
        positions
    }

    #[test]
    fn cursors_parse() {
        assert_eq!(Position::parse("1700000000:42"), Some(Position { validity: 1_700_000_000, uid: 42 }));
        assert_eq!(Position::parse("x:1"), None);
        assert_eq!(Position::parse("17"), None);
        assert_eq!(Position { validity: 5, uid: 9 }.to_cursor_value(), "5:9");
    }

    #[test]
    fn the_same_uidvalidity_resumes_after_the_stored_uid() {
        let mut mailbox = reading(Some("7:40"), 7);
        assert_eq!(mailbox.listing_range(), "41:*");
        // `41:*` with nothing above 40 names mail 40 itself: ignored.
        assert_eq!(mailbox.listed([(40, 10)]), 0);
        assert_eq!(mailbox.next_batch(), None);
        assert_eq!(mailbox.position_to_report(), None, "nothing moved");
    }

    #[test]
    fn a_new_uidvalidity_reads_the_folder_again() {
        let mut mailbox = Mailbox::new(&settings(|_| {}), Some("7:40"));
        assert_eq!(mailbox.selected(9), Resumed::ValidityChanged { stored: 7, now: 9 });
        assert_eq!(mailbox.listing_range(), "1:*");
        // The rebuilt folder numbers its mails from 1 again: a new mail under the old UID 40
        // is read too.
        mailbox.listed([(1, 10), (2, 10), (3, 10)]);
        assert_eq!(hand_over_all(&mut mailbox), [1, 2, 3]);
        assert_eq!(mailbox.position_to_report(), None, "the last mail carried 9:3");
        // An empty rebuilt folder: the new UIDVALIDITY is stored on its own.
        let mut empty = Mailbox::new(&settings(|_| {}), Some("7:40"));
        empty.selected(9);
        assert_eq!(empty.position_to_report(), Some(Position { validity: 9, uid: 0 }));
        assert_eq!(empty.position_to_report(), None);
    }

    #[test]
    fn a_first_run_reads_everything_and_stores_its_place_even_when_empty() {
        let mut mailbox = Mailbox::new(&settings(|_| {}), None);
        assert_eq!(mailbox.selected(3), Resumed::FirstRun);
        assert_eq!(mailbox.listing_range(), "1:*");
        assert_eq!(mailbox.position_to_report(), Some(Position { validity: 3, uid: 0 }));
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let mut mailbox = Mailbox::new(
            &settings(|s| {
                s.fetch_batch = 3;
                s.fetch_batch_bytes = 100;
            }),
            None,
        );
        mailbox.selected(1);
        mailbox.listed([(1, 10), (2, 10), (3, 10), (4, 10), (5, 60), (6, 60), (7, 500)]);
        assert_eq!(mailbox.next_batch().unwrap().fetch, [1, 2, 3], "three at most");
        mailbox.batch_done();
        assert_eq!(mailbox.next_batch().unwrap().fetch, [4, 5], "100 bytes at most");
        mailbox.batch_done();
        assert_eq!(mailbox.next_batch().unwrap().fetch, [6]);
        mailbox.batch_done();
        assert_eq!(mailbox.next_batch().unwrap().fetch, [7], "a larger mail goes alone");
        mailbox.batch_done();
        assert_eq!(mailbox.next_batch(), None);
        assert_eq!(mailbox.backlog(), 0);
    }

    #[test]
    fn oversized_mails_are_passed_unread_and_the_rest_flows() {
        let mut mailbox = Mailbox::new(&settings(|s| s.max_mail_bytes = 1000), None);
        mailbox.selected(1);
        mailbox.listed([(1, 100), (2, 5000), (3, 100), (4, 9000)]);
        let batch = mailbox.next_batch().unwrap();
        assert_eq!((batch.fetch, batch.oversized), (vec![1, 3], vec![(2, 5000), (4, 9000)]));
        assert_eq!(mailbox.handed_over(1).map(|p| p.uid), Some(2), "1, and 2 passed");
        assert_eq!(mailbox.handed_over(3).map(|p| p.uid), Some(4), "the batch's end: 4 passed too");
        mailbox.batch_done();
        assert_eq!(mailbox.position_to_report(), None, "mail 3 carried 1:4");
        assert_eq!(mailbox.listing_range(), "5:*", "never listed again");

        // Only an oversized mail: passed, its position stored on its own.
        mailbox.listed([(5, 2000)]);
        let batch = mailbox.next_batch().unwrap();
        assert_eq!((batch.fetch.len(), batch.oversized), (0, vec![(5, 2000)]));
        mailbox.batch_done();
        assert_eq!(mailbox.position_to_report(), Some(Position { validity: 1, uid: 5 }));
    }

    #[test]
    fn answers_out_of_order_never_claim_an_outstanding_uid() {
        let mut mailbox = reading(None, 1);
        mailbox.listed([(5, 1), (6, 1), (7, 1)]);
        mailbox.next_batch();
        assert_eq!(mailbox.handed_over(7).map(|p| p.uid), Some(4), "5 and 6 are still to come");
        assert_eq!(mailbox.handed_over(5).map(|p| p.uid), Some(5));
        assert_eq!(mailbox.handed_over(5), None, "a duplicate answer is ignored");
        assert_eq!(mailbox.handed_over(6).map(|p| p.uid), Some(7));
        // A mail expunged before its fetch is passed when the batch ends.
        mailbox.listed([(8, 1), (9, 1)]);
        mailbox.next_batch();
        mailbox.handed_over(8);
        mailbox.batch_done();
        assert_eq!(mailbox.position_to_report(), Some(Position { validity: 1, uid: 9 }));
    }

    #[test]
    fn after_actions_follow_commits_of_opened_pointers_only() {
        let mut mailbox = reading(None, 1);
        mailbox.listed([(1, 1), (2, 1), (3, 1), (4, 1)]);
        hand_over_all(&mut mailbox);
        assert!(mailbox.waits_for_commits());
        assert_eq!(mailbox.take_due(), Vec::<u32>::new(), "nothing before the commit");
        mailbox.committed(1, Committed::new(1, 1));
        mailbox.committed(2, Committed::new(2, 0)); // pointer-shaped junk, or no known chat
        mailbox.committed(3, Committed::new(0, 0)); // no pointer at all
        assert_eq!(mailbox.take_due(), [1]);
        assert!(mailbox.waits_for_commits(), "mail 4 is not committed yet");
        mailbox.committed(4, Committed::new(1, 1));
        mailbox.committed(4, Committed::new(1, 1));
        assert_eq!(mailbox.take_due(), [4], "once");
        assert!(!mailbox.waits_for_commits());
    }

    #[test]
    fn a_commit_that_never_comes_leads_to_no_after_action() {
        let mut mailbox = reading(None, 1);
        mailbox.listed([(1, 1)]);
        hand_over_all(&mut mailbox);
        mailbox.abandoned(1);
        mailbox.committed(1, Committed::new(1, 1)); // too late: not awaited any more
        assert_eq!(mailbox.take_due(), Vec::<u32>::new());
        assert!(!mailbox.waits_for_commits());
    }

    #[test]
    fn leave_never_waits_and_never_acts() {
        let mut mailbox = Mailbox::new(&settings(|_| {}), None);
        mailbox.selected(1);
        mailbox.listed([(1, 1)]);
        hand_over_all(&mut mailbox);
        assert!(!mailbox.waits_for_commits());
        mailbox.committed(1, Committed::new(1, 1));
        assert_eq!(mailbox.take_due(), Vec::<u32>::new());
    }

    #[test]
    fn idle_is_renewed_before_the_servers_limit_and_polls_follow_the_interval() {
        let mut mailbox = Mailbox::new(
            &settings(|s| {
                s.idle_renew = Duration::from_secs(25 * 60);
                s.poll_interval = Duration::from_secs(60);
            }),
            None,
        );
        let start = Instant::now();
        mailbox.waiting(start);
        let later = start + Duration::from_secs(600);
        assert_eq!(mailbox.wait_deadline(true, later), start + Duration::from_secs(1500));
        assert_eq!(mailbox.wait_deadline(false, later), start + Duration::from_secs(60));
        mailbox.waiting(later);
        assert_eq!(mailbox.wait_deadline(true, later), later + Duration::from_secs(1500));
    }
}

//! The bot's health counters and its two commands, `/status` and `/help`, answered to the
//! owner only. Answers hold counts and states, never a message text.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A command the bot understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Health and counts.
    Status,
    /// What the bot is and what it answers.
    Help,
}

/// Reads a command: the message's first word, `/status` or `/help`, optionally addressed
/// (`/status@SomeBot`). Anything else is not a command.
pub fn parse(text: &str) -> Option<Command> {
    let word = text.split_whitespace().next()?;
    let name = word.strip_prefix('/')?;
    let name = name.split_once('@').map_or(name, |(name, _bot)| name);
    match name {
        "status" => Some(Command::Status),
        "help" | "start" => Some(Command::Help),
        _ => None,
    }
}

/// Counters and states of one bot, kept across restarts of its receive loop.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Successful `getUpdates` answers.
    pub polls: AtomicU64,
    /// Failed `getUpdates` requests.
    pub poll_failures: AtomicU64,
    /// Updates looked at.
    pub updates: AtomicU64,
    /// Updates ignored (other chats, no text, other kinds).
    pub ignored: AtomicU64,
    /// Texts handed to the bridge (including reassembled pointers).
    pub forwarded: AtomicU64,
    /// Parts received.
    pub parts_received: AtomicU64,
    /// Sets reassembled.
    pub reassembled: AtomicU64,
    /// Sets dropped (corrupt, or beyond the memory bounds).
    pub sets_dropped: AtomicU64,
    /// Pointers sent.
    pub pointers_sent: AtomicU64,
    /// Messages sent (a long pointer takes several).
    pub messages_sent: AtomicU64,
    /// Sends that failed.
    pub send_failures: AtomicU64,
    /// 429 answers waited out.
    pub rate_limited: AtomicU64,
    /// Incomplete sets held now.
    pub pending_sets: AtomicU64,
    last_poll: Mutex<Option<Instant>>,
    last_error: Mutex<Option<String>>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl Health {
    /// Counters of a bot started at `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            polls: AtomicU64::new(0),
            poll_failures: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            parts_received: AtomicU64::new(0),
            reassembled: AtomicU64::new(0),
            sets_dropped: AtomicU64::new(0),
            pointers_sent: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            send_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            pending_sets: AtomicU64::new(0),
            last_poll: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn ago(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

impl Health {
    /// Records a successful poll.
    pub fn poll_succeeded(&self) {
        bump(&self.polls);
        *self.last_poll.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    }

    /// Records a failure (its text must hold no token and no message text).
    pub fn failed(&self, what: String) {
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(what);
    }

    /// The `/status` answer, as of `now`.
    pub fn status(&self, name: &str, now: Instant) -> String {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let last_poll = self.last_poll.lock().unwrap_or_else(std::sync::PoisonError::into_inner).map_or_else(
            || "never".to_owned(),
            |at| format!("{} ago", ago(now.saturating_duration_since(at))),
        );
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "none".to_owned());
        format!(
            "clm-bridge {name}: up {up}\n\
             polling: {polls} answers, {poll_failures} failures, last answer {last_poll}\n\
             received: {updates} updates, {forwarded} texts forwarded, {ignored} ignored\n\
             parts: {parts} received, {reassembled} pointers reassembled, {pending} sets incomplete, {dropped} sets dropped\n\
             sent: {pointers} pointers in {messages} messages, {send_failures} failures, {rate_limited} rate limits waited out\n\
             last error: {last_error}",
            up = ago(now.saturating_duration_since(self.started)),
            polls = count(&self.polls),
            poll_failures = count(&self.poll_failures),
            updates = count(&self.updates),
            forwarded = count(&self.forwarded),
            ignored = count(&self.ignored),
            parts = count(&self.parts_received),
            reassembled = count(&self.reassembled),
            pending = count(&self.pending_sets),
            dropped = count(&self.sets_dropped),
            pointers = count(&self.pointers_sent),
            messages = count(&self.messages_sent),
            send_failures = count(&self.send_failures),
            rate_limited = count(&self.rate_limited),
        )
    }
}

/// The `/help` answer.
pub fn help(name: &str) -> String {
    format!(
        "clm-bridge {name} carries Chrono-Library Messenger pointers between this chat and a bridge. \
         Post a pointer and the bridge opens it if it knows the chat; pointers longer than one message \
         arrive as numbered parts (clm-part ID i/n) and are put back together.\n\
         /status: health and counts (no message text)\n\
         /help: this text\n\
         Only the bot's owner gets answers."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_the_first_word_optionally_addressed() {
        assert_eq!(parse("/status"), Some(Command::Status));
        assert_eq!(parse("  /status@ClmBot now"), Some(Command::Status));
        assert_eq!(parse("/help"), Some(Command::Help));
        assert_eq!(parse("/start"), Some(Command::Help));
        for text in ["status", "/stat", "please /status", "", "/", "{\"e\":1}"] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn status_holds_counts_only_and_times_from_the_clock_it_is_given() {
        let started = Instant::now();
        let health = Health::new(started);
        bump(&health.forwarded);
        health.poll_succeeded();
        let status = health.status("telegram.t", started + Duration::from_secs(5));
        assert!(status.starts_with("clm-bridge telegram.t: up 5s\n"), "{status}");
        assert!(status.contains("1 texts forwarded") && status.contains("last error: none"), "{status}");
        let later = health.status("telegram.t", started + Duration::from_secs(3 * 3600 + 5));
        assert!(later.starts_with("clm-bridge telegram.t: up 3h\n"), "{later}");
        assert!(later.contains("last answer 3h ago"), "{later}");
    }
}

//! Everything the daemon shows on the terminal besides message lines: log lines and the
//! backlog progress bar (a stick full of pointers, a folder synced after a week away).
//!
//! All of it is written from the thread that runs the daemon's main future, the one that also
//! prints the message lines, so that log lines, message lines and the bar never draw over each
//! other. Log events from any thread are therefore queued ([`LogWriter`]) and written by
//! [`terminal`] on that thread, with the bar suspended.
//!
//! The bar is drawn on standard error only when that is a terminal; in a pipe, a log file or a
//! service manager it never appears. Log and message lines are written with the bar suspended,
//! so neither is drawn over.

use std::io::{self, IsTerminal as _, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::transports::Adapter;

/// Items waiting (found by transports, or queued for the store) before the bar appears.
pub const SHOW_AT: usize = 200;
/// How often the figures are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Where the bar is while it is shown, shared with whatever writes to the terminal.
#[derive(Debug, Clone, Default)]
pub struct ProgressSlot(Arc<Mutex<Option<ProgressBar>>>);

impl ProgressSlot {
    /// Runs `write` with the bar (if shown) cleared from the terminal, then redraws it.
    pub fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        let bar = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn set(&self, bar: Option<ProgressBar>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = bar;
    }

    /// Whether a bar is shown.
    pub fn is_shown(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }
}

/// Formatted log lines, queued for [`terminal`] (or [`write_logs`]) to write.
pub type LogQueue = mpsc::UnboundedReceiver<Vec<u8>>;

/// A `tracing` writer that queues each formatted event (tracing-subscriber formats a whole
/// event, then writes it in one call).
#[derive(Debug, Clone)]
pub struct LogWriter(mpsc::UnboundedSender<Vec<u8>>);

impl LogWriter {
    /// A writer and the queue it fills.
    pub fn new() -> (LogWriter, LogQueue) {
        let (sender, queue) = mpsc::unbounded_channel();
        (LogWriter(sender), queue)
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Nobody writes the queue any more (the daemon is gone): the line is dropped.
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

/// Writes every log line queued so far to standard error.
pub fn write_logs(queue: &mut LogQueue) {
    let mut stderr = io::stderr().lock();
    while let Ok(line) = queue.try_recv() {
        let _ = stderr.write_all(&line);
    }
}

/// What the bar shows: `done` out of `done + waiting` since it appeared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Items handled since the bar appeared.
    pub done: u64,
    /// Items found and not handled yet.
    pub waiting: u64,
}

/// Decides when the bar appears, what it shows, and when it goes.
#[derive(Debug, Default)]
pub struct Tracker {
    /// The `handled` count when the bar appeared, and the longest total shown so far (the
    /// total never shrinks while the bar is up: a rescan finding more only adds to it).
    shown: Option<(u64, u64)>,
}

/// What to do with the bar after a look at the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing shown, nothing to show.
    Hidden,
    /// Show (or keep showing) `position` out of `length`.
    Show {
        /// Handled since the bar appeared.
        position: u64,
        /// Total.
        length: u64,
    },
    /// The backlog is done: clear the bar.
    Done,
}

impl Tracker {
    /// `handled`: items handled since the daemon started; `waiting`: items not handled yet.
    pub fn step(&mut self, handled: u64, waiting: usize) -> Step {
        let waiting = waiting as u64;
        match self.shown {
            None if waiting < SHOW_AT as u64 => Step::Hidden,
            None => {
                self.shown = Some((handled, waiting));
                Step::Show { position: 0, length: waiting }
            }
            Some(_) if waiting == 0 => {
                self.shown = None;
                Step::Done
            }
            Some((start, longest)) => {
                let position = handled.saturating_sub(start);
                let length = longest.max(position + waiting);
                self.shown = Some((start, length));
                Step::Show { position, length }
            }
        }
    }
}

/// What waits: transports' own backlogs plus the inbound queue, and what was handled.
#[derive(Debug)]
pub struct Backlog {
    /// The transports.
    pub adapters: Vec<Adapter>,
    /// The inbound queue (weak: it must close when the transports stop).
    pub queue: mpsc::WeakSender<super::intake::Queued>,
    /// Items stored so far.
    pub handled: Arc<AtomicU64>,
}

impl Backlog {
    fn waiting(&self) -> usize {
        let queued = self.queue.upgrade().map_or(0, |tx| tx.max_capacity() - tx.capacity());
        self.adapters.iter().map(Adapter::backlog).sum::<usize>() + queued
    }
}

/// Writes queued log lines and keeps the bar up to date until `stop`; then writes what is
/// left and hands the queue back (for what the shutdown still logs). Must run on the thread
/// that owns the standard streams.
pub async fn terminal(
    slot: ProgressSlot,
    backlog: Backlog,
    mut logs: LogQueue,
    stop: CancellationToken,
) -> LogQueue {
    let bar_wanted = io::stderr().is_terminal();
    let style =
        ProgressStyle::with_template("{spinner} importing pointers {wide_bar} {pos}/{len}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut tracker = Tracker::default();
    let mut bar: Option<ProgressBar> = None;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(line) = logs.recv() => {
                let _ = slot.suspend(|| io::stderr().lock().write_all(&line));
            }
            _ = tick.tick(), if bar_wanted => {
                match tracker.step(backlog.handled.load(Ordering::Relaxed), backlog.waiting()) {
                    Step::Hidden => {}
                    Step::Show { position, length } => {
                        let shown = bar.get_or_insert_with(|| {
                            let new = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr())
                                .with_style(style.clone());
                            slot.set(Some(new.clone()));
                            new
                        });
                        shown.set_length(length);
                        shown.set_position(position);
                    }
                    Step::Done => {
                        if let Some(done) = bar.take() {
                            slot.set(None);
                            done.finish_and_clear();
                        }
                    }
                }
            }
        }
    }
    if let Some(left) = bar.take() {
        slot.set(None);
        left.finish_and_clear();
    }
    write_logs(&mut logs);
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_appears_for_a_backlog_grows_with_it_and_goes_when_done() {
        let mut tracker = Tracker::default();
        assert_eq!(tracker.step(0, 0), Step::Hidden);
        assert_eq!(tracker.step(5, SHOW_AT - 1), Step::Hidden, "a few files need no bar");
        assert_eq!(tracker.step(10, 1000), Step::Show { position: 0, length: 1000 });
        assert_eq!(tracker.step(410, 600), Step::Show { position: 400, length: 1000 });
        // A rescan found more: the total grows, never shrinks.
        assert_eq!(tracker.step(510, 900), Step::Show { position: 500, length: 1400 });
        assert_eq!(tracker.step(600, 10), Step::Show { position: 590, length: 1400 });
        assert_eq!(tracker.step(610, 0), Step::Done);
        assert_eq!(tracker.step(610, 3), Step::Hidden);
    }

    #[test]
    fn writing_without_a_bar_runs_at_once() {
        let slot = ProgressSlot::default();
        assert!(!slot.is_shown());
        assert_eq!(slot.suspend(|| 7), 7);
        slot.set(Some(ProgressBar::hidden()));
        assert!(slot.is_shown());
        assert_eq!(slot.suspend(|| 8), 8);
    }

    #[test]
    fn log_lines_from_any_thread_are_queued_whole_and_in_order() {
        let (writer, mut queue) = LogWriter::new();
        let mut from_main = writer.clone();
        from_main.write_all(b"first line\n").unwrap();
        let mut from_worker = writer;
        std::thread::spawn(move || from_worker.write_all(b"second line\n").unwrap()).join().unwrap();
        assert_eq!(queue.try_recv().unwrap(), b"first line\n");
        assert_eq!(queue.try_recv().unwrap(), b"second line\n");
        assert!(queue.try_recv().is_err());
    }
}

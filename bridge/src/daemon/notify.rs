//! `daemon.on_message`: a program run for every new message, with the message as one JSON line
//! on its standard input. Never on its command line, which every local user can read (`ps`,
//! /proc), and never with the vault passphrase in its environment.
//!
//! Runs happen one at a time, in arrival order, on a task of their own: a slow or hanging
//! program never holds up the daemon (each run is killed after a time limit), and a burst of
//! messages does not fork a burst of processes. Its output goes to the daemon's standard error,
//! so the daemon's standard output stays one line per message.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::app::PASSPHRASE_ENV;

/// How long one run may take before it is killed.
pub const RUN_TIME_LIMIT: Duration = Duration::from_secs(30);

/// The queue of runs and the task working through it.
#[derive(Debug)]
pub struct Notifier {
    queue: mpsc::UnboundedSender<Zeroizing<String>>,
    waiting: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts the task that runs `argv` (program first) for each message given to
    /// [`Notifier::notify`]. Must be called within a tokio runtime.
    pub fn start(argv: Vec<String>, time_limit: Duration) -> Notifier {
        let (queue, mut messages) = mpsc::unbounded_channel::<Zeroizing<String>>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let left = Arc::clone(&waiting);
        let task = tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                run_once(&argv, message.as_bytes(), time_limit).await;
                left.fetch_sub(1, Ordering::Relaxed);
            }
        });
        Notifier { queue, waiting, task }
    }

    /// Queues a run with `json_line` (one JSON object, newline-terminated) on its stdin.
    pub fn notify(&self, json_line: Zeroizing<String>) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(json_line).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Lets queued runs finish for up to `grace`, then gives up: the run in progress is killed
    /// and the rest are skipped. Returns how many queued runs were not started.
    pub async fn finish(self, grace: Duration) -> usize {
        let Notifier { queue, waiting, mut task } = self;
        drop(queue);
        if tokio::time::timeout(grace, &mut task).await.is_ok() {
            return 0;
        }
        task.abort();
        let skipped = waiting.load(Ordering::Relaxed).saturating_sub(1);
        tracing::warn!(
            skipped,
            "stopping before every on_message run was done: the one running was killed, the rest skipped"
        );
        skipped
    }
}

/// One run: spawn, feed the line, wait (killing it after `time_limit`). Failures are logged,
/// without the message.
async fn run_once(argv: &[String], json_line: &[u8], time_limit: Duration) {
    let Some((program, args)) = argv.split_first() else { return };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_remove(PASSPHRASE_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(std::io::stderr()))
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            tracing::warn!(program = %program, error = %error, "cannot start the on_message program");
            return;
        }
    };
    let stdin = child.stdin.take();
    let run = async {
        if let Some(mut stdin) = stdin {
            // A program that exits without reading its input is fine: ignore a broken pipe.
            let _ = stdin.write_all(json_line).await;
            drop(stdin);
        }
        child.wait().await
    };
    match tokio::time::timeout(time_limit, run).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!(program = %program, %status, "the on_message program failed"),
        Ok(Err(error)) => {
            tracing::warn!(program = %program, error = %error, "waiting for the on_message program failed")
        }
        Err(_) => {
            tracing::warn!(program = %program, limit = ?time_limit, "the on_message program took too long: killed");
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_order_with_the_line_on_stdin_not_argv() {
        let temp = tempfile::tempdir().unwrap();
        let out = temp.path().join("out");
        // Appends stdin, then its own argument count, so anything on argv would show.
        let script = format!("cat >> '{}'; echo \"args=$#\" >> '{}'", out.display(), out.display());
        let notifier = Notifier::start(shell(&script), Duration::from_secs(60));
        for n in 1..=3 {
            notifier.notify(Zeroizing::new(format!("{{\"n\":{n}}}\n")));
        }
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(written, "{\"n\":1}\nargs=0\n{\"n\":2}\nargs=0\n{\"n\":3}\nargs=0\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_run_is_killed_and_the_next_one_still_runs() {
        let temp = tempfile::tempdir().unwrap();
        let out = temp.path().join("out");
        let script = format!(
            "read -r line; case \"$line\" in *slow*) exec sleep 1000;; esac; echo \"$line\" >> '{}'",
            out.display()
        );
        let notifier = Notifier::start(shell(&script), Duration::from_millis(300));
        notifier.notify(Zeroizing::new("slow\n".into()));
        notifier.notify(Zeroizing::new("fast\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "fast\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_program_or_a_failing_one_is_only_logged() {
        let notifier = Notifier::start(vec!["/nonexistent/clm-notify".into()], Duration::from_secs(60));
        notifier.notify(Zeroizing::new("{}\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        let notifier = Notifier::start(shell("exit 3"), Duration::from_secs(60));
        notifier.notify(Zeroizing::new("{}\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finishing_gives_up_on_what_is_still_queued() {
        let notifier = Notifier::start(shell("exec sleep 1000"), Duration::from_secs(3600));
        for _ in 0..3 {
            notifier.notify(Zeroizing::new("{}\n".into()));
        }
        assert_eq!(notifier.finish(Duration::from_millis(200)).await, 2);
    }
}

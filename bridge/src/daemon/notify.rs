//! `daemon.on_message`: a program run for every new message, with the message as one JSON line
//! on its standard input. Never on its command line, which every local user can read (`ps`,
//! /proc), and never with the daemon's secrets in its environment: it starts with an empty
//! environment plus the variables `daemon.on_message_env` names (PATH, HOME, LANG and the like
//! by default), so transports' `*_env` passwords and tokens and the vault passphrase stay out.
//!
//! Runs happen one at a time, in arrival order, on a task of their own: a slow or hanging
//! program never holds up the daemon (each run is killed after a time limit), and a burst of
//! messages does not fork a burst of processes. The queue of runs is bounded in bytes
//! (`limits.on_message_queue_bytes`): a message that does not fit is stored and printed as
//! always, but gets no run (counted, and logged in the daemon's summary). Its output goes to the
//! daemon's standard error, so the daemon's standard output stays one line per message.

use std::ffi::OsString;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

/// How long one run may take before it is killed.
pub const RUN_TIME_LIMIT: Duration = Duration::from_secs(30);

/// What a run gets: the program and its arguments, its environment, its time limit.
#[derive(Debug, Clone)]
pub struct Program {
    /// Program first, then its arguments.
    pub argv: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, OsString)>,
    /// How long one run may take.
    pub time_limit: Duration,
}

impl Program {
    /// `argv` with those of the daemon's environment variables that `allowed` names.
    pub fn new(argv: Vec<String>, allowed: &[String], time_limit: Duration) -> Program {
        let env = allowed.iter().filter_map(|name| Some((name.clone(), std::env::var_os(name)?))).collect();
        Program { argv, env, time_limit }
    }
}

/// The queue of runs and the task working through it.
#[derive(Debug)]
pub struct Notifier {
    queue: mpsc::UnboundedSender<Zeroizing<String>>,
    waiting: Arc<AtomicUsize>,
    /// Bytes queued, and the most allowed.
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    skipped: AtomicU64,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts the task that runs `program` for each message given to [`Notifier::notify`],
    /// queueing at most `max_bytes` of messages. Must be called within a tokio runtime.
    pub fn start(program: Program, max_bytes: usize) -> Notifier {
        let (queue, mut messages) = mpsc::unbounded_channel::<Zeroizing<String>>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let (left, left_bytes) = (Arc::clone(&waiting), Arc::clone(&queued_bytes));
        let task = tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                run_once(&program, message.as_bytes(), program.time_limit).await;
                left_bytes.fetch_sub(message.len(), Ordering::Relaxed);
                left.fetch_sub(1, Ordering::Relaxed);
            }
        });
        Notifier { queue, waiting, queued_bytes, max_bytes, skipped: AtomicU64::new(0), task }
    }

    /// Queues a run with `json_line` (one JSON object, newline-terminated) on its stdin, unless
    /// the queue is full (then the run is counted as skipped; see [`Notifier::take_skipped`]).
    pub fn notify(&self, json_line: Zeroizing<String>) {
        let bytes = json_line.len();
        let fits = self
            .queued_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                // An empty queue takes any one message, however large.
                (queued == 0 || queued + bytes <= self.max_bytes).then_some(queued + bytes)
            })
            .is_ok();
        if !fits {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(json_line).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Runs skipped because the queue was full, since the last call.
    pub fn take_skipped(&self) -> u64 {
        self.skipped.swap(0, Ordering::Relaxed)
    }

    /// Lets queued runs finish for up to `grace`, then gives up: the run in progress is killed
    /// and the rest are skipped. Returns how many queued runs were not started.
    pub async fn finish(self, grace: Duration) -> usize {
        let Notifier { queue, waiting, mut task, .. } = self;
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
async fn run_once(run: &Program, json_line: &[u8], time_limit: Duration) {
    let Some((program, args)) = run.argv.split_first() else { return };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(run.env.iter().map(|(name, value)| (name, value)))
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

    fn program(argv: Vec<String>, time_limit: Duration) -> Program {
        Program { argv, env: vec![("PATH".into(), "/usr/bin:/bin".into())], time_limit }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_program_sees_only_the_allowed_variables() {
        let temp = tempfile::tempdir().unwrap();
        let out = temp.path().join("out");
        // The test process's own environment: PATH is allowed, CARGO_PKG_NAME (set by cargo for
        // tests, as a transport's password variable would be for the daemon) is not.
        let allowed = vec!["PATH".to_owned(), "CLM_NOT_SET_ANYWHERE".to_owned()];
        let run =
            Program::new(shell(&format!("env > '{}'", out.display())), &allowed, Duration::from_secs(60));
        assert_eq!(run.env.len(), 1, "unset variables are left out: {:?}", run.env);
        let notifier = Notifier::start(run, usize::MAX);
        notifier.notify(Zeroizing::new("{}\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        let env = std::fs::read_to_string(&out).unwrap();
        let names: Vec<&str> =
            env.lines().filter_map(|line| line.split_once('=')).map(|(name, _)| name).collect();
        assert!(names.contains(&"PATH"), "{env}");
        assert!(!names.contains(&"CARGO_PKG_NAME"), "{env}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_beyond_the_queue_bytes_get_no_run_and_are_counted() {
        let notifier = Notifier::start(program(shell("exec sleep 1000"), Duration::from_secs(3600)), 100);
        // The first fills the run in progress... and the queue takes what fits in 100 bytes.
        for _ in 0..10 {
            notifier.notify(Zeroizing::new(format!("{}\n", "x".repeat(39))));
        }
        assert_eq!(notifier.take_skipped(), 8, "two of 40 bytes fit in 100");
        assert_eq!(notifier.take_skipped(), 0);
        notifier.finish(Duration::from_millis(100)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_order_with_the_line_on_stdin_not_argv() {
        let temp = tempfile::tempdir().unwrap();
        let out = temp.path().join("out");
        // Appends stdin, then its own argument count, so anything on argv would show.
        let script = format!("cat >> '{}'; echo \"args=$#\" >> '{}'", out.display(), out.display());
        let notifier = Notifier::start(program(shell(&script), Duration::from_secs(60)), usize::MAX);
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
        // Long enough for a shell to start on a loaded machine; the slow run is killed at it.
        let notifier = Notifier::start(program(shell(&script), Duration::from_secs(2)), usize::MAX);
        notifier.notify(Zeroizing::new("slow\n".into()));
        notifier.notify(Zeroizing::new("fast\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "fast\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_program_or_a_failing_one_is_only_logged() {
        let notifier = Notifier::start(
            program(vec!["/nonexistent/clm-notify".into()], Duration::from_secs(60)),
            usize::MAX,
        );
        notifier.notify(Zeroizing::new("{}\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
        let notifier = Notifier::start(program(shell("exit 3"), Duration::from_secs(60)), usize::MAX);
        notifier.notify(Zeroizing::new("{}\n".into()));
        assert_eq!(notifier.finish(Duration::from_secs(60)).await, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finishing_gives_up_on_what_is_still_queued() {
        let notifier =
            Notifier::start(program(shell("exec sleep 1000"), Duration::from_secs(3600)), usize::MAX);
        for _ in 0..3 {
            notifier.notify(Zeroizing::new("{}\n".into()));
        }
        assert_eq!(notifier.finish(Duration::from_millis(200)).await, 2);
    }
}

//! `clm-bridge run`: the daemon (see `daemon`). Prints one line per new message on standard
//! output; logs go to standard error, filtered by `RUST_LOG` (default `info`).

use std::io::{IsTerminal as _, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::app::App;
use crate::cli::{GlobalArgs, RunArgs};
use crate::commands::Outcome;
use crate::daemon::progress::LogWriter;
use crate::daemon::{self, Options};
use crate::error::Error;

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(global: &GlobalArgs, args: RunArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let logs = init_logging();
    let app = App::open(&global.locations())?;
    daemon::run(app, Options { json: args.json }, logs, out)?;
    Ok(Outcome::Done)
}

/// Without `RUST_LOG`: our own information, and only warnings from the Matrix SDK, which at
/// `info` reports every empty sync.
const DEFAULT_LOG: &str = "info,matrix_sdk=warn,matrix_sdk_base=warn,matrix_sdk_crypto=error";

/// Logs to standard error, through the daemon's queue (see `daemon::progress`). `RUST_LOG`
/// directives that do not parse are ignored (the rest still apply) rather than stopping the
/// daemon.
fn init_logging() -> daemon::progress::LogQueue {
    let (writer, queue) = LogWriter::new();
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(directives)
        }
        _ => EnvFilter::new(DEFAULT_LOG),
    };
    // Already set (a test harness): that one stays, and the queue stays empty.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .finish();
    // matrix-sdk's expected "Account data not found" at every start is not an error to show.
    #[cfg(feature = "matrix")]
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(subscriber, crate::transports::QuietStart);
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
    queue
}

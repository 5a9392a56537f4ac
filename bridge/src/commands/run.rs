//! `clm-bridge run`: the daemon (see `daemon`). Prints one line per new message on standard
//! output; logs go to standard error, filtered by `RUST_LOG` (default `info`, or as `-v`/`-q`
//! say: see `logging`).

use std::io::Write;

use crate::app::App;
use crate::cli::{GlobalArgs, RunArgs};
use crate::commands::Outcome;
use crate::daemon::progress::LogWriter;
use crate::daemon::{self, Options};
use crate::error::Error;

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(global: &GlobalArgs, args: RunArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let logs = init_logging(global);
    let app = App::open(&global.locations())?;
    daemon::run(app, Options { json: args.json }, logs, out)?;
    Ok(Outcome::Done)
}

/// Logs to standard error, through the daemon's queue (see `daemon::progress`), filtered as
/// `logging::filter` says.
fn init_logging(global: &GlobalArgs) -> daemon::progress::LogQueue {
    let (writer, queue) = LogWriter::new();
    // Already set (a test harness): that one stays, and the queue stays empty.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(crate::logging::filter(global, true))
        .with_writer(writer)
        .with_ansi(crate::logging::ansi(global.color))
        .finish();
    // matrix-sdk's expected "Account data not found" at every start is not an error to show.
    #[cfg(feature = "matrix")]
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(subscriber, crate::transports::QuietStart);
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
    queue
}

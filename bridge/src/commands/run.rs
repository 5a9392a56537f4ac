//! `clm-bridge run`: the daemon (see `daemon`). Prints one line per new message on standard
//! output; logs go to standard error, filtered by `RUST_LOG` (default `info`, or as `-v`/`-q`
//! say: see `logging`).
//!
//! Before anything else it takes the data directory's run lock (one daemon per data
//! directory), and once the vault is open it scrubs `$CLM_BRIDGE_PASSPHRASE` from its own
//! environment, so the passphrase is not readable in `/proc/PID/environ` for the daemon's life.

use std::io::Write;

use crate::app::{self, App, PASSPHRASE_ENV};
use crate::cli::{GlobalArgs, RunArgs};
use crate::commands::Outcome;
use crate::daemon::progress::LogWriter;
use crate::daemon::{self, Options};
use crate::error::Error;
use crate::paths::RunLock;

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(global: &GlobalArgs, args: RunArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let logs = init_logging(global);
    let locations = global.locations();
    let data_dir = app::data_dir(&locations, &app::load_settings(&locations)?)?;
    // Without a bridge there, App::open says so; with one, only one daemon may own it.
    let _lock = data_dir.db_path().exists().then(|| RunLock::acquire(&data_dir)).transpose()?;
    let app = App::open(&locations)?;
    // Still the only thread: the daemon starts its runtime below.
    crate::environ::scrub(PASSPHRASE_ENV);
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

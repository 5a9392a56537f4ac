//! `clm-bridge`: encode and decode Chrono-Library Messenger pointers (and, later, the bridge
//! daemon). Exit status: 0 success, 1 decode opened nothing, 2 error (see `error.rs`).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use clm_bridge::cli::Cli;
use clm_bridge::commands;
use clm_bridge::error::Error;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help and --version).
    let cli = Cli::parse();
    // Unlocked handles: a command may write from several threads (the daemon's logs), and a lock
    // held here for the whole command would make every other thread's write wait forever.
    let mut out = std::io::stdout();
    let mut diagnostics = std::io::stderr();
    match commands::run(&cli.global, cli.command, &mut out, &mut diagnostics) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // The reader went away (`| head`): nothing left to tell anyone.
        Err(Error::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(diagnostics, "clm-bridge: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

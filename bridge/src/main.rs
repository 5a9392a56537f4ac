//! `clm-bridge`: CLM pointers over e-mail, Matrix, Telegram and shared folders: the command
//! line and the daemon. Exit status: 0 done, 1 nothing opened (doctor: warnings only),
//! 2 error, 3 a send queued, 130 interrupted (see `error.rs`).

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use clm_bridge::cli::{Cli, Command};
use clm_bridge::commands;
use clm_bridge::error::Error;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help and --version).
    let cli = parse_command_line();
    if !matches!(cli.command, Command::Run(_) | Command::Tui) {
        // The daemon logs through a writer of its own (see `commands::run`); the terminal UI
        // logs nothing (only its screen may reach the terminal).
        clm_bridge::logging::init_stderr(&cli.global);
    }
    // Unlocked handles: a command may write from several threads (the daemon's logs), and a lock
    // held here for the whole command would make every other thread's write wait forever.
    let mut out = std::io::stdout();
    let (mut stderr, mut sink) = (std::io::stderr(), std::io::sink());
    // -q: the commands' notes and warnings go nowhere; errors are still printed below.
    let diagnostics: &mut dyn std::io::Write = if cli.global.quiet { &mut sink } else { &mut stderr };
    match commands::run(&cli.global, cli.command, &mut out, diagnostics) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // The reader went away (`| head`): nothing left to tell anyone.
        Err(Error::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "clm-bridge: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Parses argv, with `--color` applied to clap's own help and errors too (clap needs to
/// know it before parsing, so the raw arguments are looked at first).
fn parse_command_line() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = color_flag(&args);
    let matches = Cli::command().color(color).get_matches_from(&args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// The last `--color WHEN` / `--color=WHEN` before a `--`, if it names a choice.
fn color_flag(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut choice = clap::ColorChoice::Auto;
    let mut words = args.iter().skip(1).map(|arg| arg.to_str().unwrap_or_default());
    while let Some(word) = words.next() {
        let value = match word {
            "--" => break,
            "--color" => words.next().unwrap_or_default(),
            _ => word.strip_prefix("--color=").unwrap_or_default(),
        };
        choice = match value {
            "always" => clap::ColorChoice::Always,
            "never" => clap::ColorChoice::Never,
            "auto" => clap::ColorChoice::Auto,
            _ => choice,
        };
    }
    choice
}

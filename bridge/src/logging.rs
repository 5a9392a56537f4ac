//! Log lines on standard error, for every command: `RUST_LOG` when it is set, else a level
//! from `-v`/`-q` (`run` starts at info, one-shot commands at warn: they report through their
//! own lines and exit status). Colours follow `--color`.

use std::io::IsTerminal as _;

use clap::ColorChoice;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::cli::GlobalArgs;

/// The levels `-q`, nothing, `-v`, `-vv`, ... step through.
const LEVELS: [LevelFilter; 5] =
    [LevelFilter::ERROR, LevelFilter::WARN, LevelFilter::INFO, LevelFilter::DEBUG, LevelFilter::TRACE];

/// The level of our own logs: `base` (an index into [`LEVELS`]) moved by the flags.
fn level(global: &GlobalArgs, base: usize) -> LevelFilter {
    if global.quiet {
        return LevelFilter::ERROR;
    }
    LEVELS[(base + usize::from(global.verbose)).min(LEVELS.len() - 1)]
}

/// The filter: `RUST_LOG` if set (directives that do not parse are ignored, the rest still
/// apply), else our level, with the Matrix SDK kept at warn at most (at info it reports every
/// empty sync) and its crypto store at error.
pub fn filter(global: &GlobalArgs, daemon: bool) -> EnvFilter {
    if let Ok(directives) = std::env::var("RUST_LOG")
        && !directives.trim().is_empty()
    {
        return EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(directives);
    }
    let level = level(global, if daemon { 2 } else { 1 });
    let sdk = level.min(LevelFilter::WARN);
    let crypto = level.min(LevelFilter::ERROR);
    EnvFilter::new(format!("{level},matrix_sdk={sdk},matrix_sdk_base={sdk},matrix_sdk_crypto={crypto}"))
}

/// Whether log lines on standard error get ANSI colours.
pub fn ansi(color: ColorChoice) -> bool {
    match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        _ => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Logs of a one-shot command, straight to standard error (the daemon has its own writer:
/// `commands::run`).
pub fn init_stderr(global: &GlobalArgs) {
    // Already set (a test harness): that one stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(global, false))
        .with_writer(std::io::stderr)
        .with_ansi(ansi(global.color))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(verbose: u8, quiet: bool) -> GlobalArgs {
        GlobalArgs { verbose, quiet, ..GlobalArgs::default() }
    }

    #[test]
    fn flags_move_the_level_from_each_commands_base() {
        assert_eq!(level(&global(0, false), 1), LevelFilter::WARN);
        assert_eq!(level(&global(1, false), 1), LevelFilter::INFO);
        assert_eq!(level(&global(0, false), 2), LevelFilter::INFO);
        assert_eq!(level(&global(2, false), 2), LevelFilter::TRACE);
        assert_eq!(level(&global(9, false), 2), LevelFilter::TRACE);
        assert_eq!(level(&global(0, true), 2), LevelFilter::ERROR);
    }

    #[test]
    fn colours_follow_the_flag() {
        assert!(ansi(ColorChoice::Always));
        assert!(!ansi(ColorChoice::Never));
    }
}

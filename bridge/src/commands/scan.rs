//! `clm-bridge scan`: find pointers in files or standard input (text, HTML or whole mails),
//! open those of known chats and store them in history; pointers no chat opens are kept as
//! pending for `chat add`. Prints one line for every message opened, new or already known.
//!
//! `receive` and `chat add` print what they open the same way (`opened.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::app::App;
use crate::cli::{GlobalArgs, ScanArgs};
use crate::commands::Outcome;
use crate::commands::opened::{Input, STDIN_ORIGIN, store_and_print};
use crate::error::{Error, usage};
use crate::input::read_scan_input;

/// The transport name arrivals from `scan` are recorded under.
pub const TRANSPORT: &str = "scan";

/// Runs `scan`.
pub fn run(
    global: &GlobalArgs,
    args: ScanArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    // Inputs first: a missing file is reported before the passphrase is asked for, and nothing
    // is stored unless every input could be read.
    let inputs = read_inputs(&args.files)?;
    let mut app = App::open(&global.locations())?;
    store_and_print(&mut app, TRANSPORT, &inputs, args.json, out, diagnostics)
}

/// Reads every FILE (`-`: standard input, at most once); no FILE at all means standard input.
pub fn read_inputs(files: &[PathBuf]) -> Result<Vec<Input>, Error> {
    let stdin = Path::new("-");
    if files.iter().filter(|f| *f == stdin).count() > 1 {
        return Err(usage("`-` (standard input) can be given only once"));
    }
    if files.is_empty() {
        return Ok(vec![Input { origin: STDIN_ORIGIN.to_owned(), bytes: read_scan_input(None)? }]);
    }
    files
        .iter()
        .map(|file| {
            let bytes = read_scan_input(Some(file))?;
            let origin = if file == stdin {
                STDIN_ORIGIN.to_owned()
            } else {
                // Absolute, so arrivals recorded from different working directories compare.
                std::path::absolute(file).unwrap_or_else(|_| file.clone()).display().to_string()
            };
            Ok(Input { origin, bytes })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_only_once_and_missing_files_fail() {
        let twice = read_inputs(&["-".into(), "-".into()]).unwrap_err();
        assert!(matches!(twice, Error::Usage(_)));
        let missing = read_inputs(&["/nonexistent/clm-bridge/scan".into()]).unwrap_err();
        assert!(matches!(missing, Error::Input { .. }));
    }
}

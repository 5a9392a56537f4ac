//! `clm-bridge receive`: CLM's "Receive a message". Paste what someone sent (a pointer, or a
//! whole mail or chat message around it) and end with Ctrl-D; it is then scanned like
//! `scan -`, recorded under the transport `receive`.

use std::io::{IsTerminal as _, Write};

use crate::app::App;
use crate::cli::{GlobalArgs, ReceiveArgs};
use crate::commands::Outcome;
use crate::commands::opened::{Input, STDIN_ORIGIN, store_and_print};
use crate::error::Error;
use crate::input::read_scan_input;

/// The transport name arrivals from `receive` are recorded under.
pub const TRANSPORT: &str = "receive";

/// Runs `receive`.
pub fn run(
    global: &GlobalArgs,
    args: ReceiveArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    // The vault first, so its passphrase prompt does not mix with the pasted text.
    let mut app = App::open(&global.locations())?;
    if std::io::stdin().is_terminal() {
        let _ = writeln!(diagnostics, "Paste the message you received, then press Ctrl-D on an empty line:");
        let _ = diagnostics.flush();
    }
    let bytes = read_scan_input(None)?;
    let inputs = [Input { origin: STDIN_ORIGIN.to_owned(), bytes }];
    store_and_print(&mut app, TRANSPORT, &inputs, args.json, out, diagnostics)
}

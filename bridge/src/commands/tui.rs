//! `clm-bridge tui`: the terminal UI ([`crate::tui`]) on the running daemon's API. Without a
//! daemon it says so and exits 2: the daemon is the one owner of the store while it runs, and
//! the UI needs it for sending and for the events it shows.

use std::io::IsTerminal as _;

use super::Outcome;
use crate::api::{self, Client};
use crate::app;
use crate::cli::GlobalArgs;
use crate::error::{Error, usage};

/// Runs the terminal UI until the person quits.
pub fn run(global: &GlobalArgs) -> Result<Outcome, Error> {
    let locations = global.locations();
    let settings = app::load_settings(&locations)?;
    let data_dir = app::data_dir(&locations, &settings)?;
    let socket = api::socket_path(&data_dir);
    // Two connections: one for the notifications, one for the calls.
    let (Ok(events), Ok(calls)) = (Client::connect(&socket), Client::connect(&socket)) else {
        return Err(Error::Daemon(format!(
            "no daemon runs for {}: the terminal UI is a client of its API; start it with `clm-bridge run` \
             (in another terminal, or as a service), then `clm-bridge tui` again",
            data_dir.root().display()
        )));
    };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage("the terminal UI needs a terminal (standard input and output)"));
    }
    crate::tui::run(events, calls).map_err(Error::Output)?;
    Ok(Outcome::Done)
}

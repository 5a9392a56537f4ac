//! `clm-bridge init --name NAME`: creates the data directory, the history database and the
//! vault (asking for a new passphrase, refused when easy to guess unless `--weak-passphrase`:
//! see `strength`), and records the local identity: the sender name of the pointers this
//! machine sends. Run again, it only renames, after the vault's passphrase was checked: a
//! wrong passphrase changes nothing.

use std::io::Write;

use clm_core::{Clm201Chat, Clm202Chat, NativeKeys};

use crate::app::App;
use crate::cli::{GlobalArgs, InitArgs};
use crate::commands::Outcome;
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::strength;

/// Runs `init`.
pub fn run(global: &GlobalArgs, args: InitArgs, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    validate_sender_name(&args.name)?;
    let weak_ok = args.weak_passphrase;
    let (app, created) = App::create_or_open(&global.locations(), |passphrase| {
        if weak_ok {
            return Ok(());
        }
        strength::check(passphrase, "the vault passphrase", "--weak-passphrase")
            .map(drop)
            .map_err(Error::from)
    })?;
    let before = app.store.identity()?;
    if before.as_deref() != Some(args.name.as_str()) {
        app.store.set_identity(&args.name)?;
    }
    let root = app.data_dir.root().display();
    let name = quoted(&args.name);
    let _ = match (created, before) {
        (true, _) | (false, None) => {
            writeln!(diagnostics, "clm-bridge: bridge ready in {root}; you send as {name}")
        }
        (false, Some(old)) if old == args.name => {
            writeln!(diagnostics, "clm-bridge: you already send as {name} (bridge in {root})")
        }
        (false, Some(old)) => {
            writeln!(diagnostics, "clm-bridge: you now send as {name} (was {})", quoted(&old))
        }
    };
    if let Some(configured) = &app.settings.identity_name
        && *configured != args.name
    {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: note: identity.name in the settings ({}) overrides this name",
            quoted(configured)
        );
    }
    Ok(Outcome::Done)
}

/// A sender name every format can carry: not empty, no control characters (it is shown on
/// terminals), and accepted by each format's encoder (clm201 splits at `": "`, clm202 at
/// `|¶|`, native allows 255 bytes).
pub fn validate_sender_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(usage("--name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(usage("--name contains control characters (line breaks, tabs, escapes)"));
    }
    // Trial encodings with throwaway keys: the formats' own rules, not a copy of them.
    let refused = Clm201Chat::new("check", "0", None)
        .and_then(|chat| chat.encode(name, "", 0).map(drop))
        .and_then(|()| Clm202Chat::new("check", "check").encode(name, "", 0, "0").map(drop))
        .and_then(|()| NativeKeys::from_root(&[0; 32]).encode(name, "", 0, [0; 16]).map(drop));
    refused.map_err(|error| usage(format!("--name cannot be a sender name: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted() {
        for name in ["alice", "Алиса", "bob smith", "a:b", "x|y"] {
            validate_sender_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn names_a_format_cannot_carry_are_refused() {
        for name in ["", "  ", "two\nlines", "esc\u{1b}", "a: b", "a|¶|b", "a|¶", &"x".repeat(256)] {
            let error = validate_sender_name(name).expect_err(name);
            assert!(matches!(&error, Error::Usage(m) if m.contains("--name")), "{name:?}: {error}");
        }
    }
}

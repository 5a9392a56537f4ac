//! `clm-bridge passphrase change`: a new vault key. The store re-seals every record under it and
//! re-keys every lookup column in one transaction ([`crate::store::Store::rekey`]), so a crash
//! leaves the old passphrase working and nothing half-converted.

use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::app::{self, App};
use crate::cli::{GlobalArgs, PassphraseCommand};
use crate::commands::Outcome;
use crate::error::{Error, usage};
use crate::secret::{SecretError, read_secret_file};
use crate::vault::{KdfParams, Vault};

/// The environment variable that may hold the new passphrase.
pub const NEW_PASSPHRASE_ENV: &str = "CLM_BRIDGE_NEW_PASSPHRASE";

/// Runs `passphrase change`.
pub fn run(
    global: &GlobalArgs,
    command: PassphraseCommand,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let PassphraseCommand::Change { new_passphrase_file } = command;
    let mut app = App::open(&global.locations())?;
    let new = new_passphrase(new_passphrase_file.as_deref())?;
    let current = app.store.require_vault_header()?;
    let params = KdfParams { ..current.params };
    let (vault, header) = Vault::create(new.as_bytes(), params, getrandom::fill)?;
    app.store.rekey(&vault, &header)?;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: the vault passphrase is changed; everything in {} is sealed under the new key",
        app.data_dir.root().display()
    );
    Ok(Outcome::Done)
}

/// The new passphrase: `$CLM_BRIDGE_NEW_PASSPHRASE`, else the file, else a prompt (twice).
fn new_passphrase(file: Option<&Path>) -> Result<Zeroizing<String>, Error> {
    if let Some(value) = std::env::var_os(NEW_PASSPHRASE_ENV).filter(|v| !v.is_empty()) {
        let value =
            value.into_string().map_err(|_| SecretError::NotUtf8 { origin: NEW_PASSPHRASE_ENV.into() })?;
        return Ok(Zeroizing::new(value));
    }
    if let Some(path) = file {
        let text = read_secret_file(path)?;
        if text.is_empty() {
            return Err(SecretError::Empty { origin: format!("file {}", path.display()) }.into());
        }
        return Ok(text);
    }
    app::prompt_passphrase("new vault passphrase", true)
        .map_err(|error| match error {
            Error::Usage(_) => usage(format!(
                "no new passphrase: set ${NEW_PASSPHRASE_ENV} or use --new-passphrase-file (no terminal to prompt on)"
            )),
            other => other,
        })
}

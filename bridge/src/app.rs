//! What every stateful command starts from: settings, the data directory, the history store
//! and the unlocked vault.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::cli::GlobalArgs;
use crate::config::{Settings, default_config_path};
use crate::error::Error;
use crate::paths::DataDir;
use crate::secret::{SecretError, read_secret_file};
use crate::store::Store;
use crate::vault::{KdfParams, Vault};

/// The environment variable that may hold the vault passphrase.
pub const PASSPHRASE_ENV: &str = "CLM_BRIDGE_PASSPHRASE";

/// Flags every stateful command shares (see `cli::GlobalArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--config`: required to exist when given.
    pub config: Option<PathBuf>,
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// The locations these flags name.
    pub fn locations(&self) -> Locations {
        Locations {
            data_dir: self.data_dir.clone(),
            config: self.config.clone(),
            passphrase_file: self.passphrase_file.clone(),
        }
    }
}

/// An opened bridge: settings, data dir, store and vault.
#[derive(Debug)]
pub struct App {
    /// Validated settings.
    pub settings: Settings,
    /// The data directory.
    pub data_dir: DataDir,
    /// History and chats.
    pub store: Store,
    /// The unlocked vault.
    pub vault: Vault,
}

/// Reads the settings: `--config` (must exist), else the default file (optional).
pub fn load_settings(locations: &Locations) -> Result<Settings, Error> {
    Ok(match &locations.config {
        Some(path) => Settings::load(Some(path), true)?,
        None => Settings::load(default_config_path().as_deref(), false)?,
    })
}

/// The data directory: `--data-dir`, `$CLM_BRIDGE_DATA_DIR`, the config's `identity.data_dir`,
/// then the XDG default.
pub fn data_dir(locations: &Locations, settings: &Settings) -> Result<DataDir, Error> {
    let env_set = std::env::var_os("CLM_BRIDGE_DATA_DIR").is_some_and(|v| !v.is_empty());
    let flag = locations.data_dir.clone().or_else(|| if env_set { None } else { settings.data_dir.clone() });
    Ok(DataDir::resolve(flag)?)
}

/// The passphrase: `$CLM_BRIDGE_PASSPHRASE`, else `--passphrase-file`, else a terminal prompt
/// (twice, when `confirm`, as for a new vault).
pub fn read_passphrase(file: Option<&Path>, confirm: bool) -> Result<Zeroizing<String>, Error> {
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV).filter(|v| !v.is_empty()) {
        let value =
            value.into_string().map_err(|_| SecretError::NotUtf8 { origin: PASSPHRASE_ENV.into() })?;
        return Ok(Zeroizing::new(value));
    }
    if let Some(path) = file {
        let text = read_secret_file(path)?;
        if text.is_empty() {
            return Err(SecretError::Empty { origin: format!("file {}", path.display()) }.into());
        }
        return Ok(text);
    }
    prompt_passphrase("vault passphrase", confirm).map_err(|error| match error {
        Error::Usage(_) => Error::Usage(format!(
            "no vault passphrase: set ${PASSPHRASE_ENV} or use --passphrase-file (no terminal to prompt on)"
        )),
        other => other,
    })
}

/// Asks for a passphrase on the terminal (twice, when `confirm`). Without a terminal: a usage
/// error the caller rewords.
pub fn prompt_passphrase(what: &str, confirm: bool) -> Result<Zeroizing<String>, Error> {
    if !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        return Err(Error::Usage(format!("no terminal to ask for the {what} on")));
    }
    let typed = Zeroizing::new(
        rpassword::prompt_password(format!("clm-bridge: {what}: ")).map_err(SecretError::Prompt)?,
    );
    if confirm {
        let again =
            Zeroizing::new(rpassword::prompt_password("clm-bridge: again: ").map_err(SecretError::Prompt)?);
        if *again != *typed {
            return Err(Error::Usage("the two passphrases differ".into()));
        }
    }
    Ok(typed)
}

impl App {
    /// Opens an initialised bridge (see `clm-bridge init`), unlocking its vault.
    pub fn open(locations: &Locations) -> Result<App, Error> {
        let settings = load_settings(locations)?;
        let data_dir = data_dir(locations, &settings)?;
        if !data_dir.db_path().exists() {
            return Err(Error::Usage(format!(
                "no bridge in {}: run `clm-bridge init --name NAME` first",
                data_dir.root().display()
            )));
        }
        data_dir.create()?;
        let mut store = Store::open(&data_dir.db_path())?;
        let header = store.require_vault_header()?;
        let passphrase = read_passphrase(locations.passphrase_file.as_deref(), false)?;
        let vault = Vault::open(passphrase.as_bytes(), &header)?;
        store.unlock(&vault)?;
        store.set_claim_seconds(settings.outbox.claim_seconds());
        Ok(App { settings, data_dir, store, vault })
    }

    /// Creates the data dir, store and vault if they do not exist yet, else opens them (so
    /// `init` run twice only renames the identity). Returns whether the vault was created.
    pub fn create_or_open(locations: &Locations) -> Result<(App, bool), Error> {
        let settings = load_settings(locations)?;
        let data_dir = data_dir(locations, &settings)?;
        data_dir.create()?;
        let mut store = Store::open(&data_dir.db_path())?;
        match store.vault_header()? {
            Some(header) => {
                let passphrase = read_passphrase(locations.passphrase_file.as_deref(), false)?;
                let vault = Vault::open(passphrase.as_bytes(), &header)?;
                store.unlock(&vault)?;
                store.set_claim_seconds(settings.outbox.claim_seconds());
                Ok((App { settings, data_dir, store, vault }, false))
            }
            None => {
                let passphrase = read_passphrase(locations.passphrase_file.as_deref(), true)?;
                let (vault, header) =
                    Vault::create(passphrase.as_bytes(), KdfParams::default(), getrandom::fill)?;
                store.set_vault_header(&header)?;
                store.unlock(&vault)?;
                store.set_claim_seconds(settings.outbox.claim_seconds());
                Ok((App { settings, data_dir, store, vault }, true))
            }
        }
    }

    /// The sender name: the config's `identity.name`, else the one stored by `init`.
    pub fn identity(&self) -> Result<String, Error> {
        match &self.settings.identity_name {
            Some(name) => Ok(name.clone()),
            None => self
                .store
                .identity()?
                .ok_or_else(|| Error::Usage("no identity: run `clm-bridge init --name NAME`".into())),
        }
    }
}

/// Seconds since the Unix epoch, from the system clock.
pub fn now() -> Result<u64, Error> {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).map_err(|_| Error::Clock)
}

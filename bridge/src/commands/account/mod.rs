//! `clm-bridge account add email|matrix|telegram NAME`: asks what an account needs (or takes
//! it from flags), checks it live, keeps its secret in a file of its own (mode 0600, under the
//! settings file's folder) and writes the `[KIND.NAME]` section into the settings file with
//! `config::edit` (comments and layout kept; validated by loading before it is written).
//! A failed check writes nothing. Each kind is in its own file, behind its cargo feature.
//!
//! This file holds what the kinds share: where things go (`Target`), how values and secrets
//! are had (`ask::Asker`), how checks are shown and the section written.

// Without any account kind built in, the shared pieces below have no caller.
#![cfg_attr(not(any(feature = "email", feature = "matrix", feature = "telegram")), allow(dead_code))]

mod ask;
#[cfg(feature = "email")]
mod email;
#[cfg(feature = "matrix")]
mod matrix;
#[cfg(feature = "telegram")]
mod telegram;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clm_adapters::{Check, CheckStatus};
use toml_edit::Table;

use crate::app::Locations;
use crate::cli::{AccountCommand, AccountKind, AddCommon, GlobalArgs};
use crate::commands::Outcome;
use crate::config::edit::{ConfigFile, write_secret_file};
use crate::config::{default_config_path, parse_duration};
use crate::error::Error;

/// Runs `account add KIND NAME`.
pub fn run(global: &GlobalArgs, command: AccountCommand, out: &mut dyn Write) -> Result<Outcome, Error> {
    let AccountCommand::Add(kind) = command;
    let locations = global.locations();
    match kind {
        #[cfg(feature = "email")]
        AccountKind::Email(args) => email::add(&locations, args, out),
        #[cfg(feature = "matrix")]
        AccountKind::Matrix(args) => matrix::add(&locations, args, out),
        #[cfg(feature = "telegram")]
        AccountKind::Telegram(args) => telegram::add(&locations, args, out),
        #[allow(unreachable_patterns)]
        other => {
            let _ = (locations, out);
            Err(not_built(&other))
        }
    }
}

/// The error for a kind this binary was built without.
fn not_built(kind: &AccountKind) -> Error {
    let kind = match kind {
        AccountKind::Email(_) => "email",
        AccountKind::Matrix(_) => "matrix",
        AccountKind::Telegram(_) => "telegram",
    };
    Error::Usage(format!(
        "this clm-bridge was built without the {kind} transport (cargo feature `{kind}`): it cannot add {kind} accounts"
    ))
}

/// Where an account's section and secret go, and how it is added.
#[derive(Debug)]
struct Target {
    /// `email`, `matrix` or `telegram`.
    kind: &'static str,
    /// The section's name.
    name: String,
    /// The settings file, as read.
    config: ConfigFile,
    /// `<config dir>/secrets/KIND.NAME.password` (or `.token`).
    secret_path: PathBuf,
    /// Replace an existing section.
    force: bool,
    /// Check live first.
    check: bool,
    /// The limit on each step of the check.
    timeout: Duration,
}

impl Target {
    /// The settings file `--config` (or the default one) names; refuses a taken NAME now,
    /// before anything is asked.
    fn new(
        locations: &Locations,
        kind: &'static str,
        common: &AddCommon,
        secret: &str,
    ) -> Result<Target, Error> {
        let name = &common.name;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || !name.chars().all(plain) {
            return Err(Error::Usage(format!(
                "`{}` cannot name a section: use letters, digits, - and _",
                name.escape_debug()
            )));
        }
        let path = locations.config.clone().or_else(default_config_path).ok_or_else(|| {
            Error::Usage("no settings file: pass --config PATH (or set $CLM_BRIDGE_CONFIG or $HOME)".into())
        })?;
        let config = ConfigFile::read(&path)?;
        config.check_free(kind, name, common.force)?;
        let folder = path.parent().map(PathBuf::from).unwrap_or_default();
        let secret_path = folder.join("secrets").join(format!("{kind}.{name}.{secret}"));
        let secret_path = std::path::absolute(&secret_path).unwrap_or(secret_path);
        let timeout =
            parse_duration(&common.timeout).map_err(|why| Error::Usage(format!("--timeout: {why}")))?;
        Ok(Target {
            kind,
            name: name.clone(),
            config,
            secret_path,
            force: common.force,
            check: !common.no_check,
            timeout,
        })
    }

    /// `KIND.NAME`.
    fn section(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }

    /// Puts the section into the settings being edited and loads them the normal way (from a
    /// temporary file: nothing is written yet); the loaded settings, or why they do not load.
    fn stage(&mut self, table: Table) -> Result<crate::config::Settings, Error> {
        let note = format!("Added by `clm-bridge account add {} {}`.", self.kind, self.name);
        self.config.set_section(self.kind, &self.name, table, &note, self.force)?;
        Ok(self.config.validate(&self.section())?)
    }

    /// Writes the secret (when there is one), then the settings file with the staged section.
    fn commit(self, secret: Option<&str>, out: &mut dyn Write) -> Result<(), Error> {
        let section = self.section();
        if let Some(secret) = secret {
            write_secret_file(&self.secret_path, secret)?;
        }
        self.config.save(&section)?;
        writeln!(out, "added [{section}] to {}", self.config.path().display()).map_err(Error::Output)?;
        if secret.is_some() {
            writeln!(out, "its secret is in {} (mode 0600)", self.secret_path.display())
                .map_err(Error::Output)?;
        }
        Ok(())
    }
}

/// A current-thread runtime for the live checks.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)
}

/// Prints the checks (`ok|warn|FAIL  what  detail`, as `doctor` does); an error when one failed.
fn report(checks: &[Check], out: &mut dyn Write) -> Result<(), Error> {
    for check in checks {
        let label = match check.status {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warn",
            CheckStatus::Failure => "FAIL",
        };
        writeln!(out, "{label:<4}  {}  {}", check.what, check.detail).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    match checks.iter().filter(|check| check.status == CheckStatus::Failure).count() {
        0 => Ok(()),
        failed => Err(Error::AccountCheck(failed)),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn kind(words: &[&str]) -> AccountKind {
        let cli =
            Cli::try_parse_from([&["clm-bridge", "account", "add"], words].concat()).expect("flags parse");
        match cli.command {
            Command::Account(AccountCommand::Add(kind)) => kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_kind_built_without_says_so() {
        let error = not_built(&kind(&["telegram", "bot"]));
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().contains("built without the telegram transport (cargo feature `telegram`)")
        );
        assert!(not_built(&kind(&["email", "work"])).to_string().contains("cannot add email accounts"));
    }

    #[test]
    fn secrets_are_never_flags() {
        for words in [
            &["email", "w", "--password", "x"][..],
            &["matrix", "m", "--password", "x"],
            &["telegram", "t", "--token", "x"],
            &["telegram", "t", "--password-env", "A", "--password-stdin"],
        ] {
            let words = [&["clm-bridge", "account", "add"][..], words].concat();
            assert!(Cli::try_parse_from(&words).is_err(), "{words:?}");
        }
        assert!(
            Cli::try_parse_from([
                "clm-bridge",
                "account",
                "add",
                "email",
                "w",
                "--password-env",
                "A",
                "--password-stdin"
            ])
            .is_err()
        );
    }
}

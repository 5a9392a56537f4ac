//! `clm-bridge doctor`: checks what a bridge needs, one line per check:
//! `ok|warn|FAIL  what  detail`. Exit status 0 when all is well, 1 when the worst is a
//! warning, 2 when a check failed. The e-mail, Matrix and Telegram accounts are checked live
//! (`doctor_transports.rs`).
//!
//! A check that cannot run because an earlier one failed (no store, so no vault) is not
//! printed: the earlier failure says what to fix first. Doctor changes nothing but what
//! opening the store always does (schema migrations); the drop probe file it writes is hidden
//! (ignored by every drop reader) and removed at once.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::app::{self, Locations};
use crate::cli::{DoctorArgs, GlobalArgs};
use crate::commands::Outcome;
use crate::commands::doctor_transports::{self, Unlocked};
use crate::config::{DropSettings, Settings, default_config_path};
use crate::error::Error;
use crate::paths::{DIR_MODE, DataDir, FILE_MODE};
use crate::store::{Store, schema};
use crate::transports::Context;
use crate::vault::Vault;

/// How a check came out. Ordered: the worst of a run decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but should be looked at (a loose file mode, nothing configured).
    Warn,
    /// Broken: the bridge cannot do this part of its job.
    Fail,
}

impl Status {
    /// As printed: `ok`, `warn`, `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// How it came out.
    pub status: Status,
    /// What was checked: `config`, `data dir`, `data files`, `store`, `vault`, `identity`,
    /// `drop.NAME`, `email.NAME`, `matrix.NAME`, `telegram.NAME`, `transports`, `gateway.NAME`.
    pub check: String,
    /// What was found, or what to do.
    pub detail: String,
}

impl Check {
    pub(super) fn new(status: Status, check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { status, check: check.into(), detail: detail.into() }
    }
}

/// Runs `doctor`.
pub fn run(global: &GlobalArgs, args: DoctorArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let timeout = Duration::from_secs(args.timeout);
    let checks = diagnose(&global.locations(), timeout, |file| app::read_passphrase(file, false));
    for check in &checks {
        write_check(out, check, args.json).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    match checks.iter().map(|check| check.status).max() {
        Some(Status::Fail) => {
            Err(Error::ChecksFailed(checks.iter().filter(|check| check.status == Status::Fail).count()))
        }
        Some(Status::Warn) => Ok(Outcome::Warnings),
        Some(Status::Ok) | None => Ok(Outcome::Done),
    }
}

fn write_check(out: &mut dyn Write, check: &Check, json: bool) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, check)?;
        return out.write_all(b"\n");
    }
    writeln!(out, "{:<4}  {:<10}  {}", check.status.label(), check.check, check.detail)
}

/// Runs every check. `passphrase` reads the vault passphrase (from the environment, the
/// `--passphrase-file` it is given, or a prompt); `timeout` bounds each transport account's
/// live check.
pub fn diagnose(
    locations: &Locations,
    timeout: Duration,
    passphrase: impl FnOnce(Option<&Path>) -> Result<zeroize::Zeroizing<String>, Error>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let settings = match app::load_settings(locations) {
        Ok(settings) => {
            let detail = match &settings.file {
                Some(file) => format!("{} (valid)", file.display()),
                None => match locations.config.clone().or_else(default_config_path) {
                    Some(path) => format!("no file at {}: defaults and environment", path.display()),
                    None => "no file: defaults and environment".to_owned(),
                },
            };
            checks.push(Check::new(Status::Ok, "config", detail));
            settings
        }
        Err(error) => {
            checks.push(Check::new(Status::Fail, "config", error.to_string()));
            Settings::default()
        }
    };

    // The store stays open, and the vault with it, for the transports that need them.
    let mut opened = None;
    match app::data_dir(locations, &settings) {
        Ok(dir) => {
            if let Some(mut store) = check_data_dir(&dir, &mut checks) {
                let vault = check_store_and_vault(&mut store, &settings, locations, passphrase, &mut checks);
                opened = vault.map(|vault| (Context::new(&dir, &vault), store));
            }
        }
        Err(error) => checks.push(Check::new(Status::Fail, "data dir", error.to_string())),
    }

    if ["drop", "email", "matrix", "telegram"].iter().all(|kind| settings.instances(kind).is_empty()) {
        checks.push(Check::new(
            Status::Warn,
            "transports",
            "none configured: add a [drop.NAME], [email.NAME], [matrix.NAME] or [telegram.NAME] section",
        ));
    }
    for (name, account) in &settings.drops {
        let (status, detail) = check_drop(account);
        checks.push(Check::new(status, format!("drop.{name}"), detail));
    }
    let unlocked = opened.as_ref().map(|(context, store)| Unlocked { context, store });
    checks.extend(doctor_transports::check(&settings, unlocked, timeout));
    let gateways = super::doctor_gateways::check(&settings, &checks);
    checks.extend(gateways);
    checks
}

/// Checks the data directory and its files; opens the store if there is one.
fn check_data_dir(dir: &DataDir, checks: &mut Vec<Check>) -> Option<Store> {
    let root = dir.root();
    let meta = match fs::metadata(root) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => {
            checks.push(Check::new(
                Status::Fail,
                "data dir",
                format!("{} is not a directory", root.display()),
            ));
            return None;
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let detail = format!("{} does not exist: run `clm-bridge init --name NAME`", root.display());
            checks.push(Check::new(Status::Fail, "data dir", detail));
            return None;
        }
        Err(error) => {
            checks.push(Check::new(Status::Fail, "data dir", format!("{}: {error}", root.display())));
            return None;
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    checks.push(if mode & !DIR_MODE == 0 {
        Check::new(Status::Ok, "data dir", format!("{} (mode {mode:04o})", root.display()))
    } else {
        // Everything sensitive in it is sealed, so a loose mode is a warning, not a failure.
        Check::new(
            Status::Warn,
            "data dir",
            format!("{} has mode {mode:04o}, not {DIR_MODE:04o}: chmod 700 it", root.display()),
        )
    });
    checks.push(check_file_modes(root));

    let db = dir.db_path();
    if !db.exists() {
        let detail = format!("no history database in {}: run `clm-bridge init --name NAME`", root.display());
        checks.push(Check::new(Status::Fail, "store", detail));
        return None;
    }
    match Store::open(&db) {
        Ok(store) => Some(store),
        Err(error) => {
            checks.push(Check::new(Status::Fail, "store", error.to_string()));
            None
        }
    }
}

/// Files in the data directory readable or writable by anyone but the owner.
fn check_file_modes(root: &Path) -> Check {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) => return Check::new(Status::Fail, "data files", format!("cannot list: {error}")),
    };
    let mut loose = Vec::new();
    let mut files = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        files += 1;
        let mode = meta.permissions().mode() & 0o777;
        if mode & !FILE_MODE != 0 {
            loose.push(format!("{} ({mode:04o})", entry.file_name().to_string_lossy()));
        }
    }
    if loose.is_empty() {
        Check::new(Status::Ok, "data files", format!("{files} file(s), all mode {FILE_MODE:04o} or stricter"))
    } else {
        loose.sort();
        Check::new(
            Status::Warn,
            "data files",
            format!("open to others: {}: chmod 600 them", loose.join(", ")),
        )
    }
}

/// The store's contents, the identity, and the vault; the vault if it opened (the store is
/// unlocked then).
fn check_store_and_vault(
    store: &mut Store,
    settings: &Settings,
    locations: &Locations,
    passphrase: impl FnOnce(Option<&Path>) -> Result<zeroize::Zeroizing<String>, Error>,
    checks: &mut Vec<Check>,
) -> Option<Vault> {
    let counts = (|| -> Result<String, Error> {
        let version = store.schema_version()?;
        Ok(format!(
            "{} (schema version {version} of {}): {} chat(s), {} message(s), {} pending pointer(s)",
            store.path().display(),
            schema::current_version(),
            store.chat_count()?,
            store.message_count()?,
            store.pending_count()?
        ))
    })();
    match counts {
        Ok(detail) => checks.push(Check::new(Status::Ok, "store", detail)),
        Err(error) => checks.push(Check::new(Status::Fail, "store", error.to_string())),
    }

    let vault = check_vault(store, locations, passphrase, checks);
    let unlocked = vault.is_some();
    let identity = if unlocked { store.identity() } else { Ok(None) };
    match (&settings.identity_name, identity) {
        (Some(name), _) => {
            checks.push(Check::new(Status::Ok, "identity", format!("{name:?} (from the config)")))
        }
        (None, Ok(Some(name))) => checks.push(Check::new(Status::Ok, "identity", format!("{name:?}"))),
        (None, Ok(None)) if unlocked => checks.push(Check::new(
            Status::Warn,
            "identity",
            "none: run `clm-bridge init --name NAME` before sending",
        )),
        (None, Ok(None)) => {
            checks.push(Check::new(Status::Warn, "identity", "sealed in the vault, which did not open"))
        }
        (None, Err(error)) => checks.push(Check::new(Status::Fail, "identity", error.to_string())),
    }
    vault
}

/// Opens the vault with the passphrase, then unseals every chat secret with it.
/// Returns the vault if it opened (the store is unlocked then).
fn check_vault(
    store: &mut Store,
    locations: &Locations,
    passphrase: impl FnOnce(Option<&Path>) -> Result<zeroize::Zeroizing<String>, Error>,
    checks: &mut Vec<Check>,
) -> Option<Vault> {
    let (check, vault) = vault_check(store, locations, passphrase);
    checks.push(check);
    vault
}

/// The vault check, and the vault once the store is unlocked with it (chat secrets that do not
/// unseal fail the check, yet the transports can still be checked).
fn vault_check(
    store: &mut Store,
    locations: &Locations,
    passphrase: impl FnOnce(Option<&Path>) -> Result<zeroize::Zeroizing<String>, Error>,
) -> (Check, Option<Vault>) {
    let fail = |detail: String| Check::new(Status::Fail, "vault", detail);
    let header = match store.require_vault_header() {
        Ok(header) => header,
        Err(error) => return (fail(error.to_string()), None),
    };
    let vault = passphrase(locations.passphrase_file.as_deref())
        .and_then(|passphrase| Ok(Vault::open(passphrase.as_bytes(), &header)?))
        .and_then(|vault| Ok(store.unlock(&vault).map(|()| vault)?));
    let vault = match vault {
        Ok(vault) => vault,
        Err(error) => return (fail(error.to_string()), None),
    };
    let chats = match store.list_chats() {
        Ok(chats) => chats,
        Err(error) => return (fail(error.to_string()), Some(vault)),
    };
    let broken: Vec<String> = chats
        .iter()
        .filter(|chat| store.chat_secret(chat.id).is_err())
        .map(|chat| format!("{:?}", chat.name))
        .collect();
    if !broken.is_empty() {
        let detail = format!("opens, but the secrets of {} do not unseal", broken.join(", "));
        return (fail(detail), Some(vault));
    }
    let params = header.params;
    let detail = format!(
        "opens with the passphrase ({} m={} KiB t={} p={}); {} chat secret(s) unseal",
        header.kdf,
        params.m_kib,
        params.t,
        params.p,
        chats.len()
    );
    (Check::new(Status::Ok, "vault", detail), Some(vault))
}

/// A drop folder: there, a directory, listable, and writable (a hidden probe file is created
/// and removed; drop readers ignore hidden files).
fn check_drop(account: &DropSettings) -> (Status, String) {
    let path = &account.path;
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return (Status::Fail, format!("{} is not a directory", path.display())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return (
                Status::Fail,
                format!("{} does not exist (stick not plugged in? share not mounted?)", path.display()),
            );
        }
        Err(error) => return (Status::Fail, format!("{}: {error}", path.display())),
    }
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries.count(),
        Err(error) => return (Status::Fail, format!("{} cannot be listed: {error}", path.display())),
    };
    if let Err(error) = probe_write(path) {
        return (Status::Fail, format!("{} is not writable: {error}", path.display()));
    }
    (Status::Ok, format!("{}: readable and writable, {entries} entries", path.display()))
}

/// Creates, writes, syncs and removes a hidden file in `folder`.
fn probe_write(folder: &Path) -> io::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|error| io::Error::other(error.to_string()))?;
    let name = format!(".clm-bridge-doctor-{}-{}.tmp", std::process::id(), u64::from_le_bytes(random));
    let probe = folder.join(name);
    let written = fs::OpenOptions::new().write(true).create_new(true).open(&probe).and_then(|mut file| {
        file.write_all(b"clm-bridge doctor probe\n")?;
        file.sync_all()
    });
    // Removed whether or not the write worked, if it was created at all.
    let removed = fs::remove_file(&probe);
    written?;
    removed
}

#[cfg(test)]
mod tests {
    use std::fs::Permissions;

    use super::*;

    fn drop_at(path: &Path) -> DropSettings {
        DropSettings::new(path)
    }

    #[test]
    fn a_usable_drop_folder_passes_and_keeps_no_probe() {
        let temp = tempfile::tempdir().unwrap();
        fs::write(temp.path().join("clm-00.json"), b"{}").unwrap();
        let (status, detail) = check_drop(&drop_at(temp.path()));
        assert_eq!(status, Status::Ok, "{detail}");
        assert!(detail.ends_with("readable and writable, 1 entries"), "{detail}");
        let names: Vec<_> = fs::read_dir(temp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["clm-00.json"], "the probe is removed");
    }

    #[test]
    fn a_missing_or_unusable_drop_folder_fails() {
        let temp = tempfile::tempdir().unwrap();
        let (status, detail) = check_drop(&drop_at(&temp.path().join("unplugged")));
        assert_eq!(status, Status::Fail);
        assert!(detail.contains("does not exist"), "{detail}");

        let file = temp.path().join("a-file");
        fs::write(&file, b"x").unwrap();
        assert_eq!(check_drop(&drop_at(&file)).0, Status::Fail);

        let read_only = temp.path().join("read-only");
        fs::create_dir(&read_only).unwrap();
        fs::set_permissions(&read_only, Permissions::from_mode(0o500)).unwrap();
        // Root writes anywhere: only meaningful for other users.
        if probe_write(&read_only).is_err() {
            let (status, detail) = check_drop(&drop_at(&read_only));
            assert_eq!(status, Status::Fail);
            assert!(detail.contains("not writable"), "{detail}");
        }
        fs::set_permissions(&read_only, Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn loose_file_modes_are_warned_about() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("history.sqlite3");
        fs::write(&file, b"").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o600)).unwrap();
        assert_eq!(check_file_modes(temp.path()).status, Status::Ok);
        fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        let check = check_file_modes(temp.path());
        assert_eq!(check.status, Status::Warn);
        assert!(check.detail.contains("history.sqlite3 (0644)"), "{}", check.detail);
    }

    /// A bridge data dir with a cheap vault, and a config with one drop folder.
    fn bridge(temp: &Path, drop_folder: &Path) -> Locations {
        let data = DataDir::at(temp.join("data"));
        data.create().unwrap();
        let mut store = Store::open(&data.db_path()).unwrap();
        let cheap = crate::vault::KdfParams { m_kib: 64, t: 1, p: 1 };
        let (vault, header) = Vault::create(b"right", cheap, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        store.unlock(&vault).unwrap();
        store.set_identity("alice").unwrap();
        let config = temp.join("config.toml");
        fs::write(&config, format!("[drop.usb]\npath = {:?}\n", drop_folder.display().to_string())).unwrap();
        Locations { data_dir: Some(data.root().to_owned()), config: Some(config), passphrase_file: None }
    }

    fn summary(checks: &[Check]) -> Vec<(Status, &str)> {
        checks.iter().map(|check| (check.status, check.check.as_str())).collect()
    }

    #[test]
    fn a_healthy_bridge_passes_every_check() {
        let temp = tempfile::tempdir().unwrap();
        let locations = bridge(temp.path(), temp.path());
        let checks =
            diagnose(&locations, Duration::from_secs(5), |_| Ok(zeroize::Zeroizing::new("right".to_owned())));
        assert_eq!(
            summary(&checks),
            [
                (Status::Ok, "config"),
                (Status::Ok, "data dir"),
                (Status::Ok, "data files"),
                (Status::Ok, "store"),
                (Status::Ok, "vault"),
                (Status::Ok, "identity"),
                (Status::Ok, "drop.usb"),
            ],
            "{checks:#?}"
        );
        assert!(checks[3].detail.contains("0 chat(s), 0 message(s), 0 pending"), "{}", checks[3].detail);
    }

    #[test]
    fn a_wrong_passphrase_and_a_missing_folder_fail() {
        let temp = tempfile::tempdir().unwrap();
        let locations = bridge(temp.path(), &temp.path().join("unplugged"));
        let checks =
            diagnose(&locations, Duration::from_secs(5), |_| Ok(zeroize::Zeroizing::new("wrong".to_owned())));
        let failed: Vec<&str> = checks
            .iter()
            .filter(|check| check.status == Status::Fail)
            .map(|check| check.check.as_str())
            .collect();
        assert_eq!(failed, ["vault", "drop.usb"], "{checks:#?}");
    }

    #[test]
    fn no_bridge_fails_at_the_data_dir_and_skips_what_needs_it() {
        let temp = tempfile::tempdir().unwrap();
        let locations =
            Locations { data_dir: Some(temp.path().join("none")), config: None, passphrase_file: None };
        let checks =
            diagnose(&locations, Duration::from_secs(5), |_| panic!("no vault to ask a passphrase for"));
        let kinds = summary(&checks);
        assert_eq!(kinds[1], (Status::Fail, "data dir"), "{checks:#?}");
        assert!(checks[1].detail.contains("clm-bridge init"), "{}", checks[1].detail);
        assert!(!kinds.iter().any(|(_, check)| *check == "vault" || *check == "store"));
    }

    #[test]
    fn no_transport_of_any_kind_is_warned_about_and_an_unreadable_token_fails_its_line() {
        let temp = tempfile::tempdir().unwrap();
        let locations = bridge(temp.path(), temp.path());
        let config = locations.config.clone().unwrap();
        let right = |_: Option<&Path>| Ok(zeroize::Zeroizing::new("right".to_owned()));
        fs::write(&config, "").unwrap();
        let checks = diagnose(&locations, Duration::from_secs(5), right);
        let last = checks.last().unwrap();
        assert_eq!((last.status, last.check.as_str()), (Status::Warn, "transports"), "{checks:#?}");
        for kind in ["[drop.NAME]", "[email.NAME]", "[matrix.NAME]", "[telegram.NAME]"] {
            assert!(last.detail.contains(kind), "{}", last.detail);
        }

        // A section of any kind is a transport; one whose secret cannot be read is a FAIL line
        // naming where the secret was to come from, and the checks go on.
        let unset = "CLM_BRIDGE_DOCTOR_TEST_UNSET_TOKEN";
        fs::write(&config, format!("[telegram.bot]\ntoken_env = {unset:?}\nallowed_chats = [1]\n")).unwrap();
        let checks = diagnose(&locations, Duration::from_secs(5), right);
        let last = checks.last().unwrap();
        assert!(!checks.iter().any(|check| check.check == "transports"), "{checks:#?}");
        assert_eq!((last.status, last.check.as_str()), (Status::Fail, "telegram.bot"), "{checks:#?}");
        if cfg!(feature = "telegram") {
            assert!(
                last.detail.starts_with("[telegram.bot] token: ") && last.detail.contains(unset),
                "{last:?}"
            );
        } else {
            assert!(last.detail.contains("built without the telegram transport"), "{last:?}");
        }
    }

    #[test]
    fn lines_are_aligned_text_or_json() {
        let check = Check::new(Status::Fail, "vault", "wrong passphrase");
        let mut text = Vec::new();
        write_check(&mut text, &check, false).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), "FAIL  vault       wrong passphrase\n");
        let mut json = Vec::new();
        write_check(&mut json, &check, true).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"status\":\"fail\",\"check\":\"vault\",\"detail\":\"wrong passphrase\"}\n"
        );
    }
}

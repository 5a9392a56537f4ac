//! `account add matrix NAME`: the homeserver, the user and the password; the live check logs
//! the receive loop's device in once (its session kept sealed in the vault, as `run` keeps it:
//! so this needs the vault passphrase) and asks the homeserver (whoami, device keys), then the
//! `[matrix.NAME]` section with `password_file`.

use std::io::Write;

use clm_adapters::matrix::{MatrixAuth, MatrixTransport, check, log_in};
use clm_adapters::{Check, CheckStatus, TransportError};
use toml_edit::{Array, Table, value};
use zeroize::Zeroizing;

use super::ask::{Asker, SecretFlags};
use super::{Target, report, runtime};
use crate::app::{App, Locations};
use crate::cli::MatrixAddArgs;
use crate::commands::Outcome;
use crate::config::MatrixSettings;
use crate::error::Error;
use crate::transports::Context;

/// Runs `account add matrix`.
pub fn add(locations: &Locations, args: MatrixAddArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let mut target = Target::new(locations, "matrix", &args.common, "password")?;
    let flags = SecretFlags {
        key: "password",
        env: args.password.password_env.as_deref(),
        stdin: args.password.password_stdin,
    };
    let asker = Asker::new(flags);
    let needed = [(args.homeserver.is_some(), "--homeserver URL"), (args.user.is_some(), "--user USER_ID")];
    asker.require(&needed, Some(flags))?;
    let homeserver =
        asker.value(args.homeserver.clone(), "homeserver URL (https://...)", "--homeserver URL")?;
    let user = asker.value(args.user.clone(), "user id (@name:server)", "--user USER_ID")?;
    let mut settings = MatrixSettings::new(homeserver, user);
    settings.password_file = Some(target.secret_path.clone());
    settings.allowed_inviters.clone_from(&args.allow_inviter);
    // Loaded the normal way before anything else, so a bad URL or user id is refused before
    // the password travels anywhere.
    let loaded = target.stage(section(&settings))?;
    let settings = loaded.matrices.get(&target.name).cloned().unwrap_or(settings);
    let password = asker.secret(flags, &format!("password of {}", settings.user_id))?;
    if target.check {
        let app = App::open(locations)?;
        let name = target.section();
        let checks = runtime()?.block_on(login_and_check(&app, name, settings, password.clone(), &target));
        report(&checks, out)?;
    }
    target.commit(Some(password.as_str()), out)?;
    writeln!(
        out,
        "route a chat over it: clm-bridge chat route CHAT --via matrix.{}:!ROOM:SERVER",
        args.common.name
    )
    .map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// Logs the receive loop's device in (once; the session is sealed in the vault), then checks
/// the account as `doctor` does.
async fn login_and_check(
    app: &App,
    name: String,
    settings: MatrixSettings,
    password: Zeroizing<String>,
    target: &Target,
) -> Vec<Check> {
    let context = Context::new(&app.data_dir, &app.vault);
    let (state_dir, secrets) = (context.state_dir(&name), context.secrets(&name));
    let transport = MatrixTransport::new(name, settings, MatrixAuth::Password(password), state_dir, secrets);
    let login = tokio::time::timeout(target.timeout, log_in(&transport)).await;
    let failed = |detail: String| vec![Check::failure("Matrix login", detail)];
    match login {
        Ok(Ok(())) => {
            check(&transport, &[], target.timeout).await.into_iter().map(before_first_run).collect()
        }
        Ok(Err(TransportError::Refused(_, why))) => failed(why),
        Ok(Err(error)) => failed(error.to_string()),
        Err(_) => failed(format!("no answer within {:?}", target.timeout)),
    }
}

/// A device just logged in has uploaded no encryption keys yet: its first sync, in
/// `clm-bridge run`, does. That is said as a warning here, not as the failure `doctor` sees.
fn before_first_run(check: Check) -> Check {
    if check.what == "Matrix encryption keys" && check.status == CheckStatus::Failure {
        return Check::warning(check.what, check.detail);
    }
    check
}

/// The `[matrix.NAME]` section: the homeserver, the user, where the password is, inviters.
fn section(settings: &MatrixSettings) -> Table {
    let mut table = Table::new();
    table.insert("homeserver", value(settings.homeserver.as_str()));
    table.insert("user_id", value(settings.user_id.as_str()));
    if let Some(file) = &settings.password_file {
        table.insert("password_file", value(file.to_string_lossy().as_ref()));
    }
    if !settings.allowed_inviters.is_empty() {
        let inviters: Array = settings.allowed_inviters.iter().map(String::as_str).collect();
        table.insert("allowed_inviters", value(inviters));
    }
    table
}

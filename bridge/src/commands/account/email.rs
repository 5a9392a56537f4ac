//! `account add email NAME`: the address, the servers found from it (the adapter's
//! `discover`: autoconfig files, then the usual host names) with the flags' overrides, the
//! password, the live check (SMTP login without sending, IMAP login, IDLE, folder), then the
//! `[email.NAME]` section with `password_file`.

use std::io::Write;

use clm_adapters::email::{Discovery, EmailSettings, Security, check, discover};
use toml_edit::{Table, value};

use super::ask::{Asker, SecretFlags};
use super::{Target, report, runtime};
use crate::app::Locations;
use crate::cli::{EmailAddArgs, SecurityArg};
use crate::commands::Outcome;
use crate::error::Error;

/// Runs `account add email`.
pub fn add(locations: &Locations, args: EmailAddArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let mut target = Target::new(locations, "email", &args.common, "password")?;
    let flags = SecretFlags {
        key: "password",
        env: args.password.password_env.as_deref(),
        stdin: args.password.password_stdin,
    };
    let asker = Asker::new(flags);
    asker.require(&[(args.address.is_some(), "--address ADDRESS")], Some(flags))?;
    let address = asker.value(args.address.clone(), "e-mail address", "--address ADDRESS")?;
    let runtime = runtime()?;
    let mut settings = runtime.block_on(servers(&address, &args, out))?;
    settings.password_file = Some(target.secret_path.clone());
    settings.validate().map_err(|error| Error::Usage(format!("[email.{}] {error}", target.name)))?;
    show_servers(&settings, out)?;
    target.stage(section(&settings))?;
    let password = match settings.needs_password() {
        true => Some(asker.secret(flags, &format!("password of {}", settings.login()))?),
        false => None,
    };
    if target.check {
        let checks =
            runtime.block_on(check(&settings, password.as_deref().map(String::as_str), target.timeout));
        report(&checks, out)?;
    }
    target.commit(password.as_deref().map(String::as_str), out)?;
    writeln!(
        out,
        "route a chat over it: clm-bridge chat route CHAT --via email.{}:ADDRESS",
        args.common.name
    )
    .map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The servers: `--smtp-host` given, from the flags alone; else found from the address, then
/// the flags' overrides.
async fn servers(address: &str, args: &EmailAddArgs, out: &mut dyn Write) -> Result<EmailSettings, Error> {
    let mut settings = match &args.smtp_host {
        Some(host) => {
            let mut settings = EmailSettings::new(address, host.clone());
            settings.imap_host.clone_from(&args.imap_host);
            settings
        }
        None => {
            let mut discovery = Discovery::default();
            if !args.autoconfig_url.is_empty() {
                discovery.autoconfig_urls.clone_from(&args.autoconfig_url);
            }
            writeln!(out, "looking for the mail servers of {address} ...").map_err(Error::Output)?;
            out.flush().map_err(Error::Output)?;
            let found = discover(address, &discovery).await.map_err(|error| {
                Error::Usage(format!("{error}: give the servers with --smtp-host and --imap-host"))
            })?;
            writeln!(out, "found in {}", found.source).map_err(Error::Output)?;
            found.settings(address)
        }
    };
    apply_overrides(&mut settings, args);
    Ok(settings)
}

/// `--login`, `--imap-host`, the ports, `--security` (both servers; the ports stay as found
/// unless given) and `--no-smtp-auth`.
fn apply_overrides(settings: &mut EmailSettings, args: &EmailAddArgs) {
    if let Some(login) = &args.login {
        settings.login = Some(login.clone());
    }
    if let Some(host) = &args.imap_host {
        settings.imap_host = Some(host.clone());
    }
    if let Some(security) = args.security.map(security) {
        settings.smtp_security = security;
        if settings.imap_host.is_some() {
            settings.imap_security = Some(security);
        }
    }
    if args.smtp_port.is_some() {
        settings.smtp_port = args.smtp_port;
    }
    if args.imap_port.is_some() {
        settings.imap_port = args.imap_port;
    }
    if args.no_smtp_auth {
        settings.smtp_auth = false;
    }
}

fn security(arg: SecurityArg) -> Security {
    match arg {
        SecurityArg::Tls => Security::Tls,
        SecurityArg::Starttls => Security::StartTls,
        SecurityArg::None => Security::None,
    }
}

/// `smtp  HOST:PORT (security)` and `imap  ...`, so the user sees where the password goes.
fn show_servers(settings: &EmailSettings, out: &mut dyn Write) -> Result<(), Error> {
    let smtp = settings.smtp();
    writeln!(out, "smtp  {}:{} ({})", smtp.host, smtp.port, smtp.security.as_str()).map_err(Error::Output)?;
    match settings.imap() {
        Some(imap) => writeln!(out, "imap  {}:{} ({})", imap.host, imap.port, imap.security.as_str()),
        None => writeln!(out, "imap  none: the account only sends"),
    }
    .map_err(Error::Output)
}

/// The `[email.NAME]` section: what differs from the defaults, and where the password is.
fn section(settings: &EmailSettings) -> Table {
    let mut table = Table::new();
    table.insert("address", value(settings.address.as_str()));
    if let Some(login) = &settings.login {
        table.insert("login", value(login.as_str()));
    }
    if let (true, Some(file)) = (settings.needs_password(), &settings.password_file) {
        table.insert("password_file", value(file.to_string_lossy().as_ref()));
    }
    let smtp = settings.smtp();
    table.insert("smtp_host", value(smtp.host.as_str()));
    table.insert("smtp_security", value(smtp.security.as_str()));
    table.insert("smtp_port", value(i64::from(smtp.port)));
    if !settings.smtp_auth {
        table.insert("smtp_auth", value(false));
    }
    if let Some(imap) = settings.imap() {
        table.insert("imap_host", value(imap.host.as_str()));
        table.insert("imap_security", value(imap.security.as_str()));
        table.insert("imap_port", value(i64::from(imap.port)));
    }
    table
}

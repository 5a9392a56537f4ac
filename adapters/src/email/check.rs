//! A live self-check of an account for `clm-bridge doctor`: SMTP connection and login (nothing
//! is sent), IMAP login, IDLE, the watched folder and the folder mails are moved to. Each step
//! is one [`Check`] under the timeout; a step that cannot run because an earlier one failed is
//! left out. No detail ever holds the password.

use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls};
use lettre::transport::smtp::extension::ClientId;

use super::imap::{self, Failure, Stream, timed};
use super::smtp;
use crate::Check;
use crate::settings::email::{AfterAction, EmailSettings};

/// Checks the account of `settings` (validated) live, with `password` (read from where
/// `settings.password()` says), each step limited to `timeout`.
///
/// ```no_run
/// # async fn doctor(settings: &clm_adapters::email::EmailSettings, password: Option<&str>) {
/// for check in clm_adapters::email::check(settings, password, std::time::Duration::from_secs(10)).await {
///     println!("{:?} {}: {}", check.status, check.what, check.detail);
/// }
/// # }
/// ```
pub async fn check(settings: &EmailSettings, password: Option<&str>, timeout: Duration) -> Vec<Check> {
    let mut checks = check_smtp(settings, password, timeout).await;
    checks.extend(check_imap(settings, password, timeout).await);
    // Neither lettre nor async-imap puts the password in an error; should a server echo it,
    // it is masked. Short ones are left: masking "mail" in "4 mails" would tell it.
    if let Some(password) = password.filter(|p| p.len() >= 8) {
        for check in &mut checks {
            check.detail = check.detail.replace(password, "<password>");
        }
    }
    checks
}

async fn check_smtp(settings: &EmailSettings, password: Option<&str>, timeout: Duration) -> Vec<Check> {
    let endpoint = settings.smtp();
    let server = format!("{}:{} ({})", endpoint.host, endpoint.port, endpoint.security.as_str());
    let mut connection = match tokio::time::timeout(timeout, smtp_connect(settings, timeout)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return vec![Check::failure("SMTP connection", smtp::describe(&server, &error))],
        Err(_) => {
            return vec![Check::failure(
                "SMTP connection",
                format!("{server}: no answer within {timeout:?}"),
            )];
        }
    };
    let mut checks =
        vec![Check::ok("SMTP connection", format!("{server}: {}", connection.server_info().name()))];
    checks.push(if !settings.smtp_auth {
        Check::ok("SMTP login", "not used (smtp_auth = false)")
    } else if let Some(password) = password {
        let credentials = Credentials::new(settings.login().to_owned(), password.to_owned());
        match tokio::time::timeout(timeout, connection.auth(DEFAULT_MECHANISMS, &credentials)).await {
            Ok(Ok(_)) => Check::ok("SMTP login", format!("logged in as `{}`", settings.login())),
            Ok(Err(error)) => Check::failure("SMTP login", smtp::describe(&server, &error)),
            Err(_) => Check::failure("SMTP login", format!("{server}: no answer within {timeout:?}")),
        }
    } else {
        Check::failure("SMTP login", "smtp_auth is on but no password was given")
    });
    let _ = tokio::time::timeout(timeout, connection.quit()).await;
    checks
}

/// Connects as sending does (TLS, STARTTLS or plain) and says EHLO.
async fn smtp_connect(
    settings: &EmailSettings,
    timeout: Duration,
) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
    let endpoint = settings.smtp();
    let hello = ClientId::default();
    let tls = smtp::tls(&endpoint)?;
    let wrapper = match &tls {
        Tls::Wrapper(parameters) => Some(parameters.clone()),
        _ => None,
    };
    let mut connection = AsyncSmtpConnection::connect_tokio1(
        (endpoint.host.as_str(), endpoint.port),
        Some(timeout),
        &hello,
        wrapper,
        None,
    )
    .await?;
    if let Tls::Required(parameters) = tls {
        connection.starttls(parameters, &hello).await?;
    }
    Ok(connection)
}

async fn check_imap(settings: &EmailSettings, password: Option<&str>, timeout: Duration) -> Vec<Check> {
    let Some(endpoint) = settings.imap() else {
        return vec![Check::ok("IMAP", "no imap_host: this account only sends")];
    };
    let server = format!("{}:{} ({})", endpoint.host, endpoint.port, endpoint.security.as_str());
    let Some(password) = password else {
        return vec![Check::failure("IMAP login", "no password was given")];
    };
    let mut session = match imap::login(&endpoint, settings.login(), password, timeout).await {
        Ok(session) => session,
        Err(failure) => return vec![Check::failure("IMAP login", failure.text())],
    };
    let mut checks = vec![Check::ok("IMAP login", format!("{server}: logged in as `{}`", settings.login()))];
    match timed(timeout, "CAPABILITY", session.capabilities()).await {
        Ok(capabilities) if capabilities.has_str("IDLE") => {
            checks.push(Check::ok("IMAP IDLE", "supported: new mail shows at once"));
        }
        Ok(_) => checks.push(Check::warning(
            "IMAP IDLE",
            format!("not supported: the folder is polled every {:?} instead", settings.poll_interval),
        )),
        Err(failure) => checks.push(Check::failure("IMAP IDLE", failure.text())),
    }
    checks.push(check_folder(&mut session, &settings.folder, timeout).await);
    if let AfterAction::Move(target) = &settings.after_action {
        checks.push(check_move_target(&mut session, target, timeout).await);
    }
    let _ = tokio::time::timeout(timeout, session.logout()).await;
    checks
}

/// The watched folder can be opened (read-only: nothing in it changes).
async fn check_folder(session: &mut async_imap::Session<Stream>, folder: &str, timeout: Duration) -> Check {
    let what = format!("IMAP folder `{folder}`");
    match tokio::time::timeout(timeout, session.examine(folder)).await {
        Ok(Ok(mailbox)) => Check::ok(what, format!("{} mails", mailbox.exists)),
        Ok(Err(async_imap::error::Error::No(reason))) => {
            Check::failure(what, format!("cannot be opened: {reason} (check `folder`)"))
        }
        Ok(Err(error)) => Check::failure(what, format!("EXAMINE: {error}")),
        Err(_) => Check::failure(what, format!("EXAMINE: no answer within {timeout:?}")),
    }
}

/// The folder mails are moved to exists (else the bridge creates it: a typo would make a new one).
async fn check_move_target(
    session: &mut async_imap::Session<Stream>,
    target: &str,
    timeout: Duration,
) -> Check {
    use futures_util::TryStreamExt;
    let what = format!("IMAP folder `{target}` (after_action)");
    let listed = match timed(timeout, "LIST", session.list(Some(""), Some(target))).await {
        Ok(names) => timed(timeout, "LIST", names.try_collect::<Vec<_>>()).await,
        Err(failure) => Err(failure),
    };
    match listed {
        Ok(names) if names.iter().any(|name| name.name() == target) => Check::ok(what, "exists"),
        Ok(_) => Check::warning(what, "does not exist yet: the bridge creates it when it starts"),
        Err(Failure::Unavailable(text) | Failure::Refused(text)) => Check::failure(what, text),
    }
}

//! `[email.NAME]` sections as e-mail transports.

use std::sync::Arc;

use clm_adapters::email::{AfterAction, EmailSettings, EmailTransport, Endpoint, Security, check_route};

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::{EmailAccount, EmailAfterAction, EmailSecurity, EmailServer, Settings};

fn endpoint(server: &EmailServer) -> Endpoint {
    Endpoint {
        host: server.host.clone(),
        port: server.port,
        security: match server.security {
            EmailSecurity::Tls => Security::Tls,
            EmailSecurity::StartTls => Security::StartTls,
            EmailSecurity::None => Security::None,
        },
    }
}

fn transport(section: &str, account: &EmailAccount) -> Result<Arc<EmailTransport>, SetupError> {
    let mut settings = EmailSettings::new(
        account.address.clone(),
        account.login.clone(),
        endpoint(&account.smtp),
        account.imap.as_ref().map(endpoint),
    );
    settings.password = account
        .password
        .as_ref()
        .map(|secret| secret.read().map_err(|error| invalid(format!("[email.{section}] password: {error}"))))
        .transpose()?;
    settings.smtp_auth = account.smtp_auth;
    settings.folder.clone_from(&account.folder);
    settings.subject.clone_from(&account.subject);
    settings.after_action = match &account.after_action {
        EmailAfterAction::Leave => AfterAction::Leave,
        EmailAfterAction::Seen => AfterAction::Seen,
        EmailAfterAction::Move(folder) => AfterAction::Move(folder.clone()),
    };
    settings.idle_renew = account.idle_renew;
    settings.poll_interval = account.poll_interval;
    settings.fetch_batch = account.fetch_batch;
    settings.timeout = account.timeout;
    Ok(Arc::new(EmailTransport::new(format!("email.{section}"), settings)))
}

/// Every `[email.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, SetupError> {
    settings
        .emails
        .iter()
        .map(|(section, account)| {
            let email = transport(section, account)?;
            let progress = Arc::clone(&email);
            Ok(Adapter { transport: email, backlog: Box::new(move || progress.backlog()) })
        })
        .collect()
}

/// The e-mail account `instance` (known to exist), delivering to the addresses in `target`.
pub fn resolve(
    settings: &Settings,
    _context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, SetupError> {
    let route = clm_adapters::Route(target.to_owned());
    check_route(&route).map_err(|error| invalid(format!("email.{instance}:{target}: {error}")))?;
    let transport = transport(instance, &settings.emails[instance])?;
    Ok(Resolved { transport, route })
}

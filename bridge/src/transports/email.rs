//! `[email.NAME]` sections as e-mail transports: the settings are the adapter's own type; here
//! only the password is read (from where the settings name it) and the transport built.

use std::sync::Arc;

use clm_adapters::email::{EmailSettings, EmailTransport, check_route};
use zeroize::Zeroizing;

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::Settings;
use crate::secret::read_secret_ref;

/// The account's password, read now from where `password_env` / `password_file` name it.
pub(crate) fn password(
    section: &str,
    settings: &EmailSettings,
) -> Result<Option<Zeroizing<String>>, SetupError> {
    let source = settings.password().map_err(|error| invalid(format!("[email.{section}] {error}")))?;
    source
        .map(|source| read_secret_ref(&source))
        .transpose()
        .map_err(|error| invalid(format!("[email.{section}] password: {error}")))
}

fn transport(section: &str, settings: &EmailSettings) -> Result<Arc<EmailTransport>, SetupError> {
    let password = password(section, settings)?;
    Ok(Arc::new(EmailTransport::new(format!("email.{section}"), settings.clone(), password)))
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

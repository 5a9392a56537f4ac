//! `[email.NAME]` sections as email transports.

use super::{Adapter, Context, Resolved};
use crate::config::Settings;
use crate::error::{Error, usage};

/// Every `[email.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, Error> {
    if settings.instances("email").is_empty() {
        return Ok(Vec::new());
    }
    Err(usage("the email transport is not written yet"))
}

/// The email instance `instance` (known to exist), delivering to `target`.
pub fn resolve(
    _settings: &Settings,
    _context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, Error> {
    Err(usage(format!("email.{instance}:{target}: the email transport is not written yet")))
}

//! `[telegram.NAME]` sections as telegram transports.

use super::{Adapter, Context, Resolved};
use crate::config::Settings;
use crate::error::{Error, usage};

/// Every `[telegram.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, Error> {
    if settings.instances("telegram").is_empty() {
        return Ok(Vec::new());
    }
    Err(usage("the telegram transport is not written yet"))
}

/// The telegram instance `instance` (known to exist), delivering to `target`.
pub fn resolve(
    _settings: &Settings,
    _context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, Error> {
    Err(usage(format!("telegram.{instance}:{target}: the telegram transport is not written yet")))
}

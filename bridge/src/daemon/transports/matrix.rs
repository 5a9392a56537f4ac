//! `[matrix.NAME]` sections as matrix transports.

use super::{Adapter, Context, Resolved};
use crate::config::Settings;
use crate::error::{Error, usage};

/// Every `[matrix.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, Error> {
    if settings.instances("matrix").is_empty() {
        return Ok(Vec::new());
    }
    Err(usage("the matrix transport is not written yet"))
}

/// The matrix instance `instance` (known to exist), delivering to `target`.
pub fn resolve(
    _settings: &Settings,
    _context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, Error> {
    Err(usage(format!("matrix.{instance}:{target}: the matrix transport is not written yet")))
}

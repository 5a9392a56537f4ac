//! `[drop.NAME]` sections as drop-folder transports.

use std::sync::Arc;

use clm_adapters::drop::{DropSettings, DropTransport};

use super::{Adapter, Resolved};
use crate::config::Settings;

/// The transport instance name of a drop section: `drop.NAME`.
pub fn drop_name(section: &str) -> String {
    format!("drop.{section}")
}

fn transport(section: &str, settings: &DropSettings) -> Arc<DropTransport> {
    Arc::new(DropTransport::new(drop_name(section), settings.clone()))
}

/// Every `[drop.NAME]` section, in name order.
pub fn configured(settings: &Settings) -> Vec<Adapter> {
    settings
        .drops
        .iter()
        .map(|(section, account)| {
            let drop = transport(section, account);
            let progress = Arc::clone(&drop);
            Adapter { transport: drop, backlog: Box::new(move || progress.backlog()) }
        })
        .collect()
}

/// The drop folder `section` (known to exist), delivering to `target` within it.
pub fn resolve(settings: &Settings, section: &str, target: &str) -> Resolved {
    let account = &settings.drops[section];
    Resolved { transport: transport(section, account), route: clm_adapters::Route(target.to_owned()) }
}

//! `[telegram.NAME]` sections as telegram transports: the settings are the adapter's own type,
//! so only the bot token is read here (from where the settings name it).

use std::sync::Arc;

use clm_adapters::settings::SecretRef as SettingsSecretRef;
use clm_adapters::telegram::{TelegramSettings, TelegramTransport};

use super::{Adapter, Context, Resolved};
use crate::config::{SecretRef, Settings};
use crate::error::{Error, usage};

/// The transport instance name of a telegram section: `telegram.NAME`.
fn instance_name(section: &str) -> String {
    format!("telegram.{section}")
}

fn transport(section: &str, settings: &TelegramSettings) -> Result<Arc<TelegramTransport>, Error> {
    let name = instance_name(section);
    let source = match settings.token().map_err(|e| usage(format!("[telegram.{section}] {e}")))? {
        SettingsSecretRef::Env(variable) => SecretRef::Env(variable),
        SettingsSecretRef::File(path) => SecretRef::File(path),
    };
    let token = source.read()?;
    // The adapter's errors never hold the token.
    let bot = TelegramTransport::new(name, token, settings.clone()).map_err(|e| usage(format!("{e}")))?;
    Ok(Arc::new(bot))
}

/// Every `[telegram.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, Error> {
    settings
        .telegrams
        .iter()
        .map(|(section, account)| {
            let bot = transport(section, account)?;
            let progress = Arc::clone(&bot);
            Ok(Adapter { transport: bot, backlog: Box::new(move || progress.pending_sets()) })
        })
        .collect()
}

/// The telegram instance `instance` (known to exist), delivering to `target` (a chat id or
/// `@username`; checked when sending).
pub fn resolve(
    settings: &Settings,
    _context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, Error> {
    if target.is_empty() {
        return Err(usage(format!(
            "route `telegram.{instance}` names no chat: write telegram.{instance}:CHAT_ID (e.g. telegram:-100123)"
        )));
    }
    let account = &settings.telegrams[instance];
    Ok(Resolved { transport: transport(instance, account)?, route: clm_adapters::Route(target.to_owned()) })
}

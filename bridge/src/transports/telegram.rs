//! `[telegram.NAME]` sections as telegram transports: the settings are the adapter's own type,
//! so only the bot token is read here (from where the settings name it).

use std::sync::Arc;

use clm_adapters::telegram::{TelegramSettings, TelegramTransport};

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::Settings;
use crate::secret::read_secret_ref;

/// The transport instance name of a telegram section: `telegram.NAME`.
fn instance_name(section: &str) -> String {
    format!("telegram.{section}")
}

/// The transport of section `[telegram.NAME]`, its token read now.
pub(crate) fn transport(
    section: &str,
    settings: &TelegramSettings,
) -> Result<Arc<TelegramTransport>, SetupError> {
    let name = instance_name(section);
    let source = settings.token().map_err(|e| invalid(format!("[telegram.{section}] {e}")))?;
    let token = read_secret_ref(&source).map_err(|e| invalid(format!("[telegram.{section}] token: {e}")))?;
    // The adapter's errors never hold the token.
    let bot = TelegramTransport::new(name, token, settings.clone()).map_err(|e| invalid(format!("{e}")))?;
    Ok(Arc::new(bot))
}

/// Every `[telegram.NAME]` section, in name order.
pub fn configured(settings: &Settings, _context: &Context) -> Result<Vec<Adapter>, SetupError> {
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
) -> Result<Resolved, SetupError> {
    if target.is_empty() {
        return Err(invalid(format!(
            "route `telegram.{instance}` names no chat: write telegram.{instance}:CHAT_ID (e.g. telegram:-100123)"
        )));
    }
    let account = &settings.telegrams[instance];
    Ok(Resolved { transport: transport(instance, account)?, route: clm_adapters::Route(target.to_owned()) })
}

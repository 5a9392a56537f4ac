//! `[telegram.NAME]` sections as telegram transports.

use std::sync::Arc;

use clm_adapters::telegram::settings::parse_api_url;
use clm_adapters::telegram::{Pacing, TelegramSettings, TelegramTransport};

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::{Settings, TelegramAccount};

/// The transport instance name of a telegram section: `telegram.NAME`.
fn instance_name(section: &str) -> String {
    format!("telegram.{section}")
}

fn transport(section: &str, account: &TelegramAccount) -> Result<Arc<TelegramTransport>, SetupError> {
    let name = instance_name(section);
    let api_url =
        parse_api_url(&account.api_url).map_err(|reason| invalid(format!("{name}.api_url: {reason}")))?;
    let mut settings = TelegramSettings::new(account.allowed_chats.iter().copied());
    settings.api_url = api_url;
    settings.owner = account.owner_id;
    settings.poll_timeout = account.poll_timeout;
    settings.idle_poll_interval = account.idle_poll_interval;
    settings.pacing = Pacing {
        per_chat_interval: account.send_interval,
        group_per_minute: account.group_messages_per_minute,
        global_per_second: account.messages_per_second,
    };
    let token = account.token.read()?;
    // The adapter's errors never hold the token.
    let bot = TelegramTransport::new(name.clone(), token, settings).map_err(|e| invalid(format!("{e}")))?;
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

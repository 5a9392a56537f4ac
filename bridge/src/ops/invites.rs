//! Invites as the CLI and the API both make and take them: a new chat with a generated secret,
//! the invite of a chat (asked for by name: it holds the secret), and what joining one adds.

use clm_core::format::clm201::default_seed_suffix;
use clm_core::format::native2::TYPED_SECRET_SALT;
use clm_core::{Format, GENERATED_SECRET_BYTES, Invite, InviteKeys, generated_secret};
use zeroize::Zeroizing;

use super::chats::{AddSettings, add_chat, route_parts, route_text, unconfigured};
use super::send::random_bytes;
use crate::app::{self, App};
use crate::cli::SecretArgs;
use crate::config::RouteSpec;
use crate::error::{Error, usage};
use crate::store::{Chat, ChatId, StoreError};

/// Makes chat `name` (native v2, a generated 160-bit secret, a random salt) with `routes`
/// (`(transport, target)`, as [`route_parts`] gives them). Returns the chat and, for each route
/// whose transport is not set up here, why (`(transport, problem)`).
pub fn new_chat(
    app: &mut App,
    name: &str,
    routes: &[(String, String)],
) -> Result<(Chat, Vec<(String, String)>), Error> {
    match app.store.chat(name) {
        Ok(_) => return Err(StoreError::ChatExists(name.to_owned()).into()),
        Err(StoreError::NoSuchChat(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let secret = generated_secret(&random_bytes::<GENERATED_SECRET_BYTES>()?);
    let salt: [u8; 16] = random_bytes()?;
    let settings = AddSettings {
        name: name.to_owned(),
        format: Format::Native2,
        clm201_chat_id: None,
        seed_suffix: None,
        secret: SecretArgs::default(),
        weak_secret: false,
        native_salt: Some(salt),
        json: false,
    };
    let id = add_chat(app, &settings, secret.as_bytes(), app::now()?)?;
    let mut problems = Vec::new();
    for (transport, target) in routes {
        app.store.add_route(id, transport, target)?;
        if let Some(problem) = unconfigured(&app.settings, transport) {
            problems.push((transport.clone(), problem));
        }
    }
    Ok((crate::ops::chat_names::find_chat(&app.store, name)?, problems))
}

/// The invite of `chat`, with its routes as suggestions when `with_routes`.
pub fn invite_of(app: &App, chat: &Chat, with_routes: bool) -> Result<Invite, Error> {
    let secret = app.store.chat_secret(chat.id)?;
    let text = || -> Result<Zeroizing<String>, Error> {
        let text = std::str::from_utf8(&secret).map_err(|_| usage("the chat's secret is not text"))?;
        Ok(Zeroizing::new(text.to_owned()))
    };
    let keys = match chat.format {
        Format::Native2 => {
            InviteKeys::Native2 { secret: text()?, salt: chat.native_salt.unwrap_or(TYPED_SECRET_SALT) }
        }
        Format::Native => InviteKeys::Native { secret: text()? },
        Format::Clm202 => InviteKeys::Clm202 { secret: text()? },
        Format::Clm201 => {
            let chat_id = chat.clm201_chat_id.clone().unwrap_or_default();
            let seed_suffix = chat.seed_suffix.clone().unwrap_or_else(|| default_seed_suffix(&chat_id));
            InviteKeys::Clm201 { master_seed: text()?, chat_id, seed_suffix }
        }
        other => return Err(usage(format!("chats of format {other} have no invites"))),
    };
    let mut routes = Vec::new();
    if with_routes {
        routes.extend(app.store.routes(chat.id)?.iter().map(route_text));
        for spec in app.settings.chat_routes.get(&chat.name).into_iter().flatten() {
            let text = spec.to_string();
            if !routes.contains(&text) {
                routes.push(text);
            }
        }
    }
    Ok(Invite::new(&chat.name, keys, routes)?)
}

/// The local name of a chat joined from `invite`: `name` if given (not for clm202, whose name
/// is part of every message), else the invite's.
pub fn joined_name(invite: &Invite, name: Option<&str>) -> Result<String, Error> {
    match (name, invite.format()) {
        (Some(_), Format::Clm202) => {
            Err(usage("a clm202 chat keeps the name it was made with: it is part of every message"))
        }
        (Some(name), _) => Ok(name.to_owned()),
        (None, _) => Ok(invite.name().to_owned()),
    }
}

/// The chat an invite's keys make.
pub fn join_settings(name: &str, keys: &InviteKeys, json: bool) -> AddSettings {
    let (format, clm201_chat_id, seed_suffix, native_salt) = match keys {
        InviteKeys::Native2 { salt, .. } => (Format::Native2, None, None, Some(*salt)),
        InviteKeys::Clm201 { chat_id, seed_suffix, .. } => {
            (Format::Clm201, Some(chat_id.clone()), Some(seed_suffix.clone()), None)
        }
        InviteKeys::Clm202 { .. } => (Format::Clm202, None, None, None),
        _ => (Format::Native, None, None, None),
    };
    AddSettings {
        name: name.to_owned(),
        format,
        clm201_chat_id,
        seed_suffix,
        secret: SecretArgs::default(),
        // The inviter chose the secret: a generated one, or one the members agreed on.
        weak_secret: true,
        native_salt,
        json,
    }
}

/// What became of a route an invite suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteOffer {
    /// Its transport is set up here, and it was added (joining with accept).
    Added(String),
    /// Its transport is set up here; not added (joining without accept).
    Suggested(String),
    /// It names no transport set up here.
    Unusable(String),
}

/// Adds the suggested routes whose transports exist here (with `accept`); says what became of
/// each.
pub fn offer_routes(
    app: &App,
    chat: ChatId,
    routes: &[String],
    accept: bool,
) -> Result<Vec<RouteOffer>, Error> {
    let mut offers = Vec::new();
    for route in routes {
        let usable = RouteSpec::parse(route)
            .ok()
            .filter(|spec| app.settings.unconfigured(&spec.kind, spec.instance.as_deref()).is_none());
        offers.push(match usable {
            Some(_) if accept => {
                let (transport, target) = route_parts(route)?;
                app.store.add_route(chat, &transport, &target)?;
                RouteOffer::Added(route.clone())
            }
            Some(_) => RouteOffer::Suggested(route.clone()),
            None => RouteOffer::Unusable(route.clone()),
        });
    }
    Ok(offers)
}

//! `chat.*`: the chats, as `clm-bridge chat ...` does it.

use std::collections::HashSet;

use clap::ValueEnum as _;
use clm_core::{Format, Invite};
use zeroize::Zeroizing;

use crate::api::types::{
    Broken, ChatAddParams, ChatAdded, ChatInviteParams, ChatJoinParams, ChatList, ChatNewParams, ChatParams,
    ChatRemoveParams, ChatRenameParams, ChatRouteParams, ChatView, InviteView, Joined, NoParams,
    OpenedMessage, Removed, Renamed, RouteChanged, RouteOfferView, RouteProblem,
};
use crate::app::{self, App};
use crate::cli::{ChatAddArgs, FormatArg, SecretArgs};
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::ops::chats::{
    AddSettings, ChatSummary, add_chat, checked_route_parts, route_parts, route_text, summary,
    validate_chat_name,
};
use crate::ops::invites::{RouteOffer, invite_of, join_settings, joined_name, new_chat, offer_routes};
use crate::pipeline::{Ingested, KnownChats, retry_pending};
use crate::store::{Chat, Route, StoreError};

fn view(summary: ChatSummary) -> ChatView {
    ChatView {
        name: summary.name,
        format: summary.format.to_owned(),
        chat_id: summary.chat_id,
        seed_suffix: summary.seed_suffix,
        created_at: summary.created_at,
        routes: summary.routes,
        messages: summary.messages,
        trashed: summary.trashed,
    }
}

pub(super) fn list(app: &mut App, NoParams {}: NoParams) -> Result<ChatList, Error> {
    let counts = app.store.message_counts()?;
    let chats: Result<Vec<ChatView>, Error> =
        app.store.list_chats()?.iter().map(|chat| summary(app, chat, &counts).map(view)).collect();
    Ok(ChatList { chats: chats? })
}

pub(super) fn show(app: &mut App, params: ChatParams) -> Result<ChatView, Error> {
    let chat = crate::ops::chat_names::find_chat(&app.store, &params.chat)?;
    Ok(view(summary(app, &chat, &app.store.message_counts()?)?))
}

pub(super) fn add(app: &mut App, params: ChatAddParams) -> Result<ChatAdded, Error> {
    let secret = Zeroizing::new(params.secret.into_bytes());
    let format = FormatArg::from_str(&params.format, false).map_err(|_| {
        usage(format!("unknown format {} (native2, native, clm202 or clm201)", quoted(&params.format)))
    })?;
    let settings = AddSettings::from_args(ChatAddArgs {
        name: params.chat,
        format,
        secret: SecretArgs::default(),
        weak_secret: params.weak_secret,
        chat_id: params.chat_id,
        seed_suffix: params.seed_suffix,
        json: false,
    })?;
    match app.store.chat(&settings.name) {
        Ok(_) => return Err(StoreError::ChatExists(settings.name).into()),
        Err(StoreError::NoSuchChat(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let now = app::now()?;
    add_chat(app, &settings, &secret, now)?;
    let opened = open_pending(app, now)?;
    Ok(ChatAdded {
        chat: settings.name,
        format: settings.format.name().to_owned(),
        opened: opened.0,
        broken: opened.1,
        still_pending: app.store.pending_count()?,
    })
}

/// Retries the pending pointers with the chats as they are now: what opened (each message
/// once) and what a chat claims but does not open.
fn open_pending(app: &mut App, now: u64) -> Result<(Vec<OpenedMessage>, Vec<Broken>), Error> {
    let mut known = KnownChats::load(&app.store, now)?;
    let Ingested { received, broken, .. } =
        retry_pending(&mut app.store, &mut known, now.cast_signed(), app.settings.limits)?;
    let mut seen = HashSet::new();
    let opened = received
        .into_iter()
        .filter(|message| seen.insert(message.id))
        .map(|message| OpenedMessage {
            id: message.id,
            chat: message.chat,
            from: message.from,
            text: message.text.to_string(),
            epoch: message.epoch,
            format: message.format.name().to_owned(),
            truncated: message.truncated,
            transport: message.transport,
            origin: message.origin,
            new: message.new,
            from_the_future: message.from_the_future,
        })
        .collect();
    let broken = broken
        .into_iter()
        .filter_map(|(chat, tally)| {
            let error = tally.first?.to_string();
            Some(Broken { chat, error, count: tally.count })
        })
        .collect();
    Ok((opened, broken))
}

fn invite_view(app: &App, chat: &Chat, with_routes: bool) -> Result<InviteView, Error> {
    let invite = invite_of(app, chat, with_routes)?;
    Ok(InviteView {
        chat: chat.name.clone(),
        format: chat.format.name().to_owned(),
        link: invite.to_link().to_string(),
        routes: invite.routes().to_vec(),
        route_problems: Vec::new(),
    })
}

pub(super) fn new(app: &mut App, params: ChatNewParams) -> Result<InviteView, Error> {
    validate_chat_name(&params.chat)?;
    let routes = params.via.iter().map(|via| route_parts(via)).collect::<Result<Vec<_>, _>>()?;
    let (chat, problems) = new_chat(app, &params.chat, &routes)?;
    let mut view = invite_view(app, &chat, true)?;
    view.route_problems =
        problems.into_iter().map(|(route, problem)| RouteProblem { route, problem }).collect();
    Ok(view)
}

pub(super) fn invite(app: &mut App, params: ChatInviteParams) -> Result<InviteView, Error> {
    let chat = crate::ops::chat_names::find_chat(&app.store, &params.chat)?;
    invite_view(app, &chat, params.routes)
}

pub(super) fn join(app: &mut App, params: ChatJoinParams) -> Result<Joined, Error> {
    let link = Zeroizing::new(params.link);
    let invite = Invite::parse(link.trim())?;
    let name = joined_name(&invite, params.name.as_deref())?;
    validate_chat_name(&name)?;
    let settings = join_settings(&name, invite.keys(), false);
    let now = app::now()?;
    let id = add_chat(app, &settings, invite.keys().secret().as_bytes(), now)?;
    let routes = offer_routes(app, id, invite.routes(), params.accept_routes)?
        .into_iter()
        .map(|offer| {
            let (route, state) = match offer {
                RouteOffer::Added(route) => (route, "added"),
                RouteOffer::Suggested(route) => (route, "suggested"),
                RouteOffer::Unusable(route) => (route, "unusable"),
            };
            RouteOfferView { route, state: state.to_owned() }
        })
        .collect();
    let (opened, broken) = open_pending(app, now)?;
    Ok(Joined { chat: name, format: invite.format().name().to_owned(), routes, opened, broken })
}

pub(super) fn rename(app: &mut App, params: ChatRenameParams) -> Result<Renamed, Error> {
    validate_chat_name(&params.new)?;
    let chat = crate::ops::chat_names::find_chat(&app.store, &params.chat)?;
    app.store.rename_chat(&params.chat, &params.new)?;
    let format = chat.format.name().to_owned();
    if chat.format != Format::Clm202 || params.chat == params.new {
        return Ok(Renamed {
            chat: params.chat,
            new: params.new,
            format,
            opened: vec![],
            broken: vec![],
            still_pending: None,
        });
    }
    // Pointers kept pending under the misspelt name may open under the fixed one.
    let (opened, broken) = open_pending(app, app::now()?)?;
    let still_pending = Some(app.store.pending_count()?);
    Ok(Renamed { chat: params.chat, new: params.new, format, opened, broken, still_pending })
}

pub(super) fn remove(app: &mut App, params: ChatRemoveParams) -> Result<Removed, Error> {
    crate::ops::chat_names::find_chat(&app.store, &params.chat)?;
    let purged = app.store.remove_chat(&params.chat, params.purge, app::now()?.cast_signed())?;
    Ok(Removed { chat: params.chat, purged })
}

pub(super) fn route(app: &mut App, params: ChatRouteParams) -> Result<RouteChanged, Error> {
    let (transport, target) = route_parts(&params.via)?;
    let chat = crate::ops::chat_names::find_chat(&app.store, &params.chat)?;
    let shown = route_text(&Route { transport: transport.clone(), target: target.clone() });
    if params.remove {
        if !app.store.remove_route(chat.id, &transport, &target)? {
            return Err(usage(format!("chat {} has no route {}", quoted(&chat.name), quoted(&shown))));
        }
        return Ok(RouteChanged { chat: chat.name, route: shown, changed: true, problem: None });
    }
    checked_route_parts(&app.settings, &params.via)?;
    let changed = app.store.add_route(chat.id, &transport, &target)?;
    Ok(RouteChanged { chat: chat.name, route: shown, changed, problem: None })
}

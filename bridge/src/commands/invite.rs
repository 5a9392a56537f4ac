//! Two people, one chat, no secret typed by hand: `chat new` makes a native v2 chat with a
//! generated 160-bit secret and a random salt and shows its invite; `chat invite` shows the
//! invite of any chat (clm202 and clm201 too, so CLM users can move over); `chat join` adds a
//! chat from an invite read from standard input, a file or the argument.
//!
//! An invite holds the chat's secret: anyone who has it can read and write in the chat. It is
//! shown only when asked for by name, and the commands say how to pass it on.

use std::io::{IsTerminal as _, Read as _, Write};
use std::path::Path;

use clm_core::format::clm201::default_seed_suffix;
use clm_core::format::native2::TYPED_SECRET_SALT;
use clm_core::{Format, GENERATED_SECRET_BYTES, Invite, InviteKeys, generated_secret};
use serde::Serialize;
use zeroize::Zeroizing;

use super::chat::{AddSettings, add_chat, route_parts, route_text, unconfigured, validate_chat_name};
use super::encode::random_bytes;
use super::opened::{once_per_message, print_received, report};
use crate::app::{self, App};
use crate::cli::{ChatInviteArgs, ChatJoinArgs, ChatNewArgs, GlobalArgs, SecretArgs};
use crate::commands::Outcome;
use crate::config::RouteSpec;
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::pipeline::{KnownChats, retry_pending};
use crate::store::{Chat, StoreError};

/// The longest invite read from standard input or a file (an invite is a few hundred bytes).
const MAX_INVITE_BYTES: u64 = 64 * 1024;

/// What an invite is shown as with `--json`. Field order is the key order.
#[derive(Debug, Serialize)]
struct InviteJson<'a> {
    chat: &'a str,
    format: &'static str,
    link: &'a str,
    routes: &'a [String],
}

/// How an invite is shown.
struct Showing<'a> {
    json: bool,
    qr: Option<&'a Path>,
    no_qr: bool,
}

/// Runs `chat new`.
pub fn new(
    global: &GlobalArgs,
    args: ChatNewArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    validate_chat_name(&args.name)?;
    let routes = args.via.iter().map(|via| route_parts(via)).collect::<Result<Vec<_>, _>>()?;
    let mut app = App::open(&global.locations())?;
    match app.store.chat(&args.name) {
        Ok(_) => return Err(StoreError::ChatExists(args.name).into()),
        Err(StoreError::NoSuchChat(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let secret = generated_secret(&random_bytes::<GENERATED_SECRET_BYTES>()?);
    let salt: [u8; 16] = random_bytes()?;
    let settings = AddSettings {
        name: args.name.clone(),
        format: Format::Native2,
        clm201_chat_id: None,
        seed_suffix: None,
        secret: SecretArgs::default(),
        weak_secret: false,
        native_salt: Some(salt),
        json: false,
    };
    let id = add_chat(&mut app, &settings, secret.as_bytes(), app::now()?)?;
    for (transport, target) in &routes {
        app.store.add_route(id, transport, target)?;
        if let Some(problem) = unconfigured(&app.settings, transport) {
            let _ = writeln!(diagnostics, "clm-bridge: note: route {}: {problem}", quoted(transport));
        }
    }
    let _ =
        writeln!(diagnostics, "clm-bridge: chat {} made (native v2, a generated secret)", quoted(&args.name));
    let chat = app.store.chat(&args.name)?;
    let showing = Showing { json: args.json, qr: args.qr.as_deref(), no_qr: args.no_qr };
    show_invite(&app, &chat, true, &showing, out, diagnostics)
}

/// Runs `chat invite`.
pub fn invite(
    global: &GlobalArgs,
    args: ChatInviteArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let app = App::open(&global.locations())?;
    let chat = app.store.chat(&args.name)?;
    let showing = Showing { json: args.json, qr: args.qr.as_deref(), no_qr: args.no_qr };
    show_invite(&app, &chat, args.routes, &showing, out, diagnostics)
}

/// The invite of `chat`, with its routes as suggestions when `with_routes`.
fn invite_of(app: &App, chat: &Chat, with_routes: bool) -> Result<Invite, Error> {
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

fn show_invite(
    app: &App,
    chat: &Chat,
    with_routes: bool,
    showing: &Showing<'_>,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let invite = invite_of(app, chat, with_routes)?;
    let link = invite.to_link();
    if let Some(path) = showing.qr {
        crate::qr::write_file(&invite.to_qr_text(), path)?;
        let _ = writeln!(diagnostics, "clm-bridge: the invite's QR code is in {}", path.display());
    }
    if showing.json {
        let line =
            InviteJson { chat: &chat.name, format: chat.format.name(), link: &link, routes: invite.routes() };
        writeln!(out, "{}", crate::display::json_text(&line).as_str()).map_err(Error::Output)?;
        return Ok(Outcome::Done);
    }
    if !showing.no_qr && std::io::stderr().is_terminal() {
        let _ = write!(diagnostics, "{}", crate::qr::terminal(&invite.to_qr_text())?);
    }
    writeln!(out, "{}", link.as_str()).and_then(|()| out.flush()).map_err(Error::Output)?;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: anyone holding this invite can read and write in {}: hand it over in person, on paper, or \
         over a channel you trust; the other side runs `clm-bridge chat join -` and pastes it",
        quoted(&chat.name)
    );
    if chat.format == Format::Clm201 {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: a clm201 invite carries your CLM master seed: it opens every clm201 chat of yours, not only this one"
        );
    }
    Ok(Outcome::Done)
}

/// Runs `chat join`.
pub fn join(
    global: &GlobalArgs,
    args: ChatJoinArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let text = read_invite(&args.invite)?;
    let invite = Invite::parse(text.trim())?;
    let name = match (&args.name, invite.format()) {
        (Some(_), Format::Clm202) => {
            return Err(usage("a clm202 chat keeps the name it was made with: it is part of every message"));
        }
        (Some(name), _) => name.clone(),
        (None, _) => invite.name().to_owned(),
    };
    validate_chat_name(&name)?;
    let mut app = App::open(&global.locations())?;
    let settings = join_settings(&name, invite.keys(), args.json);
    let now = app::now()?;
    let id = add_chat(&mut app, &settings, invite.keys().secret().as_bytes(), now)?;
    let _ = writeln!(diagnostics, "clm-bridge: joined chat {} ({})", quoted(&name), invite.format().name());
    offer_routes(&app, id, &name, invite.routes(), args.accept_routes, diagnostics)?;
    let mut known = KnownChats::load(&app.store, now)?;
    let mut opened = retry_pending(&mut app.store, &mut known, now.cast_signed(), app.settings.limits)?;
    once_per_message(&mut opened.received);
    print_received(&opened.received, args.json, out)?;
    opened.pending = 0;
    if !opened.received.is_empty() || !opened.broken.is_empty() {
        report(&opened, diagnostics);
    }
    Ok(Outcome::Done)
}

/// The chat an invite's keys make.
fn join_settings(name: &str, keys: &InviteKeys, json: bool) -> AddSettings {
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

/// The invite text: standard input for `-`, the argument when it is a link, else a file.
fn read_invite(given: &str) -> Result<Zeroizing<String>, Error> {
    let mut bytes = Zeroizing::new(Vec::new());
    if given == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INVITE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|source| crate::input::InputError::Read { what: "standard input".into(), source })?;
    } else if given.get(..4).is_some_and(|scheme| scheme.eq_ignore_ascii_case("clm:")) {
        bytes.extend_from_slice(given.as_bytes());
    } else {
        let file = std::fs::File::open(given)
            .map_err(|source| crate::input::InputError::Read { what: format!("file {given}"), source })?;
        file.take(MAX_INVITE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|source| crate::input::InputError::Read { what: format!("file {given}"), source })?;
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| usage("the invite is not text"))?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Adds the suggested routes whose transports exist here (with `accept`), and says what to do
/// about the others.
fn offer_routes(
    app: &App,
    chat: i64,
    name: &str,
    routes: &[String],
    accept: bool,
    diagnostics: &mut dyn Write,
) -> Result<(), Error> {
    for route in routes {
        let usable = RouteSpec::parse(route)
            .ok()
            .filter(|spec| app.settings.unconfigured(&spec.kind, spec.instance.as_deref()).is_none());
        match usable {
            Some(_) if accept => {
                let (transport, target) = route_parts(route)?;
                app.store.add_route(chat, &transport, &target)?;
                let _ = writeln!(diagnostics, "clm-bridge: route {} added", quoted(route));
            }
            Some(_) => {
                let _ = writeln!(
                    diagnostics,
                    "clm-bridge: the invite suggests route {}: add it with `clm-bridge chat route {} --via {route}` \
                     (or join with --accept-routes)",
                    quoted(route),
                    quoted(name)
                );
            }
            None => {
                let _ = writeln!(
                    diagnostics,
                    "clm-bridge: the invite suggests route {}, which names no transport set up here: set one up, \
                     then `clm-bridge chat route {} --via ...`",
                    quoted(route),
                    quoted(name)
                );
            }
        }
    }
    Ok(())
}

//! Two people, one chat, no secret typed by hand: `chat new` makes a native v2 chat with a
//! generated 160-bit secret and a random salt and shows its invite; `chat invite` shows the
//! invite of any chat (clm202 and clm201 too, so CLM users can move over); `chat join` adds a
//! chat from an invite read from standard input, a file or the argument.
//!
//! An invite holds the chat's secret: anyone who has it can read and write in the chat. It is
//! shown only when asked for by name, and the commands say how to pass it on.

use std::io::{IsTerminal as _, Read as _, Write};

use clm_core::{Format, Invite};
use serde::Serialize;
use zeroize::Zeroizing;

use super::chat::{add_chat, route_parts, validate_chat_name};
use super::opened::{once_per_message, print_received, report};
use crate::app::{self, App};
use crate::cli::{ChatInviteArgs, ChatJoinArgs, ChatNewArgs, GlobalArgs, InviteOutputArgs};
use crate::commands::Outcome;
use crate::display::quoted;
use crate::error::{Error, usage};
pub use crate::ops::invites::{RouteOffer, invite_of, join_settings, joined_name, new_chat};
use crate::pipeline::{KnownChats, retry_pending};
use crate::store::Chat;

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
    let (chat, problems) = new_chat(&mut app, &args.name, &routes)?;
    for (transport, problem) in &problems {
        let _ = writeln!(diagnostics, "clm-bridge: note: route {}: {problem}", quoted(transport));
    }
    let _ =
        writeln!(diagnostics, "clm-bridge: chat {} made (native v2, a generated secret)", quoted(&args.name));
    show_invite(&app, &chat, true, &args.output, out, diagnostics)
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
    show_invite(&app, &chat, args.routes, &args.output, out, diagnostics)
}

fn show_invite(
    app: &App,
    chat: &Chat,
    with_routes: bool,
    showing: &InviteOutputArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let invite = invite_of(app, chat, with_routes)?;
    show(&invite, &chat.name, chat.format, showing, out, diagnostics)
}

/// Shows the invite of chat `name` (of `format`): its link on `out` (or its JSON), a QR code on
/// the terminal or in a file, and how to pass it on.
pub(crate) fn show(
    invite: &Invite,
    name: &str,
    format: Format,
    showing: &InviteOutputArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let link = invite.to_link();
    if let Some(path) = showing.qr.as_deref() {
        crate::qr::write_file(&invite.to_qr_text(), path)?;
        let _ = writeln!(diagnostics, "clm-bridge: the invite's QR code is in {}", path.display());
    }
    if showing.json {
        let line = InviteJson { chat: name, format: format.name(), link: &link, routes: invite.routes() };
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
        quoted(name)
    );
    if format == Format::Clm201 {
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
    let name = joined_name(&invite, args.name.as_deref())?;
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

/// The invite text: standard input for `-`, the argument when it is a link, else a file.
pub(crate) fn read_invite(given: &str) -> Result<Zeroizing<String>, Error> {
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
    for offer in crate::ops::invites::offer_routes(app, chat, routes, accept)? {
        let _ = writeln!(diagnostics, "clm-bridge: {}", offer_note(&offer, name));
    }
    Ok(())
}

/// What `chat join` says about a route the invite suggests.
pub(crate) fn offer_note(offer: &RouteOffer, name: &str) -> String {
    match offer {
        RouteOffer::Added(route) => format!("route {} added", quoted(route)),
        RouteOffer::Suggested(route) => format!(
            "the invite suggests route {}: add it with `clm-bridge chat route {} --via {route}` \
             (or join with --accept-routes)",
            quoted(route),
            quoted(name)
        ),
        RouteOffer::Unusable(route) => format!(
            "the invite suggests route {}, which names no transport set up here: set one up, \
             then `clm-bridge chat route {} --via ...`",
            quoted(route),
            quoted(name)
        ),
    }
}

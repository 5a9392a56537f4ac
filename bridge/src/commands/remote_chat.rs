//! `chat ...` through a running daemon (see `remote.rs`): the same checks first, secrets and
//! invites read here, then one API call, and the same output as `chat.rs` and `invite.rs` give.

use std::io::Write;

use clm_core::{Format, Invite};
use zeroize::Zeroizing;

use super::Outcome;
use super::chat::{AddSettings, ChatSummary, route_parts, show_text, validate_chat_name};
use super::invite::{RouteOffer, joined_name, offer_note, read_invite};
use super::opened::print_received;
use super::remote::call;
use crate::api::types::{
    Broken, ChatAddParams, ChatAdded, ChatInviteParams, ChatJoinParams, ChatList, ChatNewParams, ChatParams,
    ChatRemoveParams, ChatRenameParams, ChatRouteParams, ChatView, InviteView, Joined, NoParams,
    OpenedMessage, Removed, Renamed, RouteChanged,
};
use crate::api::{Client, ErrorCode};
use crate::cli::{ChatArgs, ChatCommand, InviteOutputArgs};
use crate::display::{json_text, printable, quoted};
use crate::error::Error;
use crate::pipeline::Received;
use crate::store::StoreError;

/// Runs a `chat` subcommand through the daemon.
pub fn run(
    client: &mut Client,
    args: ChatArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    match args.command {
        ChatCommand::Add(args) => add(client, AddSettings::from_args(args)?, out, diagnostics),
        ChatCommand::List(args) => list(client, args.json, out),
        ChatCommand::Show(args) => show(client, args, out),
        ChatCommand::Rename(args) => rename(client, args, out, diagnostics),
        ChatCommand::Remove(args) => remove(client, args, diagnostics),
        ChatCommand::Route(args) => route(client, args, diagnostics),
        ChatCommand::New(args) => new(client, args, out, diagnostics),
        ChatCommand::Invite(args) => {
            let params = ChatInviteParams { chat: args.name, routes: args.routes };
            let view: InviteView = call(client, "chat.invite", &params)?;
            show_view(&view, &args.output, out, diagnostics)
        }
        ChatCommand::Join(args) => join(client, args, out, diagnostics),
    }
}

fn list(client: &mut Client, json: bool, out: &mut dyn Write) -> Result<Outcome, Error> {
    let ChatList { chats } = call(client, "chat.list", &NoParams {})?;
    for chat in chats {
        if json {
            writeln!(out, "{}", json_text(&chat).as_str()).map_err(Error::Output)?;
        } else {
            let id = chat.chat_id.as_deref().map(|id| format!(" (chat id {})", printable(id)));
            let (name, format, messages) = (printable(&chat.name), &chat.format, chat.messages);
            writeln!(out, "{name} {format}{} {messages} message(s)", id.unwrap_or_default())
                .map_err(Error::Output)?;
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

fn show(client: &mut Client, args: crate::cli::ChatShowArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let chat: ChatView = call(client, "chat.show", &ChatParams { chat: args.name })?;
    if args.json {
        writeln!(out, "{}", json_text(&chat).as_str()).map_err(Error::Output)?;
    } else {
        out.write_all(show_text(&summary(chat)).as_bytes()).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

fn rename(
    client: &mut Client,
    args: crate::cli::ChatRenameArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    validate_chat_name(&args.new)?;
    let renamed: Renamed = call(client, "chat.rename", &ChatRenameParams { chat: args.old, new: args.new })?;
    let (old, new) = (quoted(&renamed.chat), quoted(&renamed.new));
    let _ = writeln!(diagnostics, "clm-bridge: chat {old} is now {new}");
    if renamed.format == Format::Clm202.name() && renamed.chat != renamed.new {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: note: a clm202 chat's name is part of each message: it now opens and sends \
             messages for {new} only"
        );
    }
    if let Some(still_pending) = renamed.still_pending {
        print_received(&received(&renamed.opened)?, false, out)?;
        report_broken(&renamed.broken, diagnostics);
        let opened = renamed.opened.len();
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {opened} pending pointer(s) opened; {still_pending} still pending"
        );
    }
    Ok(Outcome::Done)
}

fn remove(
    client: &mut Client,
    args: crate::cli::ChatRemoveArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let removed: Removed =
        call(client, "chat.remove", &ChatRemoveParams { chat: args.name, purge: args.purge })?;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: chat {} removed with its secret and routes; {} message(s) deleted",
        quoted(&removed.chat),
        removed.purged
    );
    Ok(Outcome::Done)
}

fn new(
    client: &mut Client,
    args: crate::cli::ChatNewArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    validate_chat_name(&args.name)?;
    for via in &args.via {
        route_parts(via)?;
    }
    let view: InviteView =
        call(client, "chat.new", &ChatNewParams { chat: args.name.clone(), via: args.via })?;
    for problem in &view.route_problems {
        let _ =
            writeln!(diagnostics, "clm-bridge: note: route {}: {}", quoted(&problem.route), problem.problem);
    }
    let _ =
        writeln!(diagnostics, "clm-bridge: chat {} made (native v2, a generated secret)", quoted(&args.name));
    show_view(&view, &args.output, out, diagnostics)
}

/// The summary `chat show` prints, from the API's view.
fn summary(chat: ChatView) -> ChatSummary {
    ChatSummary {
        format: Format::from_name(&chat.format).map_or("unknown", Format::name),
        name: chat.name,
        chat_id: chat.chat_id,
        seed_suffix: chat.seed_suffix,
        created_at: chat.created_at,
        routes: chat.routes,
        messages: chat.messages,
        trashed: chat.trashed,
    }
}

fn add(
    client: &mut Client,
    settings: AddSettings,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    // Before the secret is asked for, as without a daemon.
    match client.call::<_, ChatView>("chat.show", &ChatParams { chat: settings.name.clone() }) {
        Ok(_) => return Err(StoreError::ChatExists(settings.name).into()),
        Err(crate::api::ClientError::Rpc(error)) if error.kind() == Some(ErrorCode::NoSuchChat) => {}
        Err(error) => return Err(Error::Daemon(error.to_string())),
    }
    let secret = super::read_secret(&settings.secret)?;
    let params = ChatAddParams {
        chat: settings.name.clone(),
        secret: secret.to_string(),
        format: settings.format.name().to_owned(),
        chat_id: settings.clm201_chat_id.clone(),
        seed_suffix: settings.seed_suffix.clone(),
        weak_secret: settings.weak_secret,
    };
    let added: Result<ChatAdded, Error> = call(client, "chat.add", &params);
    drop(Zeroizing::new(params.secret));
    let added = added?;
    let _ = writeln!(diagnostics, "clm-bridge: chat {} added ({})", quoted(&added.chat), added.format);
    print_received(&received(&added.opened)?, settings.json, out)?;
    report_broken(&added.broken, diagnostics);
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {} pending pointer(s) opened; {} still pending",
        added.opened.len(),
        added.still_pending
    );
    Ok(Outcome::Done)
}

fn join(
    client: &mut Client,
    args: crate::cli::ChatJoinArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let text = read_invite(&args.invite)?;
    let invite = Invite::parse(text.trim())?;
    let name = joined_name(&invite, args.name.as_deref())?;
    validate_chat_name(&name)?;
    let params =
        ChatJoinParams { link: text.trim().to_owned(), name: args.name, accept_routes: args.accept_routes };
    let joined: Result<Joined, Error> = call(client, "chat.join", &params);
    drop(Zeroizing::new(params.link));
    let joined = joined?;
    let _ = writeln!(diagnostics, "clm-bridge: joined chat {} ({})", quoted(&joined.chat), joined.format);
    for offer in &joined.routes {
        let offer = match offer.state.as_str() {
            "added" => RouteOffer::Added(offer.route.clone()),
            "suggested" => RouteOffer::Suggested(offer.route.clone()),
            _ => RouteOffer::Unusable(offer.route.clone()),
        };
        let _ = writeln!(diagnostics, "clm-bridge: {}", offer_note(&offer, &joined.chat));
    }
    print_received(&received(&joined.opened)?, args.json, out)?;
    report_broken(&joined.broken, diagnostics);
    Ok(Outcome::Done)
}

fn route(
    client: &mut Client,
    args: crate::cli::ChatRouteArgs,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    route_parts(&args.via)?;
    let remove = args.remove;
    let changed: RouteChanged =
        call(client, "chat.route", &ChatRouteParams { chat: args.name, via: args.via, remove })?;
    let (route, chat) = (quoted(&changed.route), quoted(&changed.chat));
    if remove {
        let _ = writeln!(diagnostics, "clm-bridge: route {route} removed from {chat}");
        return Ok(Outcome::Done);
    }
    let what = if changed.changed { "added to" } else { "was already a route of" };
    let _ = writeln!(diagnostics, "clm-bridge: route {route} {what} {chat}");
    if let Some(problem) = changed.problem {
        let _ = writeln!(diagnostics, "clm-bridge: note: {problem}");
    }
    Ok(Outcome::Done)
}

fn show_view(
    view: &InviteView,
    showing: &InviteOutputArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let invite = Invite::parse(&view.link)?;
    let format = Format::from_name(&view.format).unwrap_or_else(|| invite.format());
    super::invite::show(&invite, &view.chat, format, showing, out, diagnostics)
}

/// Opened messages as `print_received` takes them.
fn received(opened: &[OpenedMessage]) -> Result<Vec<Received>, Error> {
    opened
        .iter()
        .map(|message| {
            let format = Format::from_name(&message.format).ok_or_else(|| {
                Error::Daemon(format!("the daemon names an unknown format {:?}", message.format))
            })?;
            Ok(Received {
                id: message.id,
                new: message.new,
                chat: message.chat.clone(),
                from: message.from.clone(),
                text: Zeroizing::new(message.text.clone()),
                epoch: message.epoch,
                format,
                truncated: message.truncated,
                from_the_future: message.from_the_future,
                transport: message.transport.clone(),
                origin: message.origin.clone(),
            })
        })
        .collect()
}

fn report_broken(broken: &[Broken], diagnostics: &mut dyn Write) {
    for Broken { chat, error, count } in broken {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: {count} pointer(s) of chat {} do not open: {error} (altered or forged?)",
            quoted(chat)
        );
    }
}

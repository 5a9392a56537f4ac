//! `clm-bridge chat add | list | show | rename | remove | route`: the chats this bridge knows.
//!
//! A chat's secret (clm201: the master seed) is read from `--secret-env`, `--secret-file` or
//! a prompt, sealed in the vault, and never shown again. Adding a chat retries every pending
//! pointer: CLM's "a chat is born when its first message is received".

use std::io::Write;

use clm_core::Format;
use serde::Serialize;

use crate::app::{self, App};
use crate::cli::{
    ChatAddArgs, ChatArgs, ChatCommand, ChatListArgs, ChatRemoveArgs, ChatRenameArgs, ChatRouteArgs,
    ChatShowArgs, GlobalArgs,
};
use crate::commands::Outcome;
use crate::commands::find_chat;
use crate::commands::opened::{once_per_message, print_received, report};
use crate::display::printable;
use crate::display::quoted;
use crate::error::{Error, usage};
pub use crate::ops::chats::{
    AddSettings, ChatSummary, add_chat, checked_route_parts, route_parts, route_text, summary, unconfigured,
    validate_chat_name,
};
use crate::pipeline::{KnownChats, retry_pending};
use crate::store::{Route, StoreError};
use crate::times::format_time;

/// Runs a `chat` subcommand.
pub fn run(
    global: &GlobalArgs,
    args: ChatArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    match args.command {
        ChatCommand::Add(args) => add(global, args, out, diagnostics),
        ChatCommand::List(args) => list(global, args, out),
        ChatCommand::Show(args) => show(global, args, out),
        ChatCommand::Rename(args) => rename(global, args, out, diagnostics),
        ChatCommand::Remove(args) => remove(global, args, diagnostics),
        ChatCommand::Route(args) => route(global, args, diagnostics),
        ChatCommand::New(args) => super::invite::new(global, args, out, diagnostics),
        ChatCommand::Invite(args) => super::invite::invite(global, args, out, diagnostics),
        ChatCommand::Join(args) => super::invite::join(global, args, out, diagnostics),
    }
}

fn add(
    global: &GlobalArgs,
    args: ChatAddArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let settings = AddSettings::from_args(args)?;
    let mut app = App::open(&global.locations())?;
    // Before the secret is asked for and stretched.
    match app.store.chat(&settings.name) {
        Ok(_) => return Err(StoreError::ChatExists(settings.name).into()),
        Err(StoreError::NoSuchChat(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let secret = super::read_new_secret(&settings.secret)?;
    let now = app::now()?;
    add_chat(&mut app, &settings, secret.as_bytes(), now)?;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: chat {} added ({})",
        quoted(&settings.name),
        settings.format.name()
    );
    open_pending(&mut app, now, settings.json, out, diagnostics)?;
    Ok(Outcome::Done)
}

/// Retries the pending pointers with the chats as they are now (one was added or renamed),
/// printing the messages that open.
fn open_pending(
    app: &mut App,
    now: u64,
    json: bool,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<(), Error> {
    let mut known = KnownChats::load(&app.store, now)?;
    let limits = app.settings.limits;
    let mut opened = retry_pending(&mut app.store, &mut known, now.cast_signed(), limits)?;
    once_per_message(&mut opened.received);
    print_received(&opened.received, json, out)?;
    // Pointers that stay pending were reported when they arrived; only news is told here.
    let still_pending = app.store.pending_count()?;
    opened.pending = 0;
    if !opened.received.is_empty() || !opened.broken.is_empty() {
        report(&opened, diagnostics);
    }
    let _ = writeln!(
        diagnostics,
        "clm-bridge: {} pending pointer(s) opened; {still_pending} still pending",
        opened.received.len()
    );
    Ok(())
}

fn write_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), Error> {
    writeln!(out, "{}", crate::display::json_text(value).as_str()).map_err(Error::Output)
}

fn list(global: &GlobalArgs, args: ChatListArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let app = App::open(&global.locations())?;
    let counts = app.store.message_counts()?;
    for chat in app.store.list_chats()? {
        let summary = summary(&app, &chat, &counts)?;
        if args.json {
            write_json(out, &summary)?;
        } else {
            let id = summary.chat_id.as_deref().map(|id| format!(" (chat id {})", printable(id)));
            writeln!(
                out,
                "{} {}{} {} message(s)",
                printable(&summary.name),
                summary.format,
                id.unwrap_or_default(),
                summary.messages
            )
            .map_err(Error::Output)?;
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

fn show(global: &GlobalArgs, args: ChatShowArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let app = App::open(&global.locations())?;
    let chat = find_chat(&app.store, &args.name)?;
    let summary = summary(&app, &chat, &app.store.message_counts()?)?;
    if args.json {
        write_json(out, &summary)?;
    } else {
        out.write_all(show_text(&summary).as_bytes()).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// `chat show`'s text: one `key: value` line per fact.
pub(crate) fn show_text(summary: &ChatSummary) -> String {
    let mut text = format!("name: {}\nformat: {}\n", printable(&summary.name), summary.format);
    if let Some(id) = &summary.chat_id {
        text.push_str(&format!("chat id: {}\n", printable(id)));
    }
    if let Some(suffix) = &summary.seed_suffix {
        text.push_str(&format!("seed suffix: {}\n", printable(suffix)));
    }
    text.push_str(&format!("added: {}\n", format_time(summary.created_at)));
    let routes: Vec<String> = summary.routes.iter().map(|r| printable(r).into_owned()).collect();
    let routes =
        if routes.is_empty() { "none (`chat route NAME --via ...`)".to_owned() } else { routes.join(", ") };
    text.push_str(&format!("routes: {routes}\n"));
    text.push_str(&format!("messages: {} ({} in the trash)\n", summary.messages, summary.trashed));
    text
}

fn rename(
    global: &GlobalArgs,
    args: ChatRenameArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    validate_chat_name(&args.new)?;
    let mut app = App::open(&global.locations())?;
    let chat = find_chat(&app.store, &args.old)?;
    app.store.rename_chat(&args.old, &args.new)?;
    let _ = writeln!(diagnostics, "clm-bridge: chat {} is now {}", quoted(&args.old), quoted(&args.new));
    if chat.format == Format::Clm202 && args.old != args.new {
        // CLM 2.0.2 puts the chat name inside every message and opens only its own name's.
        let _ = writeln!(
            diagnostics,
            "clm-bridge: note: a clm202 chat's name is part of each message: it now opens and sends \
             messages for {} only",
            quoted(&args.new)
        );
        // Pointers kept pending under the misspelt name may open under the fixed one.
        open_pending(&mut app, app::now()?, false, out, diagnostics)?;
    }
    Ok(Outcome::Done)
}

fn remove(global: &GlobalArgs, args: ChatRemoveArgs, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let mut app = App::open(&global.locations())?;
    find_chat(&app.store, &args.name)?;
    let purged = app.store.remove_chat(&args.name, args.purge, app::now()?.cast_signed())?;
    let _ = writeln!(
        diagnostics,
        "clm-bridge: chat {} removed with its secret and routes; {purged} message(s) deleted",
        quoted(&args.name)
    );
    Ok(Outcome::Done)
}

fn route(global: &GlobalArgs, args: ChatRouteArgs, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let (transport, target) = route_parts(&args.via)?;
    let app = App::open(&global.locations())?;
    if !args.remove {
        // Checked before it is stored: a bad route would hold up the chat's good ones at send.
        checked_route_parts(&app.settings, &args.via)?;
    }
    let chat = find_chat(&app.store, &args.name)?;
    let shown = route_text(&Route { transport: transport.clone(), target: target.clone() });
    if args.remove {
        if !app.store.remove_route(chat.id, &transport, &target)? {
            return Err(usage(format!("chat {} has no route {}", quoted(&chat.name), quoted(&shown))));
        }
        let _ =
            writeln!(diagnostics, "clm-bridge: route {} removed from {}", quoted(&shown), quoted(&chat.name));
        return Ok(Outcome::Done);
    }
    let added = app.store.add_route(chat.id, &transport, &target)?;
    let what = if added { "added to" } else { "was already a route of" };
    let _ = writeln!(diagnostics, "clm-bridge: route {} {what} {}", quoted(&shown), quoted(&chat.name));
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clm_core::format::clm201::default_seed_suffix;
    use clm_core::{Clm201Chat, Pointer};

    use super::*;
    use crate::cli::FormatArg;
    use crate::cli::SecretArgs;
    use crate::commands::opened::tests::test_app;
    use crate::commands::opened::{Input, store_inputs};
    use crate::commands::scan::TRANSPORT;
    use crate::config::DropSettings;
    use crate::config::Settings as ConfigSettings;
    use crate::limits::Limits;

    fn args(name: &str, format: FormatArg) -> ChatAddArgs {
        ChatAddArgs {
            name: name.into(),
            format,
            secret: SecretArgs { secret_env: Some("S".into()), secret_file: None },
            weak_secret: false,
            chat_id: None,
            seed_suffix: None,
            json: false,
        }
    }

    fn usage_message(result: Result<AddSettings, Error>) -> String {
        match result {
            Err(Error::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn clm201_default_chats_imply_their_ids_others_need_one() {
        let settings = AddSettings::from_args(args("general", FormatArg::Clm201)).unwrap();
        assert_eq!(settings.clm201_chat_id.as_deref(), Some("1"));
        assert!(usage_message(AddSettings::from_args(args("Work", FormatArg::Clm201))).contains("--chat-id"));
        let mut with_id = args("Work", FormatArg::Clm201);
        with_id.chat_id = Some("7".into());
        with_id.seed_suffix = Some("work".into());
        let settings = AddSettings::from_args(with_id).unwrap();
        assert_eq!(settings.clm201_chat_id.as_deref(), Some("7"));
        assert_eq!(settings.seed_suffix.as_deref(), Some("work"));
    }

    #[test]
    fn clm201_flags_and_bad_names_are_refused() {
        for format in [FormatArg::Clm202, FormatArg::Native] {
            let mut with_id = args("Work", format);
            with_id.chat_id = Some("7".into());
            assert!(usage_message(AddSettings::from_args(with_id)).contains("clm201 only"));
        }
        let mut empty_id = args("Work", FormatArg::Clm201);
        empty_id.chat_id = Some(String::new());
        usage_message(AddSettings::from_args(empty_id));
        for name in ["", " ", "a\nb", "\u{1b}[2J"] {
            usage_message(AddSettings::from_args(args(name, FormatArg::Clm202)));
        }
    }

    #[test]
    fn routes_are_stored_by_instance_and_target() {
        assert_eq!(route_parts("drop.usb").unwrap(), ("drop.usb".into(), String::new()));
        assert_eq!(
            route_parts("email.work:bob@example.org").unwrap(),
            ("email.work".into(), "bob@example.org".into())
        );
        assert_eq!(route_parts("drop").unwrap(), ("drop".into(), String::new()));
        for bad in ["pigeon.coop", "drop.", ""] {
            let error = route_parts(bad).expect_err(bad);
            assert!(matches!(&error, Error::Usage(m) if m.starts_with("--via")), "{bad}: {error}");
        }
    }

    #[test]
    fn routes_are_checked_against_the_settings() {
        let mut settings = ConfigSettings::default();
        assert!(unconfigured(&settings, "drop.usb").is_some());
        assert!(unconfigured(&settings, "drop").is_some());
        assert!(unconfigured(&settings, "email.work").unwrap().contains("[email.work]"));
        settings.drops.insert("usb".into(), DropSettings::new(PathBuf::from("/media/usb")));
        assert!(unconfigured(&settings, "drop.usb").is_none());
        assert!(unconfigured(&settings, "drop").is_none());
        assert!(unconfigured(&settings, "drop.nas").is_some());
    }

    #[test]
    fn adding_a_chat_opens_its_pending_pointers() {
        let (_temp, mut app) = test_app();
        let chat = Clm201Chat::new("master seed", "7", Some("work")).unwrap();
        let pointer = Pointer::Clm201(chat.encode("bob", "pending hello", 1_763_700_000).unwrap()).to_json();
        let input = Input { origin: "/in".into(), bytes: pointer.into_bytes() };
        assert!(store_inputs(&mut app, TRANSPORT, &[input], 100).unwrap().received.is_empty());

        let mut work = args("Work", FormatArg::Clm201);
        work.chat_id = Some("7".into());
        work.seed_suffix = Some("work".into());
        let settings = AddSettings::from_args(work).unwrap();
        add_chat(&mut app, &settings, b"master seed", 200).unwrap();
        let mut known = KnownChats::load(&app.store, 200).unwrap();
        let opened = retry_pending(&mut app.store, &mut known, 200, Limits::default()).unwrap();
        let texts: Vec<(&str, &str, bool)> =
            opened.received.iter().map(|r| (r.chat.as_str(), r.text.as_str(), r.new)).collect();
        assert_eq!(texts, [("Work", "pending hello", true)]);
        assert_eq!(app.store.pending_count().unwrap(), 0);
    }

    #[test]
    fn summary_shows_resolved_suffix_routes_and_counts_but_no_secret() {
        let (_temp, mut app) = test_app();
        let settings = AddSettings::from_args(args("urgent", FormatArg::Clm201)).unwrap();
        let id = add_chat(&mut app, &settings, b"seed-canary", 5).unwrap();
        app.store.add_route(id, "drop.usb", "").unwrap();
        app.store.add_route(id, "email.work", "bob@example.org").unwrap();
        let chat = app.store.chat("urgent").unwrap();
        let summary = summary(&app, &chat, &app.store.message_counts().unwrap()).unwrap();
        assert_eq!(summary.chat_id.as_deref(), Some("0"));
        assert_eq!(summary.seed_suffix.as_deref(), Some(default_seed_suffix("0").as_str()));
        assert_eq!(summary.routes, ["drop.usb", "email.work:bob@example.org"]);
        let text = show_text(&summary);
        let json = serde_json::to_string(&summary).unwrap();
        assert!(text.contains("routes: drop.usb, email.work:bob@example.org"), "{text}");
        assert!(!text.contains("seed-canary") && !json.contains("seed-canary"));
    }

    #[test]
    fn a_clm201_secret_must_be_text() {
        let (_temp, mut app) = test_app();
        let settings = AddSettings::from_args(args("urgent", FormatArg::Clm201)).unwrap();
        assert!(matches!(add_chat(&mut app, &settings, b"\xff", 5), Err(Error::Usage(_))));
        assert!(matches!(app.store.chat("urgent"), Err(StoreError::NoSuchChat(_))));
    }
}

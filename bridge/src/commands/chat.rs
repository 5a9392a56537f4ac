//! `clm-bridge chat add | list | show | rename | remove | route`: the chats this bridge knows.
//!
//! A chat's secret (clm201: the master seed) is read from `--secret-env`, `--secret-file` or
//! a prompt, sealed in the vault, and never shown again. Adding a chat retries every pending
//! pointer: CLM's "a chat is born when its first message is received".

use std::collections::HashMap;
use std::io::Write;

use clm_core::format::clm201::default_seed_suffix;
use clm_core::{Clm201Chat, Format, Native2Keys, NativeKeys};
use serde::Serialize;

use crate::app::{self, App};
use crate::cli::{
    ChatAddArgs, ChatArgs, ChatCommand, ChatListArgs, ChatRemoveArgs, ChatRenameArgs, ChatRouteArgs,
    ChatShowArgs, GlobalArgs, SecretArgs,
};
use crate::commands::opened::{once_per_message, print_received, report};
use crate::commands::{Outcome, default_chat_id, find_chat};
use crate::config::{RouteSpec, Settings as ConfigSettings};
use crate::display::printable;
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::pipeline::{KnownChats, retry_pending};
use crate::store::{Chat, ChatId, NewChat, Route, StoreError};
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

/// A chat to add, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSettings {
    /// Local name.
    pub name: String,
    /// Format and its parameters.
    pub format: Format,
    /// clm201: the chat id (given, or implied by CLM's default chat names).
    pub clm201_chat_id: Option<String>,
    /// clm201: the seed suffix (`None`: CLM's default for the chat id).
    pub seed_suffix: Option<String>,
    /// Where the secret comes from.
    pub secret: SecretArgs,
    /// native2: accept a typed secret that the strength estimate finds weak.
    pub weak_secret: bool,
    /// native2: the chat's own salt (from an invite); `None`: the typed-secret salt.
    pub native_salt: Option<[u8; 16]>,
    /// Print opened messages as JSON lines.
    pub json: bool,
}

impl AddSettings {
    /// Checks that the flags make sense together for the format.
    pub fn from_args(args: ChatAddArgs) -> Result<AddSettings, Error> {
        validate_chat_name(&args.name)?;
        let format = Format::from(args.format);
        if format != Format::Clm201 && (args.chat_id.is_some() || args.seed_suffix.is_some()) {
            return Err(usage("--chat-id and --seed-suffix apply to --format clm201 only"));
        }
        let clm201_chat_id = match format {
            Format::Clm201 => Some(match args.chat_id {
                Some(id) if id.is_empty() => return Err(usage("--chat-id is empty")),
                Some(id) => id,
                None => default_chat_id(&args.name).map(str::to_owned).ok_or_else(|| {
                    usage("clm201 needs --chat-id unless NAME is urgent, general or secrets (ids 0, 1, 2)")
                })?,
            }),
            _ => None,
        };
        Ok(AddSettings {
            name: args.name,
            format,
            clm201_chat_id,
            seed_suffix: args.seed_suffix,
            secret: args.secret,
            weak_secret: args.weak_secret,
            native_salt: None,
            json: args.json,
        })
    }
}

/// A chat name: shown on terminals and used on command lines, so not empty and free of control
/// characters.
pub(crate) fn validate_chat_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(usage("the chat name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(usage("the chat name contains control characters (line breaks, tabs, escapes)"));
    }
    Ok(())
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

/// Stores a chat: checks the keys can be made (clm201: the chat id), and for native chats
/// stretches the secret once (Argon2id) so that later runs start from the cached root. A typed
/// native2 secret must look hard to guess (unless `weak_secret`); a native secret must not be a
/// legacy chat's secret, nor the other way round: legacy pointers let anyone test guesses of
/// their secret at SHA-256 speed.
pub fn add_chat(app: &mut App, settings: &AddSettings, secret: &[u8], now: u64) -> Result<ChatId, Error> {
    let text = || std::str::from_utf8(secret).map_err(|_| usage("the chat secret is not valid UTF-8"));
    refuse_shared_with_other_formats(app, settings.format, secret)?;
    if settings.format == Format::Native2 && settings.native_salt.is_none() && !settings.weak_secret {
        crate::strength::check(text()?, "the chat secret", "--weak-secret")
            .map_err(|weak| usage(weak.to_string()))?;
    }
    let native_salt = match settings.format {
        Format::Native2 => Some(settings.native_salt.unwrap_or(clm_core::format::native2::TYPED_SECRET_SALT)),
        _ => None,
    };
    let native_root = match settings.format {
        Format::Clm201 => {
            let id = settings.clm201_chat_id.as_deref().unwrap_or_default();
            Clm201Chat::new(text()?, id, settings.seed_suffix.as_deref())?;
            None
        }
        Format::Clm202 => {
            text()?;
            None
        }
        Format::Native2 => Some(Native2Keys::stretch(secret, &native_salt.unwrap_or_default())),
        _ => Some(NativeKeys::stretch(secret)),
    };
    let id = app.store.add_chat(&NewChat {
        name: &settings.name,
        format: settings.format,
        secret,
        clm201_chat_id: settings.clm201_chat_id.as_deref(),
        seed_suffix: settings.seed_suffix.as_deref(),
        native_root: native_root.as_deref(),
        native_salt: native_salt.as_ref(),
        created_at: now.cast_signed(),
    })?;
    Ok(id)
}

/// Refuses a secret that a chat of the other family (native or legacy) already uses.
fn refuse_shared_with_other_formats(app: &App, format: Format, secret: &[u8]) -> Result<(), Error> {
    let legacy = |format: Format| matches!(format, Format::Clm201 | Format::Clm202);
    for chat in app.store.list_chats()? {
        if legacy(chat.format) != legacy(format) && app.store.chat_secret(chat.id)?.as_slice() == secret {
            return Err(usage(format!(
                "chat {} ({}) already uses this secret: a {} chat must not share it with a {} one, whose \
                 pointers let anyone test guesses of it at SHA-256 speed; pick another secret",
                quoted(&chat.name),
                chat.format.name(),
                format.name(),
                chat.format.name()
            )));
        }
    }
    Ok(())
}

/// What `chat list` and `chat show` say about a chat. Never its secret. Field order is the
/// JSON key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatSummary {
    /// Local name.
    pub name: String,
    /// Pointer format.
    pub format: &'static str,
    /// clm201 chat id.
    pub chat_id: Option<String>,
    /// clm201 seed suffix in use (CLM's default when none was given).
    pub seed_suffix: Option<String>,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// Where sent messages go: `TRANSPORT[:TARGET]`.
    pub routes: Vec<String>,
    /// Messages in history, trashed ones included.
    pub messages: u64,
    /// Of those, in the trash.
    pub trashed: u64,
}

fn summary(app: &App, chat: &Chat, counts: &HashMap<ChatId, (u64, u64)>) -> Result<ChatSummary, Error> {
    let (messages, trashed) = counts.get(&chat.id).copied().unwrap_or_default();
    let seed_suffix = match (&chat.seed_suffix, &chat.clm201_chat_id) {
        (Some(suffix), _) => Some(suffix.clone()),
        (None, Some(id)) => Some(default_seed_suffix(id)),
        (None, None) => None,
    };
    Ok(ChatSummary {
        name: chat.name.clone(),
        format: chat.format.name(),
        chat_id: chat.clm201_chat_id.clone(),
        seed_suffix,
        created_at: chat.created_at,
        routes: app.store.routes(chat.id)?.iter().map(route_text).collect(),
        messages,
        trashed,
    })
}

pub(crate) fn route_text(route: &Route) -> String {
    if route.target.is_empty() {
        route.transport.clone()
    } else {
        format!("{}:{}", route.transport, route.target)
    }
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
fn show_text(summary: &ChatSummary) -> String {
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

/// A `--via` route as stored: the transport instance (`drop.usb`, or `drop` for "the only
/// drop folder") and the target within it.
pub fn route_parts(via: &str) -> Result<(String, String), Error> {
    let spec = RouteSpec::parse(via).map_err(|message| usage(format!("--via: {message}")))?;
    let transport = match &spec.instance {
        Some(instance) => format!("{}.{instance}", spec.kind),
        None => spec.kind.clone(),
    };
    Ok((transport, spec.target))
}

/// Why a route may not work yet with these settings, if it may not.
pub(crate) fn unconfigured(settings: &ConfigSettings, transport: &str) -> Option<String> {
    let (kind, instance) = match transport.split_once('.') {
        Some((kind, instance)) => (kind, Some(instance)),
        None => (transport, None),
    };
    settings.unconfigured(kind, instance)
}

fn route(global: &GlobalArgs, args: ChatRouteArgs, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let (transport, target) = route_parts(&args.via)?;
    let app = App::open(&global.locations())?;
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
    if let Some(problem) = unconfigured(&app.settings, &transport) {
        let _ = writeln!(diagnostics, "clm-bridge: note: {problem}");
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clm_core::Pointer;

    use super::*;
    use crate::cli::FormatArg;
    use crate::commands::opened::tests::test_app;
    use crate::commands::opened::{Input, store_inputs};
    use crate::commands::scan::TRANSPORT;
    use crate::config::DropSettings;
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

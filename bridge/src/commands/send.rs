//! `clm-bridge send`: encode a message with a chat's keys (epoch now, a random nonce), record
//! it in history as sent, and deliver the pointer over the chat's routes: those stored with
//! `chat route` plus the settings' `chats.NAME.routes`, or only `--via ROUTE`.
//!
//! Routes are resolved before anything is encoded or recorded, so a route that cannot work
//! (no such drop section, a transport this build lacks) changes nothing. The message is then
//! recorded as sent together with one outbox entry per route, in one transaction, and each
//! delivery is tried once: one that fails for now (a server down, a stick pulled out) stays in
//! the outbox for `clm-bridge run` to retry, and `send` exits 3 (`Outcome::Queued`) so scripts
//! know; one refused for good is kept, marked failed, and makes `send` fail. No pointer is lost
//! to a transport being down.

use std::io::Write;

use zeroize::Zeroizing;

use crate::app::{self, App};
use crate::cli::{GlobalArgs, SendArgs};
use crate::commands::{Outcome, find_chat};
use crate::config::RouteSpec;
use crate::delivery::{self, Attempt};
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::input::read_message_from_stdin;
pub use crate::ops::send::{NONCE_BYTES, encode, encode_and_record, no_route, plan, random_nonce};
use crate::store::{Delivery, IngestOutcome};
use crate::transports::{Context, Resolved};

/// Runs `send`.
pub fn run(
    global: &GlobalArgs,
    args: SendArgs,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let (via, message) = inputs(&args)?;
    let mut app = App::open(&global.locations())?;
    let chat = find_chat(&app.store, &args.chat)?;
    let stored_routes = app.store.routes(chat.id)?;
    let context = Context::new(&app.data_dir, &app.vault);
    let routes = plan(&app.settings, &context, &chat.name, &stored_routes, via.as_ref())?;
    if routes.is_empty() && !args.print {
        return Err(no_route(&chat.name));
    }
    let (pointer_text, recorded) = encode_and_record(&mut app, &chat, &routes, &message)?;
    if let IngestOutcome::Duplicate(id) = recorded {
        let _ = writeln!(diagnostics, "clm-bridge: this very pointer is already in history (#{id})");
    }
    if args.print {
        writeln!(out, "{pointer_text}").and_then(|()| out.flush()).map_err(Error::Output)?;
    }
    if routes.is_empty() {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: recorded as sent in {}; no route to deliver it over: pass the pointer on yourself",
            quoted(&chat.name)
        );
        return Ok(Outcome::Done);
    }
    let IngestOutcome::New(message_id) = recorded else {
        return Ok(Outcome::Done);
    };
    deliver_once(&mut app, &routes, message_id, &chat.name, diagnostics)
}

/// `--via` checked, and the message (the argument, or standard input), not empty.
fn inputs(args: &SendArgs) -> Result<(Option<RouteSpec>, Zeroizing<String>), Error> {
    let via = args
        .via
        .as_deref()
        .map(|via| RouteSpec::parse(via).map_err(|reason| usage(format!("--via: {reason}"))))
        .transpose()?;
    let message = match &args.message {
        Some(message) => Zeroizing::new(message.clone()),
        None => read_message_from_stdin()?,
    };
    if message.is_empty() {
        return Err(usage("the message is empty: nothing to send"));
    }
    Ok((via, message))
}

/// Tries each of the message's deliveries once: done, queued (some wait in the outbox), or an
/// error naming the routes that refused for good.
fn deliver_once(
    app: &mut App,
    routes: &[Resolved],
    message_id: i64,
    chat: &str,
    diagnostics: &mut dyn Write,
) -> Result<Outcome, Error> {
    let queued = app.store.deliveries_of(message_id)?;
    let retries = app.settings.outbox.retries();
    let Tried { failed, deferred } = deliver(&mut app.store, routes, &queued, &retries, diagnostics)?;
    if failed.is_empty() {
        return Ok(if deferred == 0 { Outcome::Done } else { Outcome::Queued });
    }
    let reasons: Vec<String> = failed.iter().map(|(route, reason)| format!("{route}: {reason}")).collect();
    Err(Error::Delivery(format!(
        "refused over {} of {} route(s) ({}); the message stays recorded as sent in {} and the delivery \
         in the outbox (`clm-bridge outbox`)",
        failed.len(),
        routes.len(),
        reasons.join("; "),
        quoted(chat)
    )))
}

/// What trying the deliveries once came to.
struct Tried {
    /// Routes that refused for good, with why.
    failed: Vec<(String, String)>,
    /// How many deliveries failed for now and wait in the outbox.
    deferred: usize,
}

/// Tries every queued delivery once, recording each result. Deliveries that failed for now
/// stay queued for the daemon.
fn deliver(
    store: &mut crate::store::Store,
    routes: &[Resolved],
    queued: &[Delivery],
    retries: &crate::backoff::Backoff,
    diagnostics: &mut dyn Write,
) -> Result<Tried, Error> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let now = app::now()?.cast_signed();
    let mut tried = Tried { failed: Vec::new(), deferred: 0 };
    for delivery in queued {
        let key = (delivery.transport.clone(), delivery.target.clone());
        let Some(route) = routes.iter().find(|route| route.key() == key) else { continue };
        let attempt = runtime.block_on(delivery::attempt(route, delivery, retries));
        delivery::record(store, delivery, &attempt, now)?;
        let _ = match attempt {
            Attempt::Delivered(sent) => {
                writeln!(diagnostics, "clm-bridge: sent over {} ({})", route.shown(), sent.id)
            }
            Attempt::Deferred { error, retry_in } => {
                tried.deferred += 1;
                writeln!(
                    diagnostics,
                    "clm-bridge: not delivered over {} yet ({error}); queued in the outbox: `clm-bridge run` \
                 retries it (next in {}s)",
                    route.shown(),
                    retry_in.as_secs()
                )
            }
            Attempt::Failed(error) => {
                tried.failed.push((route.shown(), error));
                Ok(())
            }
        };
    }
    Ok(tried)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clm_core::{ChatKeys, Clm201Chat, Clm202Chat, NativeKeys, Recognition, Registry};

    use super::*;
    use crate::config::{DropSettings, Settings};
    use crate::store::Route as StoredRoute;
    use crate::transports::tests::test_context;

    fn settings(drops: &[&str], chat_routes: &[(&str, &str)]) -> Settings {
        let mut settings = Settings::default();
        for name in drops {
            let account = DropSettings::new(PathBuf::from(format!("/srv/{name}")));
            settings.drops.insert((*name).to_owned(), account);
        }
        for (chat, route) in chat_routes {
            settings
                .chat_routes
                .entry((*chat).to_owned())
                .or_default()
                .push(RouteSpec::parse(route).unwrap());
        }
        settings
    }

    fn stored(transport: &str, target: &str) -> StoredRoute {
        StoredRoute { transport: transport.into(), target: target.into() }
    }

    fn plan(
        settings: &Settings,
        chat: &str,
        stored: &[StoredRoute],
        via: Option<&RouteSpec>,
    ) -> Result<Vec<Resolved>, Error> {
        let dir = tempfile::tempdir().unwrap();
        super::plan(settings, &test_context(dir.path()), chat, stored, via)
    }

    fn shown(routes: &[Resolved]) -> Vec<String> {
        routes.iter().map(Resolved::shown).collect()
    }

    #[test]
    fn stored_and_configured_routes_are_used_once_each() {
        let settings = settings(
            &["usb", "nas"],
            &[("Family", "drop.usb"), ("Family", "drop.nas:kids"), ("Work", "drop.nas")],
        );
        let stored = [stored("drop.usb", ""), stored("drop.nas", "old")];
        let routes = plan(&settings, "Family", &stored, None).unwrap();
        assert_eq!(shown(&routes), ["drop.usb", "drop.nas:old", "drop.nas:kids"]);
        assert!(plan(&settings, "Other", &[], None).unwrap().is_empty());
    }

    #[test]
    fn via_picks_one_route_alone() {
        let settings = settings(&["usb", "nas"], &[("Family", "drop.usb")]);
        let via = RouteSpec::parse("drop.nas:kids").unwrap();
        let routes = plan(&settings, "Family", &[stored("drop.usb", "")], Some(&via)).unwrap();
        assert_eq!(shown(&routes), ["drop.nas:kids"]);
        let unknown = RouteSpec::parse("drop.stick").unwrap();
        assert!(plan(&settings, "Family", &[], Some(&unknown)).is_err());
    }

    #[test]
    fn a_route_that_cannot_work_is_refused_before_anything_is_sent() {
        let settings = settings(&["usb"], &[]);
        let error = plan(&settings, "Family", &[stored("drop.gone", "")], None).unwrap_err().to_string();
        assert!(
            error.contains("\"Family\"") && error.contains("[drop.gone]") && error.contains("--via"),
            "{error}"
        );
        let error = plan(&settings, "Family", &[stored("email.work", "bob@example.org")], None).unwrap_err();
        assert!(error.to_string().contains("no [email.work] section"), "{error}");
    }

    #[test]
    fn every_format_encodes_what_its_chat_opens() {
        let nonce = [7u8; NONCE_BYTES];
        let chats = [
            ChatKeys::Native(NativeKeys::from_root(&[1; 32])),
            ChatKeys::Clm202(Clm202Chat::new("secret", "Family")),
            ChatKeys::Clm201(Clm201Chat::new("seed", "1", None).unwrap()),
        ];
        for (id, keys) in chats.into_iter().enumerate() {
            let pointer = encode(&keys, "alice", "hello", 1_763_700_000, nonce).unwrap();
            let mut registry = Registry::new();
            registry.set_now(1_763_700_000);
            registry.insert(id, keys);
            match registry.recognize(&pointer) {
                Recognition::Opened { chat, message } => {
                    assert_eq!((chat, message.from.as_str(), message.text.as_str()), (id, "alice", "hello"));
                }
                other => panic!("chat {id} does not open its own pointer: {other:?}"),
            }
        }
    }
}

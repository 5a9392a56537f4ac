//! Chats as the CLI and the API both change and show them: what a new chat must satisfy
//! ([`AddSettings`], [`add_chat`]), what is told about one ([`ChatSummary`], never its secret),
//! and routes as people write them.

use std::collections::HashMap;

use clm_core::format::clm201::default_seed_suffix;
use clm_core::{Clm201Chat, Format, Native2Keys, NativeKeys};
use serde::Serialize;

use crate::app::App;
use crate::cli::{ChatAddArgs, SecretArgs};
use crate::config::{RouteSpec, Settings as ConfigSettings};
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::store::{Chat, ChatId, NewChat, Route};

/// CLM's default chats and their clm201 ids: `--chat urgent` means chat 0 in both commands, so
/// encode needs no `--chat-id` for them and decode does not label another chat's messages.
pub fn default_chat_id(chat_name: &str) -> Option<&'static str> {
    match chat_name {
        "urgent" => Some("0"),
        "general" => Some("1"),
        "secrets" => Some("2"),
        _ => None,
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
pub fn validate_chat_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(usage("the chat name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(usage("the chat name contains control characters (line breaks, tabs, escapes)"));
    }
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

/// What `chat list` and `chat show` say about `chat`; `counts` from [`crate::store::Store::message_counts`].
pub fn summary(app: &App, chat: &Chat, counts: &HashMap<ChatId, (u64, u64)>) -> Result<ChatSummary, Error> {
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

/// A stored route as a person writes it: `TRANSPORT[:TARGET]`.
pub fn route_text(route: &Route) -> String {
    if route.target.is_empty() {
        route.transport.clone()
    } else {
        format!("{}:{}", route.transport, route.target)
    }
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

/// `chat route`'s route, checked before it is stored (see `transports::check_route`): the
/// stored form (transport, target).
pub fn checked_route_parts(settings: &ConfigSettings, via: &str) -> Result<(String, String), Error> {
    let spec = RouteSpec::parse(via).map_err(|message| usage(format!("--via: {message}")))?;
    crate::transports::check_route(settings, &spec).map_err(|error| usage(error.to_string()))?;
    route_parts(via)
}

/// Why a route may not work yet with these settings, if it may not.
pub fn unconfigured(settings: &ConfigSettings, transport: &str) -> Option<String> {
    let (kind, instance) = match transport.split_once('.') {
        Some((kind, instance)) => (kind, Some(instance)),
        None => (transport, None),
    };
    settings.unconfigured(kind, instance)
}

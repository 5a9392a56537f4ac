//! Sending as the CLI and the API both do it: the routes a message goes over (resolved before
//! anything is recorded), and the pointer it is encoded as.

use std::collections::HashSet;

use clm_core::{ChatKeys, Pointer, hex};

use crate::app::{self, App};
use crate::config::{RouteSpec, Settings};
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::pipeline;
use crate::store::{Chat, IngestOutcome, Route as StoredRoute, SentMessage};
use crate::transports::{self, Context, Resolved};

/// Random bytes drawn for a nonce: native2 takes all 24; native the first 16; clm202 the hex of
/// those 16.
pub const NONCE_BYTES: usize = 24;

/// The routes to deliver over: `--via` alone, else the stored routes then the settings' ones,
/// each delivery once.
pub fn plan(
    settings: &Settings,
    context: &Context,
    chat: &str,
    stored: &[StoredRoute],
    via: Option<&RouteSpec>,
) -> Result<Vec<Resolved>, Error> {
    if let Some(via) = via {
        return Ok(vec![transports::resolve(settings, context, via)?]);
    }
    let in_chat = |error: transports::SetupError| {
        usage(format!("chat {}: {error} (or pick another with --via)", quoted(chat)))
    };
    let mut routes = Vec::new();
    let mut seen = HashSet::new();
    let stored = stored.iter().map(|route| transports::resolve_stored(settings, context, route));
    let configured = settings
        .chat_routes
        .get(chat)
        .into_iter()
        .flatten()
        .map(|spec| transports::resolve(settings, context, spec));
    for resolved in stored.chain(configured) {
        let resolved = resolved.map_err(in_chat)?;
        if seen.insert(resolved.key()) {
            routes.push(resolved);
        }
    }
    Ok(routes)
}

/// Encodes with the chat's keys: native and clm202 with the random nonce, clm201 without one
/// (its format has none).
pub fn encode(
    keys: &ChatKeys,
    from: &str,
    message: &str,
    epoch: u64,
    nonce: [u8; NONCE_BYTES],
) -> Result<Pointer, Error> {
    // 128 bits for the formats that take 16 bytes, all 192 for native2's XChaCha20 nonce.
    let short: [u8; 16] = nonce[..16].try_into().expect("16 of 24 bytes");
    Ok(match keys {
        ChatKeys::Native2(keys) => Pointer::Native2(keys.encode(from, message, epoch, nonce)?),
        ChatKeys::Native(keys) => Pointer::Native(keys.encode(from, message, epoch, short)?),
        ChatKeys::Clm202(chat) => Pointer::Clm202(chat.encode(from, message, epoch, &hex::encode(&short))?),
        ChatKeys::Clm201(chat) => Pointer::Clm201(chat.encode(from, message, epoch)?),
        _ => return Err(usage("this chat's format cannot be sent by this build of clm-bridge")),
    })
}

/// A fresh nonce from the operating system's RNG.
pub fn random_nonce() -> Result<[u8; NONCE_BYTES], Error> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
    Ok(nonce)
}

/// `N` bytes from the operating system's RNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

/// `send`'s refusal when a chat has no route and the pointer is not printed either.
pub fn no_route(chat: &str) -> Error {
    usage(format!(
        "chat {} has no route to send over: add one (`clm-bridge chat route {chat} --via drop.NAME`, or routes \
         in the settings' [chats.{chat}]), pass --via ROUTE, or use --print and pass the pointer on yourself",
        quoted(chat)
    ))
}

/// Encodes `text` with the chat's keys (epoch now, a random nonce) and records it as sent with
/// one outbox entry per route, in one transaction: the pointer's canonical text, and whether
/// it was new (clm201 has no nonce: the same text in the same second is the same pointer).
pub fn encode_and_record(
    app: &mut App,
    chat: &Chat,
    routes: &[Resolved],
    text: &str,
) -> Result<(String, IngestOutcome), Error> {
    let from = app.identity()?;
    let keys = pipeline::chat_keys(&app.store, chat)?;
    let now = app::now()?;
    let pointer = encode(&keys, &from, text, now, random_nonce()?)?;
    let pointer_text = pointer.to_json();
    let deliveries: Vec<(String, String)> = routes.iter().map(Resolved::key).collect();
    let recorded = app.store.record_sent(&SentMessage {
        chat_id: chat.id,
        digest: pointer.digest(),
        pointer_text: &pointer_text,
        epoch: pointer.epoch(),
        sender: &from,
        text,
        now: now.cast_signed(),
        deliveries: &deliveries,
    })?;
    Ok((pointer_text, recorded))
}

//! The receive loop: `/sync` driven one response at a time from the stored token, each
//! response's messages handed to the bridge with the next token on the last of them, and the
//! next request sent only once the bridge committed them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::message::{FileMessageEventContent, MessageType};
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent};
use matrix_sdk::ruma::{OwnedRoomId, RoomId, UInt};
use matrix_sdk::store::{StateStoreDataKey, StateStoreDataValue};
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::errors::{from_sdk, is_transient};
use super::session::{self, Role};
use super::{MatrixTransport, SYNC_CURSOR};
use crate::{Cursor, Inbound, TransportError};

/// Events per room in one sync response (more are fetched with `/messages`).
const TIMELINE_LIMIT: u32 = 100;
/// Events per `/messages` page when filling a gap.
const GAP_PAGE: u32 = 100;
/// Reconnect backoff: first delay and ceiling.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One message to hand over.
#[derive(Debug)]
struct Item {
    origin: String,
    text: Vec<u8>,
}

/// Runs the loop until `stop`.
pub(super) async fn run(
    transport: Arc<MatrixTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let mut token = cursors.into_iter().find(|cursor| cursor.key == SYNC_CURSOR).map(|cursor| cursor.value);
    let client = tokio::select! {
        () = stop.cancelled() => return Ok(()),
        client = session::client(&transport, Role::Sync) => client?,
    };
    let mut invites = Invites::default();
    for room in client.invited_rooms() {
        invites.consider(&transport, &room).await;
    }
    let mut failures: u32 = 0;
    loop {
        let first = token.is_none();
        let sdk_token = stored_sdk_token(&client).await;
        let mut settings = SyncSettings::default().filter(filter(if first && !transport.settings.backfill {
            1
        } else {
            TIMELINE_LIMIT
        }));
        settings = match &token {
            Some(token) => settings.token(token.clone()).timeout(transport.settings.sync_timeout),
            None => settings.token(matrix_sdk::config::SyncToken::NoToken).timeout(Duration::ZERO),
        };
        let result = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            result = client.sync_once(settings) => result,
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let error = from_sdk(&transport.name, &error);
                if !is_transient(&error) {
                    return Err(error);
                }
                failures = failures.saturating_add(1);
                let delay = backoff(failures);
                tracing::warn!(transport = %transport.name, error = %error, retry_in = ?delay, "matrix: sync failed; reconnecting");
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        if failures > 0 {
            tracing::info!(transport = %transport.name, "matrix: sync reconnected");
            failures = 0;
        }
        // Sends of this process go through this client once it knows its rooms.
        transport.sync_client.send_if_modified(|slot| {
            let unset = slot.is_none();
            if unset {
                *slot = Some(client.clone());
            }
            unset
        });
        for room_id in response.rooms.invited.keys() {
            if let Some(room) = client.get_room(room_id) {
                invites.consider(&transport, &room).await;
            }
        }
        let items = match &token {
            None if !transport.settings.backfill => Vec::new(),
            None => collect(&transport, &client, &response, None, false).await?,
            Some(since) => {
                // matrix-sdk drops a response whose token it stored already (seen before a crash
                // kept the bridge from committing it): fetch what it held with `/messages`.
                let dropped = sdk_token.as_deref() == Some(response.next_batch.as_str())
                    && sdk_token.as_deref() != Some(since.as_str());
                collect(&transport, &client, &response, Some(since), dropped).await?
            }
        };
        let imported = items.len();
        let cursor = Cursor { key: SYNC_CURSOR.to_owned(), value: response.next_batch.clone() };
        if !hand_over(&transport, &inbound, items, cursor, &stop).await? {
            return Ok(());
        }
        if first {
            tracing::info!(
                transport = %transport.name, imported, backfill = transport.settings.backfill,
                "matrix: first sync stored; messages are read from here on"
            );
        }
        token = Some(response.next_batch);
    }
}

/// The sync token matrix-sdk stored with its own state (it skips a response carrying it).
async fn stored_sdk_token(client: &Client) -> Option<String> {
    client
        .state_store()
        .get_kv_data(StateStoreDataKey::SyncToken)
        .await
        .ok()
        .flatten()
        .and_then(StateStoreDataValue::into_sync_token)
}

/// A filter keeping at most `limit` timeline events per room.
fn filter(limit: u32) -> Filter {
    let mut definition = FilterDefinition::empty();
    definition.room.timeline.limit = Some(UInt::from(limit));
    Filter::FilterDefinition(definition)
}

/// The delay before reconnect attempt `failures` (1 = the first): doubling from 1 s up to 60 s,
/// in the upper half of each step so that many clients do not retry in lockstep.
fn backoff(failures: u32) -> Duration {
    let step = FIRST_BACKOFF.saturating_mul(1u32 << failures.saturating_sub(1).min(10)).min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.subsec_nanos());
    step.mul_f64(0.5 + 0.5 * f64::from(nanos % 1000) / 1000.0)
}

/// The messages of `response`, oldest first per room, gaps filled when `since` is known.
async fn collect(
    transport: &MatrixTransport,
    client: &Client,
    response: &SyncResponse,
    since: Option<&str>,
    dropped: bool,
) -> Result<Vec<Item>, TransportError> {
    let mut items = Vec::new();
    if dropped {
        if let Some(since) = since {
            for room in client.joined_rooms() {
                let events = gap(transport, &room, &response.next_batch, since).await?;
                for event in &events {
                    items.extend(item(transport, client, room.room_id(), event).await?);
                }
            }
        }
        return Ok(items);
    }
    for (room_id, update) in &response.rooms.joined {
        let mut events = Vec::new();
        if let (Some(since), true, Some(prev_batch), Some(room)) =
            (since, update.timeline.limited, update.timeline.prev_batch.as_deref(), client.get_room(room_id))
        {
            events = gap(transport, &room, prev_batch, since).await?;
            tracing::info!(transport = %transport.name, room = %room_id, filled = events.len(), "matrix: gap filled");
        }
        for event in events.iter().chain(&update.timeline.events) {
            items.extend(item(transport, client, room_id, event).await?);
        }
    }
    Ok(items)
}

/// The events of `room` between the sync positions `from` (newer) and `to` (older), oldest
/// first.
async fn gap(
    transport: &MatrixTransport,
    room: &Room,
    from: &str,
    to: &str,
) -> Result<Vec<TimelineEvent>, TransportError> {
    let mut events = Vec::new();
    let mut from = from.to_owned();
    loop {
        let mut options = MessagesOptions::backward().from(from.as_str());
        options.to = Some(to.to_owned());
        options.limit = UInt::from(GAP_PAGE);
        let page = room.messages(options).await.map_err(|e| from_sdk(&transport.name, &e))?;
        let empty = page.chunk.is_empty();
        events.extend(page.chunk);
        match page.end {
            Some(end) if !empty && end != from => from = end,
            _ => break,
        }
    }
    events.reverse();
    Ok(events)
}

/// What the bridge should scan of `event`, if anything: the body (and HTML body) of a text,
/// notice or emote, or the content of a small text or JSON file.
async fn item(
    transport: &MatrixTransport,
    client: &Client,
    room_id: &RoomId,
    event: &TimelineEvent,
) -> Result<Option<Item>, TransportError> {
    if event.kind.is_utd() {
        tracing::warn!(transport = %transport.name, room = %room_id, event = ?event.event_id(), "matrix: an encrypted event could not be decrypted (no room key)");
        return Ok(None);
    }
    let Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
        SyncMessageLikeEvent::Original(message),
    ))) = event.raw().deserialize()
    else {
        return Ok(None);
    };
    if message.unsigned.transaction_id.is_some() {
        // Sent by this very device: it is in history already.
        return Ok(None);
    }
    let origin = format!("{room_id} {}", message.sender);
    let text = match &message.content.msgtype {
        MessageType::Text(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::Notice(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::Emote(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::File(content) => match download(transport, client, room_id, content).await? {
            Some(bytes) => bytes,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Item { origin, text }))
}

fn with_html(body: &str, html: Option<&String>) -> Vec<u8> {
    let mut text = body.to_owned();
    if let Some(html) = html {
        text.push('\n');
        text.push_str(html);
    }
    text.into_bytes()
}

/// The content of a file that may be a pointer: text or JSON, not too large.
async fn download(
    transport: &MatrixTransport,
    client: &Client,
    room_id: &RoomId,
    content: &FileMessageEventContent,
) -> Result<Option<Vec<u8>>, TransportError> {
    let info = content.info.as_deref();
    let mimetype = info.and_then(|info| info.mimetype.as_deref()).unwrap_or("");
    let name = content.filename.as_deref().unwrap_or(&content.body).to_ascii_lowercase();
    let textual = mimetype.starts_with("text/plain")
        || mimetype.starts_with("application/json")
        || name.ends_with(".json")
        || name.ends_with(".txt");
    let max = transport.settings.max_file_bytes;
    let size = info.and_then(|info| info.size).map(u64::from);
    if !textual || size.is_some_and(|size| size > max) {
        tracing::debug!(transport = %transport.name, room = %room_id, mimetype, ?size, "matrix: file skipped");
        return Ok(None);
    }
    match client.media().get_file(content, false).await {
        Ok(Some(bytes)) if bytes.len() as u64 <= max => Ok(Some(bytes)),
        Ok(Some(bytes)) => {
            tracing::warn!(transport = %transport.name, room = %room_id, bytes = bytes.len(), "matrix: file too large; skipped");
            Ok(None)
        }
        Ok(None) => Ok(None),
        Err(error) => {
            let error = from_sdk(&transport.name, &error);
            if is_transient(&error) {
                // The response is read again from the same token once the server answers.
                return Err(error);
            }
            tracing::warn!(transport = %transport.name, room = %room_id, error = %error, "matrix: file cannot be downloaded; skipped");
            Ok(None)
        }
    }
}

/// Hands `items` to the bridge, the cursor on the last (or alone, when there is none), and
/// waits until the bridge committed them. `false` when stopped meanwhile.
async fn hand_over(
    transport: &MatrixTransport,
    inbound: &mpsc::Sender<Inbound>,
    items: Vec<Item>,
    cursor: Cursor,
    stop: &CancellationToken,
) -> Result<bool, TransportError> {
    let (committed, done) = oneshot::channel();
    let mut committed = Some(committed);
    let mut cursor = Some(cursor);
    let total = items.len();
    transport.set_backlog(total);
    let mut pending: Vec<Item> = items;
    if pending.is_empty() {
        pending.push(Item { origin: String::new(), text: Vec::new() });
    }
    let last = pending.len() - 1;
    for (index, item) in pending.into_iter().enumerate() {
        let is_last = index == last;
        let message = Inbound {
            transport: transport.name.clone(),
            origin: item.origin,
            text: item.text,
            cursor: if is_last { cursor.take() } else { None },
            committed: if is_last { committed.take() } else { None },
        };
        tokio::select! {
            () = stop.cancelled() => return Ok(false),
            sent = inbound.send(message) => sent.map_err(|_| TransportError::Closed)?,
        }
        transport.set_backlog(total.saturating_sub(index + 1));
    }
    tokio::select! {
        () = stop.cancelled() => Ok(false),
        done = done => done.map(|_| true).map_err(|_| TransportError::Closed),
    }
}

/// Invites: joined when from an allowed inviter, else left alone (and said so once).
#[derive(Debug, Default)]
struct Invites {
    ignored: HashSet<OwnedRoomId>,
}

impl Invites {
    async fn consider(&mut self, transport: &MatrixTransport, room: &Room) {
        if self.ignored.contains(room.room_id()) {
            return;
        }
        let inviter = match room.invite_details().await {
            Ok(details) => details.inviter_id,
            Err(error) => {
                tracing::warn!(transport = %transport.name, room = %room.room_id(), error = %error, "matrix: cannot read an invite");
                return;
            }
        };
        if !transport.settings.inviter_allowed(inviter.as_str()) {
            tracing::info!(transport = %transport.name, room = %room.room_id(), inviter = %inviter, "matrix: invite from someone not allowed; ignored");
            self.ignored.insert(room.room_id().to_owned());
            return;
        }
        match room.join().await {
            Ok(()) => {
                tracing::info!(transport = %transport.name, room = %room.room_id(), inviter = %inviter, "matrix: invite accepted");
            }
            Err(error) => {
                tracing::warn!(transport = %transport.name, room = %room.room_id(), error = %error, "matrix: cannot join; trying at the next invite");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        for failures in 1..20 {
            let delay = backoff(failures);
            let step = FIRST_BACKOFF.saturating_mul(1 << (failures - 1).min(10)).min(MAX_BACKOFF);
            assert!(delay >= step / 2 && delay <= step, "{failures}: {delay:?}");
        }
    }

    #[test]
    fn html_rides_after_the_body() {
        assert_eq!(with_html("a", None), b"a");
        assert_eq!(with_html("a", Some(&"<b>x</b>".to_owned())), b"a\n<b>x</b>");
    }
}

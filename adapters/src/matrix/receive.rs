//! The receive loop: `/sync` driven one response at a time from the stored token, each
//! response's messages handed to the bridge with the next token on the last of them, and the
//! next request sent only once the bridge committed them.

use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::message::MessageType;
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent};
use matrix_sdk::ruma::{OwnedRoomId, RoomId, UInt};
use matrix_sdk::store::{StateStoreDataKey, StateStoreDataValue};
use matrix_sdk::sync::SyncResponse;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::errors::{from_sdk, is_transient};
use super::gaps::{self, Gap, Gaps};
use super::rooms::{Invites, RoomFilter};
use super::session::{self, Role};
use super::{MatrixTransport, SYNC_CURSOR, check, download};
use crate::log_safe::Escaped;
use crate::{Cursor, Inbound, TransportError};

/// Events per room in one sync response (more are fetched with `/messages`).
const TIMELINE_LIMIT: u32 = 100;
/// Reconnect backoff: first delay and ceiling.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One message to hand over.
#[derive(Debug)]
struct Item {
    origin: String,
    /// The room (empty for cursors alone).
    place: String,
    text: Vec<u8>,
}

/// Runs the loop until `stop`.
pub(super) async fn run(
    transport: Arc<MatrixTransport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) -> Result<(), TransportError> {
    let client = tokio::select! {
        () = stop.cancelled() => return Ok(()),
        client = session::client(&transport, Role::Sync) => client?,
    };
    let mut syncer = Syncer::new(transport, client, &cursors);
    syncer.start().await;
    loop {
        let first = syncer.token.is_none();
        let Some(response) = syncer.next_response(&stop).await? else {
            return Ok(());
        };
        syncer.after_response(&response).await;
        let (items, mut cursors) = syncer.collect(&response).await?;
        let imported = items.len();
        cursors.push(Cursor { key: SYNC_CURSOR.to_owned(), value: response.next_batch.clone() });
        if !hand_over(&syncer.transport, &inbound, items, cursors, &stop).await? {
            return Ok(());
        }
        if first {
            syncer.first_sync_stored(imported).await;
        }
        syncer.token = Some(response.next_batch);
    }
}

/// The state of the loop between two responses.
struct Syncer {
    transport: Arc<MatrixTransport>,
    client: Client,
    /// The stored sync token (`None`: a new account).
    token: Option<String>,
    gaps: Gaps,
    rooms: RoomFilter,
    invites: Invites,
    failures: u32,
}

impl Syncer {
    fn new(transport: Arc<MatrixTransport>, client: Client, cursors: &[Cursor]) -> Syncer {
        let token = cursors
            .iter()
            .find(|cursor| cursor.key == SYNC_CURSOR && !cursor.value.is_empty())
            .map(|cursor| cursor.value.clone());
        let settings = &transport.settings;
        let gaps = Gaps::restore(cursors, settings.gap_events_per_room, settings.gap_events_per_sync);
        let rooms = RoomFilter::new(&settings.rooms);
        Syncer { transport, client, token, gaps, rooms, invites: Invites::default(), failures: 0 }
    }

    /// Before the first sync: the room list resolved, invites looked at.
    async fn start(&mut self) {
        self.rooms.resolve(&self.transport, &self.client).await;
        for room in self.client.invited_rooms() {
            self.invites.consider(&self.transport, &self.rooms, &room).await;
        }
        if self.gaps.len() > 0 {
            tracing::info!(transport = %self.transport.name, gaps = self.gaps.len(), "matrix: gaps left by earlier syncs are fetched first");
        }
    }

    /// The next `/sync` response, reconnecting with backoff; `None` once stopped.
    async fn next_response(
        &mut self,
        stop: &CancellationToken,
    ) -> Result<Option<SyncResponse>, TransportError> {
        loop {
            let result = tokio::select! {
                () = stop.cancelled() => return Ok(None),
                result = self.client.sync_once(self.sync_settings()) => result,
            };
            let error = match result {
                Ok(response) => {
                    if self.failures > 0 {
                        tracing::info!(transport = %self.transport.name, "matrix: sync reconnected");
                        self.failures = 0;
                    }
                    return Ok(Some(response));
                }
                Err(error) => from_sdk(&self.transport.name, &error),
            };
            if !is_transient(&error) {
                return Err(error);
            }
            self.failures = self.failures.saturating_add(1);
            let delay = backoff(self.failures);
            tracing::warn!(transport = %self.transport.name, error = %Escaped(&error.to_string()), retry_in = ?delay, "matrix: sync failed; reconnecting");
            tokio::select! {
                () = stop.cancelled() => return Ok(None),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn sync_settings(&self) -> SyncSettings {
        let settings = &self.transport.settings;
        let limit = if self.token.is_none() && !settings.backfill { 1 } else { TIMELINE_LIMIT };
        let sync = SyncSettings::default().filter(filter(limit));
        // Gaps left for the next syncs: ask at once instead of waiting for news.
        let timeout = if self.gaps.len() > 0 { Duration::ZERO } else { settings.sync_timeout };
        match &self.token {
            Some(token) => sync.token(token.clone()).timeout(timeout),
            None => sync.token(SyncToken::NoToken).timeout(Duration::ZERO),
        }
    }

    /// What a response changes besides messages: sends may use this client, invites.
    async fn after_response(&mut self, response: &SyncResponse) {
        let client = &self.client;
        self.transport.sync_client.send_if_modified(|slot| {
            let unset = slot.is_none();
            if unset {
                *slot = Some(client.clone());
            }
            unset
        });
        if self.rooms.unresolved() {
            self.rooms.resolve(&self.transport, &self.client).await;
        }
        for room_id in response.rooms.invited.keys() {
            if let Some(room) = self.client.get_room(room_id) {
                self.invites.consider(&self.transport, &self.rooms, &room).await;
            }
        }
    }

    /// The messages of `response` (oldest first per room, gaps filled within their budgets)
    /// and the gap cursors to store with them.
    async fn collect(&mut self, response: &SyncResponse) -> Result<(Vec<Item>, Vec<Cursor>), TransportError> {
        let Some(since) = self.token.clone() else {
            if !self.transport.settings.backfill {
                return Ok((Vec::new(), Vec::new()));
            }
            return Ok((self.timeline_items(response).await?, Vec::new()));
        };
        if self.dropped(response, &since).await {
            // matrix-sdk drops a response whose token it stored already (seen before a crash
            // kept the bridge from committing it): fetch what it held with `/messages`.
            for room in self.client.joined_rooms() {
                let to = response.next_batch.clone();
                self.add_gap(Gap { room: room.room_id().to_owned(), from: since.clone(), to });
            }
            return self.fill_gaps().await;
        }
        for (room_id, update) in &response.rooms.joined {
            if let (true, Some(prev_batch)) = (update.timeline.limited, &update.timeline.prev_batch) {
                self.add_gap(Gap { room: room_id.clone(), from: since.clone(), to: prev_batch.clone() });
            }
        }
        let (mut items, cursors) = self.fill_gaps().await?;
        items.extend(self.timeline_items(response).await?);
        Ok((items, cursors))
    }

    /// Whether matrix-sdk dropped `response` as one it had seen.
    async fn dropped(&self, response: &SyncResponse, since: &str) -> bool {
        let sdk_token = stored_sdk_token(&self.client).await;
        sdk_token.as_deref() == Some(response.next_batch.as_str()) && sdk_token.as_deref() != Some(since)
    }

    fn add_gap(&mut self, gap: Gap) {
        if !self.rooms.allows(&gap.room) {
            return;
        }
        if let Some(given_up) = self.gaps.add(gap) {
            tracing::warn!(transport = %self.transport.name, room = %given_up.room, pending = gaps::MAX_PENDING_GAPS, "matrix: too many unfilled gaps; the oldest is given up (its messages are in the room's history)");
        }
    }

    /// Fetches the pending gaps within this sync's budgets: their events, and a cursor per gap.
    async fn fill_gaps(&mut self) -> Result<(Vec<Item>, Vec<Cursor>), TransportError> {
        let (mut items, mut cursors) = (Vec::new(), Vec::new());
        for (gap, budget) in self.gaps.plan() {
            let Some(room) = self.client.get_room(&gap.room).filter(|_| budget > 0) else {
                cursors.push(gap.cursor(false));
                continue;
            };
            let (events, from) = gaps::fill(&self.transport.name, &room, &gap, budget).await?;
            let left = if from.is_some() { "the rest in the next sync" } else { "complete" };
            tracing::info!(transport = %self.transport.name, room = %gap.room, filled = events.len(), left, "matrix: gap filled");
            cursors.push(self.gaps.advanced(&gap, from));
            items.extend(self.items(&gap.room, &events).await?);
        }
        Ok((items, cursors))
    }

    /// The timeline events of the allowed joined rooms of `response`.
    async fn timeline_items(&self, response: &SyncResponse) -> Result<Vec<Item>, TransportError> {
        let mut items = Vec::new();
        for (room_id, update) in &response.rooms.joined {
            if self.rooms.allows(room_id) {
                items.extend(self.items(room_id, &update.timeline.events).await?);
            }
        }
        Ok(items)
    }

    async fn items(
        &self,
        room_id: &OwnedRoomId,
        events: &[TimelineEvent],
    ) -> Result<Vec<Item>, TransportError> {
        let mut items = Vec::new();
        for event in events {
            items.extend(item(&self.transport, &self.client, room_id, event).await?);
        }
        Ok(items)
    }

    /// Said once, after a new account's first sync: where reading starts, and what needs a
    /// person (an unverified device).
    async fn first_sync_stored(&self, imported: usize) {
        let transport = &self.transport;
        tracing::info!(
            transport = %transport.name, imported, backfill = transport.settings.backfill,
            "matrix: first sync stored; messages are read from here on"
        );
        if let Some(advice) = check::verification_advice(&self.client).await {
            tracing::info!(transport = %transport.name, device = ?self.client.device_id(), "matrix: {advice}");
        }
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
    let origin = format!("{} {}", Escaped(room_id.as_str()), Escaped(message.sender.as_str()));
    let text = match &message.content.msgtype {
        MessageType::Text(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::Notice(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::Emote(content) => with_html(&content.body, content.formatted.as_ref().map(|f| &f.body)),
        MessageType::File(content) => match download::download(transport, client, room_id, content).await? {
            Some(bytes) => bytes,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Item { origin, place: room_id.as_str().to_owned(), text }))
}

fn with_html(body: &str, html: Option<&String>) -> Vec<u8> {
    let mut text = body.to_owned();
    if let Some(html) = html {
        text.push('\n');
        text.push_str(html);
    }
    text.into_bytes()
}

/// Hands `items` to the bridge, then one empty item per cursor, the last cursor (the sync
/// token) with the `committed` signal, and waits until the bridge committed them. `false`
/// when stopped meanwhile.
async fn hand_over(
    transport: &MatrixTransport,
    inbound: &mpsc::Sender<Inbound>,
    items: Vec<Item>,
    cursors: Vec<Cursor>,
    stop: &CancellationToken,
) -> Result<bool, TransportError> {
    let (committed, done) = oneshot::channel();
    let mut committed = Some(committed);
    let total = items.len();
    transport.set_backlog(total);
    let mut messages: Vec<(Item, Option<Cursor>)> = items.into_iter().map(|item| (item, None)).collect();
    messages.extend(cursors.into_iter().map(|cursor| {
        (Item { origin: String::new(), place: String::new(), text: Vec::new() }, Some(cursor))
    }));
    let last = messages.len().saturating_sub(1);
    for (index, (item, cursor)) in messages.into_iter().enumerate() {
        let message = Inbound {
            transport: transport.name.clone(),
            origin: item.origin,
            place: item.place,
            text: item.text,
            cursor,
            committed: if index == last { committed.take() } else { None },
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

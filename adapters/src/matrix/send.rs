//! Posting a pointer to a room: an `m.text` whose body is the pointer, or an `m.file` upload
//! when it is too large for an event.

use std::sync::atomic::Ordering;
use std::time::Duration;

use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{OwnedRoomAliasId, OwnedRoomId, UInt};
use matrix_sdk::{Client, RoomState};
use sha2::{Digest, Sha256};

use super::MatrixTransport;
use super::errors::{from_http, from_sdk};
use super::session::{self, Role};
use crate::{Route, Sent, TransportError};

/// How long a send waits for the receive loop of its process to finish logging in.
const LOGIN_WAIT: Duration = Duration::from_secs(30);
/// How long a sending process waits for another one using the same device.
const STORE_LOCK_WAIT_MS: u32 = 60_000;

/// Where a route points: a room id or an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `!opaque:server`.
    Room(OwnedRoomId),
    /// `#alias:server`.
    Alias(OwnedRoomAliasId),
}

/// Parses a route target: `!room:server` or `#alias:server`.
pub(super) fn parse_target(route: &str) -> Result<Target, TransportError> {
    let invalid = |reason: String| TransportError::InvalidRoute { route: route.to_owned(), reason };
    match route.chars().next() {
        Some('!') => {
            OwnedRoomId::try_from(route).map(Target::Room).map_err(|e| invalid(format!("not a room id: {e}")))
        }
        Some('#') => OwnedRoomAliasId::try_from(route)
            .map(Target::Alias)
            .map_err(|e| invalid(format!("not a room alias: {e}"))),
        _ => Err(invalid("a Matrix route is a room id (!room:server) or an alias (#alias:server)".into())),
    }
}

/// Sends `pointer` to the room of `route`.
pub(super) async fn send(
    transport: &MatrixTransport,
    route: &Route,
    pointer: &str,
) -> Result<Sent, TransportError> {
    let target = parse_target(&route.0)?;
    if transport.receiving.load(Ordering::SeqCst) {
        // The receive loop's client is this process's device: send through it.
        let mut ready = transport.sync_client.subscribe();
        let client = tokio::time::timeout(LOGIN_WAIT, ready.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|client| client.clone())
            .ok_or_else(|| transport.unavailable("the receive loop has not logged in yet"))?;
        return deliver(transport, &client, &target, pointer).await;
    }
    // One sending client at a time in this process; it is built per send and dropped before
    // this future ends: its store's connection pool needs the runtime that made it, and the
    // `send` command's runtime lives only as long as its deliveries.
    let _one_at_a_time = transport.send_client.lock().await;
    let client = session::client(transport, Role::Send).await?;
    let sent = async {
        // Other `send` processes may use this device: hold its store while syncing and sending.
        let _guard = client
            .encryption()
            .spin_lock_store(Some(STORE_LOCK_WAIT_MS))
            .await
            .map_err(|e| from_sdk(&transport.name, &e))?;
        catch_up(transport, &client).await?;
        deliver(transport, &client, &target, pointer).await
    }
    .await;
    drop(client);
    sent
}

/// Brings the sending device up to date (rooms, members, device keys) without waiting: what a
/// send to an encrypted room needs. Timelines are cut to one event: this device reads nothing.
async fn catch_up(transport: &MatrixTransport, client: &Client) -> Result<(), TransportError> {
    let mut filter = FilterDefinition::empty();
    filter.room.timeline.limit = Some(UInt::from(1u32));
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO).filter(Filter::FilterDefinition(filter)))
        .await
        .map_err(|e| from_sdk(&transport.name, &e))?;
    Ok(())
}

async fn deliver(
    transport: &MatrixTransport,
    client: &Client,
    target: &Target,
    pointer: &str,
) -> Result<Sent, TransportError> {
    let room_id = match target {
        Target::Room(id) => id.clone(),
        Target::Alias(alias) => {
            client.resolve_room_alias(alias).await.map_err(|e| from_http(&transport.name, &e))?.room_id
        }
    };
    let refused = |reason: String| TransportError::Refused(transport.name.clone(), reason);
    let room = client.get_room(&room_id).ok_or_else(|| {
        refused(format!(
            "{} is not in room {room_id}: invite it (from an allowed inviter) or join it first",
            transport.settings.user_id
        ))
    })?;
    if room.state() != RoomState::Joined {
        return Err(refused(format!("{} has not joined room {room_id}", transport.settings.user_id)));
    }
    let event_id = if pointer.len() <= transport.settings.file_threshold {
        room.send(RoomMessageEventContent::text_plain(pointer))
            .await
            .map_err(|e| from_sdk(&transport.name, &e))?
            .response
            .event_id
    } else {
        let mime =
            "application/json".parse().map_err(|_| refused("cannot name the file's media type".into()))?;
        room.send_attachment(file_name(pointer), &mime, pointer.as_bytes().to_vec(), AttachmentConfig::new())
            .await
            .map_err(|e| from_sdk(&transport.name, &e))?
            .event_id
    };
    tracing::debug!(transport = %transport.name, room = %room_id, event = %event_id, bytes = pointer.len(), "matrix: pointer sent");
    Ok(Sent { id: event_id.to_string() })
}

/// The file name of a large pointer: by its digest, as the drop folder names them.
fn file_name(pointer: &str) -> String {
    let digest = Sha256::digest(pointer.as_bytes());
    let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("clm-{hex}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_room_ids_or_aliases() {
        assert!(matches!(parse_target("!abc:example.org"), Ok(Target::Room(_))));
        assert!(matches!(parse_target("#family:example.org"), Ok(Target::Alias(_))));
        for bad in ["", "abc", "@user:example.org", "#", "#no-server"] {
            assert!(matches!(parse_target(bad), Err(TransportError::InvalidRoute { .. })), "{bad:?}");
        }
        assert!(file_name("{}").starts_with("clm-") && file_name("{}").ends_with(".json"));
    }
}

//! Which rooms are read (the `rooms` allow-list, aliases resolved to ids) and which invites are
//! accepted (from `allowed_inviters`, into a room the list allows). What waits for a person (an
//! invite not accepted) is said once, as a warning.

use std::collections::HashSet;

use matrix_sdk::ruma::{OwnedRoomAliasId, OwnedRoomId, RoomId};
use matrix_sdk::{Client, Room};

use super::MatrixTransport;
use crate::log_safe::Escaped;

/// The rooms read: every joined room when the settings list none, else those listed.
#[derive(Debug, Default)]
pub(super) struct RoomFilter {
    /// Whether the settings list rooms at all.
    listed: bool,
    ids: HashSet<OwnedRoomId>,
    /// Aliases not resolved yet (the server did not answer): tried again at each sync.
    aliases: Vec<OwnedRoomAliasId>,
}

impl RoomFilter {
    /// The filter of `rooms` (ids and aliases, checked by the settings).
    pub fn new(rooms: &[String]) -> RoomFilter {
        let mut filter = RoomFilter { listed: !rooms.is_empty(), ..RoomFilter::default() };
        for room in rooms {
            if let Ok(id) = OwnedRoomId::try_from(room.as_str()) {
                filter.ids.insert(id);
            } else if let Ok(alias) = OwnedRoomAliasId::try_from(room.as_str()) {
                filter.aliases.push(alias);
            }
        }
        filter
    }

    /// Whether events of `room` are read (and invites to it considered).
    pub fn allows(&self, room: &RoomId) -> bool {
        !self.listed || self.ids.contains(room)
    }

    /// Resolves the aliases not resolved yet.
    pub async fn resolve(&mut self, transport: &MatrixTransport, client: &Client) {
        let mut unresolved = Vec::new();
        for alias in std::mem::take(&mut self.aliases) {
            match client.resolve_room_alias(&alias).await {
                Ok(answer) => {
                    tracing::debug!(transport = %transport.name, alias = %alias, room = %answer.room_id, "matrix: room alias resolved");
                    self.ids.insert(answer.room_id);
                }
                Err(error) => {
                    tracing::warn!(transport = %transport.name, alias = %alias, error = %Escaped(&error.to_string()), "matrix: a room alias of `rooms` does not resolve (yet); its room is not read meanwhile");
                    unresolved.push(alias);
                }
            }
        }
        self.aliases = unresolved;
    }

    /// Whether aliases wait to be resolved.
    pub fn unresolved(&self) -> bool {
        !self.aliases.is_empty()
    }
}

/// Invites: joined when from an allowed inviter into an allowed room, else left for a person
/// (said once).
#[derive(Debug, Default)]
pub(super) struct Invites {
    ignored: HashSet<OwnedRoomId>,
}

impl Invites {
    pub async fn consider(&mut self, transport: &MatrixTransport, rooms: &RoomFilter, room: &Room) {
        if self.ignored.contains(room.room_id()) {
            return;
        }
        let name = room.name().unwrap_or_default();
        let inviter = match room.invite_details().await {
            Ok(details) => details.inviter_id,
            Err(error) => {
                tracing::warn!(transport = %transport.name, room = %room.room_id(), error = %Escaped(&error.to_string()), "matrix: cannot read an invite");
                return;
            }
        };
        let why_not = if !transport.settings.inviter_allowed(inviter.as_str()) {
            Some("the inviter is not in allowed_inviters")
        } else if !rooms.allows(room.room_id()) {
            Some("the room is not in `rooms`")
        } else {
            None
        };
        if let Some(why_not) = why_not {
            tracing::warn!(transport = %transport.name, room = %room.room_id(), room_name = %Escaped(&name), inviter = %Escaped(inviter.as_str()), why_not, "matrix: an invite waits for a person (accept it from another client, or change the settings)");
            self.ignored.insert(room.room_id().to_owned());
            return;
        }
        match room.join().await {
            Ok(()) => {
                tracing::info!(transport = %transport.name, room = %room.room_id(), room_name = %Escaped(&name), inviter = %Escaped(inviter.as_str()), "matrix: invite accepted");
            }
            Err(error) => {
                tracing::warn!(transport = %transport.name, room = %room.room_id(), error = %Escaped(&error.to_string()), "matrix: cannot join; trying at the next invite");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_list_reads_every_room_a_list_only_its_rooms() {
        let room = <&RoomId>::try_from("!a:h").unwrap();
        let other = <&RoomId>::try_from("!b:h").unwrap();
        let all = RoomFilter::new(&[]);
        assert!(all.allows(room) && all.allows(other) && !all.unresolved());
        let listed = RoomFilter::new(&["!a:h".into(), "#family:h".into()]);
        assert!(listed.allows(room) && !listed.allows(other));
        assert!(listed.unresolved(), "the alias is resolved once a client is there");
    }
}

//! Gateways' relays: for each gateway, the routes each pointer is known to be on (it arrived
//! there, or was relayed there), so a pointer goes to a route at most once whatever way it
//! comes back: its own echo, another gateway's copy, a ring. Recorded in the transaction that
//! stores the arrival and its cursor, with the outbox rows that carry the relays: a crash
//! before the commit relays nothing, after it everything once.
//! Rows are keyed hashes of (gateway, route, digest) and a time; the sealed record keeps the
//! three to re-key the row under a new passphrase.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::outbox::{Queued, queue};
use super::sealer::{Sealer, hex};
use super::{Store, StoreError};

/// A route a relay goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    /// The route as the gateway's settings name it: what "already there" is keyed by.
    pub route: String,
    /// The transport instance delivering it.
    pub transport: String,
    /// The target within it.
    pub target: String,
}

/// One gateway's relay of one pointer, to record with the arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relaying {
    /// The gateway.
    pub gateway: String,
    /// The route it arrived on.
    pub arrived_on: String,
    /// The routes it may go to.
    pub targets: Vec<RelayTarget>,
    /// The pointer's digest.
    pub digest: [u8; 32],
    /// Its canonical text: all that is relayed.
    pub pointer_text: String,
    /// When it arrived (Unix seconds): the relays are due then.
    pub now: i64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct RelayedRecord {
    pub(super) gateway: String,
    pub(super) route: String,
    pub(super) digest: String,
}

pub(super) fn context(key: &[u8; 32]) -> String {
    format!("relayed:{}", hex(key))
}

fn relay_key(sealer: Sealer<'_>, gateway: &str, route: &str, digest: &[u8]) -> [u8; 32] {
    sealer.key("relayed", &[gateway.as_bytes(), route.as_bytes(), digest])
}

/// Notes that `route` of `gateway` holds the pointer `digest`; false when that was known.
pub(super) fn mark(
    conn: &Connection,
    sealer: Sealer<'_>,
    gateway: &str,
    route: &str,
    digest: &[u8; 32],
    at: i64,
) -> Result<bool, StoreError> {
    let key = relay_key(sealer, gateway, route, digest);
    let exists = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM relayed WHERE relay_key = ?1)")?
        .query_row([&key], |row| row.get::<_, bool>(0))?;
    if exists {
        return Ok(false);
    }
    let record = RelayedRecord { gateway: gateway.to_owned(), route: route.to_owned(), digest: hex(digest) };
    let sealed = sealer.seal(&context(&key), &record)?;
    conn.prepare_cached("INSERT INTO relayed (relay_key, record, at) VALUES (?1, ?2, ?3)")?
        .execute(params![key, sealed, at])?;
    Ok(true)
}

/// Records one relay (inside the caller's transaction): the route it arrived on holds it now,
/// and each target that did not hold it gets it through the outbox, due at once. Returns how
/// many relays were queued.
pub(super) fn record(
    conn: &Connection,
    sealer: Sealer<'_>,
    relaying: &Relaying,
) -> Result<usize, StoreError> {
    let (gateway, digest, now) = (relaying.gateway.as_str(), &relaying.digest, relaying.now);
    mark(conn, sealer, gateway, &relaying.arrived_on, digest, now)?;
    let mut queued = 0;
    for target in &relaying.targets {
        if !mark(conn, sealer, gateway, &target.route, digest, now)? {
            continue;
        }
        let delivery = Queued {
            message_id: None,
            gateway: Some(gateway),
            transport: &target.transport,
            target: &target.target,
            pointer: &relaying.pointer_text,
            now,
            claimed_until: now,
        };
        queue(conn, sealer, &delivery)?;
        queued += 1;
    }
    Ok(queued)
}

impl Store {
    /// Forgets which route held which pointer before `before` (Unix seconds): a pointer that
    /// comes back after that is relayed again. Returns how many rows went.
    pub fn forget_relays_before(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.prepare_cached("DELETE FROM relayed WHERE at < ?1")?.execute([before])?)
    }

    /// How many (gateway, route, pointer) facts are remembered.
    pub fn relayed_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.prepare_cached("SELECT count(*) FROM relayed")?.query_row([], |row| row.get(0))?)
    }
}

//! Pointers no known chat opens yet. They are kept so that adding a chat can retry them: the
//! caller pages through them with [`Store::pending_page`], tries to open each with the new
//! chat, and ingests the ones it opens as [`ArrivalItem::Opened`](super::ArrivalItem::Opened),
//! which removes their pending rows in the same transaction. Each row is a sealed record
//! (pointer, transport, origin) found by the keyed digest; its size and first arrival stay clear
//! for the limits.
//!
//! Anyone who can write where the bridge watches can make pending pointers, so the table is
//! kept within caps of count, bytes and age ([`Store::shed_pending`], the oldest dropped
//! first), and a full disk makes room by dropping the oldest ([`Store::shed_oldest_pending`]).
//! The row count and the sum of `bytes` (the sealed records' sizes) are kept in `meta` by
//! triggers (schema step 4), so no batch counts the table. Dropped rows are counted by their
//! (unsealed) transport and origin for the daemon's summaries.

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::sealer::{Sealer, hex};
use super::{Digest, Store, StoreError};
use crate::limits::PendingCaps;

/// Rows deleted per statement while shedding.
const SHED_STEP: u64 = 1000;

/// A pointer kept because no known chat opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPointer {
    /// The pointer as it travelled.
    pub pointer_text: String,
    /// The transport of its first arrival.
    pub transport: String,
    /// Where in that transport.
    pub origin: String,
    /// When it first arrived (Unix seconds).
    pub first_seen: i64,
}

/// A page of pending pointers, oldest first, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingPage {
    /// The pointers.
    pub pointers: Vec<PendingPointer>,
    /// The position after the last of them (`None` for an empty page).
    pub next: Option<PendingKey>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct PendingRecord {
    /// The pointer's digest, hex (to re-key the row when the passphrase changes).
    pub(super) digest: String,
    pub(super) pointer: String,
    pub(super) transport: String,
    pub(super) origin: String,
}

pub(super) fn context(digest_key: &[u8; 32]) -> String {
    format!("pending:{}", hex(digest_key))
}

/// Keeps a pointer as pending (inside the caller's transaction), unless it is already.
#[allow(clippy::too_many_arguments)] // one row's columns, all needed
pub(super) fn keep(
    conn: &Connection,
    sealer: Sealer<'_>,
    digest: &Digest,
    pointer: &str,
    transport: &str,
    origin: &str,
    now: i64,
) -> Result<(), StoreError> {
    let digest_key = &super::messages::digest_key(sealer, digest);
    let known: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM pending WHERE digest_key = ?1)")?
        .query_row([digest_key], |row| row.get(0))?;
    if known {
        return Ok(());
    }
    let record = PendingRecord {
        digest: hex(digest),
        pointer: pointer.to_owned(),
        transport: transport.to_owned(),
        origin: origin.to_owned(),
    };
    let sealed = sealer.seal(&context(digest_key), &record)?;
    conn.prepare_cached(
        "INSERT INTO pending (digest_key, record, bytes, first_seen) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![digest_key, sealed, sealed.len(), now])?;
    Ok(())
}

/// Removes a pending pointer (it opened, or was sent from here).
pub(super) fn forget(conn: &Connection, digest_key: &[u8; 32]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM pending WHERE digest_key = ?1")?.execute([digest_key])?;
    Ok(())
}

/// A position in the pending pointers, oldest first: pages continue after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingKey {
    first_seen: i64,
    digest_key: [u8; 32],
}

/// How many pending pointers there are and their bytes (the sealed records' sizes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingTotals {
    /// Rows.
    pub count: u64,
    /// Bytes (see the module documentation).
    pub bytes: u64,
}

/// Pending pointers dropped to keep within the caps or to make room, counted by origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shed {
    /// `(transport, origin)` to pointers dropped.
    pub by_origin: BTreeMap<(String, String), u64>,
}

impl Shed {
    /// Pointers dropped in all.
    pub fn rows(&self) -> u64 {
        self.by_origin.values().sum()
    }

    /// Adds another shed's counts.
    pub fn merge(&mut self, other: Shed) {
        for (origin, count) in other.by_origin {
            *self.by_origin.entry(origin).or_default() += count;
        }
    }
}

/// Pending pointers of one origin first seen in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingGroup {
    /// The transport.
    pub transport: String,
    /// The origin.
    pub origin: String,
    /// Start of the period (Unix seconds).
    pub period_start: i64,
    /// Pointers.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
    /// First seen of the oldest (Unix seconds).
    pub oldest: i64,
    /// First seen of the newest (Unix seconds).
    pub newest: i64,
}

/// Which pending pointers [`Store::purge_pending`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingFilter<'a> {
    /// Every one.
    All,
    /// Those first seen before this time (Unix seconds).
    SeenBefore(i64),
    /// Those from this origin (of this transport, when given).
    Origin {
        /// The transport, or any.
        transport: Option<&'a str>,
        /// The origin.
        origin: &'a str,
    },
}

/// Reads a pending row (`digest_key, record, first_seen`), unsealed, with its position.
fn pending_row(
    sealer: Sealer<'_>,
    row: &rusqlite::Row<'_>,
) -> Result<(PendingPointer, PendingKey), StoreError> {
    let digest_key: [u8; 32] = row.get(0)?;
    let record: Vec<u8> = row.get(1)?;
    let first_seen = row.get(2)?;
    let PendingRecord { pointer, transport, origin, .. } = sealer.open(&context(&digest_key), &record)?;
    let pointer = PendingPointer { pointer_text: pointer, transport, origin, first_seen };
    Ok((pointer, PendingKey { first_seen, digest_key }))
}

/// The transport and origin of a sealed pending record.
fn origin_of(
    sealer: Sealer<'_>,
    digest_key: &[u8; 32],
    record: &[u8],
) -> Result<(String, String), StoreError> {
    let PendingRecord { transport, origin, .. } = sealer.open(&context(digest_key), record)?;
    Ok((transport, origin))
}

/// Deletes `sql`'s rows (`RETURNING digest_key, record`), counting them by origin.
fn delete_counted(
    tx: &Transaction<'_>,
    sealer: Sealer<'_>,
    sql: &str,
    param: i64,
    shed: &mut Shed,
) -> Result<u64, StoreError> {
    let mut statement = tx.prepare_cached(sql)?;
    let mut rows = statement.query([param])?;
    let mut deleted = 0;
    while let Some(row) = rows.next()? {
        let (key, record): ([u8; 32], Vec<u8>) = (row.get(0)?, row.get(1)?);
        *shed.by_origin.entry(origin_of(sealer, &key, &record)?).or_default() += 1;
        deleted += 1;
    }
    Ok(deleted)
}

const DELETE_OLDEST: &str = "DELETE FROM pending WHERE digest_key IN
     (SELECT digest_key FROM pending ORDER BY first_seen, digest_key LIMIT ?1)
     RETURNING digest_key, record";

/// The totals the triggers keep in `meta`.
fn totals(conn: &Connection) -> Result<PendingTotals, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT (SELECT value FROM meta WHERE key = 'pending_count'),
                (SELECT value FROM meta WHERE key = 'pending_bytes')",
    )?;
    let (count, bytes): (Option<String>, Option<String>) =
        statement.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let number =
        |text: Option<String>| text.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0).max(0).cast_unsigned();
    Ok(PendingTotals { count: number(count), bytes: number(bytes) })
}

impl Store {
    /// All pending pointers, oldest first. Loads every row: for small tables (tests); page with
    /// [`Store::pending_page`] otherwise.
    pub fn pending(&self) -> Result<Vec<PendingPointer>, StoreError> {
        Ok(self.pending_page(None, usize::MAX, usize::MAX)?.pointers)
    }

    /// How many pointers are pending.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        Ok(self.pending_totals()?.count)
    }

    /// Pending rows and bytes, as the triggers keep them.
    pub fn pending_totals(&self) -> Result<PendingTotals, StoreError> {
        totals(&self.conn)
    }

    /// Pending pointers after `after` (from the oldest when `None`), oldest first: at most
    /// `max_rows`, and no more once `max_bytes` of pointer text are in the page (at least one).
    pub fn pending_page(
        &self,
        after: Option<&PendingKey>,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<PendingPage, StoreError> {
        let sealer = self.sealer()?;
        let mut statement = self.conn.prepare_cached(
            "SELECT digest_key, record, first_seen FROM pending
             WHERE ?1 IS NULL OR (first_seen, digest_key) > (?1, ?2)
             ORDER BY first_seen, digest_key",
        )?;
        let mut rows =
            statement.query(params![after.map(|k| k.first_seen), after.map(|k| k.digest_key.to_vec())])?;
        let (mut page, mut bytes) = (PendingPage::default(), 0usize);
        while page.pointers.len() < max_rows && bytes < max_bytes {
            let Some(row) = rows.next()? else { break };
            let (pointer, key) = pending_row(sealer, row)?;
            bytes = bytes.saturating_add(pointer.pointer_text.len());
            page.pointers.push(pointer);
            page.next = Some(key);
        }
        Ok(page)
    }

    /// Drops pending pointers older than the caps allow, then the oldest ones until the table
    /// is within the caps' count and bytes. One transaction.
    pub fn shed_pending(&mut self, caps: PendingCaps) -> Result<Shed, StoreError> {
        let mut shed = Shed::default();
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        delete_counted(
            &tx,
            sealer,
            "DELETE FROM pending WHERE first_seen < ?1 RETURNING digest_key, record",
            caps.older_than,
            &mut shed,
        )?;
        loop {
            let totals = totals(&tx)?;
            let over_count = totals.count.saturating_sub(caps.count);
            let over_bytes = totals.bytes.saturating_sub(caps.bytes);
            if over_count == 0 && over_bytes == 0 {
                break;
            }
            // Rows to drop for the bytes: the excess over the mean row size, at least one.
            let mean = (totals.bytes / totals.count.max(1)).max(1);
            let rows = over_count.max(over_bytes.div_ceil(mean)).clamp(1, SHED_STEP);
            if delete_counted(&tx, sealer, DELETE_OLDEST, i64::try_from(rows).unwrap_or(1), &mut shed)? == 0 {
                break; // the totals disagree with the table: nothing left to drop
            }
        }
        tx.commit()?;
        Ok(shed)
    }

    /// Drops the `rows` oldest pending pointers (to make room on a full disk: deleting writes
    /// to the write-ahead log, which is reused, and frees pages for what comes next).
    pub fn shed_oldest_pending(&mut self, rows: u64) -> Result<Shed, StoreError> {
        let mut shed = Shed::default();
        let (conn, sealer) = self.parts()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        delete_counted(&tx, sealer, DELETE_OLDEST, i64::try_from(rows).unwrap_or(i64::MAX), &mut shed)?;
        tx.commit()?;
        Ok(shed)
    }

    /// Pending pointers grouped by transport, origin and period of `period` seconds (by first
    /// seen), newest period first. Never the pointers themselves. Unseals each row's origin,
    /// one row at a time.
    pub fn pending_groups(&self, period: i64) -> Result<Vec<PendingGroup>, StoreError> {
        let (sealer, period) = (self.sealer()?, period.max(1));
        let mut statement =
            self.conn.prepare_cached("SELECT digest_key, record, first_seen, bytes FROM pending")?;
        let mut rows = statement.query([])?;
        let mut groups: BTreeMap<(i64, String, String), PendingGroup> = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let (key, record, seen, bytes): ([u8; 32], Vec<u8>, i64, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let (transport, origin) = origin_of(sealer, &key, &record)?;
            let start = seen - seen.rem_euclid(period);
            let group = groups.entry((start, transport.clone(), origin.clone())).or_insert(PendingGroup {
                transport,
                origin,
                period_start: start,
                count: 0,
                bytes: 0,
                oldest: seen,
                newest: seen,
            });
            group.count += 1;
            group.bytes += bytes.max(0).cast_unsigned();
            group.oldest = group.oldest.min(seen);
            group.newest = group.newest.max(seen);
        }
        let mut groups: Vec<PendingGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| b.period_start.cmp(&a.period_start).then(b.count.cmp(&a.count)));
        Ok(groups)
    }

    /// Deletes the pending pointers `filter` selects; returns how many.
    pub fn purge_pending(&mut self, filter: PendingFilter<'_>) -> Result<u64, StoreError> {
        let deleted = match filter {
            PendingFilter::All => self.conn.execute("DELETE FROM pending", [])?,
            PendingFilter::SeenBefore(time) => {
                self.conn.execute("DELETE FROM pending WHERE first_seen < ?1", [time])?
            }
            PendingFilter::Origin { transport, origin } => {
                let sealer = self.sealer()?;
                let mut keys = Vec::new();
                let mut statement = self.conn.prepare_cached("SELECT digest_key, record FROM pending")?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let (key, record): ([u8; 32], Vec<u8>) = (row.get(0)?, row.get(1)?);
                    let (their_transport, their_origin) = origin_of(sealer, &key, &record)?;
                    if their_origin == origin && transport.is_none_or(|t| t == their_transport) {
                        keys.push(key);
                    }
                }
                drop(rows);
                drop(statement);
                let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                for key in &keys {
                    forget(&tx, key)?;
                }
                tx.commit()?;
                keys.len()
            }
        };
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Arrival, ArrivalItem};
    use crate::vault::{KdfParams, Vault};

    fn store() -> (tempfile::TempDir, Store, Vault) {
        let temp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&temp.path().join("history.sqlite3")).unwrap();
        let (vault, header) =
            Vault::create(b"pass", KdfParams { m_kib: 64, t: 1, p: 1 }, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        store.unlock(&vault).unwrap();
        (temp, store, vault)
    }

    /// Keeps `count` pointers of `bytes` characters from `origin`, first seen at `seen + i`.
    fn keep(store: &mut Store, vault: &Vault, origin: &str, count: u8, bytes: usize, seen: i64) {
        let arrivals: Vec<Arrival> = (0..count)
            .map(|i| Arrival {
                transport: "drop.t".into(),
                origin: origin.into(),
                now: seen + i64::from(i),
                item: ArrivalItem::Unopened {
                    digest: clm_core::sha256(&[format!("{origin} {seen} {i}").as_bytes()]),
                    pointer_text: "p".repeat(bytes),
                },
            })
            .collect();
        let _ = vault;
        store.ingest(&arrivals, &[]).unwrap();
    }

    fn counted(store: &Store) -> PendingTotals {
        store
            .conn
            .query_row("SELECT count(*), coalesce(sum(bytes), 0) FROM pending", [], |row| {
                Ok(PendingTotals { count: row.get(0)?, bytes: row.get(1)? })
            })
            .unwrap()
    }

    fn caps(count: u64, bytes: u64, older_than: i64) -> PendingCaps {
        PendingCaps { count, bytes, older_than }
    }

    #[test]
    fn totals_follow_every_insert_and_delete() {
        let (_temp, mut store, vault) = store();
        keep(&mut store, &vault, "a", 10, 100, 1000);
        keep(&mut store, &vault, "a", 10, 100, 1000); // the same again: nothing new
        keep(&mut store, &vault, "bb", 5, 7, 2000);
        assert_eq!(store.pending_totals().unwrap(), counted(&store));
        assert_eq!(store.pending_totals().unwrap().count, 15);
        store.purge_pending(PendingFilter::Origin { transport: Some("drop.t"), origin: "bb" }).unwrap();
        assert_eq!(store.pending_totals().unwrap(), counted(&store));
        assert_eq!(store.pending_totals().unwrap().count, 10);
    }

    #[test]
    fn shedding_keeps_count_bytes_and_age_dropping_the_oldest_first() {
        let (_temp, mut store, vault) = store();
        keep(&mut store, &vault, "old", 10, 100, 1000);
        keep(&mut store, &vault, "new", 10, 100, 5000);
        let row_bytes = counted(&store).bytes / 20;

        let shed = store.shed_pending(caps(15, u64::MAX, 0)).unwrap();
        assert_eq!(shed.by_origin, BTreeMap::from([(("drop.t".to_owned(), "old".to_owned()), 5)]));
        assert_eq!(store.pending().unwrap().first().unwrap().first_seen, 1005, "the oldest went");

        let shed = store.shed_pending(caps(u64::MAX, 8 * row_bytes, 0)).unwrap();
        assert_eq!(shed.rows(), 7);
        assert_eq!(store.pending_totals().unwrap().bytes, 8 * row_bytes);

        let shed = store.shed_pending(caps(u64::MAX, u64::MAX, 5005)).unwrap();
        assert_eq!(shed.rows(), 3, "first seen before 5005");
        assert_eq!(store.pending_totals().unwrap(), counted(&store));
        assert_eq!(
            store.pending().unwrap().iter().map(|p| p.first_seen).collect::<Vec<_>>(),
            [5005, 5006, 5007, 5008, 5009]
        );
        assert_eq!(store.shed_oldest_pending(2).unwrap().rows(), 2);
        assert_eq!(store.pending_count().unwrap(), 3);
    }

    #[test]
    fn pages_cover_every_pointer_once_within_their_bounds() {
        let (_temp, mut store, vault) = store();
        keep(&mut store, &vault, "a", 50, 10, 1000);
        keep(&mut store, &vault, "b", 50, 10, 1000); // the same times: ties broken by digest
        let (mut after, mut seen, mut pages) = (None, Vec::new(), 0);
        loop {
            let page = store.pending_page(after.as_ref(), 7, 45).unwrap();
            if page.pointers.is_empty() {
                break;
            }
            assert!(page.pointers.len() <= 5, "45 bytes of 10-byte pointers: at most 5 rows");
            after = page.next;
            seen.extend(page.pointers);
            pages += 1;
        }
        assert_eq!(pages, 20);
        let all = store.pending().unwrap();
        assert_eq!(seen, all);
    }

    #[test]
    fn groups_by_origin_and_day_and_purges_by_age() {
        let (_temp, mut store, vault) = store();
        keep(&mut store, &vault, "a", 3, 10, 86_400);
        keep(&mut store, &vault, "a", 2, 10, 3 * 86_400);
        keep(&mut store, &vault, "b", 1, 10, 3 * 86_400);
        let groups: Vec<(String, i64, u64)> = store
            .pending_groups(86_400)
            .unwrap()
            .into_iter()
            .map(|g| (g.origin, g.period_start, g.count))
            .collect();
        assert_eq!(
            groups,
            [("a".into(), 3 * 86_400, 2), ("b".into(), 3 * 86_400, 1), ("a".into(), 86_400, 3)]
        );
        assert_eq!(store.purge_pending(PendingFilter::SeenBefore(2 * 86_400)).unwrap(), 3);
        assert_eq!(store.purge_pending(PendingFilter::All).unwrap(), 3);
        assert_eq!(store.pending_totals().unwrap(), PendingTotals::default());
    }
}

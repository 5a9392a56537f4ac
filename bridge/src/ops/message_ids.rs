//! Message ids a person typed that name no message: `trash` and `restore` change the others,
//! then fail naming these (as `rm` of a missing file does), from the CLI and the API alike;
//! `outbox drop` likewise for ids of no delivery.

use std::collections::HashSet;

use crate::error::Error;
use crate::store::{HistoryQuery, Store};

/// The ids (each once) that are no message of the history, trash included. Only asked when
/// some id was skipped, so the usual case reads no history.
pub fn missing_ids(store: &Store, ids: &[i64]) -> Result<Vec<i64>, Error> {
    let query = HistoryQuery { chat: None, since: None, include_trashed: true };
    let known: HashSet<i64> = store.history(&query)?.iter().map(|entry| entry.id).collect();
    let mut missing: Vec<i64> = ids.iter().copied().filter(|id| !known.contains(id)).collect();
    missing.sort_unstable();
    missing.dedup();
    Ok(missing)
}

/// How many of `ids` (repeats counted) are messages.
pub fn present(ids: &[i64], missing: &[i64]) -> usize {
    ids.iter().filter(|id| !missing.contains(id)).count()
}

/// An error naming the ids of no message, if any (after the others were changed).
pub fn no_missing_ids(missing: &[i64]) -> Result<(), Error> {
    if missing.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = missing.iter().map(|id| format!("#{id}")).collect();
    Err(Error::NoSuchIds(format!(
        "no message {} in history (ids as `clm-bridge history --trashed` and `history` show them)",
        ids.join(", ")
    )))
}

/// The ids (each once) that are no delivery in the outbox; asked before they are dropped.
pub fn missing_deliveries(store: &Store, ids: &[i64]) -> Result<Vec<i64>, Error> {
    let queued: HashSet<i64> = store.outbox()?.iter().map(|delivery| delivery.id).collect();
    let mut missing: Vec<i64> = ids.iter().copied().filter(|id| !queued.contains(id)).collect();
    missing.sort_unstable();
    missing.dedup();
    Ok(missing)
}

/// An error naming the ids of no delivery, if any (after the others were dropped).
pub fn no_missing_deliveries(missing: &[i64]) -> Result<(), Error> {
    if missing.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = missing.iter().map(|id| format!("#{id}")).collect();
    Err(Error::NoSuchIds(format!(
        "no delivery {} in the outbox (outbox ids, as `clm-bridge outbox list` shows them, not message ids)",
        ids.join(", ")
    )))
}

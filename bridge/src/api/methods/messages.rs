//! `history`, `trash`, `restore`, `purge`, `outbox.*` and `pending.list`: as the CLI's
//! commands of the same names.

use crate::api::types::{
    ArrivalView, Changed, DeliveryView, HistoryParams, HistoryView, IdsParams, MessageView, NoParams,
    OutboxView, PendingParams, PendingPointerView, PendingView, PurgeParams, RetryParams,
};
use crate::app::{self, App};
use crate::error::{Error, usage};
use crate::ops::message_ids::{missing_deliveries, missing_ids};
use crate::store::{HistoryEntry, HistoryPage, PurgeTarget};

/// Messages per `history` page unless the client asks for another size.
const DEFAULT_PAGE: usize = 100;
/// The most messages (or pending pointers) in one answer.
pub const MAX_PAGE: usize = 1000;

fn page_size(limit: Option<usize>) -> Result<usize, Error> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        Some(limit) => Err(usage(format!("limit {limit} is outside 1..={MAX_PAGE}"))),
    }
}

/// A history entry as the API shows it: `history --json`'s object.
pub fn message_view(entry: HistoryEntry) -> MessageView {
    MessageView {
        id: entry.id,
        chat: entry.chat,
        direction: entry.direction.name().to_owned(),
        from: entry.sender,
        text: entry.text,
        epoch: entry.epoch,
        format: entry.format.name().to_owned(),
        truncated: entry.truncated,
        stored_at: entry.stored_at,
        trashed: entry.trashed_at,
        arrivals: entry
            .arrivals
            .into_iter()
            .map(|a| ArrivalView { transport: a.transport, origin: a.origin, arrived_at: a.arrived_at })
            .collect(),
    }
}

pub(super) fn history(app: &mut App, params: HistoryParams) -> Result<HistoryView, Error> {
    let chat =
        params.chat.as_deref().map(|name| crate::ops::chat_names::find_chat(&app.store, name)).transpose()?;
    if params.after < 0 {
        return Err(usage("after is a message id, 0 or more"));
    }
    let page = HistoryPage {
        chat: chat.map(|chat| chat.id),
        since: params.since,
        trashed: params.trashed,
        after: params.after,
        before: params.before,
        limit: page_size(params.limit)?,
    };
    let (entries, more) = app.store.history_page(&page)?;
    Ok(HistoryView { messages: entries.into_iter().map(message_view).collect(), more })
}

fn changed(count: usize) -> Changed {
    Changed { changed: count as u64, missing: Vec::new() }
}

/// `count` changed of `ids`, and which of the others name no message.
fn changed_of(app: &App, ids: &[i64], count: usize) -> Result<Changed, Error> {
    let missing = if count < ids.len() { missing_ids(&app.store, ids)? } else { Vec::new() };
    Ok(Changed { changed: count as u64, missing })
}

pub(super) fn trash(app: &mut App, params: IdsParams) -> Result<Changed, Error> {
    let count = app.store.trash(&params.ids, app::now()?.cast_signed())?;
    changed_of(app, &params.ids, count)
}

pub(super) fn restore(app: &mut App, params: IdsParams) -> Result<Changed, Error> {
    let count = app.store.restore(&params.ids)?;
    changed_of(app, &params.ids, count)
}

pub(super) fn purge(app: &mut App, params: PurgeParams) -> Result<Changed, Error> {
    let target = match (params.all_trashed, params.ids.is_empty()) {
        (true, true) => PurgeTarget::AllTrashed,
        (false, false) => PurgeTarget::Ids(&params.ids),
        (true, false) => return Err(usage("give message ids or --all-trashed, not both")),
        (false, true) => return Err(usage("give the ids of trashed messages to purge, or --all-trashed")),
    };
    Ok(changed(app.store.purge(target, app::now()?.cast_signed())?))
}

pub(super) fn outbox_list(app: &mut App, NoParams {}: NoParams) -> Result<OutboxView, Error> {
    let deliveries = app.store.outbox()?.into_iter().map(DeliveryView::from).collect();
    Ok(OutboxView { deliveries })
}

pub(super) fn outbox_retry(app: &mut App, params: RetryParams) -> Result<Changed, Error> {
    if params.all != params.ids.is_empty() {
        return Err(usage("give outbox ids or all, not both"));
    }
    let now = app::now()?.cast_signed();
    Ok(changed(app.store.retry_deliveries((!params.all).then_some(params.ids.as_slice()), now)?))
}

pub(super) fn outbox_drop(app: &mut App, params: IdsParams) -> Result<Changed, Error> {
    let missing = missing_deliveries(&app.store, &params.ids)?;
    let count = app.store.drop_deliveries(&params.ids)?;
    Ok(Changed { changed: count as u64, missing })
}

pub(super) fn pending_list(app: &mut App, params: PendingParams) -> Result<PendingView, Error> {
    let limit = page_size(params.limit)?;
    let pointers = app
        .store
        .pending()?
        .into_iter()
        .take(limit)
        .map(|p| PendingPointerView {
            pointer: p.pointer_text,
            transport: p.transport,
            origin: p.origin,
            first_seen: p.first_seen,
        })
        .collect();
    Ok(PendingView { count: app.store.pending_count()?, pointers })
}

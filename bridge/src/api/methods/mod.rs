//! The methods: each takes its params type, does what the CLI command of the same name does
//! (through the same code in `crate::ops`, with the same errors), and answers with its result
//! type (`super::types`). Store work runs on blocking threads with the API's own connection.

mod chats;
mod messages;
mod send;

use std::sync::{Arc, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::codec;
use super::error::{ErrorCode, RpcError};
use super::server::Shared;
use super::session::with_events;
use super::types::{Counts, DaemonInfo, EventRange, GatewayStatus, Identity, NoParams, Status};
use crate::app::App;
use crate::error::Error;

/// Every method the daemon serves, in the order the spec lists them. `auth` is answered on TCP
/// connections only.
pub const METHODS: [&str; 24] = [
    "identity",
    "status",
    "chat.list",
    "chat.show",
    "chat.add",
    "chat.new",
    "chat.invite",
    "chat.join",
    "chat.rename",
    "chat.route",
    "chat.remove",
    "send",
    "history",
    "trash",
    "restore",
    "purge",
    "outbox.list",
    "outbox.retry",
    "outbox.drop",
    "pending.list",
    "subscribe",
    "unsubscribe",
    "auth",
    "rpc.discover",
];

/// Answers a method that needs no connection state.
pub(crate) async fn call(shared: &Arc<Shared>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "identity" => run(shared, params, |app, NoParams {}| Ok(Identity { name: app.identity()? })).await,
        "status" => {
            let NoParams {} = codec::params(params)?;
            codec::result(&status(shared).await?)
        }
        "chat.list" => run(shared, params, chats::list).await,
        "chat.show" => run(shared, params, chats::show).await,
        "chat.add" => ringing(shared, run(shared, params, chats::add).await),
        "chat.new" => run(shared, params, chats::new).await,
        "chat.invite" => run(shared, params, chats::invite).await,
        "chat.join" => ringing(shared, run(shared, params, chats::join).await),
        "chat.rename" => run(shared, params, chats::rename).await,
        "chat.route" => run(shared, params, chats::route).await,
        "chat.remove" => run(shared, params, chats::remove).await,
        "send" => codec::result(&send::send(shared, codec::params(params)?).await?),
        "history" => run(shared, params, messages::history).await,
        "trash" => run(shared, params, messages::trash).await,
        "restore" => run(shared, params, messages::restore).await,
        "purge" => run(shared, params, messages::purge).await,
        "outbox.list" => run(shared, params, messages::outbox_list).await,
        "outbox.retry" => run(shared, params, messages::outbox_retry).await,
        "outbox.drop" => run(shared, params, messages::outbox_drop).await,
        "pending.list" => run(shared, params, messages::pending_list).await,
        _ => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("no method {:?}", method.escape_debug().to_string()),
        )),
    }
}

/// Wakes subscribers after a method that may have stored messages (pending pointers opened).
fn ringing(shared: &Shared, result: Result<Value, RpcError>) -> Result<Value, RpcError> {
    if result.is_ok() {
        shared.bell.ring();
    }
    result
}

/// Parses the params, runs `work` with the API's connection on a blocking thread, and turns
/// its answer into the result.
async fn run<P, R>(
    shared: &Arc<Shared>,
    params: Value,
    work: fn(&mut App, P) -> Result<R, Error>,
) -> Result<Value, RpcError>
where
    P: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let params: P = codec::params(params)?;
    let answer = with_app(shared, move |app| work(app, params)).await?;
    codec::result(&answer)
}

/// Runs `work` with the API's connection on a blocking thread.
pub(crate) async fn with_app<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&mut App) -> Result<T, Error> + Send + 'static,
) -> Result<T, RpcError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let mut app = shared.app.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut app)
    })
    .await
    .map_err(RpcError::internal)?
    .map_err(RpcError::from)
}

async fn status(shared: &Arc<Shared>) -> Result<Status, RpcError> {
    let (counts, first, last, schema, outbox) = with_events(shared, |store| {
        let outbox = store.outbox()?;
        Ok((
            store.counts()?,
            store.first_event_id()?,
            store.event_sequence()?,
            store.schema_version()?,
            outbox,
        ))
    })
    .await?;
    let transports = shared.board.all();
    let (data_dir, gateways) = {
        let app = shared.app.lock().unwrap_or_else(PoisonError::into_inner);
        (
            app.data_dir.root().display().to_string(),
            GatewayStatus::all(&app.settings, &transports, Some(&outbox)),
        )
    };
    Ok(Status {
        daemon: DaemonInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: super::API_VERSION,
            started_at: shared.started_at,
            data_dir,
            schema_version: schema,
        },
        transports,
        counts: counts_view(&counts),
        events: EventRange { first, last },
        gateways,
    })
}

/// The store's counts as the API shows them.
pub fn counts_view(counts: &crate::store::Counts) -> Counts {
    Counts {
        chats: counts.chats,
        messages: counts.messages,
        trashed: counts.trashed,
        pending: counts.pending,
        outbox_queued: counts.queued,
        outbox_failed: counts.failed,
    }
}

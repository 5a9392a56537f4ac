//! `send`: as `clm-bridge send`, over the daemon's running transports (a logged-in Matrix
//! client, an open SMTP pool: the API never starts a second one). The message is recorded with
//! one outbox entry per route in one transaction (subscribers see it then), each delivery is
//! tried once, and the answer tells what became of each: delivered, deferred (the outbox worker
//! retries it) or failed (kept for `outbox.retry` or `outbox.drop`).

use std::collections::HashMap;
use std::sync::Arc;

use clm_adapters::Transport;
use zeroize::Zeroizing;

use super::with_app;
use crate::api::error::RpcError;
use crate::api::server::Shared;
use crate::api::types::{DeliveryOutcome, SendParams, Sent};
use crate::app::{self, App};
use crate::config::RouteSpec;
use crate::delivery::{self, Attempt};
use crate::error::{Error, usage};
use crate::ops::send::{encode_and_record, no_route, plan};
use crate::store::{Delivery, IngestOutcome};
use crate::transports::{Context, Resolved};

/// A message recorded, and the deliveries to try.
struct Recorded {
    sent: Sent,
    routes: Vec<Resolved>,
    queued: Vec<Delivery>,
}

pub(super) async fn send(shared: &Arc<Shared>, params: SendParams) -> Result<Sent, RpcError> {
    let via = params
        .via
        .as_deref()
        .map(|via| RouteSpec::parse(via).map_err(|reason| usage(format!("--via: {reason}"))))
        .transpose()?;
    let text = Zeroizing::new(params.text);
    if text.is_empty() {
        return Err(usage("the message is empty: nothing to send").into());
    }
    let (chat, print, running) = (params.chat, params.print, shared.running.clone());
    let Recorded { mut sent, routes, queued } =
        with_app(shared, move |app| record(app, &chat, &text, via.as_ref(), print, &running)).await?;
    shared.bell.ring();
    let mut attempts = Vec::with_capacity(queued.len());
    for delivery in queued {
        let key = (delivery.transport.clone(), delivery.target.clone());
        let Some(route) = routes.iter().find(|route| route.key() == key) else { continue };
        let attempt = delivery::attempt(route, &delivery, &shared.retries).await;
        sent.deliveries.push(outcome(route, &delivery, &attempt));
        attempts.push((delivery, attempt));
    }
    if !attempts.is_empty() {
        with_app(shared, move |app| {
            let now = app::now()?.cast_signed();
            for (delivery, attempt) in &attempts {
                delivery::record(&mut app.store, delivery, attempt, now)?;
            }
            Ok(())
        })
        .await?;
        shared.bell.ring();
    }
    Ok(sent)
}

fn outcome(route: &Resolved, delivery: &Delivery, attempt: &Attempt) -> DeliveryOutcome {
    let mut outcome = DeliveryOutcome {
        outbox_id: delivery.id,
        route: route.shown(),
        state: String::new(),
        sent_id: None,
        error: None,
        retry_in: None,
    };
    match attempt {
        Attempt::Delivered(sent) => {
            outcome.state = "delivered".into();
            outcome.sent_id = Some(sent.id.clone());
        }
        Attempt::Deferred { error, retry_in } => {
            outcome.state = "deferred".into();
            outcome.error = Some(error.clone());
            outcome.retry_in = Some(retry_in.as_secs());
        }
        Attempt::Failed(error) => {
            outcome.state = "failed".into();
            outcome.error = Some(error.clone());
        }
    }
    outcome
}

/// Resolves the routes (the daemon's running transports in place of new ones), encodes, and
/// records the message with its deliveries.
fn record(
    app: &mut App,
    chat: &str,
    text: &str,
    via: Option<&RouteSpec>,
    print: bool,
    running: &HashMap<String, Arc<dyn Transport>>,
) -> Result<Recorded, Error> {
    let chat = crate::ops::chat_names::find_chat(&app.store, chat)?;
    let stored_routes = app.store.routes(chat.id)?;
    let context = Context::new(&app.data_dir, &app.vault);
    let mut routes = plan(&app.settings, &context, &chat.name, &stored_routes, via)?;
    for route in &mut routes {
        if let Some(transport) = running.get(route.transport.name()) {
            route.transport = Arc::clone(transport);
        }
    }
    if routes.is_empty() && !print {
        return Err(no_route(&chat.name));
    }
    let (pointer_text, recorded) = encode_and_record(app, &chat, &routes, text)?;
    let (message_id, duplicate) = match recorded {
        IngestOutcome::New(id) => (id, false),
        IngestOutcome::Duplicate(id) => (id, true),
        other => return Err(Error::Delivery(format!("the message was not recorded ({other:?})"))),
    };
    let queued = if duplicate { Vec::new() } else { app.store.deliveries_of(message_id)? };
    let shown = routes.iter().map(Resolved::shown).collect();
    let sent = Sent {
        message_id,
        duplicate,
        chat: chat.name,
        pointer: pointer_text,
        routes: shown,
        deliveries: Vec::new(),
    };
    Ok(Recorded { sent, routes, queued })
}

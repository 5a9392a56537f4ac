//! The event stream: every event once, in order, from the store's log, across reconnects.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use clm_bridge::api::types::{HistoryParams, HistoryView, SendParams, Sent};
use clm_bridge::api::{Client, ClientError, ErrorCode, Event};

use super::{ApiNode, CHAT};

/// How many messages the flood test drops.
const FLOOD: usize = 10_000;

/// Reads events until `done` says so; returns them (every kind) in the order received.
fn read_until(client: &mut Client, events: &mut Vec<Event>, done: impl Fn(&[Event]) -> bool) {
    while !done(events) {
        events.push(client.next_event().expect("the next event"));
    }
}

fn received_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message(message) if message.direction == "received" => Some(message.text.clone()),
            _ => None,
        })
        .collect()
}

fn ids(events: &[Event]) -> Vec<i64> {
    events.iter().map(|event| event.event_id().expect("every event has an id")).collect()
}

#[test]
fn ten_thousand_messages_are_ten_thousand_events_in_order_once_even_across_a_reconnect() {
    let node = ApiNode::new("api_flood", "alice", "");
    let _daemon = node.start();
    let mut steady = node.client();
    let start = steady.subscribe(None).expect("subscribe").after;
    let mut resuming = node.client();
    assert_eq!(resuming.subscribe(Some(start)).expect("subscribe").after, start);

    let inbox = node.inbox.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..FLOOD {
            super::drop_pointer(&inbox, &super::pointer("bob", &format!("m{i:05}")), &format!("m{i:05}"));
        }
    });
    // The steady client reads all along, as a bot does (one that stops reading while it has
    // events waiting is let go by the daemon after a while).
    let steady_seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&steady_seen);
    let steady_reader = std::thread::spawn(move || {
        let mut events = Vec::new();
        while received_texts(&events).len() < FLOOD {
            events.push(steady.next_event().expect("the next event"));
            seen.store(
                received_texts(&events[events.len() - 1..]).len() + seen.load(Ordering::SeqCst),
                Ordering::SeqCst,
            );
        }
        events
    });
    // The resuming client reads a part, goes away while messages keep coming, and comes back
    // with the last id it saw.
    let mut before = Vec::new();
    read_until(&mut resuming, &mut before, |events| received_texts(events).len() >= FLOOD / 3);
    let last_seen = *ids(&before).last().expect("events before the break");
    drop(resuming);
    while steady_seen.load(Ordering::SeqCst) < FLOOD * 2 / 3 {
        assert!(!steady_reader.is_finished(), "the steady reader stopped early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut resumed = node.client();
    assert_eq!(resumed.subscribe(Some(last_seen)).expect("resume").after, last_seen);
    let mut after = Vec::new();
    read_until(&mut resumed, &mut after, |events| {
        received_texts(events).len() + received_texts(&before).len() >= FLOOD
    });
    let steady_events = steady_reader.join().expect("the steady reader");
    writer.join().expect("the writer");

    let all: Vec<String> = (0..FLOOD).map(|i| format!("m{i:05}")).collect();
    for (who, events) in [("steady", steady_events), ("resuming", [before, after].concat())] {
        let texts = received_texts(&events);
        assert_eq!(texts.len(), FLOOD, "{who}: each message once");
        assert_eq!(
            texts.iter().cloned().collect::<BTreeSet<_>>(),
            all.iter().cloned().collect(),
            "{who}: every one"
        );
        let ids = ids(&events);
        let contiguous: Vec<i64> = (start + 1..=start + ids.len() as i64).collect();
        assert_eq!(
            ids, contiguous,
            "{who}: every event id after {start}, in order, none twice, none missing"
        );
    }
}

#[test]
fn a_send_is_a_sent_message_then_its_delivery_and_transports_report_their_health() {
    let node = ApiNode::new("api_send_events", "alice", "");
    let _daemon = node.start();
    let mut client = node.client();
    client.subscribe(Some(0)).expect("from the first event");
    let params = SendParams { chat: CHAT.into(), text: "Dinner at 7?".into(), via: None, print: false };
    let sent: Sent = client.call("send", &params).expect("send");
    assert_eq!(sent.routes, ["drop.outbox"]);
    assert_eq!(sent.deliveries.len(), 1);
    assert_eq!(sent.deliveries[0].state, "delivered", "{sent:?}");
    let file = node.outbox.join(sent.deliveries[0].sent_id.as_deref().expect("the file's name"));
    assert_eq!(std::fs::read_to_string(file).expect("delivered into the folder"), sent.pointer);
    let mut events = Vec::new();
    read_until(&mut client, &mut events, |events| {
        events.iter().any(|e| matches!(e, Event::Delivery(d) if d.message_id == Some(sent.message_id)))
    });
    let message = events.iter().position(|e| matches!(e, Event::Message(m) if m.id == sent.message_id));
    let delivery =
        events.iter().position(|e| matches!(e, Event::Delivery(d) if d.message_id == Some(sent.message_id)));
    assert!(message.is_some() && message < delivery, "the message, then its delivery: {events:?}");
    let Some(Event::Message(message)) = message.map(|i| &events[i]) else { unreachable!() };
    assert_eq!(
        (message.direction.as_str(), message.text.as_str(), message.transport.as_ref()),
        ("sent", "Dinner at 7?", None)
    );
    let Some(Event::Delivery(delivery)) = delivery.map(|i| &events[i]) else { unreachable!() };
    assert_eq!((delivery.route.as_str(), delivery.state.as_str()), ("drop.outbox", "delivered"));
    let up: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Health(h) if h.state == "up" => Some(h.transport.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(up, BTreeSet::from(["drop.inbox", "drop.outbox"]), "each transport's start is an event");
    // History through the API holds the same message.
    let page: HistoryView = client.call("history", &HistoryParams::default()).expect("history");
    assert_eq!(page.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["Dinner at 7?"]);
}

fn refusal(result: Result<clm_bridge::api::types::Subscribed, ClientError>) -> clm_bridge::api::RpcError {
    match result {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn resuming_from_pruned_events_or_from_the_future_is_refused_saying_where_the_log_is() {
    let node = ApiNode::new("api_pruned", "alice", "[api]\nkeep_events = 3\n");
    let daemon = node.start();
    for i in 0..6 {
        node.drop_message("bob", &format!("early {i}"), &format!("early{i}"));
    }
    let mut client = node.client();
    client.subscribe(Some(0)).expect("everything so far");
    let mut events = Vec::new();
    read_until(&mut client, &mut events, |events| received_texts(events).len() == 6);
    assert!(daemon.stop().code == Some(0));
    // The log is pruned when the daemon starts: the newest 3 events are kept.
    let _daemon = node.start();
    let mut client = node.client();
    let status: clm_bridge::api::types::Status =
        client.call("status", &clm_bridge::api::types::NoParams {}).unwrap();
    let first = status.events.first.expect("events kept");
    assert!(first > 1, "{status:?}");
    let error = refusal(client.subscribe(Some(0)));
    assert_eq!(error.kind(), Some(ErrorCode::EventsPruned), "{error:?}");
    assert_eq!(error.data.as_ref().and_then(|d| d["first_event_id"].as_i64()), Some(first));
    assert!(error.message.contains(&format!("the oldest kept is {first}")), "{}", error.message);
    let resumed = client.subscribe(Some(first - 1)).expect("from just before the oldest kept");
    assert_eq!(resumed.after, first - 1);
    let ahead = status.events.last + 1000;
    let error = refusal(node.client().subscribe(Some(ahead)));
    assert_eq!(error.kind(), Some(ErrorCode::EventAhead), "{error:?}");
}

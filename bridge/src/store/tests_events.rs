//! The event log: one event per thing committed, numbered, resumable, prunable.

use super::tests::{Fixture, arrival, digest, opened, unopened};
use super::*;

#[test]
fn each_new_message_and_delivery_outcome_is_one_event_in_commit_order() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let outcomes = fixture.ingest(&[
        arrival("t", "1", 1, opened(chat, 1, "a")),
        arrival("t", "2", 1, opened(chat, 1, "a")), // the same pointer again: not new
        arrival("t", "3", 1, unopened(2)),          // pending: no message
        arrival("t", "4", 1, opened(chat, 3, "b")),
    ]);
    let ids: Vec<MessageId> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            IngestOutcome::New(id) => Some(*id),
            _ => None,
        })
        .collect();
    let sent = SentMessage {
        chat_id: chat,
        digest: digest(4),
        pointer_text: "{}",
        epoch: 4,
        sender: "me",
        text: "out",
        now: 5,
        deliveries: &[("drop.usb".to_owned(), "sub".to_owned())],
    };
    let IngestOutcome::New(sent_id) = fixture.store.record_sent(&sent).unwrap() else { panic!("new") };
    let outbox = fixture.store.deliveries_of(sent_id).unwrap()[0].id;
    fixture.store.delivery_deferred(outbox, "stick pulled out", 20, 6).unwrap();
    fixture.store.delivered(outbox, 21).unwrap();
    fixture.store.record_health("drop.usb", "down", "folder gone", 22).unwrap();

    let events = fixture.store.events_after(0, 100).unwrap();
    let bodies: Vec<EventBody> = events.iter().map(|event| event.body.clone()).collect();
    let delivery = |state: &str, error: Option<&str>| EventBody::Delivery {
        outbox_id: outbox,
        message_id: Some(sent_id),
        route: "drop.usb:sub".into(),
        state: state.into(),
        error: error.map(str::to_owned),
    };
    assert_eq!(
        bodies,
        [
            EventBody::Message { message_id: ids[0] },
            EventBody::Message { message_id: ids[1] },
            EventBody::Message { message_id: sent_id },
            delivery("deferred", Some("stick pulled out")),
            delivery("delivered", None),
            EventBody::Health {
                transport: "drop.usb".into(),
                state: "down".into(),
                detail: "folder gone".into()
            },
        ]
    );
    assert!(events.windows(2).all(|pair| pair[0].id < pair[1].id), "ids increase");
    // A client that saw the third event resumes after it: the rest, nothing twice.
    let resumed = fixture.store.events_after(events[2].id, 100).unwrap();
    assert_eq!(resumed, events[3..]);
    assert_eq!(fixture.store.events_after(events[2].id, 2).unwrap(), events[3..5], "pages");
    assert_eq!(fixture.store.last_event_id().unwrap(), events[5].id);
}

#[test]
fn pruned_events_leave_a_visible_start_and_ids_are_never_reused() {
    let fixture = Fixture::new();
    for n in 0..10 {
        fixture.store.record_health("drop.usb", "up", &format!("{n}"), i64::from(n)).unwrap();
    }
    assert_eq!(fixture.store.prune_events(4, 0).unwrap(), 6);
    let first = fixture.store.first_event_id().unwrap().unwrap();
    assert_eq!(fixture.store.events_after(0, 100).unwrap().len(), 4);
    assert_eq!(first, fixture.store.last_event_id().unwrap() - 3);
    fixture.store.prune_events(0, 100).unwrap();
    let next = fixture.store.record_health("drop.usb", "up", "again", 200).unwrap();
    assert!(next > first + 3, "an id is never given twice, even after pruning");
}

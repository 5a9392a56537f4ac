//! The pipeline's own tests: limits per input, per transaction and per origin, and retries of
//! pending pointers.

use clm_core::{Clm202Chat, Pointer};

use super::*;
use crate::app::App;
use crate::commands::opened::tests::test_app;

/// A pointer of `secret`'s chat "Family" (test_app's) with text `text`.
fn pointer(secret: &str, text: &str, nonce: &str) -> String {
    Pointer::Clm202(Clm202Chat::new(secret, "Family").encode("alice", text, 1_763_700_000, nonce).unwrap())
        .to_json()
}

fn run(app: &mut App, batch: &[Incoming<'_>], policy: &mut Policy<'_>) -> Ingested {
    let mut known = KnownChats::load(&app.store, 1_763_700_000).unwrap();
    let mut into = Ingested::default();
    ingest(&mut app.store, &mut known, batch, 1_763_700_100, policy, &mut into).unwrap();
    into
}

fn incoming<'a>(origin: &'a str, text: &'a str, cursor: Option<(&'a str, &'a str)>) -> Incoming<'a> {
    Incoming { transport: "drop.t", origin, place: "", text: text.as_bytes(), cursor }
}

#[test]
fn an_input_is_read_up_to_its_limit() {
    let (_temp, mut app) = test_app();
    let text: String = (0..10).map(|n| pointer("family secret", &format!("m{n}"), &n.to_string())).collect();
    let limits = Limits { pointers_per_input: 4, ..Limits::default() };
    let ingested = run(&mut app, &[incoming("a", &text, None)], &mut Policy::keep(limits));
    assert_eq!(ingested.received.len(), 4);
    assert_eq!(
        ingested.per_input,
        [InputOutcome { pointers: 4, opened: 4, pending: 0, dropped: 0, stopped_at_limit: true }]
    );
}

#[test]
fn a_batch_larger_than_a_transaction_is_stored_whole_with_the_cursor_last() {
    let (_temp, mut app) = test_app();
    let ours: String = (0..7).map(|n| pointer("family secret", &format!("m{n}"), &n.to_string())).collect();
    let theirs: String = (0..5).map(|n| pointer("other", &format!("x{n}"), &n.to_string())).collect();
    let limits = Limits { batch_pointers: 3, ..Limits::default() };
    let batch = [incoming("a", &ours, Some(("seen:a", "1"))), incoming("b", &theirs, Some(("seen:b", "2")))];
    let ingested = run(&mut app, &batch, &mut Policy::keep(limits));
    assert_eq!(ingested.received.iter().filter(|r| r.new).count(), 7);
    assert_eq!((ingested.pending, app.store.pending_count().unwrap()), (5, 5));
    assert_eq!(app.store.cursors("drop.t").unwrap().len(), 2);
    assert_eq!(app.store.message_count().unwrap(), 7);
}

#[test]
fn an_origin_keeps_its_quota_of_pending_and_the_table_its_caps() {
    let (_temp, mut app) = test_app();
    let junk: String = (0..30).map(|n| pointer("other", "x", &n.to_string())).collect();
    let mut quota = OriginQuota::new(20, 3600);
    let limits = Limits { pending_count: 15, ..Limits::default() };
    let mut policy = Policy { limits, unopened: Unopened::Keep(Some(&mut quota)), gateways: None };
    let ingested = run(&mut app, &[incoming("mallory", &junk, None)], &mut policy);
    assert_eq!((ingested.pending, ingested.dropped), (20, 10), "20 kept of 30, over the quota");
    assert_eq!(ingested.shed.rows(), 5, "then the 5 oldest dropped for the count cap");
    assert_eq!(app.store.pending_count().unwrap(), 15);
    let mut policy = Policy { limits, unopened: Unopened::Drop, gateways: None };
    let ingested = run(&mut app, &[incoming("mallory", &pointer("other", "y", "new"), None)], &mut policy);
    assert_eq!((ingested.pending, ingested.dropped), (0, 1), "a full store keeps none");
}

#[test]
fn retrying_pending_pages_through_them_and_opens_what_it_can() {
    let (_temp, mut app) = test_app();
    // 1200 pending pointers (more than two pages), 3 of them of a chat added later.
    let mut text: String = (0..1197).map(|n| pointer("other", "x", &n.to_string())).collect();
    for n in 0..3 {
        text.push_str(
            &Pointer::Clm202(
                Clm202Chat::new("late", "Late")
                    .encode("bob", &format!("late {n}"), 1, &n.to_string())
                    .unwrap(),
            )
            .to_json(),
        );
    }
    let limits = Limits { pointers_per_input: usize::MAX, ..Limits::default() };
    run(&mut app, &[incoming("a", &text, None)], &mut Policy::keep(limits));
    assert_eq!(app.store.pending_count().unwrap(), 1200);
    let chat = crate::store::NewChat {
        name: "Late",
        format: Format::Clm202,
        secret: b"late",
        clm201_chat_id: None,
        seed_suffix: None,
        native_root: None,
        native_salt: None,
        created_at: 2,
    };
    app.store.add_chat(&chat).unwrap();
    let mut known = KnownChats::load(&app.store, 1).unwrap();
    let opened = retry_pending(&mut app.store, &mut known, 3, limits).unwrap();
    let mut texts: Vec<&str> = opened.received.iter().map(|r| r.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["late 0", "late 1", "late 2"]);
    assert_eq!(app.store.pending_count().unwrap(), 1197);
}

/// A pointer of chat "Family" whose body no longer decrypts (altered on the way).
fn altered(text: &str, nonce: &str) -> String {
    let mut pointer =
        Clm202Chat::new("family secret", "Family").encode("alice", text, 1_763_700_000, nonce).unwrap();
    let plain = format!("#Family|¶|alice|¶|{text}");
    let at = "#Family|¶|a".len();
    pointer.data[at] ^= plain.as_bytes()[at] ^ 0xff;
    Pointer::Clm202(pointer).to_json()
}

#[test]
fn gateways_relay_known_and_unknown_pointers_but_never_an_altered_one_of_a_known_chat() {
    let (_temp, mut app) = test_app();
    let gateway = gateways::test_gateway(&["drop.t", "drop.out"]);
    let mut gateways = Gateways::new(&BTreeMap::from([("g".to_owned(), gateway)]), 3600);
    let text =
        [pointer("family secret", "ours", "1"), pointer("other", "theirs", "2"), altered("forged", "3")]
            .concat();
    let mut policy =
        Policy { limits: Limits::default(), unopened: Unopened::Keep(None), gateways: Some(&mut gateways) };
    let ingested = run(&mut app, &[incoming("a", &text, None)], &mut policy);
    assert_eq!((ingested.received.len(), ingested.pending, ingested.relayed), (1, 1, 2));
    assert_eq!(ingested.broken["Family"].count, 1);
    let relayed: Vec<String> = app.store.outbox().unwrap().into_iter().map(|d| d.pointer).collect();
    assert!(!relayed.contains(&altered("forged", "3")), "the altered pointer stays here");
}

//! Gateways' relays in the store: each pointer queued to each route at most once whatever way
//! it comes back, in the arrival's transaction, sealed at rest, kept across a new passphrase,
//! forgotten after their time.

use super::tests::{CHEAP, Fixture, digest};
use super::*;
use crate::vault::Vault;

fn target(route: &str) -> RelayTarget {
    let (transport, target) = route.split_once(':').unwrap_or((route, ""));
    RelayTarget { route: route.to_owned(), transport: transport.to_owned(), target: target.to_owned() }
}

/// Gateway `g` joining a Telegram group, a Matrix room and a drop folder: `n` arrived on `from`.
fn relaying(n: u32, from: &str, now: i64) -> Relaying {
    let routes = ["telegram.home:-100", "matrix.home:!Room-id:example.org", "drop.usb"];
    Relaying {
        gateway: "g".into(),
        arrived_on: from.into(),
        targets: routes.iter().filter(|r| **r != from).map(|r| target(r)).collect(),
        digest: digest(n),
        pointer_text: format!("{{\"e\":{n},\"n\":\"Relayed-pointer\",\"d\":\"00\"}}"),
        now,
    }
}

fn routes_queued(store: &Store) -> Vec<String> {
    let mut routes: Vec<String> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|d| if d.target.is_empty() { d.transport } else { format!("{}:{}", d.transport, d.target) })
        .collect();
    routes.sort();
    routes
}

#[test]
fn a_pointer_goes_to_each_other_route_once_whatever_way_it_comes_back() {
    let mut fixture = Fixture::new();
    let (_, queued) =
        fixture.store.ingest_relaying(&[], &[], &[relaying(1, "telegram.home:-100", 10)]).unwrap();
    assert_eq!(queued, 2);
    assert_eq!(routes_queued(&fixture.store), ["drop.usb", "matrix.home:!Room-id:example.org"]);
    let delivery = &fixture.store.outbox().unwrap()[0];
    assert_eq!((delivery.gateway.as_deref(), delivery.message_id), (Some("g"), None));
    assert_eq!(delivery.pointer, "{\"e\":1,\"n\":\"Relayed-pointer\",\"d\":\"00\"}");

    // Its echo from the room, then from the folder, then again where it started: nothing more.
    for from in ["matrix.home:!Room-id:example.org", "drop.usb", "telegram.home:-100"] {
        let (_, queued) = fixture.store.ingest_relaying(&[], &[], &[relaying(1, from, 11)]).unwrap();
        assert_eq!(queued, 0, "{from}");
    }
    // Another pointer still goes.
    let (_, queued) = fixture.store.ingest_relaying(&[], &[], &[relaying(2, "drop.usb", 12)]).unwrap();
    assert_eq!(queued, 2);
    assert_eq!(fixture.store.outbox().unwrap().len(), 4);
}

#[test]
fn two_copies_in_one_batch_are_relayed_once() {
    let mut fixture = Fixture::new();
    let twice = [relaying(1, "drop.usb", 10), relaying(1, "matrix.home:!Room-id:example.org", 10)];
    assert_eq!(fixture.store.ingest_relaying(&[], &[], &twice).unwrap().1, 2);
    assert_eq!(fixture.store.outbox().unwrap().len(), 2);
    assert_eq!(fixture.store.relayed_count().unwrap(), 3, "(g, route, pointer 1) for each route");
}

#[test]
fn relays_are_sealed_kept_across_a_new_passphrase_and_forgotten_after_their_time() {
    let mut fixture = Fixture::new();
    fixture.store.ingest_relaying(&[], &[], &[relaying(1, "telegram.home:-100", 10)]).unwrap();
    let on_disk = std::fs::read(fixture.dir.db_path()).unwrap_or_default();
    let mut wal = fixture.dir.db_path().into_os_string();
    wal.push("-wal");
    let on_disk = [on_disk, std::fs::read(wal).unwrap_or_default()].concat();
    for needle in ["Room-id", "Relayed-pointer", "telegram.home"] {
        assert!(!on_disk.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} on disk");
    }

    let (vault, header) = Vault::create(b"new passphrase", CHEAP, getrandom::fill).unwrap();
    fixture.store.rekey(&vault, &header).unwrap();
    assert_eq!(fixture.store.relayed_count().unwrap(), 3);
    let (_, queued) = fixture.store.ingest_relaying(&[], &[], &[relaying(1, "drop.usb", 20)]).unwrap();
    assert_eq!(queued, 0, "still known after the new key");

    assert_eq!(fixture.store.forget_relays_before(15).unwrap(), 3);
    let (_, queued) = fixture.store.ingest_relaying(&[], &[], &[relaying(1, "drop.usb", 30)]).unwrap();
    assert_eq!(queued, 2, "forgotten: relayed again");
}

//! What a stranger can put in the folder: each hostile entry is skipped with one warning,
//! nothing it does stops the real files, and what it costs is bounded.

use super::*;
use crate::drop::folder::settle::{MAX_EVENT_NAMES, MAX_PENDING};

fn sorted(mut skipped: Vec<(Vec<u8>, Skip)>) -> Vec<(Vec<u8>, Skip)> {
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    skipped
}

fn skip(name: &[u8], why: Skip) -> (Vec<u8>, Skip) {
    (name.to_vec(), why)
}

#[test]
fn every_hostile_entry_is_skipped_with_exactly_one_warning() {
    let mut h = Harness::new();
    h.place_aged("empty.json", b"", HOUR);
    h.place_aged("huge.json", &vec![b'x'; MAX_FILE_BYTES as usize + 1], HOUR);
    let mut binary = pointer(1).into_bytes();
    binary.extend_from_slice(b"\0\x01\x02");
    h.place_aged("binary.json", &binary, HOUR);
    h.place_aged("locked.json", pointer(2).as_bytes(), HOUR);
    h.entries.get_mut(b"locked.json".as_slice()).unwrap().unreadable = true;
    h.add(b"link.json", Kind::Symlink);
    h.add(b"sub.json", Kind::Directory);
    h.add(b"pipe.json", Kind::Special);
    h.add(b"odd-\xff.json", Kind::File);
    h.add(b"odd-\xfe-link", Kind::Symlink);
    h.place_aged("good.json", pointer(3).as_bytes(), HOUR);

    h.start();
    h.sleep(POLL * 25);
    assert_eq!(h.take_delivered(), ["good.json"]);
    let expected = vec![
        skip(b"binary.json", Skip::Binary),
        skip(b"empty.json", Skip::Empty),
        skip(b"huge.json", Skip::TooLarge),
        skip(b"link.json", Skip::Symlink),
        skip(b"locked.json", Skip::Unreadable),
        skip(b"odd-\xfe-link", Skip::BadName),
        skip(b"odd-\xff.json", Skip::BadName),
        skip(b"pipe.json", Skip::Special),
        skip(b"sub.json", Skip::Directory),
    ];
    assert_eq!(sorted(h.skipped()), expected, "once each, through quick and thorough scans");
}

#[test]
fn an_entry_is_warned_about_again_only_for_another_reason() {
    let mut h = Harness::new();
    h.place_aged("note.json", b"", HOUR);
    h.start();
    // Replaced by another empty file: the same reason, no second warning.
    h.place("note.json", b"");
    h.event("note.json");
    h.sleep(SETTLE);
    h.write("note.json", &vec![b'x'; MAX_FILE_BYTES as usize + 1]);
    h.event("note.json");
    h.write("note.json", pointer(4).as_bytes());
    h.event("note.json");
    h.sleep(SETTLE);
    assert_eq!(h.take_delivered(), ["note.json"]);
    h.write("note.json", b"");
    h.event("note.json");
    h.sleep(SETTLE + POLL * 12);
    let warned: Vec<Skip> = h.skipped().into_iter().map(|(_, why)| why).collect();
    assert_eq!(warned, [Skip::Empty, Skip::TooLarge, Skip::Empty]);
}

#[test]
fn a_fifo_or_a_symlink_swapped_in_after_the_listing_is_skipped_once_and_the_rest_flows() {
    for kind in [Kind::Special, Kind::Symlink, Kind::Directory] {
        let mut h = Harness::new();
        h.place_aged("a.json", pointer(5).as_bytes(), HOUR);
        h.place_aged("b.json", pointer(6).as_bytes(), HOUR);
        let mut swapped = h.entries[b"a.json".as_slice()].clone();
        (swapped.kind, swapped.inode) = (kind, 999);
        h.swap_before_read = Some(("a.json".into(), Some(swapped)));
        h.start();
        assert_eq!(h.take_delivered(), ["b.json"], "{kind:?}");
        h.sleep(POLL * 12);
        assert_eq!(h.skipped(), [skip(b"a.json", Skip::for_kind(kind))], "{kind:?}");
    }
}

#[test]
fn stale_temporary_files_of_ours_are_removed_by_thorough_scans_and_nothing_else() {
    let mut h = Harness::new();
    let digest = digest_name(&pointer(7));
    let ours_stale = format!(".{digest}.4242-123-1.tmp");
    let ours_fresh = format!(".{digest}.4242-123-2.tmp");
    let not_ours =
        [format!(".{digest}.partial"), ".notes.json.1-2-3.tmp".into(), format!(".{digest}.1-2-3.tmp.bak")];
    h.place_aged(&ours_stale, b"half", HOUR);
    h.place_aged(&ours_fresh, b"half", HOUR / 2);
    for name in &not_ours {
        h.place_aged(name, b"someone else's", 2 * HOUR);
    }
    let ours_but_a_folder = format!(".{digest}.4242-123-3.tmp");
    h.add(ours_but_a_folder.as_bytes(), Kind::Directory);

    h.start();
    let removed: Vec<&Action> = h.performed.iter().filter(|a| matches!(a, Action::RemoveTemp(_))).collect();
    assert_eq!(removed, [&Action::RemoveTemp(ours_stale.clone())]);
    assert!(!h.entries.contains_key(ours_stale.as_bytes()));
    h.take_lstats();
    h.sleep(POLL);
    assert_eq!(h.take_lstats(), 0, "quick scans do not look at temporary files");

    h.sleep(HOUR / 2);
    assert!(!h.entries.contains_key(ours_fresh.as_bytes()), "removed once stale");
    for name in not_ours.iter().chain([&ours_but_a_folder]) {
        assert!(h.entries.contains_key(name.as_bytes()), "{name} kept");
    }
    assert!(
        h.delivered.is_empty() && h.skipped().is_empty(),
        "temporary files are never read nor warned about"
    );
}

#[test]
fn files_waiting_to_settle_are_bounded_and_the_rest_wait_for_the_next_scan() {
    let mut h = Harness::new();
    h.start();
    let files = MAX_PENDING + 100;
    for n in 0..files {
        h.place(&format!("fresh-{n}.txt"), pointer(u32::try_from(n).unwrap()).as_bytes());
    }
    // Found by a scan at once, all written just now.
    h.folder.on_event(WatchEvent::Rescan, h.now);
    h.run();
    assert_eq!(h.folder.settling.counts().0, MAX_PENDING, "the rest is not tracked");
    h.sleep(SETTLE);
    assert_eq!(h.take_delivered().len(), MAX_PENDING);
    h.sleep(POLL);
    assert_eq!(h.take_delivered().len(), 100, "found again by the next scan, settled by then");
    assert_eq!(h.folder.settling.counts().0, 0);
}

#[test]
fn a_flood_of_events_is_bounded_and_makes_every_file_wait_out_the_settle_time() {
    let mut h = Harness::new();
    h.start();
    for n in 0..MAX_EVENT_NAMES + 1 {
        h.folder.on_event(WatchEvent::Named(format!("flood-{n}").as_bytes()), h.now);
    }
    assert!(h.folder.settling.counts().1 <= MAX_EVENT_NAMES);
    // A copy with an old modification time, its own event lost in the flood: not read yet.
    h.place_aged("copied.txt", pointer(8).as_bytes(), HOUR);
    h.run();
    assert!(h.take_delivered().is_empty());
    h.sleep(SETTLE);
    assert_eq!(h.take_delivered(), ["copied.txt"]);
}

#[test]
fn a_folder_of_many_hostile_entries_costs_one_fixed_record_each() {
    let mut h = Harness::new();
    let long = "x".repeat(240);
    for n in 0..1000 {
        h.place_aged(&format!("{long}-{n}"), b"", HOUR);
        h.add(format!("{long}-link-{n}").as_bytes(), Kind::Symlink);
    }
    h.start();
    h.sleep(POLL * 10);
    assert_eq!(h.skipped().len(), 2000, "once each, through quick and thorough scans");
    assert_eq!(h.folder.files.len(), 2000, "a record per entry (never its name)");
    assert_eq!(h.folder.settling.counts(), (0, 0));
    h.take_lstats();
    h.sleep(POLL);
    assert_eq!(h.take_lstats(), 0, "and a quick scan looks at none of them again");
}

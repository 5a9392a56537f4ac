//! When the folder is listed, how thoroughly, and what happens when it goes and comes back.

use super::*;
use crate::drop::folder::scans::{MAX_LOOKS, QUICK_SCANS_PER_THOROUGH};

/// A started harness whose folder holds `files` pointer files dealt with already.
fn settled_with(files: u32) -> Harness {
    let mut h = Harness::new();
    for n in 0..files {
        h.place_aged(&format!("{n}.txt"), pointer(n).as_bytes(), HOUR);
    }
    h.start();
    assert_eq!(h.take_delivered().len(), files as usize);
    h.take_listings();
    h.take_lstats();
    h
}

#[test]
fn periodic_scans_are_quick_nine_times_then_thorough() {
    let mut h = Harness::new();
    h.start();
    assert_eq!(h.take_listings(), [true], "the first look at a folder is thorough");
    h.sleep(POLL * 20);
    let quick = QUICK_SCANS_PER_THOROUGH as usize;
    let mut expected = [vec![false; quick], vec![true]].concat().repeat(2);
    expected.truncate(20);
    assert_eq!(h.take_listings(), expected);
}

#[test]
fn without_a_watch_every_scan_is_thorough_and_the_failure_is_told_once() {
    let mut h = Harness::new();
    h.watch_fails = true;
    h.start();
    h.sleep(POLL * 5);
    assert_eq!(h.take_listings(), [true; 6]);
    let failures = h.notices.iter().filter(|n| matches!(n, Notice::WatchFailed { .. })).count();
    assert_eq!(failures, 1);
    // Watching is tried again on every scan; once it works, scans are quick again.
    h.watch_fails = false;
    h.sleep(POLL * 2);
    assert_eq!(h.take_listings(), [true, false]);
}

#[test]
fn a_quick_scan_looks_only_at_new_files_a_thorough_one_at_all() {
    let mut h = settled_with(50);
    h.sleep(POLL);
    assert_eq!(h.take_listings(), [false]);
    assert_eq!(h.take_lstats(), 0, "files dealt with and still there cost no lstat");
    h.place("new.txt", pointer(99).as_bytes());
    h.sleep(POLL);
    assert_eq!(h.take_lstats(), 1);
    assert_eq!(h.take_delivered(), ["new.txt"]);
    assert_eq!(h.take_listings(), [false]);
    // Two quick scans so far: the thorough one is the eighth from here.
    h.sleep(POLL * (QUICK_SCANS_PER_THOROUGH - 1));
    assert_eq!(h.take_listings(), [vec![false; 7], vec![true]].concat());
    assert_eq!(h.take_lstats(), 51, "a thorough scan looks at every file");
    assert!(h.take_delivered().is_empty());
}

#[test]
fn a_file_rewritten_in_place_without_an_event_is_read_by_the_next_thorough_scan() {
    let mut h = settled_with(3);
    // Rewritten in place (same inode), as on a share that sends no events.
    h.write("1.txt", pointer(42).as_bytes());
    let quick = QUICK_SCANS_PER_THOROUGH;
    h.sleep(POLL * quick);
    assert!(h.take_delivered().is_empty(), "quick scans do not stat files dealt with");
    h.sleep(POLL);
    assert_eq!(h.take_delivered(), ["1.txt"]);
    assert_eq!(h.delivered.len(), 0);
}

#[test]
fn a_folder_that_vanishes_is_told_once_and_read_again_when_it_is_back() {
    let mut h = settled_with(2);
    h.present = false;
    h.sleep(POLL * 5);
    let unavailable = h.notices.iter().filter(|n| matches!(n, Notice::FolderUnavailable { .. })).count();
    assert_eq!(unavailable, 1, "told once, however long it stays away");
    assert_eq!(h.performed.iter().filter(|a| **a == Action::Unwatch).count(), 1);
    assert!(h.take_listings().is_empty(), "nothing to list");

    // Back (the same folder, or a stick plugged in again), with the old files and a new one.
    h.present = true;
    h.place("new.txt", pointer(10).as_bytes());
    h.sleep(POLL);
    assert!(h.notices.contains(&Notice::FolderBack));
    assert!(h.performed.contains(&Action::Watch), "a watch does not survive its folder");
    assert_eq!(h.take_listings(), [true], "a folder back is scanned thoroughly");
    assert_eq!(h.take_delivered(), ["new.txt"], "the old files are not delivered again");
}

#[test]
fn another_folder_at_the_path_is_watched_anew_and_scanned_thoroughly() {
    let mut h = settled_with(2);
    h.sleep(POLL);
    h.take_listings();
    h.identity = Identity { device: 2, inode: 7 };
    h.performed.clear();
    h.sleep(POLL);
    assert_eq!(h.performed.iter().position(|a| *a == Action::Watch), Some(1), "watched before listed");
    assert_eq!(h.take_listings(), [true]);
    assert!(!h.notices.contains(&Notice::FolderBack), "it never went away");
}

#[test]
fn an_event_on_the_folder_itself_renews_the_watch_at_the_next_scan() {
    let mut h = settled_with(1);
    h.folder.on_event(WatchEvent::FolderItself, h.now);
    h.run();
    assert_eq!(h.performed.first(), Some(&Action::CheckFolder), "at once");
    assert!(h.performed.contains(&Action::Watch));
    assert_eq!(h.take_listings(), [true]);
}

#[test]
fn lost_events_and_names_that_are_not_utf8_call_for_a_thorough_scan() {
    for event in [WatchEvent::Rescan, WatchEvent::Named(b"odd-\xff.json")] {
        let mut h = settled_with(1);
        h.folder.on_event(event, h.now);
        h.run();
        assert_eq!(h.take_listings(), [true], "{event:?}");
    }
}

#[test]
fn events_for_hidden_and_temporary_names_are_ignored() {
    let mut h = settled_with(1);
    h.event(".partial.json");
    h.event("x.tmp");
    assert!(h.performed.is_empty(), "{:?}", h.performed);
}

#[test]
fn a_flood_of_events_becomes_one_thorough_scan() {
    let mut h = settled_with(1);
    for n in 0..MAX_LOOKS + 10 {
        h.folder.on_event(WatchEvent::Named(format!("flood-{n}.json").as_bytes()), h.now);
    }
    h.run();
    assert_eq!(h.take_listings(), [true]);
    assert_eq!(h.take_lstats(), 1, "no look per name: a scan of what is there");
}

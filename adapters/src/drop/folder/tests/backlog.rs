//! A backlog: read oldest first in bounded windows and batches, every file reported once, the
//! seen set stored as one cursor per batch and restored from the cursors.

use super::*;
use crate::drop::folder::READ_BATCH_FILES;
use crate::drop::folder::seen::seen_key;
use crate::drop::folder::window::cost;

/// `count` pointer files named in the opposite order of their age, the oldest `hours` old.
fn backlog(h: &mut Harness, count: u32) -> Vec<String> {
    let mut oldest_first = Vec::new();
    for n in 0..count {
        let name = format!("z{:03}.txt", 999 - n);
        h.place_aged(&name, pointer(n).as_bytes(), HOUR - Duration::from_secs(u64::from(n)));
        oldest_first.push(name);
    }
    oldest_first
}

#[test]
fn a_backlog_is_read_oldest_first_whatever_the_names() {
    let mut h = Harness::new();
    let oldest_first = backlog(&mut h, 5);
    h.start();
    assert_eq!(h.take_delivered(), oldest_first);
    assert_eq!(h.backlogs, [5], "all five found, none handed over yet");
}

#[test]
fn a_large_backlog_is_read_in_bounded_windows_oldest_first_across_listings() {
    let mut h = Harness::with(Config { window_bytes: 10 * cost("z999.txt"), ..config() }, &[]);
    // Ages in a shuffled order (a multiplicative permutation of 0..35).
    let mut oldest_first = Vec::new();
    for n in 0..35u32 {
        let age = (n * 11) % 35;
        let name = format!("f{n:02}.txt");
        h.place_aged(&name, pointer(n).as_bytes(), HOUR - Duration::from_secs(u64::from(age)));
        oldest_first.push((age, name));
    }
    oldest_first.sort();
    let oldest_first: Vec<String> = oldest_first.into_iter().map(|(_, name)| name).collect();
    h.start();
    assert_eq!(h.take_listings().len(), 4, "windows of 10, 10, 10 and 5 files");
    assert_eq!(h.take_delivered(), oldest_first, "oldest first across windows");
    assert_eq!(h.backlogs, [35, 25, 15, 5], "the files beyond a window count as backlog");
    assert_eq!(h.folder.backlog(), 0);
}

#[test]
fn a_read_batch_carries_one_seen_cursor_on_its_last_file() {
    let mut h = Harness::new();
    let total = READ_BATCH_FILES + 44;
    for n in 0..total {
        h.place_aged(&format!("{n:04}.txt"), pointer(u32::try_from(n).unwrap()).as_bytes(), HOUR);
    }
    h.start();
    assert_eq!(h.delivered.len(), total);
    let carrying: Vec<usize> = (0..total).filter(|i| h.delivered[*i].cursor.is_some()).collect();
    assert_eq!(carrying, [READ_BATCH_FILES - 1, total - 1], "the last file of each batch");
    for (batch, range) in [(0, 0..READ_BATCH_FILES), (1, READ_BATCH_FILES..total)] {
        let cursor = h.delivered[range.end - 1].cursor.clone().unwrap();
        let keys: String = h.delivered[range]
            .iter()
            .map(|d| format!("{:032x}", seen_key(&d.name, &Sha256::digest(&d.text).into())))
            .collect();
        assert_eq!(cursor.value, keys, "batch {batch}: every key of the batch");
        assert_eq!(cursor.key, format!("seen:{}", &keys[..32]));
    }
}

#[test]
fn read_batches_are_bounded_in_bytes_too() {
    let mut h = Harness::with(Config { max_file_bytes: 1 << 20, ..config() }, &[]);
    for n in 0..5 {
        h.place_aged(&format!("{n}.txt"), &vec![b'x'; 400 << 10], HOUR);
    }
    h.start();
    let batches: Vec<usize> = h
        .performed
        .iter()
        .filter_map(|a| if let Action::Read(b) = a { Some(b.len()) } else { None })
        .collect();
    assert_eq!(batches, [2, 2, 1], "at most 1 MiB a batch");
}

#[test]
fn a_restart_from_the_cursors_delivers_only_what_is_new() {
    let mut first = Harness::new();
    backlog(&mut first, 3);
    first.start();
    let mut cursors: Vec<Cursor> = first.delivered.iter().filter_map(|d| d.cursor.clone()).collect();
    assert_eq!(cursors.len(), 1);
    cursors.push(Cursor { key: "uid:INBOX".into(), value: "7".into() });
    cursors.push(Cursor { key: "seen:garbage".into(), value: "xyz".into() });

    let mut second = Harness::with(config(), &cursors);
    second.entries = first.entries.clone();
    second.place_aged("new.txt", pointer(50).as_bytes(), HOUR);
    second.write("z999.txt", pointer(51).as_bytes());
    second.start();
    second.sleep(SETTLE);
    assert_eq!(
        second.take_delivered(),
        ["new.txt", "z999.txt"],
        "a new file, and new content under an old name"
    );
    assert_eq!(second.notices.iter().filter(|n| matches!(n, Notice::BadCursor { .. })).count(), 1);
}

#[test]
fn a_file_removed_is_forgotten_but_what_was_seen_of_it_stays_seen() {
    let mut h = Harness::new();
    h.place_aged("a.txt", pointer(60).as_bytes(), HOUR);
    h.place_aged("b.txt", pointer(61).as_bytes(), HOUR);
    h.start();
    assert_eq!(h.take_delivered(), ["a.txt", "b.txt"]);
    h.remove("a.txt");
    h.sleep(POLL);
    assert_eq!(h.folder.files.len(), 1, "the next listing forgets it");
    // The same content under the same name again (a stick plugged in again): not new.
    h.place("a.txt", pointer(60).as_bytes());
    h.event("a.txt");
    h.sleep(POLL * 12);
    assert!(h.take_delivered().is_empty());
    assert_eq!(h.folder.files.len(), 2);
}

//! A file is read once complete: settled, or named by its digest and matching it.

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_file_still_being_written_is_read_only_once_unchanged_for_the_settle_time() {
    let mut h = Harness::new();
    h.start();
    let text = pointer(1);
    let (head, _) = text.split_at(text.len() / 2);
    h.write("mail.txt", head.as_bytes());
    h.event("mail.txt");
    assert!(h.take_delivered().is_empty(), "half a file is never read");

    h.sleep(SETTLE / 2);
    h.write("mail.txt", text.as_bytes());
    h.event("mail.txt");
    h.sleep(SETTLE - MS);
    assert!(h.take_delivered().is_empty(), "it changed within the settle time: still waiting");
    h.sleep(MS);
    assert_eq!(h.delivered[0].text, text.as_bytes(), "the whole file");
    assert_eq!(h.take_delivered(), ["mail.txt"]);

    h.sleep(POLL * 25);
    assert!(h.take_delivered().is_empty(), "read once, through quick and thorough scans");
}

#[test]
fn a_file_last_modified_before_the_settle_time_is_read_at_once() {
    let mut h = Harness::new();
    h.place_aged("old.txt", pointer(2).as_bytes(), HOUR);
    h.start();
    assert_eq!(h.take_delivered(), ["old.txt"], "on the first scan, without waiting");
}

#[test]
fn an_event_vetoes_an_old_modification_time_a_copy_preserved() {
    let mut h = Harness::new();
    h.start();
    h.place_aged("copied.txt", pointer(3).as_bytes(), HOUR);
    h.event("copied.txt");
    h.sleep(SETTLE - MS);
    assert!(h.take_delivered().is_empty(), "a local writer was at it just now");
    h.sleep(MS);
    assert_eq!(h.take_delivered(), ["copied.txt"]);
}

#[test]
fn a_file_named_by_its_digest_is_read_at_once_when_its_content_matches() {
    let mut h = Harness::new();
    h.start();
    let text = pointer(4);
    h.place(&digest_name(&text), text.as_bytes());
    h.event(&digest_name(&text));
    assert_eq!(h.take_delivered(), [digest_name(&text)], "no settle time for send's own files");
    h.sleep(POLL * 12);
    assert!(h.take_delivered().is_empty());
}

#[test]
fn a_file_named_by_a_digest_its_content_does_not_match_waits_to_settle() {
    let mut h = Harness::new();
    h.start();
    let text = pointer(5);
    let name = digest_name(&text);
    h.place(&name, &text.as_bytes()[..10]);
    h.event(&name);
    h.sleep(SETTLE - MS);
    assert!(h.take_delivered().is_empty(), "half of it: not what the name promises");
    h.sleep(MS);
    assert_eq!(h.take_delivered(), [name], "then it is a file like any other");
}

#[test]
fn a_file_that_changes_while_it_is_read_is_read_again_once_it_settles() {
    let mut h = Harness::new();
    h.place_aged("note.txt", pointer(6).as_bytes(), HOUR);
    let mut rewritten = h.entries[b"note.txt".as_slice()].clone();
    rewritten.content = pointer(7).into_bytes();
    rewritten.modified_ns = h.now.wall_ns;
    h.swap_before_read = Some(("note.txt".into(), Some(rewritten)));
    h.start();
    assert!(h.take_delivered().is_empty(), "changed between the look and the read");
    h.sleep(SETTLE);
    assert_eq!(h.delivered[0].text, pointer(7).as_bytes());
    assert_eq!(h.take_delivered(), ["note.txt"]);
}

#[test]
fn without_events_the_next_scan_finds_a_new_file() {
    let mut h = Harness::new();
    h.start();
    h.place("share.txt", pointer(8).as_bytes());
    h.sleep(POLL - MS);
    assert!(h.take_delivered().is_empty(), "no event, no scan yet");
    h.sleep(MS);
    assert_eq!(h.take_delivered(), ["share.txt"], "older than the settle time by then");
}

#[test]
fn a_waiting_file_is_looked_at_once_per_settle_time_not_more() {
    let mut h = Harness::new();
    h.start();
    // A writer that never stops: the file never settles, and costs one look per settle time.
    for step in 0..10 {
        h.write("busy.txt", pointer(step).as_bytes());
        h.event("busy.txt");
        h.sleep(SETTLE / 2);
    }
    assert!(h.take_delivered().is_empty());
    assert!(h.take_lstats() <= 10 + 1, "one look per event, plus the first scan's");
    h.sleep(SETTLE);
    assert_eq!(h.take_delivered(), ["busy.txt"]);
}

//! The drop adapter against a real file system and real inotify.

#![cfg(feature = "drop")]

mod hostile;
mod unprivileged;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clm_adapters::drop::{DropSettings, DropTransport};
use clm_adapters::{Cursor, Inbound, Route, Transport, TransportError};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Only a guard against hangs: every wait below normally ends in milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn settings(folder: &Path) -> DropSettings {
    DropSettings { poll_interval: POLL, ..DropSettings::new(folder) }
}

fn transport(name: &str, settings: DropSettings) -> Arc<DropTransport> {
    Arc::new(DropTransport::new(name.to_owned(), settings))
}

fn here() -> Route {
    Route(String::new())
}

fn pointer(n: u32) -> String {
    format!(r#"{{"e": {}, "n": "nonce-{n}", "d": "{:0>64x}"}}"#, 1_700_000_000 + n, n)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

struct Running {
    handle: JoinHandle<Result<(), TransportError>>,
    inbound: mpsc::Receiver<Inbound>,
    stop: CancellationToken,
}

fn start(transport: &Arc<DropTransport>, cursors: Vec<Cursor>, capacity: usize) -> Running {
    let (tx, inbound) = mpsc::channel(capacity);
    let stop = CancellationToken::new();
    let handle = tokio::spawn(Arc::clone(transport).run(cursors, tx, stop.clone()));
    Running { handle, inbound, stop }
}

impl Running {
    async fn next(&mut self) -> Inbound {
        tokio::time::timeout(HANG_GUARD, self.inbound.recv())
            .await
            .expect("nothing delivered before the hang guard")
            .expect("the receive loop ended")
    }

    async fn next_text(&mut self) -> String {
        let inbound = self.next().await;
        String::from_utf8(inbound.text).expect("UTF-8 text")
    }

    async fn stop(self) -> Result<(), TransportError> {
        self.stop.cancel();
        tokio::time::timeout(HANG_GUARD, self.handle)
            .await
            .expect("run did not return after stop")
            .expect("run panicked")
    }
}

/// Writes a file the way careful software does (temp name, then rename), so it appears whole.
fn place(folder: &Path, name: &str, contents: &[u8]) {
    let temp = folder.join(format!(".{name}.partial"));
    fs::write(&temp, contents).unwrap();
    fs::rename(&temp, folder.join(name)).unwrap();
}

/// Every entry of a folder with its size and modification time.
fn snapshot(folder: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    fs::read_dir(folder)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            (entry.path(), (meta.len(), meta.modified().unwrap()))
        })
        .collect()
}

fn names_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn send_writes_one_complete_file_named_by_digest_and_repeats_are_no_ops() {
    let dir = tempfile::tempdir().unwrap();
    let a = transport("drop.a", settings(dir.path()));
    let b = transport("drop.b", settings(dir.path()));
    let text = pointer(1);

    let sent = a.send(&here(), &text).await.unwrap();
    let digest = sha256_hex(text.as_bytes());
    assert_eq!(sent.id, format!("clm-{}.json", &digest[..32]));
    assert_eq!(sent.id, DropTransport::file_name_for(&text));
    assert_eq!(names_in(dir.path()), vec![sent.id.clone()]);
    assert_eq!(fs::read_to_string(dir.path().join(&sent.id)).unwrap(), text);
    let before = snapshot(dir.path());

    // Again, from the same and another transport, also at the same time: same name, one file.
    let again = a.send(&Route(".".into()), &text).await.unwrap();
    let route = here();
    let (from_a, from_b) = tokio::join!(a.send(&route, &text), b.send(&route, &text));
    assert_eq!(again, sent);
    assert_eq!(from_a.unwrap(), sent);
    assert_eq!(from_b.unwrap(), sent);
    assert_eq!(snapshot(dir.path()), before, "an identical file is left as it was");

    // A broken copy under that name (a sync that stopped half way) is replaced whole.
    fs::write(dir.path().join(&sent.id), &text.as_bytes()[..10]).unwrap();
    assert_eq!(a.send(&here(), &text).await.unwrap(), sent);
    assert_eq!(fs::read_to_string(dir.path().join(&sent.id)).unwrap(), text);
    assert_eq!(names_in(dir.path()), vec![sent.id.clone()], "no temporary file left behind");
}

#[tokio::test]
async fn send_follows_routes_into_subfolders_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("alice")).unwrap();
    let a = transport("drop.a", settings(dir.path()));
    let text = pointer(2);

    let sent = a.send(&Route("alice".into()), &text).await.unwrap();
    assert_eq!(fs::read_to_string(dir.path().join("alice").join(&sent.id)).unwrap(), text);

    for bad in ["..", "/tmp", "alice/..", "a/b", "a\\b"] {
        let err = a.send(&Route(bad.into()), &text).await.unwrap_err();
        assert!(matches!(err, TransportError::InvalidRoute { .. }), "{bad:?}: {err}");
    }
    let err = a.send(&Route("nobody".into()), &text).await.unwrap_err();
    assert!(matches!(err, TransportError::Unavailable(..)), "missing subfolder: {err}");
    assert_eq!(names_in(dir.path()), vec!["alice".to_owned()], "nothing written elsewhere");
}

#[tokio::test]
async fn send_refuses_a_pointer_the_readers_would_skip() {
    let dir = tempfile::tempdir().unwrap();
    let a = transport("drop.a", DropSettings { max_file_bytes: 64, ..settings(dir.path()) });
    let err = a.send(&here(), &"x".repeat(65)).await.unwrap_err();
    assert!(matches!(err, TransportError::Refused(..)), "{err}");
    assert!(names_in(dir.path()).is_empty());
    a.send(&here(), &"x".repeat(64)).await.unwrap();
}

#[tokio::test]
async fn send_to_a_missing_folder_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("stick");
    let a = transport("drop.a", settings(&gone));
    let err = a.send(&here(), &pointer(3)).await.unwrap_err();
    assert!(matches!(err, TransportError::Unavailable(..)), "{err}");
    assert!(!gone.exists());
}

#[tokio::test]
async fn what_one_transport_sends_another_delivers_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = transport("drop.a", settings(dir.path()));
    let b = transport("drop.b", settings(dir.path()));
    let mut running = start(&b, Vec::new(), 16);

    let first = pointer(10);
    let sent = a.send(&here(), &first).await.unwrap();
    let inbound = running.next().await;
    assert_eq!(inbound.transport, "drop.b");
    assert_eq!(inbound.origin, sent.id);
    assert_eq!(inbound.text, first.as_bytes());
    let cursor = inbound.cursor.expect("a file read alone carries its group's seen cursor");
    assert!(cursor.key.starts_with("seen:") && cursor.value.len() == 32, "{cursor:?}");
    assert!(inbound.committed.is_none());

    // Sending the same pointer again changes nothing; the next delivery is the next pointer.
    a.send(&here(), &first).await.unwrap();
    let second = pointer(11);
    a.send(&here(), &second).await.unwrap();
    assert_eq!(running.next_text().await, second);
    let third = pointer(12);
    a.send(&here(), &third).await.unwrap();
    assert_eq!(running.next_text().await, third);

    running.stop().await.unwrap();
    assert_eq!(b.backlog(), 0);
}

#[tokio::test]
async fn files_written_by_other_software_are_read_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    // A settle time well above the writer's pause, so a slow machine cannot make this flaky.
    let b = transport("drop.b", DropSettings { settle_time: Duration::from_secs(1), ..settings(dir.path()) });
    let mut running = start(&b, Vec::new(), 16);

    let text = pointer(20);
    let (head, tail) = text.as_bytes().split_at(text.len() / 2);
    let mut writer = fs::File::create(dir.path().join("from-mail-client.txt")).unwrap();
    writer.write_all(head).unwrap();
    writer.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    writer.write_all(tail).unwrap();
    drop(writer);

    assert_eq!(running.next_text().await, text, "the first delivery is the whole file");
    // A marker written by `send`, read as soon as it is seen: nothing came in between.
    let marker = pointer(21);
    transport("drop.a", settings(dir.path())).send(&here(), &marker).await.unwrap();
    assert_eq!(running.next_text().await, marker, "and the file is not delivered twice");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_with_the_stored_cursors_delivers_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let a = transport("drop.a", settings(dir.path()));
    let texts: Vec<String> = (30..35).map(pointer).collect();
    for text in &texts {
        a.send(&here(), text).await.unwrap();
    }
    place(dir.path(), "other.txt", pointer(35).as_bytes());

    let b = transport("drop.b", settings(dir.path()));
    let mut first_run = start(&b, Vec::new(), 16);
    let mut cursors = Vec::new();
    let mut delivered = Vec::new();
    for i in 0..6 {
        let inbound = first_run.next().await;
        // Files read together share one seen cursor, on the last of them.
        if i == 5 {
            assert!(inbound.cursor.is_some(), "the last file of a group carries the group's cursor");
        }
        cursors.extend(inbound.cursor.clone());
        delivered.push(String::from_utf8(inbound.text).unwrap());
    }
    first_run.stop().await.unwrap();
    delivered.sort();
    let mut expected = texts.clone();
    expected.push(pointer(35));
    expected.sort();
    assert_eq!(delivered, expected);

    // Unrelated cursors (another adapter's kind of position) are ignored.
    cursors.push(Cursor { key: "uid:INBOX".into(), value: "7".into() });
    let mut second_run = start(&b, cursors, 16);
    let marker = pointer(36);
    a.send(&here(), &marker).await.unwrap();
    assert_eq!(second_run.next_text().await, marker, "nothing old comes before the new file");
    second_run.stop().await.unwrap();
}

#[tokio::test]
async fn changed_content_under_the_same_name_is_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    let b = transport("drop.b", settings(dir.path()));
    let mut running = start(&b, Vec::new(), 16);

    place(dir.path(), "note.txt", pointer(40).as_bytes());
    let first = running.next().await;
    assert_eq!(first.text, pointer(40).as_bytes());
    place(dir.path(), "note.txt", pointer(41).as_bytes());
    let second = running.next().await;
    assert_eq!(second.text, pointer(41).as_bytes());
    let (first_cursor, second_cursor) = (first.cursor.unwrap(), second.cursor.unwrap());
    assert_ne!(second_cursor, first_cursor, "another content is another seen entry");
    running.stop().await.unwrap();

    // After a restart that only knew the first content, the second is still new.
    let mut restarted = start(&b, vec![first_cursor], 16);
    assert_eq!(restarted.next_text().await, pointer(41));
    restarted.stop().await.unwrap();
}

#[tokio::test]
async fn a_folder_that_disappears_and_comes_back_is_picked_up_again() {
    let root = tempfile::tempdir().unwrap();
    let stick = root.path().join("stick");
    fs::create_dir(&stick).unwrap();
    let a = transport("drop.a", settings(&stick));
    let b = transport("drop.b", settings(&stick));
    let mut running = start(&b, Vec::new(), 16);

    let before = pointer(50);
    a.send(&here(), &before).await.unwrap();
    assert_eq!(running.next_text().await, before);

    fs::remove_dir_all(&stick).unwrap();
    let err = a.send(&here(), &pointer(51)).await.unwrap_err();
    assert!(matches!(err, TransportError::Unavailable(..)), "{err}");
    // Let the loop see the folder missing for a few rescans (it must neither end nor spin).
    tokio::time::sleep(POLL * 4).await;
    assert!(!running.handle.is_finished());

    // The stick comes back with the old file on it and a new one.
    fs::create_dir(&stick).unwrap();
    a.send(&here(), &before).await.unwrap();
    let after = pointer(52);
    a.send(&here(), &after).await.unwrap();
    assert_eq!(running.next_text().await, after, "the old file is not delivered again");
    let later = pointer(53);
    a.send(&here(), &later).await.unwrap();
    assert_eq!(running.next_text().await, later);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_backlog_flows_oldest_first_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    // Names in the opposite order of age: the order must come from the modification times.
    let texts: Vec<String> = (70..75).map(pointer).collect();
    for (age, text) in texts.iter().enumerate() {
        let path = dir.path().join(format!("z{}.txt", 9 - age));
        fs::write(&path, text).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(hour_ago + Duration::from_secs(age as u64)).unwrap();
    }

    let b = transport("drop.b", settings(dir.path()));
    // Room for one: the loop then waits on the bridge with the rest counted as backlog.
    let mut running = start(&b, Vec::new(), 1);
    tokio::time::timeout(HANG_GUARD, async {
        while b.backlog() != texts.len() - 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the backlog is reported");
    for text in &texts {
        assert_eq!(&running.next_text().await, text);
    }
    tokio::time::timeout(HANG_GUARD, async {
        while b.backlog() != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the backlog drains");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn stop_ends_the_loop_idle_or_waiting_on_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let b = transport("drop.b", settings(dir.path()));
    let idle = start(&b, Vec::new(), 1);
    idle.stop().await.unwrap();

    let a = transport("drop.a", settings(dir.path()));
    for n in 80..84 {
        a.send(&here(), &pointer(n)).await.unwrap();
    }
    let blocked = start(&b, Vec::new(), 1);
    tokio::time::timeout(HANG_GUARD, async {
        while b.backlog() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the loop waits on the full channel");
    blocked.stop().await.unwrap();

    let missing = transport("drop.gone", settings(&dir.path().join("not-plugged-in")));
    let waiting = start(&missing, Vec::new(), 1);
    tokio::time::sleep(POLL * 2).await;
    waiting.stop().await.unwrap();
}

#[tokio::test]
async fn a_dropped_receiver_ends_the_loop_with_closed() {
    let dir = tempfile::tempdir().unwrap();
    let b = transport("drop.b", settings(dir.path()));
    let Running { handle, inbound, stop: _stop } = start(&b, Vec::new(), 1);
    drop(inbound);
    let result = tokio::time::timeout(HANG_GUARD, handle).await.expect("run returned").expect("no panic");
    assert!(matches!(result, Err(TransportError::Closed)), "{result:?}");
}

//! What a stranger can put in a shared folder: each hostile entry is skipped with one
//! warning, names reach the logs escaped, and our own debris is cleaned up, nobody else's.

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clm_adapters::drop::DropTransport;

use super::unprivileged::where_files_can_be_unreadable;
use super::{HANG_GUARD, POLL, place, pointer, settings, snapshot, start, transport};

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn warnings_about(&self, file: &str) -> usize {
        let needle = format!("file={file} ");
        self.text().lines().filter(|line| line.contains("WARN") && line.contains(&needle)).count()
    }
}

/// Captures the warnings the receive loop logs on this (single-threaded) test's runtime.
fn capture_warnings() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    (logs.clone(), tracing::subscriber::set_default(subscriber))
}

/// The hostile entries of [`a_hostile_folder_is_skipped_with_one_warning_each_and_nothing_else_is_affected`],
/// with the files a real pointer hides behind; returns the file that must be delivered
/// besides `good.json`.
fn fill_with_hostile_entries(folder: &Path, outside: &Path) -> Vec<u8> {
    fs::write(outside.join("secret.json"), pointer(60)).unwrap();
    mkfifo(&outside.join("fifo"));
    fs::write(folder.join("zero-bytes.json"), b"").unwrap();
    let huge = fs::File::create(folder.join("huge.json")).unwrap();
    huge.set_len(100 * 1024 * 1024).unwrap(); // sparse: costs no disk
    drop(huge);
    let mut binary = pointer(61).into_bytes();
    binary.extend_from_slice(b"\0\x01\x02\0");
    fs::write(folder.join("binary.json"), &binary).unwrap();
    let mut latin1 = b"caf\xe9 ".to_vec();
    latin1.extend_from_slice(pointer(62).as_bytes());
    fs::write(folder.join("latin1.txt"), &latin1).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.json"), folder.join("link.json")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", folder.join("dangling.json")).unwrap();
    fs::write(folder.join("locked.json"), pointer(63)).unwrap();
    fs::set_permissions(folder.join("locked.json"), fs::Permissions::from_mode(0o000)).unwrap();
    assert!(fs::read(folder.join("locked.json")).is_err(), "unreadable here");
    fs::create_dir(folder.join("subfolder.json")).unwrap();
    fs::write(folder.join("subfolder.json").join("inner.json"), pointer(64)).unwrap();
    mkfifo(&folder.join("pipe.json"));
    let odd_name = std::ffi::OsStr::from_bytes(b"odd-\xff-name.json");
    fs::write(folder.join(odd_name), pointer(65)).unwrap();
    fs::write(folder.join(".hidden.json"), pointer(66)).unwrap();
    fs::write(folder.join("half-written.tmp"), pointer(67)).unwrap();
    fs::write(folder.join("good.json"), pointer(68)).unwrap();
    latin1
}

fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success(), "mkfifo {path:?}");
}

#[tokio::test]
async fn a_hostile_folder_is_skipped_with_one_warning_each_and_nothing_else_is_affected() {
    if !where_files_can_be_unreadable(
        "hostile::a_hostile_folder_is_skipped_with_one_warning_each_and_nothing_else_is_affected",
    ) {
        return;
    }
    let (logs, _guard) = capture_warnings();
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    let latin1 = fill_with_hostile_entries(folder, outside.path());
    let before = snapshot(folder);

    let b = transport("drop.b", settings(folder));
    let mut running = start(&b, Vec::new(), 16);
    let mut delivered = vec![running.next().await.text, running.next().await.text];
    delivered.sort();
    let mut expected = vec![latin1, pointer(68).into_bytes()];
    expected.sort();
    assert_eq!(delivered, expected);

    // Hostile entries appearing while the loop runs: a FIFO, a symlink to a FIFO (opening
    // either would block for good) and a symlink to a pointer.
    let late = ["late-pipe.json", "late-link-to-fifo.json", "late-link.json"];
    mkfifo(&folder.join(late[0]));
    std::os::unix::fs::symlink(outside.path().join("fifo"), folder.join(late[1])).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), folder.join(late[2])).unwrap();

    // Several rescans later, a new file is the next delivery: nothing skipped came through,
    // and nothing was warned about twice.
    tokio::time::sleep(POLL * 5).await;
    place(folder, "after.json", pointer(69).as_bytes());
    assert_eq!(running.next_text().await, pointer(69));
    running.stop().await.unwrap();

    let skipped = [
        "zero-bytes.json",
        "huge.json",
        "binary.json",
        "link.json",
        "dangling.json",
        "locked.json",
        "subfolder.json",
        "pipe.json",
        // Escaped in the logs like every name: the byte that is not UTF-8 as `\xff`.
        r"odd-\xff-name.json",
    ];
    for name in skipped.into_iter().chain(late) {
        assert_eq!(logs.warnings_about(name), 1, "warnings about {name}");
    }
    for name in ["latin1.txt", "good.json", "after.json", ".hidden.json", "half-written.tmp"] {
        assert_eq!(logs.warnings_about(name), 0, "warnings about {name}");
    }

    let mut after = snapshot(folder);
    for name in late.into_iter().chain(["after.json"]) {
        after.remove(&folder.join(name));
    }
    assert_eq!(after, before, "no file in the folder was changed or removed");
    fs::set_permissions(folder.join("locked.json"), fs::Permissions::from_mode(0o600)).unwrap();
}

/// A file name chosen to repaint a terminal, forge log lines and reorder what is shown.
const HOSTILE_NAME: &str =
    "evil\u{1b}[2J\r\nWARN forged\u{202e}nosj.\u{2028}\u{2029}\u{200b}\u{feff}\t\u{7f}\u{9b}.json";

#[tokio::test]
async fn regression_hostile_file_names_reach_the_logs_escaped_and_origins_as_they_are() {
    let (logs, _guard) = capture_warnings();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(HOSTILE_NAME), b"").unwrap();
    let odd_but_good = "good\u{202e}\u{200b}.json";
    place(dir.path(), odd_but_good, pointer(90).as_bytes());

    let b = transport("drop.b", settings(dir.path()));
    let mut running = start(&b, Vec::new(), 16);
    let inbound = running.next().await;
    assert_eq!(inbound.origin, odd_but_good, "the origin is the file name as it is");
    running.stop().await.unwrap();

    let text = logs.text();
    let shown = r"evil\u{1b}[2J\u{d}\u{a}WARN forged\u{202e}nosj.\u{2028}\u{2029}\u{200b}\u{feff}\u{9}\u{7f}\u{9b}.json";
    assert_eq!(logs.warnings_about(shown), 1, "one warning, the name escaped: {text}");
    let raw: Vec<char> =
        text.chars().filter(|c| !(c.is_ascii_graphic() || *c == ' ' || *c == '\n')).collect();
    assert!(raw.is_empty(), "the logs hold raw characters {raw:?}: {text}");
}

/// A temporary file named the way `send` names them: `.<file name>.<pid>-<nanos>-<serial>.tmp`.
fn our_temp_name(text: &str, serial: u32) -> String {
    format!(".{}.4242-123456789-{serial}.tmp", DropTransport::file_name_for(text))
}

fn age(path: &Path, by: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[tokio::test]
async fn regression_a_send_killed_before_its_rename_leaves_no_temporary_file_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    let two_hours = Duration::from_secs(2 * 3600);
    let stale = folder.join(our_temp_name(&pointer(91), 1));
    fs::write(&stale, &pointer(91).as_bytes()[..10]).unwrap();
    age(&stale, two_hours);
    // Not ours, or not stale: all kept.
    let fresh = folder.join(our_temp_name(&pointer(92), 2));
    fs::write(&fresh, b"half").unwrap();
    let digest_name = DropTransport::file_name_for(&pointer(93));
    let look_alikes = [
        format!(".{digest_name}.partial"),
        format!(".{digest_name}.4242-1-2.tmp.bak"),
        format!(".{digest_name}.4242-x-2.tmp"),
        ".notes.json.4242-1-2.tmp".to_owned(),
        format!("{digest_name}.4242-1-2.tmp"),
        format!(".{digest_name}.4242-1-2.TMP"),
    ];
    for name in &look_alikes {
        fs::write(folder.join(name), b"someone else's").unwrap();
        age(&folder.join(name), two_hours);
    }
    let dir_like_ours = folder.join(our_temp_name(&pointer(94), 3));
    fs::create_dir(&dir_like_ours).unwrap();

    let b = transport("drop.b", settings(folder));
    let mut running = start(&b, Vec::new(), 16);
    tokio::time::timeout(HANG_GUARD, async {
        while stale.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the stale temporary file of ours is removed");
    place(folder, "marker.json", pointer(95).as_bytes());
    assert_eq!(running.next_text().await, pointer(95));
    running.stop().await.unwrap();

    assert!(fresh.exists(), "a fresh temporary file (a send in progress) is kept");
    assert!(dir_like_ours.is_dir(), "only regular files are removed");
    for name in &look_alikes {
        assert!(folder.join(name).exists(), "{name} is not ours: kept");
    }
}

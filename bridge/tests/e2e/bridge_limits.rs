//! The daemon when strangers flood what it watches, and when the machine gets in its way: one
//! daemon per data dir, no secret left in its environment or passed to `on_message`, a busy or
//! full store waited out, a flood of junk kept within its bounds while real messages still
//! arrive. (A read-only data dir cannot be made under a running daemon here: a file system with
//! files open for writing refuses to be remounted read-only; `store_retry`'s unit tests cover
//! how such failures are told apart.) Waits poll what the daemon printed; their time limits are
//! hang guards only, never what a test asserts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bridge_chats::{Home, json_lines};
use crate::daemons::{Daemon, HANG_GUARD, Node, text};
use crate::support::{bridge_binary, encode, scratch_dir};

const SECRET: &str = "family secret";

/// Settings of a bridge reading `drop` (polled every 100 ms), then `extra`.
fn settings(drop: &Path, extra: &str) -> String {
    format!(
        "[drop.shared]\npath = {}\npoll_interval = \"100ms\"\n{extra}",
        serde_json::to_string(drop.to_str().expect("UTF-8 path")).expect("a string")
    )
}

/// A bridge `name` of test `test` with chat Family (clm202) and a drop folder of its own.
fn family_node(test: &str, extra: &str) -> (Node, PathBuf) {
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = Node::with_settings(test, "me", &settings(&drop, extra));
    node.add_chat("Family", "clm202", SECRET);
    (node, drop)
}

/// Writes `content` as `name` in `folder` the way other software would: a hidden temporary
/// file, then a rename.
fn drop_file(folder: &Path, name: &str, content: &[u8]) {
    let temp = folder.join(format!(".{name}.tmp"));
    std::fs::write(&temp, content).expect("write a drop file");
    std::fs::rename(&temp, folder.join(name)).expect("rename it into place");
}

/// A real message of chat Family in `folder`.
fn send_real(folder: &Path, text: &str) {
    drop_file(
        folder,
        &format!("{}.json", text.replace(' ', "-")),
        encode("clm202", "Family", "mum", SECRET, &[], text).as_bytes(),
    );
}

/// `count` junk pointers (clm202-shaped, no chat opens them), one per line.
fn junk(seed: &str, count: usize) -> Vec<u8> {
    let mut text = String::with_capacity(count * 100);
    for n in 0..count {
        text.push_str(&format!(
            "{{\"e\":{},\"n\":\"{seed}-{n}\",\"d\":\"{:064x}\"}}\n",
            1_763_700_000 + n,
            n
        ));
    }
    text.into_bytes()
}

/// A `/proc/PID/status` figure, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon runs");
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?.trim_start_matches(':').trim().strip_suffix(" kB")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("list the data dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() }
        })
        .sum()
}

fn pending_count(node: &Node) -> u64 {
    let output = node.cli(&["pending", "list", "--json"]).run();
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    json_lines(&output.stdout).iter().map(|group| group["count"].as_u64().expect("count")).sum()
}

/// Waits until `done` holds (a hang guard, never what is asserted).
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !done() {
        assert!(Instant::now() < deadline, "waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CPU ticks the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the daemon runs");
    let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat format").1.split(' ').collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Waits until the daemon has used (almost) no CPU for two seconds: it has read everything.
fn wait_until_idle(daemon: &Daemon) {
    let mut last = cpu_ticks(daemon.id());
    wait_for("the daemon to be idle", || {
        std::thread::sleep(Duration::from_secs(2));
        let now = cpu_ticks(daemon.id());
        let idle = now.saturating_sub(last) < 10;
        last = now;
        idle
    });
}

fn still_running(daemon: &Daemon) {
    assert!(Path::new(&format!("/proc/{}", daemon.id())).exists(), "the daemon exited: {}", daemon.stderr());
}

#[test]
fn a_second_run_on_the_same_data_dir_is_refused_naming_the_pid() {
    let (node, _drop) = family_node("a_second_run_on_the_same_data_dir_is_refused_naming_the_pid", "");
    let daemon = node.start_daemon();
    let second = node.spawn_daemon().finish();
    assert_eq!(second.code, Some(2), "refused: {}", second.stderr);
    assert!(
        second.stderr.contains(&format!("PID {}", daemon.id()))
            && second.stderr.contains("one daemon per data directory"),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("is running"), "it started nothing: {}", second.stderr);
    // One-shot commands keep working beside the daemon.
    node.cli(&["history"]).succeeds();
    node.cli(&["pending", "list"]).succeeds();
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    // Once it is gone, the next one starts.
    node.start_daemon().stop();
}

#[test]
fn the_passphrase_is_not_left_in_the_daemons_environment() {
    let (node, _drop) = family_node("the_passphrase_is_not_left_in_the_daemons_environment", "");
    let daemon = node.start_daemon();
    let environ = std::fs::read(format!("/proc/{}/environ", daemon.id())).expect("read its environment");
    let passphrase = crate::bridge_chats::PASSPHRASE.as_bytes();
    assert!(
        !environ.windows(passphrase.len()).any(|window| window == passphrase),
        "the passphrase is readable in /proc/PID/environ: {}",
        String::from_utf8_lossy(&environ)
    );
    daemon.stop();
}

#[test]
fn on_message_runs_without_the_daemons_secrets() {
    let test = "on_message_runs_without_the_daemons_secrets";
    let root = scratch_dir(&format!("{test}-out"));
    let seen = root.join("env");
    let script = format!("env > '{}'", seen.display());
    let extra = format!(
        "[daemon]\non_message = [\"sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).expect("string")
    );
    let (node, drop) = family_node(test, &extra);
    // A transport's password variable (`password_env = "CLM_MAIL_PASSWORD"`) in the daemon's
    // environment, and an everyday variable on the default allow-list.
    let mut daemon = node.spawn_daemon_with_env(&[
        ("CLM_MAIL_PASSWORD", "mail password 123"),
        ("CLM_TELEGRAM_TOKEN", "123:telegram-token"),
        ("LANG", "C.UTF-8"),
    ]);
    daemon.wait_for_log(crate::daemons::RUNNING);
    send_real(&drop, "notify me");
    daemon.wait_for_texts(&["notify me"]);
    wait_for("on_message's run", || std::fs::read_to_string(&seen).is_ok_and(|env| env.contains("LANG=")));
    let env = std::fs::read_to_string(&seen).expect("on_message wrote its environment");
    for secret in ["CLM_MAIL_PASSWORD", "mail password 123", "telegram-token", "CLM_BRIDGE_PASSPHRASE"] {
        assert!(!env.contains(secret), "on_message saw {secret}: {env}");
    }
    assert!(env.contains("LANG=C.UTF-8"), "{env}");
    daemon.stop();
}

#[test]
fn a_busy_database_is_waited_out_and_what_arrived_meanwhile_is_stored() {
    let (node, drop) = family_node("a_busy_database_is_waited_out_and_what_arrived_meanwhile_is_stored", "");
    let mut daemon = node.start_daemon();
    // Another program holds the write lock longer than the store's busy timeout (10 s).
    let other = rusqlite::Connection::open(node.home.data.join("history.sqlite3")).expect("open the store");
    other.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
    send_real(&drop, "while busy");
    daemon.wait_until("the daemon to find the store busy", |_, stderr| stderr.contains("database busy:"));
    std::thread::sleep(Duration::from_secs(2));
    still_running(&daemon);
    other.execute_batch("COMMIT").expect("release the write lock");
    daemon.wait_for_texts(&["while busy"]);
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert_eq!(node.message_count(), 1);
}

/// A tmpfs mounted on `path` for the life of the guard (root only: CI runs as root).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
        Tmpfs(path.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with `filler` until it is full.
fn fill(filler: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(filler).expect("create the filler");
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

#[test]
fn a_full_disk_sheds_pending_keeps_real_messages_and_resumes() {
    let test = "a_full_disk_sheds_pending_keeps_real_messages_and_resumes";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    // The data dir alone on an 8 MiB file system; pending bounded only by the disk.
    let home = Home::new(&format!("{test}/me"));
    let _tmpfs = Tmpfs::mount(&home.data, "8m");
    let limits = "[limits]\npending_count = 10000000\npending_bytes = 10000000000\npending_per_origin = 10000000\n\
                  pointers_per_input = 10000000\nsummary_period = \"2s\"\n";
    let config = home.dir.join("config.toml");
    std::fs::write(&config, settings(&drop, limits)).expect("settings");
    let node = Node { home, config };
    node.cli(&["init", "--name", "me"]).succeeds();
    node.add_chat("Family", "clm202", SECRET);
    let database = node.home.data.join("history.sqlite3");
    let mut daemon = node.start_daemon();

    // Junk, more than fits: the disk fills up, pending pointers are dropped oldest first.
    for file in 0..25 {
        drop_file(&drop, &format!("junk-{file}.json"), &junk(&format!("j{file}"), 2000));
    }
    let full = format!("disk full: {}", database.display());
    daemon.wait_until("the disk to be full", |_, stderr| stderr.contains(&full));
    send_real(&drop, "first real");
    daemon.wait_for_texts(&["first real"]);
    daemon.wait_until("pending pointers dropped to make room", |_, stderr| {
        stderr.contains("dropped the oldest pending pointers to make room")
    });
    still_running(&daemon);

    // Nothing at all left: the next message waits, and comes once there is space again.
    let filler = node.home.data.join("filler");
    fill(&filler);
    send_real(&drop, "second real");
    std::thread::sleep(Duration::from_secs(3));
    still_running(&daemon);
    std::fs::remove_file(&filler).expect("free the space");
    daemon.wait_for_texts(&["second real"]);

    // A restart on a full disk starts, waits, and goes on once there is space.
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    fill(&filler);
    let mut daemon = node.start_daemon();
    send_real(&drop, "third real");
    std::thread::sleep(Duration::from_secs(3));
    still_running(&daemon);
    std::fs::remove_file(&filler).expect("free the space");
    daemon.wait_for_texts(&["third real"]);

    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let history: Vec<String> =
        json_lines(&node.cli(&["history", "--json"]).succeeds()).iter().map(|m| text(m, "text")).collect();
    assert_eq!(history, ["first real", "second real", "third real"], "nothing stored was lost");
}

/// The documented bounds of a flood (config.example.toml, [limits]).
const DATA_DIR_BOUND: u64 = 64 << 20;
const DAEMON_RSS_BOUND_KIB: u64 = 100 << 10;
const CHAT_ADD_RSS_BOUND_KIB: u64 = 150 << 10;

#[test]
fn a_flood_of_a_million_junk_pointers_stays_within_its_bounds_and_real_messages_arrive() {
    let test = "a_flood_of_a_million_junk_pointers_stays_within_its_bounds_and_real_messages_arrive";
    let (node, drop) = family_node(test, "[limits]\nsummary_period = \"2s\"\n");
    let mut daemon = node.start_daemon();
    // 200 files of 5 000 junk pointers; a real message in the middle of them and one after.
    for file in 0..200 {
        drop_file(&drop, &format!("junk-{file:03}.json"), &junk(&format!("f{file}"), 5000));
        if file == 100 {
            send_real(&drop, "during the flood");
        }
    }
    send_real(&drop, "after the flood");
    daemon.wait_for_texts(&["during the flood", "after the flood"]);
    wait_until_idle(&daemon);
    let (peak, data) = (status_kib(daemon.id(), "VmHWM"), dir_bytes(&node.home.data));
    eprintln!("flood: daemon peak {} MiB, data dir {:.1} MiB", peak / 1024, data as f64 / (1 << 20) as f64);
    assert!(peak < DAEMON_RSS_BOUND_KIB, "daemon peak RSS {peak} KiB");
    assert!(data < DATA_DIR_BOUND, "data dir {data} bytes");
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let pending = pending_count(&node);
    assert!((1..=10_000).contains(&pending), "pending within its cap: {pending}");

    // Adding a chat retries every pending pointer, a page at a time.
    let time = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(bridge_binary())
        .arg("--data-dir")
        .arg(&node.home.data)
        .arg("--config")
        .arg(&node.config)
        .args(["chat", "add", "Later", "--format", "clm202", "--secret-env", "CLM_E2E_CHAT_SECRET"])
        .env_clear()
        .env("CLM_BRIDGE_PASSPHRASE", crate::bridge_chats::PASSPHRASE)
        .env("CLM_E2E_CHAT_SECRET", "later secret")
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&time.stderr);
    assert!(time.status.success(), "{stderr}");
    let chat_add: u64 = stderr
        .lines()
        .find_map(|line| line.strip_prefix("maxrss_kib=")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {stderr}"));
    eprintln!("flood: chat add peak {} MiB over {pending} pending pointers", chat_add / 1024);
    assert!(chat_add < CHAT_ADD_RSS_BOUND_KIB, "chat add peak RSS {chat_add} KiB");
}

/// A pointer chat Family claims that does not open: a real one whose body, after the chat's
/// prefix, no longer decrypts to UTF-8 (what an altered or forged pointer looks like).
fn broken_pointer(n: usize) -> String {
    let chat = clm_core::Clm202Chat::new(SECRET, "Family");
    let mut pointer = chat.encode("mum", "hello", 1_763_700_000, &format!("forged {n}")).expect("encodes");
    let plain = "#Family|¶|mum|¶|hello".as_bytes();
    let at = "#Family|¶|m".len();
    pointer.data[at] ^= plain[at] ^ 0xff;
    clm_core::Pointer::Clm202(pointer).to_json()
}

#[test]
fn pointers_that_do_not_open_are_logged_once_per_chat_and_period() {
    let test = "pointers_that_do_not_open_are_logged_once_per_chat_and_period";
    let (node, drop) = family_node(test, "[limits]\nsummary_period = \"1s\"\n");
    let mut daemon = node.start_daemon();
    let forged: Vec<String> = (0..300).map(broken_pointer).collect();
    drop_file(&drop, "forged.json", forged.join("\n").as_bytes());
    send_real(&drop, "after the forgeries");
    daemon.wait_for_texts(&["after the forgeries"]);
    daemon.wait_until("the summary", |_, stderr| stderr.contains("did not open"));
    std::thread::sleep(Duration::from_secs(2));
    let ended = daemon.stop();
    let lines: Vec<&str> = ended.stderr.lines().filter(|line| line.contains("did not open")).collect();
    assert_eq!(lines.len(), 1, "one line for 300 pointers: {}", ended.stderr);
    assert!(lines[0].contains("pointers=300") && lines[0].contains("Family"), "{}", lines[0]);
}

/// Delivers `mails` (RFC 822 texts) to `to` over LMTP to the test Dovecot, with Python's
/// smtplib (retried: another test may be restarting Dovecot).
fn deliver_lmtp(to: &str, mails: &[Vec<u8>]) {
    let port = std::env::var("CLM_TEST_LMTP_PORT")
        .expect("CLM_TEST_LMTP_PORT is not set: run scripts/test-servers.sh start, then `set -a; . target/test-servers/env`");
    let dir = scratch_dir(&format!("lmtp-{to}"));
    let paths: Vec<String> = mails
        .iter()
        .enumerate()
        .map(|(n, mail)| {
            let path = dir.join(format!("{n}.eml"));
            std::fs::write(&path, mail).expect("write the mail");
            path.to_str().expect("UTF-8 path").to_owned()
        })
        .collect();
    let script = "import smtplib, sys\nport, to, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]\n\
                  with smtplib.LMTP('127.0.0.1', port) as lmtp:\n    for path in paths:\n        \
                  lmtp.sendmail('flood@example.org', [to], open(path, 'rb').read())\n";
    for attempt in 1.. {
        let output = Command::new("python3")
            .args(["-c", script, &port, to])
            .args(&paths)
            .output()
            .expect("python3 runs");
        if output.status.success() {
            return;
        }
        assert!(attempt < 10, "LMTP delivery failed: {}", String::from_utf8_lossy(&output.stderr));
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_25_mb_mail_of_junk_stays_within_its_bounds_and_a_real_mail_arrives() {
    let test = "a_25_mb_mail_of_junk_stays_within_its_bounds_and_a_real_mail_arrives";
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test-servers.sh start"))
    };
    let address = format!("limits-flood-{}@{}", std::process::id(), var("CLM_TEST_MAIL_DOMAIN"));
    let root = scratch_dir(&format!("{test}-secrets"));
    let password = root.join("password");
    std::fs::write(&password, format!("{}\n", var("CLM_TEST_MAIL_PASSWORD"))).expect("password file");
    let settings = format!(
        "[email.flood]\naddress = \"{address}\"\npassword_file = {}\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\n\
         smtp_security = \"none\"\nsmtp_auth = false\nimap_host = \"127.0.0.1\"\nimap_port = {}\nimap_security = \"none\"\n",
        serde_json::to_string(password.to_str().expect("UTF-8")).expect("string"),
        var("CLM_TEST_SMTP_PORT"),
        var("CLM_TEST_IMAP_PORT"),
    );
    let node = Node::with_settings(test, "me", &settings);
    node.add_chat("Family", "clm202", SECRET);
    let mut daemon = node.start_daemon();
    let mut junk_mail = format!(
        "From: flood@example.org\r\nTo: {address}\r\nSubject: junk\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .into_bytes();
    junk_mail.extend(
        junk("mail", 250_000).iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }),
    );
    assert!(junk_mail.len() > 25_000_000, "{} bytes", junk_mail.len());
    let real = encode("clm202", "Family", "mum", SECRET, &[], "behind a 25 MB mail");
    let real_mail = format!(
        "From: mum@example.org\r\nTo: {address}\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\n{real}\r\n"
    );
    deliver_lmtp(&address, &[junk_mail, real_mail.into_bytes()]);
    daemon.wait_for_texts(&["behind a 25 MB mail"]);
    wait_until_idle(&daemon);
    let (peak, data) = (status_kib(daemon.id(), "VmHWM"), dir_bytes(&node.home.data));
    eprintln!(
        "25 MB mail: daemon peak {} MiB, data dir {:.1} MiB",
        peak / 1024,
        data as f64 / (1 << 20) as f64
    );
    assert!(peak < DAEMON_RSS_BOUND_KIB, "daemon peak RSS {peak} KiB");
    assert!(data < DATA_DIR_BOUND, "data dir {data} bytes");
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(pending_count(&node) <= 100, "one sender's quota of pending pointers");
}

#[test]
fn pending_pointers_are_listed_by_origin_without_their_text_and_purged() {
    let test = "pending_pointers_are_listed_by_origin_without_their_text_and_purged";
    let (node, _drop) = family_node(test, "");
    let files = scratch_dir(&format!("{test}-files"));
    let (a, b) = (files.join("a.txt"), files.join("b\u{1b}[31m.txt"));
    std::fs::write(&a, junk("a", 3)).expect("file a");
    std::fs::write(&b, junk("b", 2)).expect("file b");
    let (a, b) = (a.to_str().expect("UTF-8"), b.to_str().expect("UTF-8"));
    assert_eq!(node.cli(&["scan", a, b]).run().code, Some(1), "nothing opened");

    let listed = node.cli(&["pending", "list"]).run();
    assert!(listed.stderr.contains("5 pending pointer(s)"), "{}", listed.stderr);
    assert!(
        listed.stdout.contains("pointers=3") && listed.stdout.contains("pointers=2"),
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains("\"d\"") && !listed.stdout.contains('\u{1b}'),
        "no pointer, no escape: {}",
        listed.stdout
    );
    let groups = json_lines(&node.cli(&["pending", "list", "--json"]).succeeds());
    let counts: Vec<(String, u64)> =
        groups.iter().map(|g| (text(g, "origin"), g["count"].as_u64().expect("count"))).collect();
    assert!(counts.contains(&(a.to_owned(), 3)) && counts.contains(&(b.to_owned(), 2)), "{counts:?}");
    let pointers = node.cli(&["pending", "list", "--pointers"]).succeeds();
    assert_eq!(json_lines(&pointers).len(), 5);
    assert!(!pointers.contains('\u{1b}'), "escaped: {pointers}");

    let purged = node.cli(&["pending", "purge", "--origin", a]).run();
    assert!(purged.stderr.contains("3 pending pointer(s) deleted"), "{}", purged.stderr);
    let purged = node.cli(&["pending", "purge", "--older-than", "1d"]).run();
    assert!(purged.stderr.contains("0 pending pointer(s) deleted"), "{}", purged.stderr);
    assert_eq!(node.cli(&["pending", "purge"]).run().code, Some(2), "say which");
    let purged = node.cli(&["pending", "purge", "--all"]).run();
    assert!(purged.stderr.contains("2 pending pointer(s) deleted"), "{}", purged.stderr);
    assert_eq!(pending_count(&node), 0);
}

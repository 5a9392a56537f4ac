//! The daemon (`run`), `send` and `demo` through the real binary, with real drop folders.
//!
//! Daemons are child processes stopped with SIGTERM (via `kill`, and they must exit 0) or
//! killed with SIGKILL. Waits poll what the daemon printed; their time limits are hang guards
//! only, never what a test asserts.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use clm_core::{Clm202Chat, Pointer};

use crate::bridge_chats::{Home, PASSPHRASE, json_lines, scan_lines};
use crate::daemons::{Node, entry, shown, text, triple};
use crate::support::{bridge, encode, scratch_dir};

/// The drop section every test bridge has.
const DROP: &str = "shared";
/// The most messages the daemon stores in one transaction: a kill between a commit and its
/// lines being printed leaves at most this many stored but never shown.
const BATCH_SLACK: usize = 500;

/// A bridge `name` whose settings name the test's drop folder, then `settings`.
fn drop_node(root: &Path, test: &str, name: &str, drop: &Path, settings: &str) -> Node {
    let text = format!(
        "[drop.{DROP}]\npath = {}\npoll_interval = \"100ms\"\n{settings}",
        serde_json::to_string(drop.to_str().expect("UTF-8 path")).expect("a string")
    );
    let node = Node::with_settings(test, name, &text);
    assert!(node.home.dir.starts_with(root));
    node
}

/// The pointer files in a drop folder, as paths.
fn drop_files(folder: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(folder)
        .expect("list the drop folder")
        .map(|entry| entry.expect("entry").path().to_str().expect("UTF-8").to_owned())
        .filter(|path| path.ends_with(".json"))
        .collect();
    files.sort();
    files
}

#[test]
fn three_bridges_on_one_folder_each_see_exactly_their_chats() {
    let test = "three_bridges_on_one_folder_each_see_exactly_their_chats";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let routes = format!("[chats.X]\nroutes = [\"drop.{DROP}\"]\n[chats.Y]\nroutes = [\"drop.{DROP}\"]\n");
    let ann = drop_node(&root, test, "ann", &drop, &routes);
    let ben = drop_node(&root, test, "ben", &drop, &routes);
    let cat = drop_node(&root, test, "cat", &drop, &routes);
    // X (native) is ann's and ben's; Y (clm202) is ben's and cat's.
    ann.add_chat("X", "native", "secret of x");
    ben.add_chat("X", "native", "secret of x");
    ben.add_chat("Y", "clm202", "secret of y");
    cat.add_chat("Y", "clm202", "secret of y");

    let mut daemons = [ann.start_daemon(), ben.start_daemon(), cat.start_daemon()];
    ann.cli(&["send", "--chat", "X", "ann in X"]).succeeds();
    ben.cli(&["send", "--chat", "X", "ben in X"]).succeeds();
    ben.cli(&["send", "--chat", "Y", "ben in Y"]).succeeds();
    cat.cli(&["send", "--chat", "Y"]).stdin("cat in Y\n").succeeds();
    assert_eq!(drop_files(&drop).len(), 4, "one file per message");

    daemons[0].wait_for_texts(&["ben in X"]);
    daemons[1].wait_for_texts(&["ann in X", "cat in Y"]);
    daemons[2].wait_for_texts(&["ben in Y"]);
    let [ann_daemon, ben_daemon, cat_daemon] = daemons;
    let ended = [ann_daemon.stop(), ben_daemon.stop(), cat_daemon.stop()];
    for end in &ended {
        assert_eq!(end.code, Some(0), "SIGTERM stops cleanly: {}", end.stderr);
    }
    // Each daemon showed what others sent in its chats, and nothing else (its own messages
    // came back through the folder too, but were in history already).
    assert_eq!(shown(&ended[0].lines), [triple("X", "ben", "ben in X")]);
    assert_eq!(shown(&ended[1].lines), [triple("X", "ann", "ann in X"), triple("Y", "cat", "cat in Y")]);
    assert_eq!(shown(&ended[2].lines), [triple("Y", "ben", "ben in Y")]);
    for line in ended.iter().flat_map(|e| &e.lines) {
        assert_eq!(line["transport"], format!("drop.{DROP}"));
    }

    assert_eq!(
        ann.history(),
        BTreeSet::from([entry("X", "sent", "ann", "ann in X"), entry("X", "received", "ben", "ben in X")])
    );
    assert_eq!(
        ben.history(),
        BTreeSet::from([
            entry("X", "received", "ann", "ann in X"),
            entry("X", "sent", "ben", "ben in X"),
            entry("Y", "sent", "ben", "ben in Y"),
            entry("Y", "received", "cat", "cat in Y"),
        ])
    );
    assert_eq!(
        cat.history(),
        BTreeSet::from([entry("Y", "sent", "cat", "cat in Y"), entry("Y", "received", "ben", "ben in Y")])
    );

    // Scanning every file again: each bridge opens exactly its chats' pointers, all known.
    let files = drop_files(&drop);
    let mut scan_args = vec!["scan", "--json"];
    scan_args.extend(files.iter().map(String::as_str));
    for (node, chats) in [(&ann, vec!["X"]), (&ben, vec!["X", "Y"]), (&cat, vec!["Y"])] {
        let lines = scan_lines(&node.cli(&scan_args).succeeds());
        assert_eq!(lines.len(), 2 * chats.len());
        for line in lines {
            assert!(chats.contains(&line["chat"].as_str().expect("chat")), "{line}");
            assert_eq!(line["new"], false, "the daemon stored it already: {line}");
        }
    }
    let folder = drop.display().to_string();
    let texts = ["ann in X", "ben in X", "ben in Y", "cat in Y"];
    for node in [&ann, &ben, &cat] {
        node.assert_nothing_readable(&[&texts[..], &["secret of x", "secret of y", &folder]].concat());
    }
}

/// Writes `count` clm202 pointers of chat "Bulk" into `folder`, one file each.
fn write_bulk_pointers(folder: &Path, secret: &str, count: usize) -> BTreeSet<String> {
    let chat = Clm202Chat::new(secret, "Bulk");
    (0..count)
        .map(|i| {
            let text = format!("bulk message {i:05}");
            let pointer =
                chat.encode("sender", &text, 1_763_700_000 + i as u64, &format!("n{i}")).expect("encodes");
            std::fs::write(folder.join(format!("p{i:05}.json")), Pointer::Clm202(pointer).to_json())
                .expect("write pointer file");
            text
        })
        .collect()
}

#[test]
fn killed_mid_import_then_restarted_every_message_is_stored_exactly_once() {
    const FILES: usize = 10_000;
    let test = "killed_mid_import_then_restarted_every_message_is_stored_exactly_once";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = drop_node(&root, test, "bulk", &drop, "");
    node.add_chat("Bulk", "clm202", "bulk secret");
    let expected = write_bulk_pointers(&drop, "bulk secret", FILES);

    // SIGKILL once a quarter is shown: several batches are committed, the rest is in flight.
    let mut first = node.spawn_daemon();
    first.wait_until("a quarter of the messages", |stdout, _| stdout.lines().count() >= FILES / 4);
    let first = first.kill9();
    assert_eq!(first.code, None, "killed by a signal");
    let stored_after_kill = node.message_count();
    assert!(
        (1..FILES as u64).contains(&stored_after_kill),
        "killed in the middle of the import: {stored_after_kill} stored"
    );

    let mut second = node.start_daemon();
    second.wait_until("the rest of the import", |stdout, _| {
        json_lines(stdout).len() + first.lines.len() + BATCH_SLACK >= FILES
            && node.message_count() == FILES as u64
    });
    let second = second.stop();
    assert_eq!(second.code, Some(0), "{}", second.stderr);

    // History: every message exactly once.
    let history = json_lines(&node.cli(&["history", "--json"]).succeeds());
    assert_eq!(history.len(), FILES);
    let texts: BTreeSet<String> = history.iter().map(|m| text(m, "text")).collect();
    assert_eq!(texts, expected);
    // Output: nothing shown twice; what the kill cut off between commit and print (at most one
    // batch) is stored but was not shown.
    let first_texts: BTreeSet<String> = first.lines.iter().map(|m| text(m, "text")).collect();
    let second_texts: BTreeSet<String> = second.lines.iter().map(|m| text(m, "text")).collect();
    assert_eq!(first_texts.len(), first.lines.len());
    assert_eq!(second_texts.len(), second.lines.len());
    assert!(first_texts.is_disjoint(&second_texts), "a message was shown as new twice");
    assert!(!second_texts.is_empty(), "the restart had work left");
    assert!(first_texts.len() + second_texts.len() + BATCH_SLACK >= FILES);
    eprintln!(
        "killed with {stored_after_kill} of {FILES} stored; shown {} before the kill and {} after the restart",
        first_texts.len(),
        second_texts.len()
    );
}

#[test]
fn a_hostile_drop_folder_is_skipped_with_warnings_and_good_pointers_still_arrive() {
    let test = "a_hostile_drop_folder_is_skipped_with_warnings_and_good_pointers_still_arrive";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = drop_node(&root, test, "me", &drop, "");
    node.add_chat("Family", "clm202", "family secret");
    let pointer = |text: &str| encode("clm202", "Family", "mum", "family secret", &[], text);

    std::fs::write(drop.join("empty.txt"), "").expect("empty file");
    let huge = std::fs::File::create(drop.join("huge.txt")).expect("huge file");
    huge.set_len(100 << 20).expect("100 MiB, sparse");
    let mut binary = b"\x7fELF\0\0\0binary".to_vec();
    binary.extend_from_slice(pointer("inside a binary").as_bytes());
    std::fs::write(drop.join("binary.dat"), binary).expect("binary file");
    let mut latin1 = b"Caf\xe9 cr\xe8me \xff\xfe ".to_vec();
    latin1.extend_from_slice(pointer("inside latin-1 text").as_bytes());
    std::fs::write(drop.join("latin1.txt"), latin1).expect("non-UTF-8 file");
    let outside = root.join("outside.json");
    let behind_symlink = pointer("behind a symlink");
    std::fs::write(&outside, &behind_symlink).expect("file outside the folder");
    std::os::unix::fs::symlink(&outside, drop.join("link.json")).expect("symlink");
    {
        use std::os::unix::ffi::OsStrExt as _;
        let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name.json");
        std::fs::write(drop.join(name), pointer("under a non-UTF-8 name")).expect("non-UTF-8 name");
    }
    let unreadable = drop.join("unreadable.txt");
    std::fs::write(&unreadable, "no pointer here").expect("unreadable file");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).expect("chmod 000");
    }
    // root reads everything: the unreadable case can only be checked as another user.
    let can_be_unreadable = std::fs::read(&unreadable).is_err();
    let fifo = Command::new("mkfifo").arg(drop.join("fifo")).status().expect("mkfifo runs");
    assert!(fifo.success(), "a named pipe (reading it would block forever)");
    std::fs::write(drop.join("good.json"), pointer("the good one")).expect("good file");

    let mut daemon = node.start_daemon();
    let mut warnings = vec![
        ("skipping empty file", "file=empty.txt"),
        ("skipping file too large for a pointer", "file=huge.txt"),
        ("skipping binary file", "file=binary.dat"),
        ("skipping symbolic link", "file=link.json"),
        ("skipping file name is not UTF-8", "file=bad-"),
        ("skipping not a regular file", "file=fifo"),
    ];
    if can_be_unreadable {
        warnings.push(("skipping unreadable file", "file=unreadable.txt"));
    }
    let warned = |stderr: &str, (what, file): (&str, &str)| {
        stderr.lines().any(|line| line.contains("WARN") && line.contains(what) && line.contains(file))
    };
    daemon.wait_for_texts(&["the good one", "inside latin-1 text"]);
    daemon.wait_until("a warning for each hostile file", |_, stderr| {
        warnings.iter().all(|w| warned(stderr, *w))
    });
    // A file appearing later still arrives.
    std::fs::write(drop.join("later.json"), pointer("arrived later")).expect("later file");
    daemon.wait_for_texts(&["arrived later"]);
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert_eq!(
        shown(&ended.lines),
        [
            triple("Family", "mum", "arrived later"),
            triple("Family", "mum", "inside latin-1 text"),
            triple("Family", "mum", "the good one"),
        ]
    );
    for warning in &warnings {
        let count = ended.stderr.lines().filter(|line| warned(line, *warning)).count();
        assert_eq!(count, 1, "warned once about {warning:?}: {}", ended.stderr);
    }
    for secret in ["family secret", "the good one", "behind a symlink", "arrived later"] {
        assert!(!ended.stderr.contains(secret), "{secret:?} in the logs: {}", ended.stderr);
    }
    // Nothing was deleted or changed: the folder holds what it held, the symlink's target too.
    let left = std::fs::read_dir(&drop).expect("list").count();
    assert_eq!(left, 10, "every entry is still there");
    assert_eq!(std::fs::read_to_string(&outside).expect("still there"), behind_symlink);
}

#[test]
fn sigterm_and_sigint_stop_cleanly_and_a_restart_resumes_without_repeats() {
    let test = "sigterm_and_sigint_stop_cleanly_and_a_restart_resumes_without_repeats";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = drop_node(&root, test, "me", &drop, "");
    node.add_chat("Family", "clm202", "family secret");
    let write = |name: &str, text: &str| {
        let pointer = encode("clm202", "Family", "mum", "family secret", &[], text);
        std::fs::write(drop.join(name), pointer).expect("pointer file");
    };

    let mut first = node.start_daemon();
    write("one.json", "first");
    first.wait_for_texts(&["first"]);
    let first = first.stop();
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(first.stderr.contains("SIGTERM") && first.stderr.contains("stopped"), "{}", first.stderr);

    let mut second = node.start_daemon();
    write("two.json", "second");
    second.wait_for_texts(&["second"]);
    let second = second.stop_with("INT");
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(shown(&first.lines), [triple("Family", "mum", "first")]);
    assert_eq!(shown(&second.lines), [triple("Family", "mum", "second")], "nothing shown twice");
    assert_eq!(node.message_count(), 2);
}

#[test]
fn on_message_gets_each_new_message_on_stdin_and_no_passphrase() {
    let test = "on_message_gets_each_new_message_on_stdin_and_no_passphrase";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let received = root.join("received.jsonl");
    let environment = root.join("environment");
    let script = format!(
        "cat >> '{}'; env > '{}'; echo \"argc=$#\" >> '{}'",
        received.display(),
        environment.display(),
        environment.display()
    );
    let hook = format!(
        "[daemon]\non_message = [\"/bin/sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).expect("string")
    );
    // Sections after [drop.shared]: the hook goes first in the file, so write it whole here.
    let node = drop_node(&root, test, "me", &drop, "");
    let settings = std::fs::read_to_string(&node.config).expect("settings");
    std::fs::write(&node.config, format!("{hook}{settings}")).expect("settings with a hook");
    node.add_chat("Family", "clm202", "family secret");

    let mut daemon = node.start_daemon();
    let pointer = encode("clm202", "Family", "mum", "family secret", &["--epoch", "1763700000"], "hook me");
    std::fs::write(drop.join("one.json"), pointer).expect("pointer file");
    daemon.wait_for_texts(&["hook me"]);
    daemon.wait_until("the hook's output", |_, _| {
        std::fs::read_to_string(&environment).is_ok_and(|env| env.contains("argc="))
    });
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);

    let lines = json_lines(&std::fs::read_to_string(&received).expect("the hook ran"));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0], ended.lines[0], "the hook gets the line the daemon prints");
    assert_eq!((text(&lines[0], "chat"), text(&lines[0], "text")), ("Family".into(), "hook me".into()));
    assert_eq!(lines[0]["epoch"], 1_763_700_000);
    let env = std::fs::read_to_string(&environment).expect("environment");
    assert!(env.contains("argc=0"), "nothing on argv: {env}");
    assert!(!env.contains("CLM_BRIDGE_PASSPHRASE") && !env.contains(PASSPHRASE), "{env}");
}

#[test]
fn send_delivers_prints_and_queues_in_the_outbox_while_the_folder_is_gone() {
    let test = "send_delivers_prints_and_queues_in_the_outbox_while_the_folder_is_gone";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = drop_node(&root, test, "me", &drop, "");
    node.add_chat("Family", "clm202", "family secret");

    // No route at all: refused before anything is recorded.
    let refused = node.cli(&["send", "--chat", "Family", "nowhere"]).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("no route"), "{}", refused.stderr);
    assert_eq!(node.message_count(), 0);
    node.cli(&["send", "--chat", "Nobody", "hi"]).run().assert_code(2);
    node.cli(&["send", "--chat", "Family", "--via", "email.work:bob@example.org", "hi"]).run().assert_code(2);
    assert_eq!(node.message_count(), 0);

    // --via and --print: the pointer printed is the file written, and it opens.
    let printed = node
        .cli(&["send", "--chat", "Family", "--via", &format!("drop.{DROP}"), "--print", "hello"])
        .succeeds();
    let pointer = printed.strip_suffix('\n').expect("one line");
    let files = drop_files(&drop);
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read_to_string(&files[0]).expect("pointer file").trim_end(), pointer);
    let opened = crate::support::decode("family secret", &["--chat", "Family"], pointer);
    opened.assert_code(0);
    assert_eq!(opened.lines()[0]["text"], "hello");
    assert_eq!(opened.lines()[0]["from"], "me");

    // A stored route to a folder that is gone: the message is recorded as sent and the
    // delivery waits in the outbox; nothing is lost.
    node.cli(&["chat", "route", "Family", "--via", &format!("drop.{DROP}")]).succeeds();
    std::fs::remove_dir_all(&drop).expect("unplug the stick");
    let queued = node.cli(&["send", "--chat", "Family", "while unplugged"]).run();
    queued.assert_code(3);
    assert!(queued.stderr.contains("queued in the outbox"), "{}", queued.stderr);
    assert!(!queued.stderr.contains("while unplugged"), "no message text in diagnostics");
    assert_eq!(
        node.history(),
        BTreeSet::from([
            entry("Family", "sent", "me", "hello"),
            entry("Family", "sent", "me", "while unplugged")
        ])
    );
    let outbox = json_lines(&node.cli(&["outbox", "list", "--json"]).succeeds());
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!((outbox[0]["state"].as_str(), outbox[0]["attempts"].as_u64()), (Some("queued"), Some(1)));
    assert_eq!(outbox[0]["route"], format!("drop.{DROP}"));

    // Plugged back in: the daemon delivers it (made due now, not after the backoff).
    std::fs::create_dir(&drop).expect("plug the stick back");
    node.cli(&["outbox", "retry", "--all"]).succeeds();
    let daemon = node.start_daemon();
    let deadline = std::time::Instant::now() + crate::daemons::HANG_GUARD;
    while !json_lines(&node.cli(&["outbox", "list", "--json"]).succeeds()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the outbox is never emptied");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let files = drop_files(&drop);
    assert_eq!(files.len(), 1, "only the queued pointer was written after the re-plug");
    let late = std::fs::read_to_string(&files[0]).expect("pointer file");
    let opened = crate::support::decode("family secret", &["--chat", "Family"], late.trim_end());
    opened.assert_code(0);
    assert_eq!(opened.lines()[0]["text"], "while unplugged");
    assert!(ended.lines.is_empty(), "its own sent message is not shown as received: {:?}", ended.lines);
}

/// Regression: the daemon's outbox worker opened the database with a plain `open` before
/// SQLite did; closing that descriptor dropped the daemon's SQLite locks, `send` then took the
/// database for unused on exit and removed the WAL under the daemon, and sent messages were
/// lost or shown as received.
#[test]
fn regression_sends_while_the_daemon_runs_stay_sent_and_are_not_shown() {
    let test = "regression_sends_while_the_daemon_runs_stay_sent_and_are_not_shown";
    let root = scratch_dir(test);
    let drop = root.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let node = drop_node(&root, test, "me", &drop, &format!("[chats.Y]\nroutes = [\"drop.{DROP}\"]\n"));
    node.add_chat("Y", "clm202", "secret of y");
    let daemon = node.start_daemon();
    let texts: Vec<String> = (0..12).map(|i| format!("sent while running {i}")).collect();
    for text in &texts {
        node.cli(&["send", "--chat", "Y", text]).succeeds();
    }
    // Every file came back through the folder: wait until the daemon has noted each arrival.
    let deadline = std::time::Instant::now() + crate::daemons::HANG_GUARD;
    loop {
        let arrivals: usize = json_lines(&node.cli(&["history", "--json"]).succeeds())
            .iter()
            .map(|m| m["arrivals"].as_array().map_or(0, Vec::len))
            .sum();
        if arrivals == texts.len() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{arrivals} of {} arrivals noted", texts.len());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(ended.lines.is_empty(), "own messages shown as received: {:?}", ended.lines);
    let expected: BTreeSet<_> = texts.iter().map(|t| entry("Y", "sent", "me", t)).collect();
    assert_eq!(node.history(), expected);
    assert!(json_lines(&node.cli(&["outbox", "list", "--json"]).succeeds()).is_empty());
}

#[test]
fn the_demo_shows_every_message_and_cleans_up() {
    let output = bridge(["demo"]).run();
    output.assert_code(0);
    for message in [
        "Dinner at 7? 🍝",
        "Bring the photos from the trip, please.",
        "Only pointers went through the folder: the words never left our machines.",
    ] {
        assert!(
            output.stdout.lines().any(|line| line.contains("bob's daemon │ ")
                && line.ends_with(&format!("Family alice: {message}"))),
            "{message:?} not shown by Bob's daemon: {}",
            output.stdout
        );
    }
    assert!(output.stdout.contains("Done in"), "{}", output.stdout);
    let workspace = output
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("Everything lives in ")?.strip_suffix(" (removed at the end)."))
        .expect("the demo names its directory");
    assert!(!Path::new(workspace).exists(), "{workspace} is removed");
}

#[test]
fn run_refuses_to_start_without_a_transport_or_with_a_wrong_passphrase() {
    let home = Home::new("run_refuses_to_start_without_a_transport_or_with_a_wrong_passphrase");
    home.init("me");
    let nothing = home.run(&["run"]).run();
    nothing.assert_code(2);
    assert!(nothing.stderr.contains("no transport to run"), "{}", nothing.stderr);

    let root = home.dir.clone();
    let node = drop_node(
        &root,
        "run_refuses_to_start_without_a_transport_or_with_a_wrong_passphrase",
        "other",
        &root,
        "",
    );
    let wrong = node
        .home
        .with_passphrase("not the passphrase", &["run"])
        .env("CLM_BRIDGE_CONFIG", node.config.to_str().expect("UTF-8 path"));
    let wrong = wrong.run();
    wrong.assert_code(2);
    assert!(wrong.stdout.is_empty(), "{}", wrong.stdout);
}

//! Gateways end to end (`[gateway.NAME]`): bridges that know no chat relay pointers between
//! folders; bridges that know the chat show each message once; rings of gateways deliver each
//! pointer once to each place. Pointers are dropped as files named the way `send` names them
//! (by their digest), so a folder holding a pointer twice would show as two files. Waits have
//! hang guards only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clm_adapters::drop::DropTransport;
use clm_core::{Clm202Chat, Pointer};

use crate::daemons::{HANG_GUARD, Node};

const CHAT: &str = "Family";
const SECRET: &str = "family secret for the gateway tests";

/// A clm202 pointer of [`CHAT`] from `from` saying `text` (the nonce is the text).
fn pointer(from: &str, text: &str) -> String {
    Pointer::Clm202(Clm202Chat::new(SECRET, CHAT).encode(from, text, 1_763_700_000, text).expect("encodes"))
        .to_json()
}

/// `text` written into `folder` under `name`, through a hidden temporary file.
fn drop_file(folder: &Path, name: &str, text: &str) {
    let temporary = folder.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).expect("write the file");
    std::fs::rename(&temporary, folder.join(name)).expect("rename it into place");
}

/// A pointer dropped as `send` would write it.
pub(crate) fn drop_pointer(folder: &Path, pointer: &str) {
    drop_file(folder, &DropTransport::file_name_for(pointer), pointer);
}

/// Scratch folders `names` under the test's directory.
pub(crate) fn folders(test: &str, names: &[&str]) -> Vec<PathBuf> {
    let root = crate::support::scratch_dir(&format!("{test}/folders"));
    names
        .iter()
        .map(|name| {
            let folder = root.join(name);
            std::fs::create_dir_all(&folder).expect("a folder");
            folder
        })
        .collect()
}

/// `[drop.NAME]` sections for `(name, folder)`, scanned every 100 ms.
pub(crate) fn drops(folders: &[(&str, &Path)]) -> String {
    folders
        .iter()
        .map(|(name, path)| {
            let path = serde_json::to_string(path.to_str().expect("UTF-8")).expect("a string");
            format!("[drop.{name}]\npath = {path}\npoll_interval = \"100ms\"\n")
        })
        .collect()
}

/// The file names in `folder` (hidden temporary files left out).
pub(crate) fn names(folder: &Path) -> BTreeSet<String> {
    std::fs::read_dir(folder)
        .expect("the folder lists")
        .map(|entry| entry.expect("an entry").file_name().into_string().expect("UTF-8"))
        .filter(|name| !name.starts_with('.'))
        .collect()
}

/// Waits until `folder` holds `expected` files (a hang guard, not an assertion of speed).
pub(crate) fn wait_for_files(folder: &Path, expected: usize) {
    let deadline = Instant::now() + HANG_GUARD;
    while names(folder).len() < expected {
        assert!(
            Instant::now() < deadline,
            "{} holds {} of {expected} files",
            folder.display(),
            names(folder).len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the node's outbox is empty (every relay made).
pub(crate) fn wait_for_empty_outbox(node: &Node) {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let listed = node.cli(&["outbox", "list"]).succeeds();
        if listed.trim().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the outbox never empties: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The relays a daemon's summaries counted (`relays=N` on each summary line).
pub(crate) fn relays_logged(stderr: &str) -> u64 {
    let pattern = regex::Regex::new(r"relays=(\d+)").expect("a pattern");
    stderr
        .lines()
        .filter(|line| line.contains("gateways queued relays"))
        .filter_map(|line| pattern.captures(line))
        .map(|found| found[1].parse::<u64>().expect("a count"))
        .sum()
}

#[test]
fn a_gateway_relays_only_the_pointer_between_folders_and_the_bridge_beyond_shows_it_once() {
    let test = "a_gateway_relays_only_the_pointer_between_folders";
    let [usb, share] = &folders(test, &["usb", "share"])[..] else { unreachable!() };
    let gateway = Node::with_settings(
        test,
        "gateway",
        &format!(
            "{}[gateway.family]\nroutes = [\"drop.usb\", \"drop.share\"]\n",
            drops(&[("usb", usb), ("share", share)])
        ),
    );
    let bob = Node::with_settings(test, "bob", &drops(&[("share", share)]));
    bob.add_chat(CHAT, "clm202", SECRET);
    let gateway_daemon = gateway.start_daemon();
    let mut bob_daemon = bob.start_daemon();

    let relayed = pointer("alice", "Dinner at seven, bring the photos");
    let around = format!(
        "From: alice@private.example.org\nSubject: Mum's birthday\n\nThe secret word is Marmalade. {relayed} \
         Regards, Alice"
    );
    drop_file(usb, "letter-from-alice.txt", &around);
    bob_daemon.wait_for_texts(&["Dinner at seven, bring the photos"]);
    wait_for_empty_outbox(&gateway);

    // The folder beyond holds the pointer's canonical text alone, in one file.
    let shared = names(share);
    assert_eq!(shared, BTreeSet::from([DropTransport::file_name_for(&relayed)]));
    let file = std::fs::read_to_string(share.join(shared.first().expect("one file"))).expect("it reads");
    assert_eq!(file, relayed, "only the pointer, never the text around it");
    // `status` and `doctor` show the gateway's routes and their health.
    let status: serde_json::Value =
        serde_json::from_str(&gateway.cli(&["status", "--json"]).succeeds()).expect("status JSON");
    assert_eq!(
        status["gateways"],
        serde_json::json!([{"name": "family", "relays_queued": 0, "routes": [
            {"route": "drop.usb", "direction": "both", "state": "up"},
            {"route": "drop.share", "direction": "both", "state": "up"},
        ]}])
    );
    let doctor = gateway.cli(&["doctor"]).run();
    let line = crate::support::doctor_lines(&doctor.stdout, "gateway.family");
    assert_eq!(line.len(), 1, "{}", doctor.stdout);
    assert_eq!(line[0].0, "ok", "{}", doctor.stdout);
    assert!(line[0].1.contains("relays between drop.usb (both), drop.share (both)"), "{}", doctor.stdout);

    // Its echo in the second folder goes nowhere: the first holds the letter alone.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(names(usb), BTreeSet::from(["letter-from-alice.txt".to_owned()]));

    let gateway_ended = gateway_daemon.stop();
    assert!(
        gateway_ended.lines.is_empty(),
        "a gateway that knows no chat shows nothing: {:?}",
        gateway_ended.lines
    );
    bob_daemon.stop();
    assert_eq!(bob.message_count(), 1);
    gateway.assert_nothing_readable(&[
        "alice@private.example.org",
        "Marmalade",
        "Birthday",
        "letter-from-alice",
    ]);
}

/// A gateway bridge relaying between `routes` (`drop.NAME` of `folders`), unknown pointers
/// unlimited, summaries every second (they count the relays).
fn gateway_node(test: &str, name: &str, folders: &[(&str, &Path)]) -> Node {
    let routes: Vec<String> = folders.iter().map(|(name, _)| format!("\"drop.{name}\"")).collect();
    let settings = format!(
        "[limits]\nsummary_period = \"1s\"\n{}[gateway.ring]\nroutes = [{}]\nunknown_per_route = 100000\n",
        drops(folders),
        routes.join(", ")
    );
    Node::with_settings(test, name, &settings)
}

#[test]
fn two_gateways_in_a_ring_deliver_each_pointer_once_to_every_folder() {
    let test = "two_gateways_in_a_ring_deliver_each_pointer_once";
    let [a, b, c] = &folders(test, &["a", "b", "c"])[..] else { unreachable!() };
    // a -> b by the first; b -> c -> a by the second: a ring, each folder on both sides.
    let first = gateway_node(test, "first", &[("a", a), ("b", b)]);
    let second = gateway_node(test, "second", &[("b", b), ("c", c), ("a", a)]);
    let (first_daemon, second_daemon) = (first.start_daemon(), second.start_daemon());

    const POINTERS: usize = 1000;
    let pointers: Vec<String> =
        (0..POINTERS).map(|n| pointer("alice", &format!("ring message {n}"))).collect();
    for pointer in &pointers {
        drop_pointer(a, pointer);
    }
    for folder in [a, b, c] {
        wait_for_files(folder, POINTERS);
    }
    wait_for_empty_outbox(&first);
    wait_for_empty_outbox(&second);
    // Two summary periods: every relay queued is counted, and any late echo would show.
    std::thread::sleep(Duration::from_secs(3));

    let expected: BTreeSet<String> = pointers.iter().map(|p| DropTransport::file_name_for(p)).collect();
    for folder in [a, b, c] {
        assert_eq!(names(folder), expected, "{}: each pointer once", folder.display());
    }
    let (first_ended, second_ended) = (first_daemon.stop(), second_daemon.stop());
    let (first_relays, second_relays) =
        (relays_logged(&first_ended.stderr), relays_logged(&second_ended.stderr));
    eprintln!("relays: first {first_relays}, second {second_relays}");
    // The first relays each pointer to b once; the second, wherever it saw a pointer first,
    // to its two other folders once: never more, whatever came back.
    assert_eq!(first_relays, POINTERS as u64, "{}", first_ended.stderr);
    assert_eq!(second_relays, 2 * POINTERS as u64, "{}", second_ended.stderr);
}

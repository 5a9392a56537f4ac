//! The matrix transport end to end, against a real Synapse on loopback (scripts/test-servers.sh).
//! Each test registers users of its own (names made unique per run, as the server keeps its
//! state between runs): a plain user `carol` (no bridge) creates the rooms and invites the
//! bridges' users, whose bridges accept because carol is their allowed inviter. carol also
//! posts as a person would, through the client-server API.
//!
//! One test restarts Synapse: it holds the server lock exclusively, the others share it, so no
//! other test sees the server go away.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::daemons::{Daemon, HANG_GUARD, Node, entry, shown, triple};
use crate::support::encode;

const SECRET: &str = "matrix family secret";
const PASSWORD: &str = "e2e matrix password";

/// Shared by every test but the one that restarts the server.
static SERVER: RwLock<()> = RwLock::new(());

fn shared_server() -> RwLockReadGuard<'static, ()> {
    SERVER.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/test-servers.sh start and source target/test-servers/env")
    })
}

fn server_url() -> String {
    env("CLM_TEST_MATRIX_URL")
}

/// A name no earlier run used: the server keeps its users.
fn unique(name: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// One HTTP request to Synapse; the status and JSON answer.
fn http(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let url = server_url();
    let address = url.strip_prefix("http://").expect("an http:// URL").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("Synapse answers");
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer read");
    let answer = String::from_utf8(answer).expect("UTF-8 answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        unchunk(body)
    } else {
        body.to_owned()
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, value)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A request that must succeed.
fn api(method: &str, path: &str, token: &str, body: &Value) -> Value {
    let (status, answer) = http(method, path, Some(token), Some(body));
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// A user of the test server.
struct User {
    id: String,
    token: String,
}

/// Registers `name` (with the shared secret) and logs it in once for the test's own requests.
fn register(name: &str) -> User {
    let status = Command::new(env("CLM_TEST_MATRIX_REGISTER"))
        .args([
            "-u",
            name,
            "-p",
            PASSWORD,
            "--no-admin",
            "-k",
            &env("CLM_TEST_MATRIX_SHARED_SECRET"),
            &server_url(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("register_new_matrix_user runs");
    assert!(status.success(), "registering {name}");
    let (status, answer) = http(
        "POST",
        "/_matrix/client/v3/login",
        None,
        Some(
            &json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": PASSWORD}),
        ),
    );
    assert_eq!(status, 200, "login {name}: {answer}");
    User {
        id: answer["user_id"].as_str().expect("user id").to_owned(),
        token: answer["access_token"].as_str().expect("token").to_owned(),
    }
}

impl User {
    /// Creates a room (encrypted or not) and invites `invited`; its id.
    fn create_room(&self, encrypted: bool, invited: &[&str]) -> String {
        let mut body = json!({"preset": "private_chat", "invite": invited});
        if encrypted {
            body["initial_state"] = json!([{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]);
        }
        api("POST", "/_matrix/client/v3/createRoom", &self.token, &body)["room_id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    /// Waits until every user of `members` joined `room`.
    fn wait_for_members(&self, room: &str, members: &[&str]) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let joined = api(
                "GET",
                &format!("/_matrix/client/v3/rooms/{room}/joined_members"),
                &self.token,
                &json!({}),
            );
            if members.iter().all(|m| joined["joined"].get(*m).is_some()) {
                return;
            }
            assert!(Instant::now() < deadline, "{members:?} did not join {room}: {joined}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Posts an `m.room.message` with `content`.
    fn post(&self, room: &str, content: &Value) {
        let txn = unique("txn");
        api(
            "PUT",
            &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"),
            &self.token,
            content,
        );
    }
}

/// A bridge `name` logged in as `user`, accepting invites from `inviter`.
fn matrix_node(test: &str, name: &str, user: &User, inviter: &User) -> Node {
    let node = Node::with_settings(test, name, "");
    let password_file = node.home.dir.join("matrix-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("password file");
    let settings = format!(
        "[matrix.m]\nhomeserver = {}\nuser_id = {}\npassword_file = {}\nallowed_inviters = [{}]\nsync_timeout = \"10s\"\n",
        json!(server_url()),
        json!(user.id),
        json!(password_file.to_str().expect("UTF-8 path")),
        json!(inviter.id),
    );
    std::fs::write(&node.config, settings).expect("settings");
    node.add_chat("Family", "native", SECRET);
    node
}

/// What the adapter logs once the first sync of an account is stored (its device keys are
/// uploaded by then, so encrypted messages can be shared with it).
const FIRST_SYNC: &str = "matrix: first sync stored";

/// Starts the daemon of a new account and waits for its first sync to be stored.
fn start_synced(node: &Node) -> Daemon {
    let daemon = node.start_daemon();
    daemon.wait_for_log(FIRST_SYNC);
    daemon
}

fn send(node: &Node, room: &str, message: &str) {
    node.cli(&["send", "--chat", "Family", "--via", &format!("matrix.m:{room}"), message]).succeeds();
}

/// Everyone in one room: carol (a person) and the bridges of ann and ben.
struct Room {
    carol: User,
    ann: Node,
    ben: Node,
    ann_daemon: Daemon,
    ben_daemon: Daemon,
    id: String,
}

fn room(test: &str, encrypted: bool) -> Room {
    let carol = register(&unique("carol"));
    let (ann_user, ben_user) = (register(&unique("ann")), register(&unique("ben")));
    let ann = matrix_node(test, "ann", &ann_user, &carol);
    let ben = matrix_node(test, "ben", &ben_user, &carol);
    let (ann_daemon, ben_daemon) = (start_synced(&ann), start_synced(&ben));
    let id = carol.create_room(encrypted, &[&ann_user.id, &ben_user.id]);
    carol.wait_for_members(&id, &[&ann_user.id, &ben_user.id]);
    Room { carol, ann, ben, ann_daemon, ben_daemon, id }
}

#[test]
fn pointers_go_both_ways_html_and_large_ones_included() {
    let _server = shared_server();
    let Room { carol, ann, ben, mut ann_daemon, mut ben_daemon, id } = room("matrix_both_ways", false);

    send(&ann, &id, "hello from ann");
    ben_daemon.wait_for_texts(&["hello from ann"]);
    send(&ben, &id, "hello from ben");
    ann_daemon.wait_for_texts(&["hello from ben"]);

    // A person posts a pointer only inside the HTML of a message (as Element does for code).
    let pointer = encode("native", "Family", "carol", SECRET, &[], "carol in html");
    let escaped = pointer.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    carol.post(
        &id,
        &json!({"msgtype": "m.text", "body": "see the code block", "format": "org.matrix.custom.html",
                "formatted_body": format!("<p>see</p><pre><code>{escaped}</code></pre>")}),
    );
    ann_daemon.wait_for_texts(&["carol in html"]);
    ben_daemon.wait_for_texts(&["carol in html"]);

    // Over the m.file threshold (32 KiB): goes as a file, is downloaded and opened.
    let large: String =
        (0..40_000).map(|i| char::from(b'a' + u8::try_from(i % 26).expect("small"))).collect();
    send(&ann, &id, &large);
    let quoted = serde_json::to_string(&large).expect("a string");
    ben_daemon.wait_until("the large message", |stdout, _| stdout.contains(&quoted));

    let (ann_end, ben_end) = (ann_daemon.stop(), ben_daemon.stop());
    assert_eq!((ann_end.code, ben_end.code), (Some(0), Some(0)), "{}\n{}", ann_end.stderr, ben_end.stderr);
    assert_eq!(
        shown(&ann_end.lines),
        [triple("Family", "ben", "hello from ben"), triple("Family", "carol", "carol in html")]
    );
    assert_eq!(
        shown(&ben_end.lines),
        [
            triple("Family", "ann", &large),
            triple("Family", "ann", "hello from ann"),
            triple("Family", "carol", "carol in html"),
        ]
    );
    assert!(ben_end.lines.iter().all(|line| line["transport"] == "matrix.m"));
    assert_eq!(
        ben.history(),
        [
            entry("Family", "received", "ann", "hello from ann"),
            entry("Family", "received", "ann", &large),
            entry("Family", "received", "carol", "carol in html"),
            entry("Family", "sent", "ben", "hello from ben"),
        ]
        .into_iter()
        .collect()
    );
    assert!(!ben_end.stderr.contains(PASSWORD), "the password is never logged");
}

#[test]
fn an_encrypted_room_carries_pointers_both_ways() {
    let _server = shared_server();
    let Room { ann, ben, mut ann_daemon, mut ben_daemon, id, .. } = room("matrix_e2ee", true);

    send(&ann, &id, "secret hello from ann");
    ben_daemon.wait_for_texts(&["secret hello from ann"]);
    send(&ben, &id, "secret hello from ben");
    ann_daemon.wait_for_texts(&["secret hello from ben"]);

    let (ann_end, ben_end) = (ann_daemon.stop(), ben_daemon.stop());
    assert_eq!((ann_end.code, ben_end.code), (Some(0), Some(0)), "{}\n{}", ann_end.stderr, ben_end.stderr);
    assert_eq!(shown(&ann_end.lines), [triple("Family", "ben", "secret hello from ben")]);
    assert_eq!(shown(&ben_end.lines), [triple("Family", "ann", "secret hello from ann")]);
    assert_eq!(ann.message_count(), 2);
    assert_eq!(ben.message_count(), 2);
}

#[test]
fn a_stopped_bridge_gets_everything_sent_meanwhile_once() {
    let _server = shared_server();
    let Room { carol, ann, ben, ann_daemon, mut ben_daemon, id } = room("matrix_restart", false);
    send(&ann, &id, "before the stop");
    ben_daemon.wait_for_texts(&["before the stop"]);
    let first = ben_daemon.stop();
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    drop(ann_daemon);

    // 50 from ann's bridge, then 60 more by a person: over the 100 events one sync response
    // holds per room, so the gap is fetched from the room's history.
    let sent: Vec<String> = (1..=50).map(|i| format!("while stopped {i}")).collect();
    for text in &sent {
        send(&ann, &id, text);
    }
    let posted: Vec<String> = (1..=60).map(|i| format!("posted while stopped {i}")).collect();
    for text in &posted {
        let pointer = encode("native", "Family", "carol", SECRET, &[], text);
        carol.post(&id, &json!({"msgtype": "m.text", "body": pointer}));
    }

    let mut ben_daemon = ben.start_daemon();
    let all: Vec<&str> = sent.iter().chain(&posted).map(String::as_str).collect();
    ben_daemon.wait_for_texts(&all);
    let second = ben_daemon.stop();
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let mut expected: Vec<_> = sent.iter().map(|t| triple("Family", "ann", t)).collect();
    expected.extend(posted.iter().map(|t| triple("Family", "carol", t)));
    expected.sort();
    assert_eq!(shown(&second.lines), expected, "each once, nothing from before the stop");
    assert!(second.stderr.contains("matrix: gap filled"), "the gap was fetched: {}", second.stderr);
    assert_eq!(ben.message_count(), 111);
}

#[test]
fn a_homeserver_restart_loses_nothing() {
    let _server = SERVER.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Room { carol, ben, ann_daemon, mut ben_daemon, id, .. } = room("matrix_server_restart", false);
    drop(ann_daemon);
    let post = |text: &str| {
        let pointer = encode("native", "Family", "carol", SECRET, &[], text);
        carol.post(&id, &json!({"msgtype": "m.text", "body": pointer}));
    };
    post("before the restart");
    ben_daemon.wait_for_texts(&["before the restart"]);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/servers/synapse.sh");
    let restarted = Command::new(script)
        .args(["restart", &env("CLM_TEST_MATRIX_STATE")])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("synapse.sh runs");
    assert!(restarted.success(), "Synapse restarts");
    for i in 1..=5 {
        post(&format!("after the restart {i}"));
    }
    ben_daemon.wait_for_texts(&["after the restart 1", "after the restart 5"]);
    ben_daemon.wait_for_texts(&["after the restart 2", "after the restart 3", "after the restart 4"]);
    let ended = ben_daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let mut expected: Vec<_> =
        (1..=5).map(|i| triple("Family", "carol", &format!("after the restart {i}"))).collect();
    expected.push(triple("Family", "carol", "before the restart"));
    expected.sort();
    assert_eq!(shown(&ended.lines), expected);
    assert!(ended.stderr.contains("reconnect"), "the loop reconnected: {}", ended.stderr);
    assert_eq!(ben.message_count(), 6);
}

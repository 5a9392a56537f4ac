//! The Synapse the Matrix tests talk to (the shared one, or one of a test's own) and its users,
//! over plain HTTP as a person's client would.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::PASSWORD;
use crate::daemons::HANG_GUARD;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/test-servers.sh start and source target/test-servers/env")
    })
}

/// A Synapse to talk to: the shared one, or one of a test's own.
#[derive(Clone)]
pub(super) struct Server {
    pub(super) url: String,
    shared_secret: String,
    register: String,
}

impl Server {
    /// The shared test server (scripts/test-servers.sh).
    pub(super) fn shared() -> Server {
        Server {
            url: env("CLM_TEST_MATRIX_URL"),
            shared_secret: env("CLM_TEST_MATRIX_SHARED_SECRET"),
            register: env("CLM_TEST_MATRIX_REGISTER"),
        }
    }
}

/// A Synapse of one test's own, stopped when dropped.
pub(super) struct OwnServer {
    pub(super) server: Server,
    state: std::path::PathBuf,
}

const SYNAPSE_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/servers/synapse.sh");

impl OwnServer {
    /// Starts one with its state under `dir`, from the shared server's installation.
    pub(super) fn start(dir: &std::path::Path) -> OwnServer {
        let state = dir.join("synapse");
        let output = Self::script("start", &state);
        let value = |name: &str| {
            output
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("synapse.sh printed no {name}: {output}"))
                .to_owned()
        };
        let server = Server {
            url: value("CLM_TEST_MATRIX_URL"),
            shared_secret: value("CLM_TEST_MATRIX_SHARED_SECRET"),
            register: value("CLM_TEST_MATRIX_REGISTER"),
        };
        OwnServer { server, state }
    }

    pub(super) fn restart(&self) {
        Self::script("restart", &self.state);
    }

    /// Stops it (until [`OwnServer::start_again`]).
    pub(super) fn stop(&self) {
        Self::script("stop", &self.state);
    }

    /// Starts it again on its port, with its state.
    pub(super) fn start_again(&self) {
        Self::script("restart", &self.state);
    }

    fn script(action: &str, state: &std::path::Path) -> String {
        // The shared server's virtualenv: `register_new_matrix_user` sits in its bin/.
        let register = env("CLM_TEST_MATRIX_REGISTER");
        let venv =
            std::path::Path::new(&register).parent().and_then(std::path::Path::parent).expect("a venv");
        let output = Command::new(SYNAPSE_SCRIPT)
            .args([action, state.to_str().expect("UTF-8 path")])
            .env("CLM_TEST_SYNAPSE_VENV", venv)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("synapse.sh runs");
        assert!(output.status.success(), "synapse.sh {action} failed");
        String::from_utf8(output.stdout).expect("UTF-8")
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(SYNAPSE_SCRIPT).args(["stop", self.state.to_str().unwrap_or_default()]).status();
    }
}

/// A name no earlier run used: the server keeps its users.
pub(super) fn unique(name: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// One HTTP request to Synapse; the status and JSON answer.
pub(super) fn http(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let (status, text) = http_raw(server, method, path, token, "application/json", body.as_bytes());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// One HTTP request with any body; the status and the answer's text.
pub(super) fn http_raw(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let address = server.url.strip_prefix("http://").expect("an http:// URL").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("Synapse answers");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("request written");
    stream.write_all(body).expect("body written");
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
    (status, body)
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
pub(super) fn api(server: &Server, method: &str, path: &str, token: &str, body: &Value) -> Value {
    let (status, answer) = http(server, method, path, Some(token), Some(body));
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// A user of the test server.
pub(super) struct User {
    pub(super) server: Server,
    pub(super) id: String,
    pub(super) token: String,
}

/// Registers `name` on `server` (with the shared secret) and logs it in once for the test's
/// own requests.
pub(super) fn register_on(server: &Server, name: &str) -> User {
    let status = Command::new(&server.register)
        .args(["-u", name, "-p", PASSWORD, "--no-admin", "-k", &server.shared_secret, &server.url])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("register_new_matrix_user runs");
    assert!(status.success(), "registering {name}");
    let (status, answer) = http(
        server,
        "POST",
        "/_matrix/client/v3/login",
        None,
        Some(
            &json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": PASSWORD}),
        ),
    );
    assert_eq!(status, 200, "login {name}: {answer}");
    User {
        server: server.clone(),
        id: answer["user_id"].as_str().expect("user id").to_owned(),
        token: answer["access_token"].as_str().expect("token").to_owned(),
    }
}

impl User {
    /// Creates a room (encrypted or not) and invites `invited`; its id.
    pub(super) fn create_room(&self, encrypted: bool, invited: &[&str]) -> String {
        let mut body = json!({"preset": "private_chat", "invite": invited});
        if encrypted {
            body["initial_state"] = json!([{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]);
        }
        api(&self.server, "POST", "/_matrix/client/v3/createRoom", &self.token, &body)["room_id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    /// Waits until every user of `members` joined `room`.
    pub(super) fn wait_for_members(&self, room: &str, members: &[&str]) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let joined = api(
                &self.server,
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

    /// Uploads `bytes` as `content_type`; the `mxc://` URI.
    pub(super) fn upload(&self, bytes: &[u8], content_type: &str) -> String {
        let (status, answer) = http_raw(
            &self.server,
            "POST",
            "/_matrix/media/v3/upload",
            Some(&self.token),
            content_type,
            bytes,
        );
        assert_eq!(status, 200, "upload: {answer}");
        let answer: Value = serde_json::from_str(&answer).expect("JSON");
        answer["content_uri"].as_str().expect("a content URI").to_owned()
    }

    /// The raw text of the room's newest `limit` events, as `/messages` gives them to this user.
    pub(super) fn messages(&self, room: &str) -> String {
        let path = format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100");
        let (status, answer) =
            http_raw(&self.server, "GET", &path, Some(&self.token), "application/json", b"");
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// Posts an `m.room.message` with `content`.
    pub(super) fn post(&self, room: &str, content: &Value) {
        let txn = unique("txn");
        api(
            &self.server,
            "PUT",
            &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"),
            &self.token,
            content,
        );
    }
}

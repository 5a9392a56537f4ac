//! Who may talk to the daemon, and how much: the socket's mode and owner, one daemon per data
//! directory, other users refused, request lines and clients capped, TCP behind a token.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::process::Command;

use clm_bridge::api::types::{NoParams, Status};
use clm_bridge::api::{Client, ClientError, ErrorCode};
use serde_json::{Value, json};

use super::ApiNode;
use crate::bridge_chats::PASSPHRASE;
use crate::daemons::{Daemon, RUNNING};
use crate::support::bridge_binary;

/// A raw connection: lines in, lines out.
struct Raw {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Raw {
    fn connect(node: &ApiNode) -> Raw {
        let stream = UnixStream::connect(node.socket()).expect("connect");
        stream.set_read_timeout(Some(crate::daemons::HANG_GUARD)).expect("timeout");
        Raw { reader: BufReader::new(stream.try_clone().expect("clone")), writer: stream }
    }

    fn send(&mut self, line: &[u8]) {
        self.writer.write_all(line).expect("write");
        self.writer.write_all(b"\n").expect("write");
    }

    /// Sends a line the daemon may stop reading halfway (and close the connection on).
    fn send_unread(&mut self, line: &[u8]) {
        let _ = self.writer.write_all(line).and_then(|()| self.writer.write_all(b"\n"));
    }

    /// The next line as JSON, or `None` once the daemon closed the connection.
    fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("a JSON line")),
        }
    }
}

fn code(reply: &Value) -> i64 {
    reply["error"]["code"].as_i64().unwrap_or_else(|| panic!("not an error: {reply}"))
}

#[test]
fn the_socket_is_private_one_daemon_serves_a_data_dir_and_a_stale_socket_is_replaced() {
    let node = ApiNode::new("api_one_daemon", "alice", "");
    let daemon = node.start();
    let metadata = std::fs::metadata(node.socket()).expect("the socket");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let second = node.node.spawn_daemon().finish();
    assert_eq!(second.code, Some(2), "{}", second.stderr);
    // The run lock refuses it before its API would (it names the first one's PID).
    assert!(second.stderr.contains("another") && second.stderr.contains("PID"), "{}", second.stderr);
    // The first one is unharmed.
    node.client().call::<_, Status>("status", &NoParams {}).expect("still served");
    // Killed, it leaves its socket behind: the next daemon takes its place.
    daemon.kill9();
    assert!(node.socket().exists(), "a killed daemon cannot remove its socket");
    let _daemon = node.start();
    node.client().call::<_, Status>("status", &NoParams {}).expect("served again");
}

#[test]
fn another_users_process_is_refused() {
    let node = ApiNode::new("api_other_uid", "alice", "");
    // The daemon runs as nobody; this test (root) is another user to it, one whom file modes
    // do not stop: only the daemon's uid check can.
    let owned =
        Command::new("chown").args(["-R", "65534:65534"]).arg(&node.node.home.dir).status().expect("chown");
    assert!(owned.success());
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bridge_binary())
        .arg("--data-dir")
        .arg(&node.node.home.data)
        .arg("--config")
        .arg(&node.node.config)
        .args(["run", "--json"])
        .env_clear()
        .env("CLM_BRIDGE_PASSPHRASE", PASSPHRASE)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(RUNNING);
    node.wait_for_socket();
    let mut raw = Raw::connect(&node);
    // The daemon refuses the uid as it accepts, then closes: the request may meet a closed
    // socket (regression: `another_users_process_is_refused` failed with a broken pipe).
    raw.send_unread(br#"{"jsonrpc":"2.0","id":1,"method":"status"}"#);
    let reply = raw.read().expect("a refusal");
    assert_eq!(code(&reply), ErrorCode::Forbidden.code(), "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("uid 65534"), "{reply}");
    assert!(raw.read().is_none(), "and the connection is closed");
    // Nobody else's process even reaches a root daemon's socket: the data dir is 0700.
    let other = ApiNode::new("api_other_uid", "bob", "");
    let _root_daemon = other.start();
    let status = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bridge_binary())
        .arg("--data-dir")
        .arg(&other.node.home.data)
        .args(["api", "call", "status"])
        .env_clear()
        .output()
        .expect("runs as nobody");
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("no daemon serves"), "{status:?}");
    daemon.stop();
}

#[test]
fn bad_requests_are_answered_with_their_codes_and_the_connection_stays() {
    let node = ApiNode::new("api_bad_requests", "alice", "");
    let _daemon = node.start();
    let mut raw = Raw::connect(&node);
    raw.send(b"{nope");
    assert_eq!(code(&raw.read().unwrap()), -32700);
    raw.send(br#"{"jsonrpc":"2.0","id":2,"method":"no.such"}"#);
    assert_eq!(code(&raw.read().unwrap()), -32601);
    raw.send(br#"{"jsonrpc":"2.0","id":3,"method":"chat.show","params":{"chta":"Family"}}"#);
    let reply = raw.read().unwrap();
    assert_eq!(code(&reply), -32602);
    assert!(reply["error"]["message"].as_str().unwrap().contains("chta"), "{reply}");
    raw.send(br#"{"jsonrpc":"2.0","id":4,"method":"chat.show","params":{"chat":"Famliy"}}"#);
    let reply = raw.read().unwrap();
    assert_eq!(code(&reply), ErrorCode::NoSuchChat.code());
    assert_eq!(reply["error"]["data"]["kind"], "no_such_chat");
    // A notification gets no answer; a batch gets one array, in order.
    raw.send(br#"{"jsonrpc":"2.0","method":"identity"}"#);
    raw.send(br#"[{"jsonrpc":"2.0","id":"a","method":"identity"},{"jsonrpc":"2.0","id":"b","method":"chat.list"}]"#);
    let batch = raw.read().unwrap();
    assert_eq!(
        (batch[0]["id"].clone(), batch[0]["result"]["name"].clone()),
        (json!("a"), json!("alice")),
        "{batch}"
    );
    assert_eq!(batch[1]["id"], "b");
}

#[test]
fn request_lines_and_clients_are_capped() {
    let node = ApiNode::new("api_caps", "alice", "[api]\nmax_clients = 2\nmax_request_bytes = 4096\n");
    let _daemon = node.start();
    // Two clients are served (raw is one); a third is told why it is not. Each of the two is
    // seen served first: a connection that just closed (the start's readiness check) may hold
    // its place for a moment.
    let mut raw = served(&node);
    let second = served(&node);
    let mut third = Raw::connect(&node);
    let reply = third.read().expect("a refusal");
    assert_eq!(code(&reply), ErrorCode::TooManyClients.code(), "{reply}");
    drop(second);
    // A line over the cap ends the connection, after saying so.
    let mut long = b"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"identity\",\"params\":{\"x\":\"".to_vec();
    long.extend(std::iter::repeat_n(b'x', 5000));
    long.extend(b"\"}}");
    raw.send_unread(&long);
    assert_eq!(code(&raw.read().unwrap()), ErrorCode::RequestTooLarge.code());
    assert!(raw.read().is_none(), "and the connection is closed");
    // Room again for a client.
    let deadline = std::time::Instant::now() + crate::daemons::HANG_GUARD;
    loop {
        let mut client = node.client();
        match client.call::<_, Status>("status", &NoParams {}) {
            Ok(_) => break,
            Err(ClientError::Rpc(error)) if error.kind() == Some(ErrorCode::TooManyClients) => {}
            Err(error) => panic!("{error}"),
        }
        assert!(std::time::Instant::now() < deadline, "no room for a client");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A raw connection the daemon answers (one it turned away for want of room is tried again).
fn served(node: &ApiNode) -> Raw {
    let deadline = std::time::Instant::now() + crate::daemons::HANG_GUARD;
    loop {
        let mut raw = Raw::connect(node);
        raw.send(br#"{"jsonrpc":"2.0","id":1,"method":"identity","params":{}}"#);
        let reply = raw.read().expect("an answer");
        if reply["error"]["code"].as_i64() != Some(ErrorCode::TooManyClients.code()) {
            assert!(reply["result"].is_object(), "{reply}");
            return raw;
        }
        assert!(std::time::Instant::now() < deadline, "never served");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

#[test]
fn tcp_serves_only_after_auth_with_the_token_of_a_private_file() {
    let token = "tcp token for the e2e test 0123456789";
    let dir = crate::support::scratch_dir("api_tcp/token");
    let file = dir.join("token");
    std::fs::write(&file, format!("{token}\n")).expect("token file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let port = free_port();
    let settings = format!(
        "[api]\ntcp = \"127.0.0.1:{port}\"\ntoken_file = {}\n",
        serde_json::to_string(&file).unwrap()
    );
    let node = ApiNode::new("api_tcp", "alice", &settings);
    let refused = node.node.spawn_daemon().finish();
    assert_eq!(refused.code, Some(2), "a token others may read is refused: {}", refused.stderr);
    assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let _daemon = node.start();
    let address = format!("127.0.0.1:{port}");
    let error =
        Client::connect_tcp(&address, "wrong token, long enough to be one").expect_err("a wrong token");
    assert!(matches!(&error, ClientError::Rpc(e) if e.kind() == Some(ErrorCode::Unauthorized)), "{error}");
    // Anything but auth first is refused too, and the connection closed.
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n").expect("write");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("a reply");
    assert_eq!(code(&serde_json::from_str(&line).unwrap()), ErrorCode::Unauthorized.code());
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap_or(0), 0, "closed");
    let mut client = Client::connect_tcp(&address, token).expect("the right token");
    let status: Status = client.call("status", &NoParams {}).expect("served");
    assert_eq!(status.counts.chats, 1);
}

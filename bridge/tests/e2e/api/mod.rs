//! The daemon's API end to end: a real `clm-bridge run` serving `<data dir>/api.sock`, driven
//! by `clm_bridge::api::Client` (the client bots use), by the CLI, by bots and by raw sockets.
//! Pointers arrive as files in a drop folder, written the way the drop adapter expects (a
//! hidden temporary file renamed into place). Waits have hang guards only.

mod cli;
mod events;
mod socket;
mod spec;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clm_bridge::api::Client;
use clm_core::{Clm202Chat, Pointer};

use crate::daemons::{Daemon, HANG_GUARD, Node};

/// The chat every API test bridge has, and its secret (clm202: cheap to encode in bulk).
pub const CHAT: &str = "Family";
pub const SECRET: &str = "family secret for the api tests";

/// A bridge with an inbox folder (`drop.inbox`, where tests drop pointers) and an outbox folder
/// (`drop.outbox`, the chat's route), its settings plus `extra`.
pub struct ApiNode {
    pub node: Node,
    pub inbox: PathBuf,
    pub outbox: PathBuf,
}

impl ApiNode {
    pub fn new(test: &str, name: &str, extra: &str) -> ApiNode {
        let root = crate::support::scratch_dir(&format!("{test}/{name}-folders"));
        let (inbox, outbox) = (root.join("inbox"), root.join("outbox"));
        std::fs::create_dir_all(&inbox).expect("inbox");
        std::fs::create_dir_all(&outbox).expect("outbox");
        let quoted = |path: &Path| serde_json::to_string(path.to_str().expect("UTF-8")).expect("a string");
        let settings = format!(
            "[drop.inbox]\npath = {}\npoll_interval = \"100ms\"\n[drop.outbox]\npath = {}\npoll_interval = \"100ms\"\n\
             [chats.{CHAT}]\nroutes = [\"drop.outbox\"]\n{extra}",
            quoted(&inbox),
            quoted(&outbox)
        );
        let node = Node::with_settings(test, name, &settings);
        node.add_chat(CHAT, "clm202", SECRET);
        ApiNode { node, inbox, outbox }
    }

    /// The daemon, once its socket answers.
    pub fn start(&self) -> Daemon {
        let daemon = self.node.start_daemon();
        self.wait_for_socket();
        daemon
    }

    pub fn socket(&self) -> PathBuf {
        self.node.home.data.join("api.sock")
    }

    pub fn wait_for_socket(&self) {
        let deadline = Instant::now() + HANG_GUARD;
        while Client::connect(self.socket()).is_err() {
            assert!(Instant::now() < deadline, "the API socket does not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self) -> Client {
        let mut client = Client::connect(self.socket()).expect("the API answers");
        client.set_timeout(Some(HANG_GUARD)).expect("a read timeout");
        client
    }

    /// Drops a file holding a pointer of [`CHAT`] from `from` saying `text`.
    pub fn drop_message(&self, from: &str, text: &str, name: &str) {
        drop_pointer(&self.inbox, &pointer(from, text), name);
    }
}

/// A clm202 pointer of [`CHAT`]; the nonce is the text, so each text makes its own pointer.
pub fn pointer(from: &str, text: &str) -> String {
    let epoch =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let chat = Clm202Chat::new(SECRET, CHAT);
    Pointer::Clm202(chat.encode(from, text, epoch, text).expect("encodes")).to_json()
}

/// Writes `text` into `folder` as `name.json`, through a hidden temporary file.
pub fn drop_pointer(folder: &Path, text: &str, name: &str) {
    let temporary = folder.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).expect("write the pointer");
    std::fs::rename(&temporary, folder.join(format!("{name}.json"))).expect("rename it into place");
}

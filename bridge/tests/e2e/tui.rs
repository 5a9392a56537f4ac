//! `clm-bridge tui` as a person uses it, in a real terminal (tmux, on a server socket of the
//! test's own): two bridges share a drop folder and a chat, both daemons run; in A's terminal
//! UI the chat is picked, a message typed and sent with Enter, B's daemon shows it, B's reply
//! (sent with the CLI) appears on A's screen, q gives the shell back. Waits poll the pane or
//! the daemon with hang guards only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use clm_bridge::api::Client;

use crate::daemons::{HANG_GUARD, Node};
use crate::support::{bridge_binary, scratch_dir};

const CHAT: &str = "Family";
const SECRET: &str = "family secret for the tui test";
/// The shell's prompt in the pane (which tmux shows without its trailing space).
const PROMPT: &str = "tui-test$";

/// A tmux server of the test's own, with one session 120x40 running a plain shell; killed when
/// dropped. Its socket lives in a short temporary directory, not the test's scratch dir: a
/// Unix socket's path holds at most 107 bytes, and a checkout's path can be long
/// (regression: `tmux_socket_path_too_long_in_a_deep_checkout`, the CI of stop 17).
struct Tmux {
    socket: PathBuf,
    _socket_dir: tempfile::TempDir,
}

impl Tmux {
    fn start(dir: &Path) -> Tmux {
        let socket_dir =
            tempfile::Builder::new().prefix("clm-tui-").tempdir_in("/tmp").expect("a temporary dir");
        let tmux = Tmux { socket: socket_dir.path().join("tmux.sock"), _socket_dir: socket_dir };
        let shell = format!(
            "env -i PATH=/usr/bin:/bin HOME={} TERM=xterm-256color PS1='{PROMPT} ' sh",
            dir.display()
        );
        tmux.run(&["new-session", "-d", "-x", "120", "-y", "40", "-s", "tui", &shell]);
        tmux
    }

    fn command(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-u").arg("-S").arg(&self.socket).args(args).output().expect("tmux runs")
    }

    fn run(&self, args: &[&str]) {
        let output = self.command(args);
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Types `text` literally, then presses Enter.
    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "tui", "-l", text]);
        self.keys(&["Enter"]);
    }

    /// Presses keys by tmux's names (`Enter`, `Tab`, `j`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// A left click at (`column`, `row`), counted from 1: the SGR mouse report a terminal sends.
    fn click(&self, column: u16, row: u16) {
        for end in ['M', 'm'] {
            self.run(&["send-keys", "-t", "tui", "-l", &format!("\u{1b}[<0;{column};{row}{end}")]);
        }
    }

    fn screen(&self) -> String {
        let output = self.command(&["capture-pane", "-p", "-t", "tui"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until the pane shows something `done` accepts.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "waiting for {what}; the pane shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        self.command(&["has-session", "-t", "tui"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]);
    }
}

/// A bridge on the shared `folder` with the chat routed there, and a chat of its own.
fn node(test: &str, name: &str, folder: &Path) -> Node {
    let settings = format!(
        "[drop.shared]\npath = {}\npoll_interval = \"100ms\"\n[chats.{CHAT}]\nroutes = [\"drop.shared\"]\n",
        serde_json::to_string(folder.to_str().expect("UTF-8")).expect("a string")
    );
    let node = Node::with_settings(test, name, &settings);
    node.add_chat(CHAT, "clm202", SECRET);
    node
}

fn wait_for_socket(node: &Node) {
    let deadline = Instant::now() + HANG_GUARD;
    while Client::connect(node.home.data.join("api.sock")).is_err() {
        assert!(Instant::now() < deadline, "the API socket does not answer");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tui_without_a_daemon_says_to_start_one_and_exits_2() {
    let folder = scratch_dir("tui_without_a_daemon/folder");
    let alone = node("tui_without_a_daemon", "alice", &folder);
    let output = alone.cli(&["tui"]).run();
    output.assert_code(2);
    assert!(
        output.stderr.contains("no daemon runs") && output.stderr.contains("`clm-bridge run`"),
        "{output:?}"
    );
    assert!(output.stdout.is_empty(), "nothing but the hint: {output:?}");
}

#[test]
fn tui_sends_what_is_typed_shows_the_reply_and_gives_the_terminal_back() {
    let test = "tui_sends_what_is_typed_shows_the_reply_and_gives_the_terminal_back";
    let root = scratch_dir(test);
    let folder = root.join("shared");
    std::fs::create_dir(&folder).expect("the shared folder");
    let alice = node(test, "alice", &folder);
    let bob = node(test, "bob", &folder);
    // A chat of Alice's alone, listed before the shared one: the shared one must be picked.
    alice.add_chat("Book club", "clm202", "book club secret");
    let _alice_daemon = alice.start_daemon();
    let mut bob_daemon = bob.start_daemon();
    wait_for_socket(&alice);
    wait_for_socket(&bob);

    let tmux = Tmux::start(&root);
    tmux.wait_for("the shell", |screen| screen.contains(PROMPT));
    tmux.type_line(&format!(
        "{} --data-dir {} --config {} tui",
        bridge_binary().display(),
        alice.home.data.display(),
        alice.config.display()
    ));
    tmux.wait_for("the chat list and the health", |screen| {
        screen.contains("Book club") && screen.contains(CHAT) && screen.contains("drop.shared: up")
    });
    // Pick the chat (j), go to the compose line (Tab), type, send (Enter).
    tmux.keys(&["j", "Tab"]);
    tmux.wait_for("the chat picked", |screen| screen.contains(&format!(" {CHAT} ─")));
    tmux.type_line("hello from the terminal UI");
    bob_daemon.wait_for_texts(&["hello from the terminal UI"]);
    tmux.wait_for("the message delivered", |screen| {
        screen.contains("alice: hello from the terminal UI [delivered]")
    });

    bob.cli(&["send", "--chat", CHAT, "hi back from bob"]).succeeds();
    tmux.wait_for("the reply", |screen| screen.contains("bob: hi back from bob"));

    // A click on the other chat (the list's first row) picks it, one on the second row picks
    // the shared chat again; a smaller terminal is drawn anew at its size.
    tmux.click(3, 2);
    tmux.wait_for("the other chat clicked", |screen| screen.contains(" Book club ─"));
    tmux.click(3, 3);
    tmux.wait_for("the shared chat clicked", |screen| {
        screen.contains(&format!(" {CHAT} ─")) && screen.contains("bob: hi back from bob")
    });
    tmux.run(&["resize-window", "-t", "tui", "-x", "90", "-y", "24"]);
    tmux.wait_for("the screen drawn at 90x24", |screen| {
        let lines: Vec<&str> = screen.lines().collect();
        lines.len() == 24
            && lines[23].contains("drop.shared: up")
            && lines.iter().all(|line| line.chars().count() <= 90)
            && screen.contains("bob: hi back from bob")
    });

    // q (the list has the focus after a click): the shell again, the UI gone, exit status 0.
    tmux.keys(&["q"]);
    let screen =
        tmux.wait_for("the shell back", |screen| !screen.contains("Chats") && screen.contains(PROMPT));
    assert!(!screen.contains("hi back from bob"), "{screen}");
    tmux.type_line("echo tui exited with $?");
    tmux.wait_for("the exit status", |screen| screen.contains("tui exited with 0"));
    tmux.type_line("exit");
    let deadline = Instant::now() + HANG_GUARD;
    while tmux.alive() {
        assert!(Instant::now() < deadline, "the tmux session does not end:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(bob_daemon.stop().code, Some(0));
}

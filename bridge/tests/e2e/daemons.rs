//! Bridges as child processes for end-to-end tests: a [`Node`] (data dir + settings file) and
//! its daemon (`run --json`) as a [`Daemon`] whose output is collected by two threads. Waits
//! poll what the daemon printed; their time limits are hang guards only, never what a test
//! asserts.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bridge_chats::{Home, PASSPHRASE, json_lines};
use crate::support::{Bridge, bridge_binary};

/// Hang guard for anything a daemon is waited for.
pub const HANG_GUARD: Duration = Duration::from_secs(180);
/// What the daemon logs once every transport is started.
pub const RUNNING: &str = "clm-bridge is running";

/// A bridge with its own data dir and settings file.
pub struct Node {
    /// Its data dir and scratch space.
    pub home: Home,
    /// Its settings file.
    pub config: PathBuf,
}

impl Node {
    /// A bridge `name` (initialised with that sender name) under scratch dir `test/name`, with
    /// `settings` as its settings file.
    pub fn with_settings(test: &str, name: &str, settings: &str) -> Node {
        let home = Home::new(&format!("{test}/{name}"));
        let config = home.dir.join("config.toml");
        std::fs::write(&config, settings).expect("write settings");
        let node = Node { home, config };
        node.cli(&["init", "--name", name]).succeeds();
        node
    }

    /// A command of this bridge, with its settings.
    pub fn cli(&self, args: &[&str]) -> Bridge {
        self.home.run(args).env("CLM_BRIDGE_CONFIG", self.config.to_str().expect("UTF-8 path"))
    }

    pub fn add_chat(&self, name: &str, format: &str, secret: &str) {
        self.cli(&["chat", "add", name, "--format", format, "--secret-env", "CLM_E2E_CHAT_SECRET"])
            .env("CLM_E2E_CHAT_SECRET", secret)
            .succeeds();
    }

    /// `(chat, direction, from, text)` of every message in history.
    pub fn history(&self) -> BTreeSet<(String, String, String, String)> {
        json_lines(&self.cli(&["history", "--json"]).succeeds())
            .iter()
            .map(|m| (text(m, "chat"), text(m, "direction"), text(m, "from"), text(m, "text")))
            .collect()
    }

    /// Messages in history, as `chat list --json` counts them.
    pub fn message_count(&self) -> u64 {
        json_lines(&self.cli(&["chat", "list", "--json"]).succeeds())
            .iter()
            .map(|chat| chat["messages"].as_u64().expect("messages count"))
            .sum()
    }

    /// Checks that no file under the data dir (the store, its WAL, the transports' state)
    /// holds any of `needles` (names, addresses, texts, secrets) or the vault passphrase in
    /// the clear: a stolen data dir tells sizes and counts, nothing else (issue 10, section 3).
    pub fn assert_nothing_readable(&self, needles: &[&str]) {
        let mut files = Vec::new();
        let mut folders = vec![self.home.data.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("the data dir lists") {
                let entry = entry.expect("an entry");
                let kind = entry.file_type().expect("its type");
                if kind.is_dir() {
                    folders.push(entry.path());
                } else if kind.is_file() {
                    files.push(entry.path());
                }
            }
        }
        assert!(files.iter().any(|f| f.ends_with("history.sqlite3")), "the store is there: {files:?}");
        for file in &files {
            let bytes = std::fs::read(file).expect("a data file reads");
            for needle in needles.iter().chain([&PASSPHRASE]) {
                assert!(
                    !bytes.windows(needle.len()).any(|window| window == needle.as_bytes()),
                    "{} holds {needle:?} in the clear",
                    file.display()
                );
            }
        }
    }

    /// `run --json`, once it says it is running.
    pub fn start_daemon(&self) -> Daemon {
        let daemon = self.spawn_daemon();
        daemon.wait_for_log(RUNNING);
        daemon
    }

    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with_env(&[])
    }

    /// `run --json` with these variables in its environment too.
    pub fn spawn_daemon_with_env(&self, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(bridge_binary());
        command
            .env_clear()
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(&self.home.data)
            .arg("--config")
            .arg(&self.config)
            .args(["run", "--json"])
            .env("CLM_BRIDGE_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Daemon::spawn(command)
    }
}

pub fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("no {key} in {value}")).to_owned()
}

/// A running `clm-bridge run`, its output collected by two threads.
pub struct Daemon {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// How a daemon ended and everything it printed.
#[derive(Debug)]
pub struct Ended {
    /// Exit code.
    pub code: Option<i32>,
    /// Its stdout as JSON lines.
    pub lines: Vec<Value>,
    /// Its stderr.
    pub stderr: String,
}

pub fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock().expect("not poisoned").push_str(&line);
            line.clear();
        }
    })
}

impl Daemon {
    pub fn spawn(mut command: Command) -> Daemon {
        let mut child = command.spawn().expect("the daemon starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped"), Arc::clone(&stdout)),
            collect(child.stderr.take().expect("piped"), Arc::clone(&stderr)),
        ];
        Daemon { child, stdout, stderr, readers }
    }

    /// Waits until `done(stdout, stderr)` holds; panics (with both) if the daemon exits first
    /// or the hang guard expires.
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let (stdout, stderr) =
                (self.stdout.lock().expect("ok").clone(), self.stderr.lock().expect("ok").clone());
            if done(&stdout, &stderr) {
                return;
            }
            let exited = self.child.try_wait().expect("wait works");
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "waiting for {what}: daemon {exited:?}; stdout: {stdout}; stderr: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has printed on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("ok").clone()
    }

    pub fn wait_for_log(&self, text: &str) {
        // `wait_until` needs `&mut` only for try_wait; a clone of the handles would do, but a
        // log line is quick to come: poll here.
        let deadline = Instant::now() + HANG_GUARD;
        while !self.stderr.lock().expect("ok").contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in {}", self.stderr.lock().expect("ok"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the daemon printed messages with all of `texts`.
    pub fn wait_for_texts(&mut self, texts: &[&str]) {
        self.wait_until(&format!("messages {texts:?}"), |stdout, _| {
            let shown: BTreeSet<String> = json_lines(stdout).iter().map(|m| text(m, "text")).collect();
            texts.iter().all(|t| shown.contains(*t))
        });
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGTERM (or `signal`), then everything it printed once it exited.
    pub fn stop_with(mut self, signal: &str) -> Ended {
        self.signal(signal);
        self.finish()
    }

    pub fn stop(self) -> Ended {
        self.stop_with("TERM")
    }

    /// SIGKILL, then everything it had printed.
    pub fn kill9(mut self) -> Ended {
        self.child.kill().expect("SIGKILL");
        self.finish()
    }

    pub fn finish(&mut self) -> Ended {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon does not exit: {}",
                self.stderr.lock().expect("ok")
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            reader.join().expect("reader thread");
        }
        let stdout = self.stdout.lock().expect("ok").clone();
        Ended {
            code: status.code(),
            lines: json_lines(&stdout),
            stderr: self.stderr.lock().expect("ok").clone(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The texts of daemon lines, sorted, with their chat and sender.
pub fn shown(lines: &[Value]) -> Vec<(String, String, String)> {
    let mut shown: Vec<_> =
        lines.iter().map(|m| (text(m, "chat"), text(m, "from"), text(m, "text"))).collect();
    shown.sort();
    shown
}

pub fn triple(chat: &str, from: &str, text: &str) -> (String, String, String) {
    (chat.to_owned(), from.to_owned(), text.to_owned())
}

pub fn entry(chat: &str, direction: &str, from: &str, text: &str) -> (String, String, String, String) {
    (chat.to_owned(), direction.to_owned(), from.to_owned(), text.to_owned())
}

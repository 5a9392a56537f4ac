//! `clm-bridge demo`: the whole product on a fresh machine, offline, in seconds. Alice and Bob
//! each get a bridge in a temporary directory (own data dir, own vault passphrase) and share a
//! drop folder and a native chat; Bob's daemon (`run`, a child process of this very binary)
//! watches the folder while Alice `send`s a few messages, and Bob's lines are shown as they
//! appear.
//!
//! Every step is a real command of this binary, so the demo exercises exactly what a user
//! runs. Secrets (the two passphrases and the chat secret) are generated here and handed to the
//! children in environment variables only, never on a command line. The temporary directory is
//! removed at the end, whatever happens: SIGINT and SIGTERM only raise a flag that every wait
//! of the demo watches, so an interrupted demo stops its children, removes the directory
//! (vaults included) and exits 130.

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::app::PASSPHRASE_ENV;
use crate::commands::Outcome;
use crate::error::Error;

/// What Alice sends.
pub const MESSAGES: [&str; 3] = [
    "Dinner at 7? 🍝",
    "Bring the photos from the trip, please.",
    "Only pointers went through the folder: the words never left our machines.",
];

/// The chat both of them add.
const CHAT: &str = "Family";
/// The environment variable `chat add` reads the chat secret from.
const CHAT_SECRET_ENV: &str = "CLM_DEMO_CHAT_SECRET";
/// The drop section both configs name.
const DROP: &str = "shared";
/// How long Bob's daemon gets to start, and to show each message: generous, as a hang guard
/// on a loaded machine (it takes well under a second here).
const PATIENCE: Duration = Duration::from_secs(60);
/// How long Bob's daemon gets to exit after SIGTERM.
const STOP_PATIENCE: Duration = Duration::from_secs(20);
/// How often a wait looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(20);

/// Raised by SIGINT or SIGTERM; every wait of the demo watches it.
#[derive(Debug, Clone)]
struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// From now on, SIGINT and SIGTERM raise the flag instead of ending the process (which
    /// would leave the temporary directory behind).
    fn install() -> Result<Interrupt, Error> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&flag)).map_err(Error::Runtime)?;
        }
        Ok(Interrupt(flag))
    }

    fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

fn interrupted() -> Error {
    Error::Interrupted("the demo stopped its daemon and removed its temporary directories".into())
}

/// Runs the demo; narration goes to `out`.
pub fn run(out: &mut dyn Write) -> Result<Outcome, Error> {
    let interrupt = Interrupt::install()?;
    match run_steps(out, &interrupt) {
        // A child killed by the same Ctrl-C fails its step first: the interrupt is the cause.
        Err(_) if interrupt.raised() => Err(interrupted()),
        other => other,
    }
}

fn run_steps(out: &mut dyn Write, interrupt: &Interrupt) -> Result<Outcome, Error> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| demo_error(format!("cannot find this program: {e}")))?;
    let workspace = Workspace::create()?;
    let shared = workspace.path.join("shared-folder");
    std::fs::create_dir(&shared)
        .map_err(|e| demo_error(format!("cannot create {}: {e}", shared.display())))?;
    let alice = Person::new("alice", &exe, &workspace.path, &shared)?.watching(interrupt);
    let bob = Person::new("bob", &exe, &workspace.path, &shared)?.watching(interrupt);
    let chat_secret = random_hex(24)?;
    let mut say = Narrator { out };

    say.line("clm-bridge demo: Alice and Bob talk through a shared folder, offline.")?;
    say.line(&format!("Everything lives in {} (removed at the end).", workspace.path.display()))?;
    say.line("")?;

    say.line("[1/5] Alice and Bob each set up a bridge: own data dir, own vault passphrase.")?;
    for person in [&alice, &bob] {
        say.command(person, &["init", "--name", person.name])?;
        person.cli(&["init", "--name", person.name]).succeeds("init")?;
    }

    say.line(&format!(
        "[2/5] Both add the chat {CHAT:?} (native v2 format) with the same secret; their settings route it to the shared folder."
    ))?;
    for person in [&alice, &bob] {
        let args = ["chat", "add", CHAT, "--format", "native2", "--secret-env", CHAT_SECRET_ENV];
        say.command(person, &args)?;
        person.cli(&args).env(CHAT_SECRET_ENV, &chat_secret).succeeds("chat add")?;
    }

    say.line("[3/5] Bob starts his daemon; it watches the shared folder.")?;
    say.command(&bob, &["run"])?;
    let mut daemon = Daemon::start(&bob, interrupt)?;
    let deadline = Instant::now() + PATIENCE;
    daemon.wait_for(
        &mut say,
        deadline,
        |event| matches!(event, Event::Log(line) if line.contains("clm-bridge is running")),
    )?;

    send_messages(&mut say, &alice, &mut daemon)?;
    show_the_folder_and_stop(&mut say, daemon, &shared)?;
    say.line("")?;
    say.line(&format!(
        "Done in {:.1} s: Bob's daemon showed all {} messages Alice sent.",
        started.elapsed().as_secs_f64(),
        MESSAGES.len()
    ))?;
    Ok(Outcome::Done)
}

/// Step 4: Alice sends each message; Bob's daemon shows it.
fn send_messages(say: &mut Narrator<'_>, alice: &Person, daemon: &mut Daemon) -> Result<(), Error> {
    say.line("[4/5] Alice sends her messages; each becomes one pointer file in the folder.")?;
    for message in MESSAGES {
        say.command(alice, &["send", "--chat", CHAT, message])?;
        let sent = alice.cli(&["send", "--chat", CHAT, message]).succeeds("send")?;
        for line in sent.stderr.lines() {
            say.line(&format!("        {}", line.trim_start_matches("clm-bridge: ")))?;
        }
        let deadline = Instant::now() + PATIENCE;
        let wanted = format!(" {CHAT} alice: {message}");
        daemon.wait_for(
            say,
            deadline,
            |event| matches!(event, Event::Out(line) if line.ends_with(&wanted)),
        )?;
    }
    Ok(())
}

/// Step 5: the pointer files in the folder, then Bob's daemon stopped.
fn show_the_folder_and_stop(say: &mut Narrator<'_>, mut daemon: Daemon, shared: &Path) -> Result<(), Error> {
    say.line("[5/5] What travelled through the folder: pointers only.")?;
    for file in pointer_files(shared)? {
        let text = std::fs::read_to_string(shared.join(&file)).unwrap_or_default();
        say.line(&format!("      {file}: {}", abbreviated(text.trim(), 72)))?;
    }
    match daemon.stop(say)? {
        Stopped::Cleanly => {
            say.line("      Bob stopped his daemon (SIGTERM): it stored everything and exited cleanly.")?;
        }
        Stopped::Killed => {
            // Everything it showed was committed before it was shown.
            say.line("      Bob's daemon was stopped with SIGKILL (no `kill` program to send SIGTERM).")?;
        }
        Stopped::Failed(status) => {
            return Err(demo_error(format!("Bob's daemon did not stop cleanly: {status}")));
        }
    }
    Ok(())
}

fn demo_error(message: impl Into<String>) -> Error {
    Error::Demo(message.into())
}

/// Writes the narration.
struct Narrator<'a> {
    out: &'a mut dyn Write,
}

impl Narrator<'_> {
    fn line(&mut self, text: &str) -> Result<(), Error> {
        writeln!(self.out, "{text}").and_then(|()| self.out.flush()).map_err(Error::Output)
    }

    /// Shows a command as the person would type it (without the demo's --data-dir and
    /// --config, which point into the temporary directory).
    fn command(&mut self, person: &Person, args: &[&str]) -> Result<(), Error> {
        let shown: Vec<String> = args.iter().map(|arg| shell_quoted(arg)).collect();
        self.line(&format!("  {:>5} $ clm-bridge {}", person.name, shown.join(" ")))
    }
}

fn shell_quoted(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=".contains(c)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

fn abbreviated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The temporary directory, private to this user and removed when dropped.
struct Workspace {
    path: PathBuf,
}

impl Workspace {
    fn create() -> Result<Workspace, Error> {
        let path = std::env::temp_dir().join(format!("clm-bridge-demo-{}", random_hex(6)?));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).map_err(|e| demo_error(format!("cannot create {}: {e}", path.display())))?;
        Ok(Workspace { path })
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).map_err(|e| Error::Random(e.to_string()))?;
    Ok(clm_core::hex::encode(&random))
}

/// One side of the conversation: a data dir, a settings file, a passphrase.
struct Person {
    name: &'static str,
    exe: PathBuf,
    data_dir: PathBuf,
    config: PathBuf,
    passphrase: String,
    interrupt: Option<Interrupt>,
}

impl Person {
    fn new(name: &'static str, exe: &Path, workspace: &Path, shared: &Path) -> Result<Person, Error> {
        let config = workspace.join(format!("{name}.toml"));
        let settings = format!(
            "[drop.{DROP}]\npath = {path}\npoll_interval = \"250ms\"\n\n[chats.{CHAT}]\nroutes = [\"drop.{DROP}\"]\n",
            path = toml_string(&shared.display().to_string()),
        );
        std::fs::write(&config, settings)
            .map_err(|e| demo_error(format!("cannot write {}: {e}", config.display())))?;
        Ok(Person {
            name,
            exe: exe.to_owned(),
            data_dir: workspace.join(format!("{name}-data")),
            config,
            passphrase: random_hex(16)?,
            interrupt: None,
        })
    }

    fn watching(self, interrupt: &Interrupt) -> Person {
        Person { interrupt: Some(interrupt.clone()), ..self }
    }

    /// This binary with the person's data dir, settings and passphrase, and none of the
    /// caller's own clm-bridge settings.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.exe);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CLM_BRIDGE") {
                command.env_remove(&name);
            }
        }
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env(PASSPHRASE_ENV, &self.passphrase)
            .stdin(Stdio::null());
        command
    }

    fn cli(&self, args: &[&str]) -> Step {
        Step { command: self.command(args), interrupt: self.interrupt.clone() }
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    // A JSON string is a valid TOML basic string for everything a path holds.
    serde_json::to_string(text).unwrap_or_default()
}

/// One command run to completion, or until interrupted.
struct Step {
    command: Command,
    interrupt: Option<Interrupt>,
}

/// What a step printed.
struct StepOutput {
    stderr: String,
}

impl Step {
    fn env(mut self, name: &str, value: &str) -> Step {
        self.command.env(name, value);
        self
    }

    fn succeeds(mut self, what: &str) -> Result<StepOutput, Error> {
        let cannot = |e: std::io::Error| demo_error(format!("cannot run `clm-bridge {what}`: {e}"));
        let mut child = self.command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(cannot)?;
        // Read on a thread, so a chatty child never blocks on a full pipe while we poll.
        let mut pipe = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(pipe) = pipe.as_mut() {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        });
        let status = loop {
            if self.interrupt.as_ref().is_some_and(Interrupt::raised) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(interrupted());
            }
            match child.try_wait().map_err(cannot)? {
                Some(status) => break status,
                None => std::thread::sleep(POLL),
            }
        };
        let stderr = reader.join().unwrap_or_default();
        if !status.success() {
            return Err(demo_error(format!("`clm-bridge {what}` failed ({status}): {}", stderr.trim())));
        }
        Ok(StepOutput { stderr })
    }
}

/// A line from Bob's daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// Standard output: a message.
    Out(String),
    /// Standard error: a log line.
    Log(String),
}

/// Bob's daemon, its lines arriving through a channel; killed if dropped while running.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<Event>,
    /// Recent log lines, to explain a failure.
    recent_logs: Vec<String>,
    interrupt: Interrupt,
}

impl Daemon {
    fn start(person: &Person, interrupt: &Interrupt) -> Result<Daemon, Error> {
        let mut command = person.command(&["run"]);
        command.env("RUST_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| demo_error(format!("cannot start Bob's daemon: {e}")))?;
        let (sender, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            forward_lines(stdout, sender.clone(), Event::Out);
        }
        if let Some(stderr) = child.stderr.take() {
            forward_lines(stderr, sender, Event::Log);
        }
        Ok(Daemon { child, lines, recent_logs: Vec::new(), interrupt: interrupt.clone() })
    }

    /// Shows the daemon's lines until one satisfies `wanted`; fails at `deadline` or if the
    /// daemon exits first.
    fn wait_for(
        &mut self,
        say: &mut Narrator<'_>,
        deadline: Instant,
        wanted: impl Fn(&Event) -> bool,
    ) -> Result<(), Error> {
        loop {
            if self.interrupt.raised() {
                return Err(interrupted());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match self.lines.recv_timeout(left.min(POLL)) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(self.failure(format!(
                        "Bob's daemon did not show what was expected within {} s",
                        PATIENCE.as_secs()
                    )));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
                    return Err(self.failure(format!("Bob's daemon stopped unexpectedly ({status})")));
                }
            };
            match &event {
                Event::Out(line) => say.line(&format!("    bob's daemon │ {line}"))?,
                Event::Log(line) => {
                    self.recent_logs.push(line.clone());
                    if self.recent_logs.len() > 10 {
                        self.recent_logs.remove(0);
                    }
                    say.line(&format!("       bob's log │ {}", strip_timestamp(line)))?;
                }
            }
            if wanted(&event) {
                return Ok(());
            }
        }
    }

    fn failure(&self, what: String) -> Error {
        let logs = if self.recent_logs.is_empty() {
            String::new()
        } else {
            format!("; its last log lines: {}", self.recent_logs.join(" | "))
        };
        demo_error(format!("{what}{logs}"))
    }

    /// SIGTERM, then waits for the exit (SIGKILL after [`STOP_PATIENCE`]), showing what the
    /// daemon still says.
    fn stop(&mut self, say: &mut Narrator<'_>) -> Result<Stopped, Error> {
        let pid = self.child.id().to_string();
        let terminated = Command::new("kill")
            .args(["-TERM", pid.as_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !terminated {
            // No `kill` program: stop it the hard way (everything it showed is stored already).
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + STOP_PATIENCE;
        loop {
            while let Ok(event) = self.lines.try_recv() {
                if let Event::Log(line) = event {
                    say.line(&format!("       bob's log │ {}", strip_timestamp(&line)))?;
                }
            }
            match self.child.try_wait() {
                Ok(Some(_)) if !terminated => return Ok(Stopped::Killed),
                Ok(Some(status)) if status.success() => return Ok(Stopped::Cleanly),
                Ok(Some(status)) => return Ok(Stopped::Failed(status)),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    let _ = self.child.kill();
                    return Err(demo_error(format!(
                        "Bob's daemon did not stop within {} s of SIGTERM",
                        STOP_PATIENCE.as_secs()
                    )));
                }
                Err(e) => return Err(demo_error(format!("cannot wait for Bob's daemon: {e}"))),
            }
        }
    }
}

/// How Bob's daemon ended.
enum Stopped {
    /// SIGTERM, exit status 0.
    Cleanly,
    /// SIGKILL, for want of a way to send SIGTERM.
    Killed,
    /// SIGTERM, and it exited with this status.
    Failed(ExitStatus),
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends each line of `stream` as an event, from a thread of its own.
fn forward_lines(stream: impl Read + Send + 'static, sender: mpsc::Sender<Event>, wrap: fn(String) -> Event) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_owned();
                    if sender.send(wrap(text)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// A log line without its leading RFC 3339 timestamp (the demo's reader sees the time).
fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.len() >= 20 && first.as_bytes()[4] == b'-' && first.ends_with('Z') => {
            rest.trim_start()
        }
        _ => line,
    }
}

/// The pointer files in the folder, by name.
fn pointer_files(folder: &Path) -> Result<Vec<String>, Error> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| demo_error(format!("cannot list {}: {e}", folder.display())))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| !name.starts_with('.') && Path::new(name).extension() == Some(OsStr::new("json")))
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_ready_to_paste() {
        assert_eq!(shell_quoted("--chat"), "--chat");
        assert_eq!(shell_quoted("Dinner at 7? 🍝"), "'Dinner at 7? 🍝'");
        assert_eq!(shell_quoted("it's"), "'it'\\''s'");
        assert_eq!(shell_quoted(""), "''");
    }

    #[test]
    fn long_pointers_are_abbreviated_on_a_character_boundary() {
        assert_eq!(abbreviated("short", 10), "short");
        assert_eq!(abbreviated("ééééé", 3), "ééé…");
    }

    #[test]
    fn log_timestamps_are_stripped() {
        assert_eq!(
            strip_timestamp("2025-11-21T04:40:00.123456Z  INFO clm_bridge::daemon: running"),
            "INFO clm_bridge::daemon: running"
        );
        assert_eq!(strip_timestamp("WARN no timestamp here"), "WARN no timestamp here");
    }

    #[test]
    fn each_persons_settings_route_the_chat_to_the_shared_folder() {
        let temp = tempfile::tempdir().unwrap();
        let shared = temp.path().join("a \"quoted\" \\ folder");
        let person = Person::new("alice", Path::new("/bin/true"), temp.path(), &shared).unwrap();
        let settings = crate::config::Settings::load(Some(&person.config), true).unwrap();
        assert_eq!(settings.drops[DROP].path, shared);
        assert_eq!(settings.chat_routes[CHAT][0].to_string(), format!("drop.{DROP}"));
        assert_eq!(person.passphrase.len(), 32);
    }
}

//! Running the real `clm-bridge` binary and reading what it says.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test, built by cargo together with these tests.
pub fn bridge_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_clm-bridge"))
}

/// A directory for this test's files, emptied first.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clm-e2e").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir can be created");
    dir
}

/// Path of a committed fixture file.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures").join(name)
}

/// One run of the binary, built up like a [`Command`]. The environment is cleared so that
/// nothing from the developer's shell leaks in; standard input is empty unless given.
#[derive(Debug)]
pub struct Bridge {
    command: Command,
    stdin: Vec<u8>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    /// Exit status (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

/// Starts a command line: `bridge(["decode", "--secret-env", "S"])`.
pub fn bridge<I, S>(args: I) -> Bridge
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(bridge_binary());
    command.args(args).env_clear();
    Bridge { command, stdin: Vec::new() }
}

impl Bridge {
    /// Sets an environment variable for the run.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    /// Feeds these bytes on standard input.
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    /// Runs to completion.
    pub fn run(mut self) -> Output {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bridge_binary().display()));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = std::mem::take(&mut self.stdin);
        // A thread, so a large input cannot deadlock against a full stdout pipe. The binary
        // may exit without reading all of it (a usage error): a broken pipe is fine then.
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("the binary runs to completion");
        feeder.join().expect("stdin feeder does not panic");
        Output {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Starts it without waiting (output discarded): for a run a test kills.
    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bridge_binary().display()))
    }

    /// Runs, expecting exit status 0; returns standard output.
    pub fn succeeds(self) -> String {
        let output = self.run();
        assert_eq!(output.code, Some(0), "expected success; stderr: {}", output.stderr);
        output.stdout
    }
}

impl Output {
    /// Asserts the exit status, showing stderr when it differs.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "exit status; stdout: {:?}; stderr: {:?}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Decoded lines of standard output.
    pub fn lines(&self) -> Vec<Value> {
        decoded_lines(&self.stdout)
    }
}

/// The keys of a decode line, in the order the binary writes them.
pub const LINE_KEYS: [&str; 6] = ["format", "chat", "from", "text", "epoch", "truncated"];

/// Parses decode's output: one JSON object per line, each with exactly [`LINE_KEYS`] in that
/// order.
pub fn decoded_lines(stdout: &str) -> Vec<Value> {
    assert!(stdout.is_empty() || stdout.ends_with('\n'), "output ends with a newline: {stdout:?}");
    stdout
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            let object = value.as_object().unwrap_or_else(|| panic!("not an object: {line}"));
            assert_eq!(object.len(), LINE_KEYS.len(), "keys of {line}");
            let positions: Vec<usize> = LINE_KEYS
                .iter()
                .map(|key| line.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key} in {line}")))
                .collect();
            assert!(positions.is_sorted(), "keys out of order in {line}");
            value
        })
        .collect()
}

/// Encodes with the secret in `$CLM_E2E_SECRET`; `message` goes on argv when it can, or on
/// stdin (with a newline that encode strips) when it holds a NUL, which argv cannot carry.
pub fn encode(format: &str, chat: &str, from: &str, secret: &str, extra: &[&str], message: &str) -> String {
    let mut args =
        vec!["encode", "--format", format, "--chat", chat, "--from", from, "--secret-env", "CLM_E2E_SECRET"];
    args.extend_from_slice(extra);
    let run = if message.contains('\0') {
        bridge(&args).stdin(format!("{message}\n"))
    } else {
        args.extend(["--", message]);
        bridge(&args)
    };
    let stdout = run.env("CLM_E2E_SECRET", secret).succeeds();
    let pointer =
        stdout.strip_suffix('\n').unwrap_or_else(|| panic!("no newline after the pointer: {stdout:?}"));
    assert!(!pointer.contains('\n'), "one line: {stdout:?}");
    pointer.to_owned()
}

/// Decodes `input` (on stdin) with the secret in `$CLM_E2E_SECRET`.
pub fn decode(secret: &str, extra: &[&str], input: impl AsRef<[u8]>) -> Output {
    let mut args = vec!["decode", "--secret-env", "CLM_E2E_SECRET"];
    args.extend_from_slice(extra);
    bridge(&args).env("CLM_E2E_SECRET", secret).stdin(input).run()
}

/// Parses a pointer printed by encode.
pub fn pointer_json(pointer: &str) -> Value {
    serde_json::from_str(pointer).unwrap_or_else(|e| panic!("pointer is not JSON ({e}): {pointer}"))
}

/// `(status, detail)` of each line of `check` (`email.work`, `vault`) in doctor's text output
/// (`STATUS  CHECK  DETAIL`).
pub fn doctor_lines(stdout: &str, check: &str) -> Vec<(String, String)> {
    let marker = format!("  {check}  ");
    stdout
        .lines()
        .filter_map(|line| {
            let (status, detail) = line.split_once(&marker)?;
            Some((status.trim().to_owned(), detail.trim_start().to_owned()))
        })
        .collect()
}

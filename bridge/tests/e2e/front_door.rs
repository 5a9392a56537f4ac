//! What a new user meets first: help, version, completions, the man page, the systemd unit,
//! log flags, the vault passphrase's strength, the demo's Ctrl-C, and the prompts of `chat add`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::bridge_chats::{Home, PASSPHRASE};
use crate::support::{bridge, bridge_binary, encode, scratch_dir};

#[test]
fn help_names_the_environment_the_files_and_every_exit_status() {
    let help = bridge(["--help"]).succeeds();
    for needle in [
        "CLM_BRIDGE_PASSPHRASE",
        "CLM_BRIDGE_DATA_DIR",
        "CLM_BRIDGE_CONFIG",
        "RUST_LOG",
        "~/.local/share/clm-bridge",
        "~/.config/clm-bridge/config.toml",
        "3  send: recorded, but some route could not deliver now",
        "--verbose",
        "--quiet",
        "--color <WHEN>",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    assert!(!help.contains("(later)"), "{help}");
    let send = bridge(["send", "--help"]).succeeds();
    assert!(send.contains("3 recorded as sent, but some route could not deliver now"), "{send}");
    let drop = bridge(["outbox", "drop", "--help"]).succeeds();
    assert!(drop.contains("Outbox ids, as `outbox list` shows them (not message ids)"), "{drop}");
}

#[test]
fn version_lists_the_transports_compiled_in() {
    let version = bridge(["--version"]).succeeds();
    let expected: Vec<&str> = [
        (cfg!(feature = "drop"), "drop"),
        (cfg!(feature = "email"), "email"),
        (cfg!(feature = "matrix"), "matrix"),
        (cfg!(feature = "telegram"), "telegram"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let expected = if expected.is_empty() { "none".to_owned() } else { expected.join(", ") };
    assert_eq!(version, format!("clm-bridge {}\ntransports: {expected}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_and_man_page_are_printed_for_installing() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = bridge(["completions", shell]).succeeds();
        assert!(script.contains("outbox") && script.contains("passphrase-file"), "{shell}: {script}");
    }
    bridge(["completions", "tcsh"]).run().assert_code(2);
    let page = bridge(["man"]).succeeds();
    assert!(page.contains(".TH clm-bridge 1") && page.contains("CLM-BRIDGE OUTBOX DROP"), "{page}");
}

/// The unit in packaging/, with ExecStart pointing at the binary under test.
fn unit_for_test(dir: &Path) -> (String, std::path::PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd/clm-bridge.service");
    let unit = std::fs::read_to_string(&source).expect("packaging/systemd/clm-bridge.service");
    let installed = "%h/.cargo/bin/clm-bridge";
    assert!(unit.contains(&format!("ExecStart={installed} run ")), "{unit}");
    let path = dir.join("clm-bridge.service");
    std::fs::write(&path, unit.replace(installed, &bridge_binary().display().to_string()))
        .expect("write the unit");
    (unit, path)
}

#[test]
fn systemd_user_unit_verifies_and_keeps_the_passphrase_out() {
    let dir = scratch_dir("systemd_user_unit_verifies_and_keeps_the_passphrase_out");
    let (unit, path) = unit_for_test(&dir);
    for needle in
        ["--passphrase-file %E/clm-bridge/passphrase", "Restart=on-failure", "WantedBy=default.target"]
    {
        assert!(unit.contains(needle), "unit lacks {needle:?}");
    }
    let settings: Vec<&str> = unit.lines().filter(|line| !line.starts_with('#')).collect();
    assert!(!settings.iter().any(|line| line.contains("PASSPHRASE")), "no passphrase in the unit: {unit}");
    // systemd-analyze needs a runtime directory for --user (a private one, as logind makes;
    // short, as socket paths are).
    let runtime = tempfile::Builder::new().prefix("clm-sd").tempdir().expect("runtime dir");
    let verify = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&path)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("systemd-analyze runs (scripts/test-deps.sh installs systemd)");
    // Other units installed on the machine may draw complaints of their own: only ours count.
    let complaints = String::from_utf8_lossy(&verify.stderr);
    let ours: Vec<&str> = complaints.lines().filter(|line| line.contains("clm-bridge")).collect();
    assert!(verify.status.success() && ours.is_empty(), "{}: {complaints}", verify.status);

    // The command line of ExecStart is one the binary accepts.
    let exec = settings.iter().find_map(|line| line.strip_prefix("ExecStart=")).expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().skip(1).chain(["--help"]).collect();
    bridge(args).succeeds();
}

/// A bridge with a chat routed to a drop folder of its own, and the settings that say so.
fn home_with_drop(test: &str) -> (Home, String, std::path::PathBuf) {
    let home = Home::new(test);
    let drop = home.dir.join("drop");
    std::fs::create_dir(&drop).expect("drop folder");
    let config = home.write(
        "config.toml",
        &format!("[drop.usb]\npath = {:?}\n\n[chats.Family]\nroutes = [\"drop.usb\"]\n", drop.display()),
    );
    home.run(&["--config", &config, "init", "--name", "me"]).succeeds();
    home.run(&["--config", &config, "chat", "add", "Family", "--format", "clm202", "--secret-env", "S"])
        .env("S", "family secret")
        .succeeds();
    (home, config, drop)
}

#[test]
fn log_flags_and_rust_log_apply_to_one_shot_commands() {
    let (home, config, _drop) = home_with_drop("log_flags_and_rust_log_apply_to_one_shot_commands");
    let send = |flags: &[&str], rust_log: Option<&str>| {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(flags);
        args.extend(["send", "--chat", "Family", "hello"]);
        let run = home.run(&args);
        let run = match rust_log {
            Some(filter) => run.env("RUST_LOG", filter),
            None => run,
        };
        let output = run.run();
        output.assert_code(0);
        output.stderr
    };
    let written = "pointer file written";
    let plain = send(&[], None);
    assert!(plain.contains("sent over drop.usb") && !plain.contains(written), "{plain}");
    let verbose = send(&["-vv", "--color", "never"], None);
    assert!(verbose.contains(written) && !verbose.contains('\u{1b}'), "{verbose}");
    assert!(send(&["--color=always", "-vv"], None).contains("\u{1b}["), "colours when asked");
    assert!(send(&[], Some("clm_adapters=debug")).contains(written), "RUST_LOG applies");
    assert_eq!(send(&["-q"], Some("")), "", "-q leaves only errors");
}

#[test]
fn a_weak_vault_passphrase_is_refused_unless_accepted_explicitly() {
    let home = Home::new("a_weak_vault_passphrase_is_refused_unless_accepted_explicitly");
    let refused = home.with_passphrase("hunter2", &["init", "--name", "me"]).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("too easy to guess") && refused.stderr.contains("random words"));
    assert!(refused.stderr.contains("--weak-passphrase") && !refused.stderr.contains("hunter2"));
    home.with_passphrase("hunter2", &["init", "--name", "me", "--weak-passphrase"]).succeeds();
    // Only a new vault's passphrase is judged: opening it again needs no flag.
    home.with_passphrase("hunter2", &["init", "--name", "me2"]).succeeds();

    let strong = Home::new("a_weak_vault_passphrase_is_refused_unless_accepted_explicitly-strong");
    strong.run(&["init", "--name", "me"]).succeeds();
    assert!(PASSPHRASE.len() > 20);
}

#[test]
fn demo_interrupted_removes_its_temporary_directories() {
    let tmp = scratch_dir("demo_interrupted_removes_its_temporary_directories");
    let mut demo = Command::new(bridge_binary())
        .arg("demo")
        .env_clear()
        .env("TMPDIR", &tmp)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let mut lines = BufReader::new(demo.stdout.take().expect("piped")).lines();
    let mut seen = Vec::new();
    // Once Bob's daemon runs, both data dirs (with their vaults) and the folder exist.
    for line in lines.by_ref() {
        let line = line.expect("demo output");
        seen.push(line.clone());
        if line.contains("bob's log") && line.contains("clm-bridge is running") {
            break;
        }
    }
    let workspace: Vec<_> =
        std::fs::read_dir(&tmp).expect("TMPDIR").map(|e| e.expect("entry").path()).collect();
    assert_eq!(workspace.len(), 1, "one demo directory: {workspace:?}\n{}", seen.join("\n"));
    assert!(workspace[0].join("bob-data").join("history.sqlite3").exists(), "{}", seen.join("\n"));

    let pid = demo.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill").success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = demo.wait_with_output().expect("the demo exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}\n{}", rest.join("\n"));
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("TMPDIR").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Runs `args` on a pseudo-terminal (util-linux `script`), typing `typed` into it.
fn on_a_terminal(home: &Home, args: &[&str], typed: &str) -> (Option<i32>, String) {
    let mut line =
        vec![bridge_binary().display().to_string(), "--data-dir".into(), home.data.display().to_string()];
    line.extend(args.iter().map(|arg| (*arg).to_owned()));
    let mut child = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .env("CLM_BRIDGE_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs (scripts/test-deps.sh installs bsdutils)");
    child.stdin.take().expect("piped").write_all(typed.as_bytes()).expect("type");
    let output = child.wait_with_output().expect("script exits");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_typed_chat_secret_is_asked_twice() {
    let home = Home::new("a_typed_chat_secret_is_asked_twice");
    home.init("me");
    let (code, screen) =
        on_a_terminal(&home, &["chat", "add", "Typo", "--format", "clm202"], "secret one\nsecret 0ne\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(screen.contains("the chat secret again") && screen.contains("differ"), "{screen}");
    home.run(&["chat", "show", "Typo"]).run().assert_code(2);

    let (code, screen) =
        on_a_terminal(&home, &["chat", "add", "Same", "--format", "clm202"], "secret one\nsecret one\n");
    assert_eq!(code, Some(0), "{screen}");
    let pointer = encode("clm202", "Same", "bob", "secret one", &[], "typed right");
    let scanned = home.run(&["scan", "--json", "-"]).stdin(pointer).succeeds();
    assert!(scanned.contains("typed right"), "{scanned}");
}

#[test]
fn renaming_a_clm202_chat_opens_the_pointers_its_old_name_missed() {
    let home = Home::new("renaming_a_clm202_chat_opens_the_pointers_its_old_name_missed");
    home.init("me");
    home.add_chat("Famly", "clm202", "family secret", &[]).assert_code(0);
    let pointer = encode("clm202", "Family", "mum", "family secret", &[], "dinner at 7");
    home.run(&["scan", "-"]).stdin(&pointer).run().assert_code(1);

    let renamed = home.run(&["chat", "rename", "Famly", "Family"]).run();
    renamed.assert_code(0);
    assert!(renamed.stdout.contains("Family mum: dinner at 7"), "{}", renamed.stdout);
    assert!(renamed.stderr.contains("1 pending pointer(s) opened; 0 still pending"), "{}", renamed.stderr);
    assert_eq!(home.history(&["--chat", "Family"]).len(), 1);
}

#[test]
fn an_unknown_chat_name_suggests_the_close_ones() {
    let home = Home::new("an_unknown_chat_name_suggests_the_close_ones");
    home.init("me");
    home.add_chat("Family", "clm202", "family secret", &[]).assert_code(0);
    for args in [
        &["send", "--chat", "Famliy", "hi"][..],
        &["history", "--chat", "family"],
        &["chat", "show", "Fmaily"],
    ] {
        let output = home.run(args).run();
        output.assert_code(2);
        assert!(output.stderr.contains("did you mean \"Family\"?"), "{args:?}: {}", output.stderr);
    }
    let far = home.run(&["chat", "show", "Holidays"]).run();
    assert!(far.stderr.contains("`clm-bridge chat list` shows them"), "{}", far.stderr);
}

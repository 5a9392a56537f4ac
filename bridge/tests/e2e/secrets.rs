//! Secret sources: environment, file; and the secret never shows up in any output.

use crate::support::{bridge, decode, encode, scratch_dir};

/// A secret no output could contain by accident.
const CANARY: &str = "canary-7f3a9c2e-secret-value";

fn assert_not_echoed(what: &str, stdout: &str, stderr: &str) {
    assert!(!stdout.contains(CANARY), "{what}: secret in stdout: {stdout}");
    assert!(!stderr.contains(CANARY), "{what}: secret in stderr: {stderr}");
}

#[test]
fn secret_from_env_is_never_echoed() {
    let mut input = String::new();
    for (format, chat) in [("clm201", "urgent"), ("clm202", "c"), ("native", "c")] {
        let out = bridge([
            "encode",
            "--format",
            format,
            "--chat",
            chat,
            "--from",
            "bob",
            "--secret-env",
            "S",
            "hi",
        ])
        .env("S", CANARY)
        .run();
        out.assert_code(0);
        assert_not_echoed(format, &out.stdout, &out.stderr);
        input.push_str(&out.stdout);
    }
    // Success, wrong secret (the canary is the wrong one), and errors after the secret was read.
    let runs = [
        decode(CANARY, &[], &input),
        decode(CANARY, &["--format", "clm201", "--chat-id", "9"], &input),
        decode(CANARY, &[], "no pointer"),
        bridge(["decode", "--secret-env", "S", "/nonexistent/file"]).env("S", CANARY).run(),
        bridge([
            "encode",
            "--format",
            "native",
            "--chat",
            "c",
            "--from",
            &"x".repeat(300),
            "--secret-env",
            "S",
            "m",
        ])
        .env("S", CANARY)
        .run(),
    ];
    for (i, run) in runs.iter().enumerate() {
        assert_not_echoed(&format!("run {i}"), &run.stdout, &run.stderr);
    }
    runs[0].assert_code(0);
    let other = decode("not the canary", &[], &input);
    other.assert_code(1);
    assert_not_echoed("other secret", &other.stdout, &other.stderr);
}

#[test]
fn secret_typed_into_secret_env_is_not_echoed() {
    let output = bridge(["decode", "--secret-env", "my secret: canary-7f3a9c2e-secret-value"]).run();
    output.assert_code(2);
    assert_not_echoed("--secret-env with a value", &output.stdout, &output.stderr);
}

#[test]
fn secret_file_works_and_loses_one_newline() {
    let dir = scratch_dir("secret_file_works_and_loses_one_newline");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{CANARY}\n")).expect("write secret file");
    let file = file.to_str().expect("UTF-8 path");

    for (format, chat) in [("clm201", "secrets"), ("clm202", "c"), ("native", "c")] {
        let pointer = bridge([
            "encode",
            "--format",
            format,
            "--chat",
            chat,
            "--from",
            "bob",
            "--secret-file",
            file,
            "hi",
        ])
        .succeeds();
        // Encoded with the file, opened with the same secret from the environment.
        let opened = decode(CANARY, &[], &pointer);
        opened.assert_code(0);
        assert_eq!(opened.lines()[0]["text"], "hi", "{format}");

        let from_env = encode(format, chat, "bob", CANARY, &[], "back");
        let output = bridge(["decode", "--secret-file", file]).stdin(&from_env).run();
        output.assert_code(0);
        assert_eq!(output.lines()[0]["text"], "back", "{format}");
        assert_not_echoed(format, &output.stdout, &output.stderr);
    }
}

#[test]
fn secret_file_problems_exit_2() {
    let dir = scratch_dir("secret_file_problems_exit_2");
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").expect("write empty secret");
    let missing = dir.join("missing");
    for (path, needle) in [(&empty, "is empty"), (&missing, "cannot read the secret file")] {
        let output = bridge(["decode", "--secret-file", path.to_str().expect("UTF-8 path")]).stdin("x").run();
        output.assert_code(2);
        assert!(
            output.stderr.starts_with("clm-bridge: ") && output.stderr.contains(needle),
            "{}",
            output.stderr
        );
    }
}

#[test]
fn empty_secret_variable_exits_2() {
    let output = bridge(["decode", "--secret-env", "S"]).env("S", "").stdin("x").run();
    output.assert_code(2);
    assert!(output.stderr.contains("environment variable S is empty"), "{}", output.stderr);
}

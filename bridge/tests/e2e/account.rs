//! `clm-bridge account add`, flags only, against the real test servers on loopback
//! (scripts/test-servers.sh): Postfix + Dovecot for e-mail, an autoconfig file served by the
//! test itself for discovery, and the telegram-test-api emulator. What is checked: the section
//! lands in the settings file beside the user's comments, the secret in a 0600 file of its own
//! and never in the settings, a failed check writes nothing, a taken name is refused.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::bridge_chats::Home;
use crate::support::Output;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run scripts/test-servers.sh start, then `set -a; . target/test-servers/env`"
        )
    })
}

/// An address of its own for this run (mailboxes outlive runs).
fn address(local: &str) -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    format!("{local}-{:x}{:x}@{}", since.as_secs(), std::process::id(), var("CLM_TEST_MAIL_DOMAIN"))
}

const COMMENTED: &str = "# My own settings: this comment stays.\n[identity]\nname = \"me\" # and this one\n";

/// A bridge made with `init`, and its settings file holding [`COMMENTED`].
fn home(test: &str) -> (Home, PathBuf) {
    let home = Home::new(test);
    let config = home.dir.join("config").join("config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, COMMENTED).unwrap();
    home.run(&["--config", config.to_str().unwrap(), "init", "--name", "me"]).succeeds();
    (home, config)
}

/// `account add ARGS` with the settings file `config` and `env` set.
fn account_add(home: &Home, config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = vec!["--config", config.to_str().unwrap(), "account", "add"];
    full.extend_from_slice(args);
    let mut run = home.run(&full);
    for (name, value) in env {
        run = run.env(name, value);
    }
    run.run()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_email_account_from_flags_is_checked_written_and_passes_doctor() {
    let (home, config) = home("account_email_flags");
    let (smtp, imap, password) =
        (var("CLM_TEST_SMTP_PORT"), var("CLM_TEST_IMAP_PORT"), var("CLM_TEST_MAIL_PASSWORD"));
    let address = address("account-flags");
    let args = [
        "email",
        "work",
        "--address",
        &address,
        "--password-env",
        "MAIL_PW",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp,
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        &imap,
        "--security",
        "none",
        "--no-smtp-auth",
        "--timeout",
        "20s",
    ];
    let added = account_add(&home, &config, &args, &[("MAIL_PW", &password)]);
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(added.stdout.contains("ok    IMAP login"), "{}", added.stdout);

    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with(COMMENTED), "the user's text is kept:\n{text}");
    assert!(text.contains(&format!("[email.work]\naddress = \"{address}\"\n")), "{text}");
    assert!(text.contains(&format!("imap_port = {imap}")) && text.contains("smtp_auth = false"), "{text}");
    assert!(!text.contains(&password), "the password is not in the settings:\n{text}");
    assert_eq!(mode(&config), 0o600);
    let secret = config.parent().unwrap().join("secrets").join("email.work.password");
    assert!(text.contains(&format!("password_file = \"{}\"", secret.display())), "{text}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), format!("{password}\n"));
    assert_eq!(mode(&secret), 0o600);

    let doctor = home.run(&["--config", config.to_str().unwrap(), "doctor"]).run();
    assert_eq!(doctor.code, Some(0), "{doctor:?}");
    assert!(doctor.stdout.contains("(valid)"), "{}", doctor.stdout);

    // The name is taken now: refused, nothing changed, until --force.
    let again = account_add(&home, &config, &args, &[("MAIL_PW", &password)]);
    assert_eq!(again.code, Some(2), "{again:?}");
    assert!(again.stderr.contains("[email.work] exists already: pass --force"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    let forced = account_add(&home, &config, &[&args[..], &["--force"]].concat(), &[("MAIL_PW", &password)]);
    assert_eq!(forced.code, Some(0), "{forced:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap().matches("[email.work]").count(), 1);
}

#[test]
fn a_wrong_password_is_refused_and_nothing_is_written() {
    let (home, config) = home("account_email_wrong_password");
    let (smtp, imap) = (var("CLM_TEST_SMTP_PORT"), var("CLM_TEST_IMAP_PORT"));
    let address = address("account-wrong");
    let before = std::fs::read(&config).unwrap();
    let args = [
        "email",
        "work",
        "--address",
        &address,
        "--password-stdin",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp,
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        &imap,
        "--security",
        "none",
        "--no-smtp-auth",
        "--timeout",
        "20s",
    ];
    let mut full = vec!["--config", config.to_str().unwrap(), "account", "add"];
    full.extend_from_slice(&args);
    let refused = home.run(&full).stdin("not the password\n").run();
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stdout.contains("FAIL  IMAP login"), "{}", refused.stdout);
    assert!(refused.stderr.contains("nothing was written"), "{}", refused.stderr);
    assert!(!refused.stdout.contains("not the password") && !refused.stderr.contains("not the password"));
    assert_eq!(std::fs::read(&config).unwrap(), before, "the settings file is unchanged byte for byte");
    assert!(!config.parent().unwrap().join("secrets").exists(), "no secret file");
    let leftovers: Vec<_> = std::fs::read_dir(config.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn without_a_terminal_the_missing_flags_are_named() {
    let (home, config) = home("account_no_terminal");
    let missing = account_add(&home, &config, &["email", "work"], &[]);
    assert_eq!(missing.code, Some(2), "{missing:?}");
    assert!(
        missing.stderr.contains(
            "no terminal to ask on: give --address ADDRESS, --password-env VAR or --password-stdin"
        ),
        "{}",
        missing.stderr
    );
    let missing = account_add(&home, &config, &["telegram", "bot"], &[]);
    assert!(missing.stderr.contains("--token-env VAR or --token-stdin"), "{}", missing.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), COMMENTED);
}

/// A loopback HTTP server answering every request with `body` (an autoconfig file); its URL.
fn autoconfig_server(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/mail/config-v1.1.xml", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn the_servers_are_found_from_the_providers_autoconfig_file() {
    let (home, config) = home("account_email_discovery");
    let (smtp, imap, password) =
        (var("CLM_TEST_SMTP_PORT"), var("CLM_TEST_IMAP_PORT"), var("CLM_TEST_MAIL_PASSWORD"));
    // The provider's file names the test servers' hosts and ports (with STARTTLS, as real
    // files do); --security overrides only the security: this loopback server speaks no TLS.
    let xml = format!(
        r#"<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="test">
  <incomingServer type="imap"><hostname>127.0.0.1</hostname><port>{imap}</port>
    <socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username></incomingServer>
  <outgoingServer type="smtp"><hostname>127.0.0.1</hostname><port>{smtp}</port>
    <socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username></outgoingServer>
</emailProvider></clientConfig>"#
    );
    let url = autoconfig_server(xml);
    let address = address("account-found");
    let args = [
        "email",
        "found",
        "--address",
        &address,
        "--password-env",
        "MAIL_PW",
        "--autoconfig-url",
        &url,
        "--security",
        "none",
        "--no-smtp-auth",
        "--timeout",
        "20s",
    ];
    let added = account_add(&home, &config, &args, &[("MAIL_PW", &password)]);
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(added.stdout.contains(&format!("found in {url}")), "{}", added.stdout);
    assert!(added.stdout.contains(&format!("imap  127.0.0.1:{imap} (none)")), "{}", added.stdout);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&format!("smtp_port = {smtp}")) && text.contains(&format!("imap_port = {imap}")),
        "{text}"
    );
    assert!(
        text.contains("smtp_host = \"127.0.0.1\"") && text.contains("imap_host = \"127.0.0.1\""),
        "{text}"
    );
}

#[test]
fn a_telegram_bot_is_checked_against_the_emulator() {
    let (home, config) = home("account_telegram");
    let url = var("CLM_TEST_TELEGRAM_URL");
    let token = "6101:account-add";
    let added = account_add(
        &home,
        &config,
        &["telegram", "bot", "--token-env", "TOK", "--api-url", &url],
        &[("TOK", token)],
    );
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(added.stdout.contains("ok    Telegram bot token"), "{}", added.stdout);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with(COMMENTED) && text.contains("[telegram.bot]\ntoken_file = "), "{text}");
    assert!(text.contains(&format!("api_url = \"{url}\"")) && !text.contains(token), "{text}");
    let secret = config.parent().unwrap().join("secrets").join("telegram.bot.token");
    assert_eq!((std::fs::read_to_string(&secret).unwrap(), mode(&secret)), (format!("{token}\n"), 0o600));

    // The emulator has no getChat: an allowed chat fails the check, so nothing is written ...
    let before = std::fs::read(&config).unwrap();
    let chat = ["telegram", "group", "--token-stdin", "--api-url", &url, "--chat", "-6101"];
    let mut full = vec!["--config", config.to_str().unwrap(), "account", "add"];
    full.extend_from_slice(&chat);
    let refused = home.run(&full).stdin(format!("{token}\n")).run();
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stdout.contains("FAIL  Telegram chat -6101"), "{}", refused.stdout);
    assert_eq!(std::fs::read(&config).unwrap(), before);
    // ... unless --no-check.
    full.push("--no-check");
    let unchecked = home.run(&full).stdin(format!("{token}\n")).run();
    assert_eq!(unchecked.code, Some(0), "{unchecked:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[telegram.group]") && text.contains("allowed_chats = [-6101]"), "{text}");
}

//! The e-mail adapter's library functions against real servers: the loopback Postfix and
//! Dovecot of scripts/servers/mail.sh (`set -a; . target/test-servers/env`), and, for account
//! discovery, a small HTTP server in the test serving autoconfig files.
#![cfg(feature = "email")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clm_adapters::email::{
    AfterAction, DiscoverError, Discovery, EmailSettings, EmailTransport, Endpoint, Security, check, discover,
};
use clm_adapters::{CheckStatus, Route, Transport, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

const LIMIT: Duration = Duration::from_secs(20);

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run scripts/test-servers.sh start, then `set -a; . target/test-servers/env`"
        )
    })
}

fn port(name: &str) -> u16 {
    var(name).parse().unwrap_or_else(|_| panic!("{name} is not a port"))
}

/// An address of its own for this run (mailboxes outlive runs).
fn address(local: &str) -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    format!("{local}-{:x}{:x}@{}", since.as_secs(), std::process::id(), var("CLM_TEST_MAIL_DOMAIN"))
}

/// An account on the test servers (no encryption: loopback), SMTP without AUTH as Postfix there.
fn account(address: &str) -> EmailSettings {
    let mut settings = EmailSettings::new(address, "127.0.0.1");
    settings.smtp_security = Security::None;
    settings.smtp_port = Some(port("CLM_TEST_SMTP_PORT"));
    settings.smtp_auth = false;
    settings.imap_host = Some("127.0.0.1".into());
    settings.imap_security = Some(Security::None);
    settings.imap_port = Some(port("CLM_TEST_IMAP_PORT"));
    settings.password_env = Some("CLM_TEST_MAIL_PASSWORD".into());
    settings.validate().expect("valid test settings");
    settings
}

fn statuses(checks: &[clm_adapters::Check]) -> Vec<(&str, CheckStatus)> {
    checks.iter().map(|check| (check.what.as_str(), check.status)).collect()
}

#[tokio::test]
async fn the_self_check_passes_with_the_right_password() {
    let mut settings = account(&address("check-ok"));
    settings.after_action = AfterAction::Move("Not There Yet".into());
    let checks = check(&settings, Some(&var("CLM_TEST_MAIL_PASSWORD")), LIMIT).await;
    assert_eq!(
        statuses(&checks),
        [
            ("SMTP connection", CheckStatus::Ok),
            ("SMTP login", CheckStatus::Ok),
            ("IMAP login", CheckStatus::Ok),
            ("IMAP IDLE", CheckStatus::Ok),
            ("IMAP folder `INBOX`", CheckStatus::Ok),
            ("IMAP folder `Not There Yet` (after_action)", CheckStatus::Warning),
        ],
        "{checks:#?}"
    );
    assert!(checks[1].detail.contains("smtp_auth = false"), "{checks:#?}");
}

#[tokio::test]
async fn the_self_check_names_a_wrong_password_and_never_shows_it() {
    let settings = account(&address("check-wrong"));
    let wrong = "not-the-password-4711";
    let checks = check(&settings, Some(wrong), LIMIT).await;
    assert_eq!(
        statuses(&checks),
        [
            ("SMTP connection", CheckStatus::Ok),
            ("SMTP login", CheckStatus::Ok),
            ("IMAP login", CheckStatus::Failure)
        ],
        "{checks:#?}"
    );
    assert!(checks[2].detail.contains("refused the login"), "{checks:#?}");
    assert!(checks.iter().all(|check| !check.detail.contains(wrong)), "{checks:#?}");
}

#[tokio::test]
async fn a_server_without_auth_is_met_with_the_smtp_auth_hint() {
    // Postfix here offers no AUTH: logging in cannot work, and the error says what to do.
    let mut settings = account(&address("no-auth"));
    settings.smtp_auth = true;
    let checks = check(&settings, Some("any"), LIMIT).await;
    assert_eq!(checks[1].status, CheckStatus::Failure, "{checks:#?}");
    assert!(checks[1].detail.contains("set `smtp_auth = false`"), "{checks:#?}");

    let transport = EmailTransport::new("email.test".into(), settings, Some(Zeroizing::new("any".into())));
    let sent = transport.send(&Route(address("no-auth-to")), "{}").await;
    match sent {
        Err(TransportError::Refused(_, text)) => assert!(text.contains("set `smtp_auth = false`"), "{text}"),
        other => panic!("{other:?}"),
    }

    // Nothing listening: the connection check fails and the IMAP checks still run.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = account(&address("closed"));
    settings.smtp_port = Some(closed);
    let checks = check(&settings, Some(&var("CLM_TEST_MAIL_PASSWORD")), LIMIT).await;
    assert_eq!(checks[0].status, CheckStatus::Failure, "{checks:#?}");
    assert_eq!(checks[1].what, "IMAP login", "{checks:#?}");
}

/// A loopback HTTP server answering every request with `answer` (or never, when `None`);
/// returns its base URL and the request lines it saw.
async fn http_server(answer: Option<Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (answer, requests) = (answer.clone(), Arc::clone(&requests));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
                requests.lock().unwrap().push(line);
                match answer {
                    Some(answer) => {
                        let _ = socket.write_all(&answer).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    (base, seen)
}

fn answer(status: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
        .into_bytes()
}

const AUTOCONFIG: &str = r#"<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="example.org">
  <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname><port>993</port>
    <socketType>SSL</socketType><username>%EMAILLOCALPART%</username></incomingServer>
  <outgoingServer type="smtp"><hostname>smtp.example.org</hostname><port>587</port>
    <socketType>STARTTLS</socketType><username>%EMAILLOCALPART%</username></outgoingServer>
</emailProvider></clientConfig>"#;

fn discovery(urls: Vec<String>) -> Discovery {
    let mut discovery = Discovery::default();
    discovery.autoconfig_urls = urls;
    discovery.imap_probes = Vec::new();
    discovery.smtp_probes = Vec::new();
    discovery.timeout = Duration::from_secs(5);
    discovery
}

#[tokio::test]
async fn discovery_reads_the_providers_autoconfig_file() {
    let (missing, _) = http_server(Some(answer("404 Not Found", "no"))).await;
    let (provider, requests) = http_server(Some(answer("200 OK", AUTOCONFIG))).await;
    let urls = vec![
        format!("{missing}/mail/config-v1.1.xml?emailaddress={{address}}"),
        format!("{provider}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={{address}}"),
    ];
    let found = discover("alice+clm@example.org", &discovery(urls)).await.unwrap();
    assert_eq!(
        found.imap,
        Some(Endpoint { host: "imap.example.org".into(), port: 993, security: Security::Tls })
    );
    assert_eq!(
        found.smtp,
        Endpoint { host: "smtp.example.org".into(), port: 587, security: Security::StartTls }
    );
    assert_eq!(found.login.as_deref(), Some("alice+clm"));
    assert!(found.source.contains("/.well-known/"), "{}", found.source);
    let requests = requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        ["GET /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%2Bclm%40example.org HTTP/1.1"]
    );
    let settings = found.settings("alice+clm@example.org");
    assert_eq!(
        settings.validate(),
        Err(clm_adapters::settings::SettingsError::new("password_env", "set password_env or password_file"))
    );
}

#[tokio::test]
async fn discovery_probes_the_usual_hosts_when_no_file_answers() {
    let (missing, _) = http_server(Some(answer("404 Not Found", "no"))).await;
    let mut discovery = discovery(vec![format!("{missing}/mail/config-v1.1.xml")]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let local = |port, security| Endpoint { host: "127.0.0.1".into(), port, security };
    // Best first: the closed port does not answer, the real servers do.
    discovery.imap_probes =
        vec![local(closed, Security::None), local(port("CLM_TEST_IMAP_PORT"), Security::None)];
    discovery.smtp_probes =
        vec![local(closed, Security::None), local(port("CLM_TEST_SMTP_PORT"), Security::None)];
    let found = discover("bob@example.org", &discovery).await.unwrap();
    assert_eq!(found.imap, Some(local(port("CLM_TEST_IMAP_PORT"), Security::None)));
    assert_eq!(found.smtp, local(port("CLM_TEST_SMTP_PORT"), Security::None));
    assert_eq!(found.source, "probing");
    // The IMAP server does not speak SMTP: it is never taken for one.
    discovery.smtp_probes = vec![local(port("CLM_TEST_IMAP_PORT"), Security::None)];
    assert!(matches!(discover("bob@example.org", &discovery).await, Err(DiscoverError::NotFound { .. })));
}

#[tokio::test]
async fn discovery_bounds_what_it_reads_and_how_long_it_waits() {
    let (huge, _) = http_server(Some(answer("200 OK", &"x".repeat(200_000)))).await;
    let error = discover("carol@example.org", &discovery(vec![format!("{huge}/a")])).await.unwrap_err();
    assert!(error.to_string().contains("larger than 65536 bytes"), "{error}");
    // A server that never answers: the short limit ends the wait (the only way it can end).
    let (silent, _) = http_server(None).await;
    let mut patient = discovery(vec![format!("{silent}/b")]);
    patient.timeout = Duration::from_millis(300);
    let error = discover("carol@example.org", &patient).await.unwrap_err();
    assert!(error.to_string().contains("no answer within"), "{error}");
    assert!(matches!(discover("carol", &patient).await, Err(DiscoverError::InvalidAddress(_))));
}

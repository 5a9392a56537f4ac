//! `[email.NAME]` sections through the real config loader: the type and its rules live in
//! `clm_adapters::settings::email`; these check that the loader names each key at fault.

use std::time::Duration;

use clm_adapters::settings::SecretRef;
use clm_adapters::settings::email::{
    AfterAction, DEFAULT_IDLE_RENEW, DEFAULT_MAX_MAIL_BYTES, DEFAULT_SUBJECT, Endpoint, Security,
};

use super::tests::load_text as load;

const GOOD: &str = "[email.work]\naddress = \"me@example.org\"\npassword_env = \"MAIL_PW\"\n\
                    smtp_host = \"smtp.example.org\"\nimap_host = \"imap.example.org\"\n";

#[test]
fn a_good_section_gets_the_defaults() {
    let settings = load(GOOD).unwrap();
    let account = &settings.emails["work"];
    assert_eq!(account.login(), "me@example.org");
    assert_eq!(account.password(), Ok(Some(SecretRef::Env("MAIL_PW".into()))));
    assert_eq!(
        account.smtp(),
        Endpoint { host: "smtp.example.org".into(), port: 465, security: Security::Tls }
    );
    assert_eq!(account.imap().map(|s| s.port), Some(993));
    assert_eq!((account.folder.as_str(), account.subject.as_str()), ("INBOX", DEFAULT_SUBJECT));
    assert_eq!(account.after_action, AfterAction::Leave);
    assert_eq!(account.idle_renew, DEFAULT_IDLE_RENEW);
    assert_eq!(account.max_mail_bytes, DEFAULT_MAX_MAIL_BYTES);

    let full = load(
        "[email.home]\naddress = \"a@localhost\"\nlogin = \"a\"\npassword_file = \"/run/pw\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = 2525\nsmtp_security = \"none\"\nsmtp_auth = false\n\
         imap_host = \"::1\"\nimap_security = \"starttls\"\nfolder = \"Clm\"\nsubject = \"Hi\"\n\
         after_action = \"move:Done\"\nidle_renew = \"1m\"\npoll_interval = \"5s\"\nfetch_batch = 50\n\
         fetch_batch_bytes = 1000000\nmax_mail_bytes = 2000000\ntimeout = \"10s\"\n\
         [chats.F]\nroutes = [\"email:b@localhost\"]\n",
    )
    .unwrap();
    let account = &full.emails["home"];
    let smtp = account.smtp();
    assert_eq!((smtp.port, smtp.security, account.smtp_auth), (2525, Security::None, false));
    assert_eq!(account.imap().map(|s| (s.port, s.security)), Some((143, Security::StartTls)));
    assert_eq!(account.after_action, AfterAction::Move("Done".into()));
    assert_eq!((account.idle_renew, account.fetch_batch), (Duration::from_secs(60), 50));
    assert_eq!((account.fetch_batch_bytes, account.max_mail_bytes), (1_000_000, 2_000_000));
}

#[test]
fn each_bad_key_is_named() {
    let imap = "imap_host = \"imap.example.org\"";
    let cases = [
        ("address = \"me@example.org\"", "address = \"nobody\"", "email.work.address"),
        ("password_env = \"MAIL_PW\"", "", "email.work.password_env"),
        (
            "password_env = \"MAIL_PW\"",
            "password_env = \"A\"\npassword_file = \"/x\"",
            "email.work.password_env",
        ),
        ("smtp_host = \"smtp.example.org\"", "smtp_host = \"\"", "email.work.smtp_host"),
        (
            "smtp_host = \"smtp.example.org\"",
            "smtp_host = \"s\"\nsmtp_security = \"ssl\"",
            "email.work.smtp_security",
        ),
        (
            "smtp_host = \"smtp.example.org\"",
            "smtp_host = \"s\"\nsmtp_security = \"none\"",
            "email.work.smtp_security",
        ),
        ("smtp_host = \"smtp.example.org\"", "smtp_host = \"s\"\nsmtp_port = 0", "email.work.smtp_port"),
        (imap, "imap_host = \"i\"\nimap_security = \"none\"", "email.work.imap_security"),
        (imap, "imap_port = 993", "email.work.imap_host"),
        (imap, "imap_host = \"i\"\nfolder = \" \"", "email.work.folder"),
        (imap, "imap_host = \"i\"\nafter_action = \"delete\"", "email.work.after_action"),
        (imap, "imap_host = \"i\"\nafter_action = \"move:\"", "email.work.after_action"),
        (imap, "imap_host = \"i\"\nafter_action = \"move:INBOX\"", "email.work.after_action"),
        (imap, "imap_host = \"i\"\nidle_renew = \"40m\"", "email.work.idle_renew"),
        (imap, "imap_host = \"i\"\npoll_interval = \"often\"", "email.work.poll_interval"),
        (imap, "imap_host = \"i\"\ntimeout = \"0s\"", "email.work.timeout"),
        (imap, "imap_host = \"i\"\nfetch_batch = 0", "email.work.fetch_batch"),
        (imap, "imap_host = \"i\"\nfetch_batch_bytes = 0", "email.work.fetch_batch_bytes"),
        (imap, "imap_host = \"i\"\nmax_mail_bytes = 100", "email.work.max_mail_bytes"),
        (imap, "imap_host = \"i\"\nmax_mail_bytes = \"lots\"", "email.work.max_mail_bytes"),
        (imap, "imap_host = \"i\"\nsubject = \"a\\nb\"", "email.work.subject"),
        (imap, "imap_host = \"i\"\nsmtp_pasword = \"x\"", "smtp_pasword"),
    ];
    for (good, bad, key) in cases {
        let text = GOOD.replace(good, bad);
        assert_ne!(text, GOOD, "case {key} changes nothing");
        let error = load(&text).expect_err(key).to_string();
        assert!(error.contains(key), "{key}: {error}");
    }
    // A send-only account without SMTP authentication needs no password.
    let send_only = "[email.out]\naddress = \"me@localhost\"\nsmtp_host = \"localhost\"\n\
                     smtp_security = \"none\"\nsmtp_auth = false\n";
    assert_eq!(load(send_only).unwrap().emails["out"].password(), Ok(None));
}

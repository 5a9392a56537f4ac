//! `[matrix.NAME]` sections through the real loader: keys, defaults, and errors naming the key.
//! The type and its rules are the adapter's (`clm_adapters::settings::matrix`).

use std::time::Duration;

use clm_adapters::settings::SecretRef;
use clm_adapters::settings::matrix::{
    DEFAULT_FILE_THRESHOLD, DEFAULT_GAP_EVENTS_PER_ROOM, DEFAULT_GAP_EVENTS_PER_SYNC, DEFAULT_MAX_FILE_BYTES,
    DEFAULT_SYNC_TIMEOUT,
};

use super::MatrixLogin;
use super::tests::load_text as load;

#[test]
fn a_full_section_validates() {
    let settings = load(
        "[matrix.home]\nhomeserver = \"https://matrix.example.org\"\nuser_id = \"@bot:example.org\"\n\
         password_file = \"/run/secrets/matrix\"\nallowed_inviters = [\"@alice:example.org\", \"friends.net\"]\n\
         rooms = [\"!room:example.org\", \"#family:example.org\"]\n\
         backfill = true\nsync_timeout = \"10s\"\nfile_threshold = 1000\nmax_file_bytes = 70000\n\
         gap_events_per_room = 50\ngap_events_per_sync = 200\n\
         [chats.Family]\nroutes = [\"matrix:!room:example.org\"]\n",
    )
    .unwrap();
    let account = &settings.matrices["home"];
    assert_eq!(account.homeserver, "https://matrix.example.org");
    assert_eq!(account.user_id, "@bot:example.org");
    assert_eq!(account.login(), Ok(MatrixLogin::Password(SecretRef::File("/run/secrets/matrix".into()))));
    assert_eq!(account.allowed_inviters, ["@alice:example.org", "friends.net"]);
    assert_eq!(account.rooms, ["!room:example.org", "#family:example.org"]);
    assert!(account.backfill);
    assert_eq!((account.sync_timeout, account.file_threshold), (Duration::from_secs(10), 1000));
    assert_eq!(
        (account.max_file_bytes, account.gap_events_per_room, account.gap_events_per_sync),
        (70_000, 50, 200)
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let settings = load(
        "[matrix.m]\nhomeserver = \"http://127.0.0.1:8008\"\nuser_id = \"@b:localhost\"\naccess_token_env = \"T\"\n",
    )
    .unwrap();
    let account = &settings.matrices["m"];
    assert_eq!(account.login(), Ok(MatrixLogin::AccessToken(SecretRef::Env("T".into()))));
    assert!(account.allowed_inviters.is_empty() && account.rooms.is_empty() && !account.backfill);
    assert_eq!(
        (account.sync_timeout, account.file_threshold),
        (DEFAULT_SYNC_TIMEOUT, DEFAULT_FILE_THRESHOLD)
    );
    assert_eq!(
        (account.max_file_bytes, account.gap_events_per_room, account.gap_events_per_sync),
        (DEFAULT_MAX_FILE_BYTES, DEFAULT_GAP_EVENTS_PER_ROOM, DEFAULT_GAP_EVENTS_PER_SYNC)
    );
}

#[test]
fn each_bad_key_is_named() {
    let base = "[matrix.m]\nhomeserver = \"http://localhost\"\nuser_id = \"@b:h\"\n";
    let with_password = format!("{base}password_env = \"P\"\n");
    for (text, key) in [
        ("[matrix.m]\nuser_id = \"@b:h\"\npassword_env = \"P\"\n".to_owned(), "homeserver"),
        ("[matrix.m]\nhomeserver = \"ftp://h\"\nuser_id = \"@b:h\"\npassword_env = \"P\"\n".into(), "matrix.m.homeserver"),
        // Plain http to another machine: the password would travel in clear.
        ("[matrix.m]\nhomeserver = \"http://matrix.example.org\"\nuser_id = \"@b:h\"\npassword_env = \"P\"\n".into(), "matrix.m.homeserver"),
        ("[matrix.m]\nhomeserver = \"http://localhost\"\npassword_env = \"P\"\n".into(), "user_id"),
        ("[matrix.m]\nhomeserver = \"http://localhost\"\nuser_id = \"bot\"\npassword_env = \"P\"\n".into(), "matrix.m.user_id"),
        (base.to_owned(), "matrix.m.password_env"),
        (format!("{with_password}access_token_env = \"T\"\n"), "matrix.m.password_env"),
        (format!("{base}password_env = \"P\"\npassword_file = \"/f\"\n"), "matrix.m.password_env"),
        (format!("{base}access_token_env = \"\"\n"), "matrix.m.access_token_env"),
        (format!("{with_password}allowed_inviters = [\"not a user\"]\n"), "matrix.m.allowed_inviters"),
        (format!("{with_password}allowed_inviters = [\"@nouser\"]\n"), "matrix.m.allowed_inviters"),
        (format!("{with_password}rooms = [\"family\"]\n"), "matrix.m.rooms"),
        (format!("{with_password}sync_timeout = \"soon\"\n"), "matrix.m.sync_timeout"),
        (format!("{with_password}sync_timeout = \"10m\"\n"), "matrix.m.sync_timeout"),
        (format!("{with_password}file_threshold = 0\n"), "matrix.m.file_threshold"),
        (format!("{with_password}file_threshold = 70000\n"), "matrix.m.file_threshold"),
        (format!("{with_password}max_file_bytes = 0\n"), "matrix.m.max_file_bytes"),
        (format!("{with_password}gap_events_per_room = 0\n"), "matrix.m.gap_events_per_room"),
        (format!("{with_password}gap_events_per_sync = 10\n"), "matrix.m.gap_events_per_sync"),
    ] {
        let error = load(&text).unwrap_err().to_string();
        assert!(error.contains(key), "{text:?}: {error}");
    }
    let error = load(&format!("{with_password}password = \"inline\"\n")).unwrap_err().to_string();
    assert!(error.contains("password"), "an inline password is refused: {error}");
    let error = load(&format!("{base}homeserver2 = 1\n")).unwrap_err().to_string();
    assert!(error.contains("homeserver2"), "unknown keys are refused: {error}");
}

//! `[telegram.NAME]` sections through the real loader: keys, defaults, and errors naming the
//! key. The type and its rules are the adapter's (`clm_adapters::settings::telegram`).

use std::collections::BTreeSet;
use std::time::Duration;

use clm_adapters::settings::SecretRef;
use clm_adapters::settings::telegram::{DEFAULT_API_URL, DEFAULT_POLL_TIMEOUT, DEFAULT_SEND_INTERVAL};

use super::tests::load_text as load;

#[test]
fn a_full_section_validates() {
    let settings = load(
        "[telegram.home]\ntoken_file = \"/run/secrets/bot\"\napi_url = \"http://127.0.0.1:8081\"\n\
         allowed_chats = [-100123, 42]\nowner_id = 42\npoll_timeout = \"10s\"\nidle_poll_interval = \"50ms\"\n\
         send_interval = \"2s\"\ngroup_messages_per_minute = 10\nmessages_per_second = 5\n\
         [chats.Family]\nroutes = [\"telegram:-100123\"]\n",
    )
    .unwrap();
    let bot = &settings.telegrams["home"];
    assert_eq!(bot.token(), Ok(SecretRef::File("/run/secrets/bot".into())));
    assert_eq!(bot.api_url, "http://127.0.0.1:8081");
    assert_eq!(bot.allowed_chats, BTreeSet::from([-100_123, 42]));
    assert_eq!(bot.owner_id, Some(42));
    assert_eq!(
        (bot.poll_timeout, bot.idle_poll_interval),
        (Duration::from_secs(10), Duration::from_millis(50))
    );
    assert_eq!(
        (bot.send_interval, bot.group_messages_per_minute, bot.messages_per_second),
        (Duration::from_secs(2), 10, 5)
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let settings = load("[telegram.t]\ntoken_env = \"BOT_TOKEN\"\n").unwrap();
    let bot = &settings.telegrams["t"];
    assert_eq!(bot.token(), Ok(SecretRef::Env("BOT_TOKEN".into())));
    assert_eq!(bot.api_url, DEFAULT_API_URL);
    assert!(bot.allowed_chats.is_empty() && bot.owner_id.is_none());
    assert_eq!((bot.poll_timeout, bot.send_interval), (DEFAULT_POLL_TIMEOUT, DEFAULT_SEND_INTERVAL));
    assert_eq!((bot.group_messages_per_minute, bot.messages_per_second), (20, 30));
}

#[test]
fn each_bad_key_is_named() {
    let base = "[telegram.t]\n";
    for (extra, key) in [
        ("", "telegram.t.token_env"),
        ("token_env = \"A\"\ntoken_file = \"/f\"\n", "telegram.t.token_env"),
        ("token_env = \"A\"\napi_url = \"ftp://x\"\n", "telegram.t.api_url"),
        ("token_env = \"A\"\napi_url = \"https://\"\n", "telegram.t.api_url"),
        // Plain http to another machine: the token (in every URL) would travel in clear.
        ("token_env = \"A\"\napi_url = \"http://api.example.org\"\n", "telegram.t.api_url"),
        ("token_env = \"A\"\nallowed_chats = [0]\n", "telegram.t.allowed_chats"),
        ("token_env = \"A\"\npoll_timeout = \"2m\"\n", "telegram.t.poll_timeout"),
        ("token_env = \"A\"\nidle_poll_interval = \"soon\"\n", "telegram.t.idle_poll_interval"),
        ("token_env = \"A\"\nsend_interval = \"0s\"\n", "telegram.t.send_interval"),
        ("token_env = \"A\"\ngroup_messages_per_minute = 0\n", "telegram.t.group_messages_per_minute"),
        ("token_env = \"A\"\nmessages_per_second = 0\n", "telegram.t.messages_per_second"),
    ] {
        let error = load(&format!("{base}{extra}")).unwrap_err().to_string();
        assert!(error.contains(key), "{extra:?}: {error}");
    }
    let error = load("[telegram.t]\ntoken_env = \"A\"\ntoken = \"inline\"\n").unwrap_err().to_string();
    assert!(error.contains("token"), "an inline token is refused: {error}");
}

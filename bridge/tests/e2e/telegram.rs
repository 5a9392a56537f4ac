//! The telegram transport end to end, against a real server on loopback (scripts/test-servers.sh):
//! the telegram-test-api Bot API emulator. Each test has bot tokens of its own, so the
//! emulator's queues never mix between tests running at once.
//!
//! What the emulator cannot do, and how the tests stand in: it never delivers one bot's messages
//! to another bot (neither does Telegram, outside channels and bot-to-bot mode), so the long
//! pointer sent by one bridge is carried to the other bridge's bot by posting its parts as a
//! user, the way a person pasting them or a channel would; it delivers updates as `message`
//! only (no `channel_post`, no edits: those are unit-tested on the adapter); and it ignores the
//! `getUpdates` offset (it marks updates read once returned), so the tests stop daemons only
//! while nothing is in flight.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::daemons::{HANG_GUARD, Node, entry, shown, text, triple};
use crate::support::{decode, encode};

fn emulator_url() -> String {
    std::env::var("CLM_TEST_TELEGRAM_URL")
        .expect("CLM_TEST_TELEGRAM_URL is not set: run scripts/test-servers.sh start and source target/test-servers/env")
}

/// POSTs JSON to the emulator's client API; its JSON answer.
fn post(path: &str, body: &Value) -> Value {
    let url = emulator_url();
    let address = url.strip_prefix("http://").expect("an http:// URL").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("the emulator answers");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"))
}

/// One bot of the emulator, seen from the users' side.
pub(crate) struct Bot {
    token: String,
}

/// A chat as the Bot API describes it.
fn chat(id: i64) -> Value {
    if id > 0 {
        json!({"id": id, "type": "private", "first_name": "User"})
    } else {
        json!({"id": id, "type": "supergroup", "title": format!("group {id}")})
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

impl Bot {
    pub(crate) fn new(token: &str) -> Bot {
        Bot { token: token.to_owned() }
    }

    /// User `user` posts `text` in chat `chat_id`, where the bot reads.
    pub(crate) fn user_posts(&self, user: i64, chat_id: i64, text: &str) {
        let message = json!({
            "botToken": self.token,
            "from": {"id": user, "is_bot": false, "first_name": format!("user {user}")},
            "chat": chat(chat_id),
            "date": now(),
            "text": text,
        });
        let answer = post("/sendMessage", &message);
        assert_eq!(answer["ok"], true, "{answer}");
    }

    /// What the bot sent to `chat_id` since last asked, in order.
    pub(crate) fn sent_to(&self, chat_id: i64) -> Vec<Value> {
        let answer = post("/getUpdates", &json!({"token": self.token, "chatId": chat_id}));
        let mut updates: Vec<Value> = answer["result"].as_array().expect("a result list").clone();
        updates.sort_by_key(|u| u["messageId"].as_u64());
        updates.iter().map(|u| u["message"].clone()).collect()
    }

    /// Waits until the bot sent `count` messages to `chat_id`; returns them.
    pub(crate) fn wait_for_sent(&self, chat_id: i64, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + HANG_GUARD;
        let mut messages = Vec::new();
        while messages.len() < count {
            assert!(
                Instant::now() < deadline,
                "the bot sent {} of {count} messages to {chat_id}",
                messages.len()
            );
            messages.extend(self.sent_to(chat_id));
            std::thread::sleep(Duration::from_millis(20));
        }
        messages
    }

    /// Writes the token to a file in `dir` (the daemon runs with an empty environment).
    fn token_file(&self, dir: &std::path::Path) -> String {
        let path = dir.join("bot-token");
        std::fs::write(&path, format!("{}\n", self.token)).expect("token file");
        path.to_str().expect("UTF-8 path").to_owned()
    }
}

/// A bridge `name` whose bot is `bot`, reading `allowed` chats, owned by user 77.
pub(crate) fn telegram_node(test: &str, name: &str, bot: &Bot, allowed: &[i64], extra: &str) -> Node {
    let node = Node::with_settings(test, name, "");
    std::fs::write(&node.config, telegram_section(&node, bot, allowed, extra)).expect("settings");
    node
}

/// `[telegram.bot]` of `node` (its token in a file of the node's), reading `allowed` chats.
pub(crate) fn telegram_section(node: &Node, bot: &Bot, allowed: &[i64], extra: &str) -> String {
    format!(
        "[telegram.bot]\ntoken_file = {}\napi_url = {}\nallowed_chats = {allowed:?}\nowner_id = {OWNER}\n\
         idle_poll_interval = \"20ms\"\nsend_interval = \"10ms\"\n{extra}",
        serde_json::to_string(&bot.token_file(&node.home.dir)).expect("a string"),
        serde_json::to_string(&emulator_url()).expect("a string"),
    )
}

const OWNER: i64 = 77;
const SECRET: &str = "telegram family secret";

#[test]
fn a_pointer_posted_in_a_chat_is_shown_and_a_sent_one_opens_for_the_user() {
    let test = "telegram_both_ways";
    let bot = Bot::new("6001:telegram-both-ways");
    let ben = telegram_node(test, "ben", &bot, &[-6001], "");
    ben.add_chat("Family", "native", SECRET);
    let mut daemon = ben.start_daemon();

    let pointer = encode("native", "Family", "ann", SECRET, &[], "hello over telegram");
    bot.user_posts(5, -6001, &format!("ann says:\n{pointer}"));
    daemon.wait_for_texts(&["hello over telegram"]);

    ben.cli(&["send", "--chat", "Family", "--via", "telegram.bot:-6001", "ben answers"]).succeeds();
    let sent = bot.wait_for_sent(-6001, 1);
    assert_eq!(sent.len(), 1);
    let text = sent[0]["text"].as_str().expect("a text");
    // Monospace: one `pre` block over the whole pointer, no markup characters.
    let entities = sent[0]["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 1, "{entities:?}");
    assert_eq!(
        (&entities[0]["type"], &entities[0]["offset"], entities[0]["length"].as_u64()),
        (&json!("pre"), &json!(0), u64::try_from(text.encode_utf16().count()).ok())
    );
    let opened = decode(SECRET, &["--chat", "Family"], text);
    opened.assert_code(0);
    let lines = opened.lines();
    assert_eq!(
        (lines.len(), lines[0]["text"].as_str(), lines[0]["from"].as_str()),
        (1, Some("ben answers"), Some("ben"))
    );

    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert_eq!(shown(&ended.lines), [triple("Family", "ann", "hello over telegram")]);
    assert_eq!(ended.lines[0]["transport"], "telegram.bot");
    assert_eq!(
        ben.history(),
        [
            entry("Family", "received", "ann", "hello over telegram"),
            entry("Family", "sent", "ben", "ben answers")
        ]
        .into_iter()
        .collect()
    );
    assert!(!ended.stderr.contains(&bot.token), "the token is never logged");
    ben.assert_nothing_readable(&[
        "hello over telegram",
        "ben answers",
        SECRET,
        "Family",
        "-6001",
        &bot.token,
    ]);
}

#[test]
fn a_long_pointer_goes_in_parts_and_comes_back_whole() {
    let test = "telegram_long_pointer";
    let ann_bot = Bot::new("6002:telegram-long-ann");
    let ben_bot = Bot::new("6003:telegram-long-ben");
    let ann = telegram_node(test, "ann", &ann_bot, &[], "");
    let ben = telegram_node(test, "ben", &ben_bot, &[-6003], "");
    ann.add_chat("Family", "native", SECRET);
    ben.add_chat("Family", "native", SECRET);
    // 15 000 characters of message: a native pointer of about 20 000.
    let long: String = (0..15_000).map(|i| char::from(b'a' + u8::try_from(i % 26).expect("small"))).collect();

    ann.cli(&["send", "--chat", "Family", "--via", "telegram.bot:-6002", &long]).succeeds();
    let parts = ann_bot.wait_for_sent(-6002, 5);
    let texts: Vec<&str> = parts.iter().map(|m| m["text"].as_str().expect("a text")).collect();
    let total: usize = texts.iter().map(|t| t.len()).sum();
    assert!(total > 20_000, "a pointer of over 20 000 characters: {total}");
    assert_eq!(texts.len(), 5, "numbered parts of at most 4096 characters");
    for (i, text) in texts.iter().enumerate() {
        assert!(text.encode_utf16().count() <= 4096);
        let header = text.lines().next().expect("a header");
        assert!(header.starts_with("clm-part ") && header.ends_with(&format!(" {}/5", i + 1)), "{header}");
        // One part alone is nothing a decoder opens.
        assert_eq!(decode(SECRET, &["--chat", "Family"], *text).lines().len(), 0);
    }

    // The emulator does not deliver one bot's messages to another: a user carries them over,
    // last part first (arrival order is not guaranteed).
    let mut daemon = ben.start_daemon();
    for text in texts.iter().rev() {
        ben_bot.user_posts(5, -6003, text);
    }
    wait_for_long(&mut daemon, &long);
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let lines: Vec<(String, String, usize, String)> = ended
        .lines
        .iter()
        .map(|m| (text(m, "chat"), text(m, "from"), text(m, "text").len(), text(m, "origin")))
        .collect();
    assert_eq!(lines.len(), 1, "shown once: {lines:?}");
    assert_eq!(ended.lines[0]["text"], long.as_str());
    assert_eq!(ben.message_count(), 1);
}

/// Waits until the daemon showed `long` (without printing it if it never comes).
fn wait_for_long(daemon: &mut crate::daemons::Daemon, long: &str) {
    let quoted = serde_json::to_string(long).expect("a string");
    daemon.wait_until(&format!("the long message ({} characters)", long.len()), |stdout, _| {
        stdout.contains(&quoted)
    });
}

/// The `part:` cursors the bridge holds for its bot (read while no daemon runs; the store is
/// sealed, so through the bridge's own library with the vault passphrase).
fn kept_parts(node: &Node) -> usize {
    let mut store = clm_bridge::store::Store::open(&node.home.data.join("history.sqlite3"))
        .expect("the bridge's database");
    let header = store.require_vault_header().expect("a vault");
    let vault =
        clm_bridge::vault::Vault::open(crate::bridge_chats::PASSPHRASE.as_bytes(), &header).expect("vault");
    store.unlock(&vault).expect("unlock");
    let cursors = store.cursors("telegram.bot").expect("cursors readable");
    cursors.iter().filter(|(key, value)| key.starts_with("part:") && !value.is_empty()).count()
}

#[test]
fn a_stopped_bridge_gets_everything_posted_meanwhile_once() {
    let test = "telegram_restart";
    let bot = Bot::new("6004:telegram-restart");
    let ben = telegram_node(test, "ben", &bot, &[-6004], "");
    ben.add_chat("Family", "clm202", SECRET);

    // All but one part of a long pointer (sent by ann's bridge, carried over by a user) arrive,
    // then the bridge stops: the parts are kept.
    let ann_bot = Bot::new("6005:telegram-restart-ann");
    let ann = telegram_node(test, "ann", &ann_bot, &[], "");
    ann.add_chat("Family", "clm202", SECRET);
    let long: String = "0123456789".repeat(500);
    ann.cli(&["send", "--chat", "Family", "--via", "telegram.bot:-6005", &long]).succeeds();
    let parts: Vec<String> = ann_bot
        .wait_for_sent(-6005, 3)
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(parts.len(), 3, "a pointer of three parts");
    let mut daemon = ben.start_daemon();
    bot.user_posts(5, -6004, &parts[0]);
    bot.user_posts(5, -6004, &parts[2]);
    // Updates are committed in order: once a later message is shown, the parts are stored.
    bot.user_posts(5, -6004, &encode("clm202", "Family", "ann", SECRET, &[], "after the parts"));
    daemon.wait_for_texts(&["after the parts"]);
    let first_run = daemon.stop();
    assert_eq!(first_run.code, Some(0), "{}", first_run.stderr);
    assert_eq!(first_run.lines.len(), 1, "half a pointer is never shown");
    assert_eq!(kept_parts(&ben), 2, "the two parts are kept across the restart");

    // Meanwhile: 20 pointers, and the missing part.
    let texts: Vec<String> = (1..=20).map(|i| format!("while stopped {i}")).collect();
    for text in &texts {
        bot.user_posts(5, -6004, &encode("clm202", "Family", "ann", SECRET, &[], text));
    }
    bot.user_posts(5, -6004, &parts[1]);

    let mut daemon = ben.start_daemon();
    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    daemon.wait_for_texts(&expected);
    wait_for_long(&mut daemon, &long);
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let mut wanted: Vec<_> = texts.iter().map(|t| triple("Family", "ann", t)).collect();
    wanted.push(triple("Family", "ann", &long));
    wanted.sort();
    assert_eq!(shown(&ended.lines), wanted, "each of the 21 once");
    assert_eq!(ben.message_count(), 22);
    assert_eq!(kept_parts(&ben), 0, "the kept parts are forgotten once their pointer is whole");
}

#[test]
fn chats_off_the_allow_list_are_ignored_and_commands_answer_the_owner_only() {
    let test = "telegram_allow_list";
    let bot = Bot::new("6006:telegram-allow-list");
    let ben = telegram_node(test, "ben", &bot, &[-6006, -6007], "");
    ben.add_chat("Family", "native", SECRET);
    let mut daemon = ben.start_daemon();

    bot.user_posts(5, -6099, &encode("native", "Family", "eve", SECRET, &[], "from a stranger chat"));
    bot.user_posts(5, -6006, "/status");
    bot.user_posts(5, -6006, "/help");
    bot.user_posts(OWNER, -6099, "/status");
    bot.user_posts(5, -6006, &encode("native", "Family", "ann", SECRET, &[], "from the family chat"));
    bot.user_posts(OWNER, -6007, "/status@TestNameBot");
    bot.user_posts(OWNER, OWNER, "/help");
    daemon.wait_for_texts(&["from the family chat"]);

    // Updates are handled in order: once the owner's answers are out, nobody else got one.
    let status = bot.wait_for_sent(-6007, 1);
    let help = bot.wait_for_sent(OWNER, 1);
    let status_text = status[0]["text"].as_str().expect("text");
    assert!(status_text.starts_with("clm-bridge telegram.bot: up "), "{status_text}");
    assert!(status_text.contains("texts forwarded") && !status_text.contains("family chat"), "{status_text}");
    assert!(help[0]["text"].as_str().expect("text").contains("/status"), "{help:?}");
    let ended = daemon.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(bot.sent_to(-6006).is_empty(), "no answer to someone else");
    assert!(bot.sent_to(-6099).is_empty(), "no answer outside the allowed chats");
    assert_eq!(bot.sent_to(-6007).len() + bot.sent_to(OWNER).len(), 0, "one answer each");
    assert_eq!(shown(&ended.lines), [triple("Family", "ann", "from the family chat")]);
    assert_eq!(ben.message_count(), 1);
}

#[test]
fn the_doctor_check_reaches_the_bot_api_and_says_what_it_cannot_tell() {
    use clm_adapters::CheckStatus::{Failure, Ok as Fine, Warning};
    use clm_adapters::telegram::{TelegramSettings, TelegramTransport, check};
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let settings = TelegramSettings { api_url: emulator_url(), ..TelegramSettings::new([-6010]) };
    let token = "6010:telegram-doctor";
    let bot =
        TelegramTransport::new("telegram.doctor".into(), zeroize::Zeroizing::new(token.into()), settings)
            .expect("a bot");
    let checks = runtime.block_on(check(&bot, Duration::from_secs(60)));
    let found: Vec<(&str, clm_adapters::CheckStatus)> =
        checks.iter().map(|c| (c.what.as_str(), c.status)).collect();
    // The emulator answers getMe (without the privacy field) and has no getChat: both are said
    // as such. A refused token and privacy mode are unit-tested on the adapter.
    assert_eq!(
        found,
        [("Telegram bot token", Fine), ("Telegram privacy mode", Warning), ("Telegram chat -6010", Failure)],
        "{checks:?}"
    );
    assert!(checks[0].detail.contains("@TestNameBot"), "{checks:?}");
    assert!(checks.iter().all(|c| !c.detail.contains(token)), "{checks:?}");
}

#[test]
fn the_doctor_command_checks_the_configured_bot_and_exits_by_the_worst_finding() {
    let test = "telegram_doctor_command";
    let bot = Bot::new("6011:telegram-doctor-command");
    let node = telegram_node(test, "ben", &bot, &[-6011], "");
    let out = node.cli(&["doctor", "--timeout", "30"]).run();
    let bot_lines = |stdout: &str| -> Vec<String> {
        stdout.lines().filter(|line| line.contains("  telegram.bot  ")).map(str::to_owned).collect()
    };
    // As the adapter check above: getMe answers, the privacy field is missing, getChat is not
    // emulated (a failure, so exit status 2).
    let lines = bot_lines(&out.stdout);
    assert_eq!(lines.len(), 3, "{}{}", out.stdout, out.stderr);
    assert!(lines[0].starts_with("ok    telegram.bot  Telegram bot token: accepted"), "{lines:?}");
    assert!(lines[0].contains("@TestNameBot"), "{lines:?}");
    assert!(lines[1].starts_with("warn  telegram.bot  Telegram privacy mode: unknown"), "{lines:?}");
    assert!(lines[2].starts_with("FAIL  telegram.bot  Telegram chat -6011: "), "{lines:?}");
    out.assert_code(2);
    assert!(!out.stdout.contains(&bot.token) && !out.stderr.contains(&bot.token), "no token shown");

    // No allowed chat to reach: the worst left is the warning, exit status 1.
    let settings = std::fs::read_to_string(&node.config).expect("settings");
    std::fs::write(&node.config, settings.replace("allowed_chats = [-6011]", "allowed_chats = []"))
        .expect("settings");
    let out = node.cli(&["doctor", "--timeout", "30"]).run();
    assert_eq!(bot_lines(&out.stdout).len(), 2, "{}", out.stdout);
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    out.assert_code(1);
    assert_eq!(out.stderr, "", "warnings are no error");
}

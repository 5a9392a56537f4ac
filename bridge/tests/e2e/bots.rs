//! The bots of `examples/bots/` against a real daemon: each answers every message of its chat
//! once, across being killed between two messages, and across a restart from a state file older
//! than its last reply (what a crash between replying and saving leaves).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clm_bridge::api::types::{HistoryParams, HistoryView};

use crate::api::{ApiNode, CHAT};
use crate::daemons::HANG_GUARD;
use crate::support::bridge_binary;

/// A bot, as a command line given its socket, chat and state file.
type Launch = fn(&Path, &str, &Path) -> Command;

fn python_bot(socket: &Path, chat: &str, state: &Path) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bots/python/echo_bot.py");
    let mut command = Command::new("python3");
    command.arg(script).arg("--socket").arg(socket).args(["--chat", chat]).arg("--state").arg(state);
    command
}

/// The Rust bot's executable, an example of this package: built (or found up to date) by the
/// cargo that runs these tests, once.
fn rust_bot_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let binary = bridge_binary().parent().expect("the target dir").join("examples/echo_bot");
    BUILT.call_once(|| {
        let profile = bridge_binary().parent().expect("the profile dir");
        let target = profile.parent().expect("the target dir");
        let release = profile.file_name().is_some_and(|name| name == "release");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "clm-bridge", "--example", "echo_bot"])
            .args(release.then_some("--release"))
            .env("CARGO_TARGET_DIR", target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the Rust bot builds");
    });
    binary
}

fn rust_bot(socket: &Path, chat: &str, state: &Path) -> Command {
    let mut command = Command::new(rust_bot_binary());
    command.arg("--socket").arg(socket).args(["--chat", chat]).arg("--state").arg(state);
    command
}

fn start(launch: Launch, node: &ApiNode, state: &Path) -> Child {
    launch(&node.socket(), CHAT, state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bot starts")
}

/// The bot's saved position (0 before it saved any).
fn position(state: &Path) -> i64 {
    let text = std::fs::read_to_string(state).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["after"].as_i64()).unwrap_or(0)
}

/// Polls history until `done` holds.
fn wait_for(
    node: &ApiNode,
    what: &str,
    done: impl Fn(&[clm_bridge::api::types::MessageView]) -> bool,
) -> HistoryView {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let params = HistoryParams { limit: Some(1000), ..HistoryParams::default() };
        let page: HistoryView = node.client().call("history", &params).expect("history");
        if done(&page.messages) {
            return page;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {:?}", page.messages);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each text received, and how many replies answer it.
fn replies(page: &HistoryView) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> =
        page.messages.iter().filter(|m| m.direction == "received").map(|m| (m.text.clone(), 0)).collect();
    for reply in page.messages.iter().filter(|m| m.direction == "sent") {
        let original = reply.text.split_once(": ").map(|(_, text)| text).unwrap_or_default();
        *counts.entry(original.to_owned()).or_default() += 1;
    }
    counts
}

fn answered(text: &str) -> impl Fn(&[clm_bridge::api::types::MessageView]) -> bool + '_ {
    move |messages| messages.iter().any(|m| m.direction == "sent" && m.text.ends_with(&format!(": {text}")))
}

fn stored(text: &str) -> impl Fn(&[clm_bridge::api::types::MessageView]) -> bool + '_ {
    move |messages| messages.iter().any(|m| m.direction == "received" && m.text == text)
}

fn kill(mut bot: Child) {
    bot.kill().expect("SIGKILL");
    bot.wait().expect("reaped");
}

fn bot_answers_each_message_once(test: &str, launch: Launch) {
    let node = ApiNode::new(test, "bot", "");
    let _daemon = node.start();
    let state = node.node.home.dir.join("bot-state.json");
    let bot = start(launch, &node, &state);
    let deadline = Instant::now() + HANG_GUARD;
    while !state.exists() {
        assert!(Instant::now() < deadline, "the bot never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let start_position = position(&state);
    node.drop_message("bob", "first", "first");
    wait_for(&node, "the first reply", answered("first"));
    // Killed between two messages: the second arrives while no bot runs.
    kill(bot);
    node.drop_message("bob", "second", "second");
    wait_for(&node, "the second message", stored("second"));
    // As if it had crashed after replying to "first" but before saving: its state is older
    // than its last reply.
    std::fs::write(&state, format!("{{\"after\":{start_position}}}")).expect("an old state");
    let bot = start(launch, &node, &state);
    wait_for(&node, "the second reply", answered("second"));
    node.drop_message("bob", "third", "third");
    let page = wait_for(&node, "the third reply", answered("third"));
    // Once the bot has handled the event of its last reply, it has handled everything before.
    let last = page.messages.iter().filter(|m| m.direction == "sent").count();
    assert_eq!(last, 3, "{:?}", replies(&page));
    let newest: clm_bridge::api::types::Status =
        node.client().call("status", &clm_bridge::api::types::NoParams {}).expect("status");
    let deadline = Instant::now() + HANG_GUARD;
    while position(&state) < newest.events.last {
        assert!(Instant::now() < deadline, "the bot does not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let page = wait_for(&node, "everything", |_| true);
    let expected: BTreeMap<String, usize> = ["first", "second", "third"].map(|t| (t.to_owned(), 1)).into();
    assert_eq!(replies(&page), expected, "each message answered once");
    kill(bot);
}

#[test]
fn the_python_bot_answers_each_message_once_across_a_kill_and_an_old_state() {
    bot_answers_each_message_once("bot_python", python_bot);
}

#[test]
fn the_rust_bot_answers_each_message_once_across_a_kill_and_an_old_state() {
    bot_answers_each_message_once("bot_rust", rust_bot);
}

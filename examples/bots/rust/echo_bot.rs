//! An echo bot for clm-bridge on the daemon's API alone, through `clm_bridge::api::Client`.
//!
//! It answers every message received in one chat with a pointer reply, "echo #ID: TEXT", sent
//! over the chat's routes by the running daemon (`clm-bridge run`). It keeps the id of the last
//! event it handled in a state file, so a bot that restarts (or loses the daemon for a while)
//! resumes where it stopped: it misses no message and answers none twice. On a restart it first
//! reads everything up to the newest event before answering, so a reply sent just before a
//! crash, whose event id never reached the state file, is seen and not sent again.
//!
//! ```text
//! cargo run -p clm-bridge --example echo_bot -- --socket ~/.local/share/clm-bridge/api.sock \
//!     --chat Family --state ~/.local/state/clm-echo-bot.json
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clm_bridge::api::types::MessageEvent;
use clm_bridge::api::{Client, ClientError, Event};

struct Args {
    socket: PathBuf,
    chat: String,
    state: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut socket, mut chat, mut state) = (None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value)),
            "--chat" => chat = Some(value),
            "--state" => state = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let usage = "usage: echo_bot --socket PATH --chat NAME --state FILE";
    Ok(Args { socket: socket.ok_or(usage)?, chat: chat.ok_or(usage)?, state: state.ok_or(usage)? })
}

fn load_state(path: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["after"].as_i64()
}

fn save_state(path: &Path, after: i64) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::json!({ "after": after }).to_string())?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(temporary, path)
}

/// The id of the message a reply of ours answers.
fn answers(text: &str) -> Option<i64> {
    text.strip_prefix("echo #")?.split_once(": ")?.0.parse().ok()
}

fn reply(client: &mut Client, chat: &str, message: &MessageEvent) -> Result<(), ClientError> {
    let sent = client.send(chat, &format!("echo #{}: {}", message.id, message.text))?;
    println!("echo-bot: answered #{} with #{}", message.id, sent.message_id);
    Ok(())
}

/// Subscribes from the saved position, catches up, then answers as messages come.
fn serve(client: &mut Client, args: &Args) -> Result<(), ClientError> {
    let subscribed = client.subscribe(load_state(&args.state))?;
    let (mut after, newest) = (subscribed.after, subscribed.last_event_id);
    println!("echo-bot: subscribed after {after}");
    let (mut waiting, mut answered) = (Vec::new(), HashSet::new());
    while after < newest {
        let event = client.next_event()?;
        after = event.event_id().unwrap_or(after);
        if let Event::Message(message) = event
            && message.chat == args.chat
        {
            match message.direction.as_str() {
                "received" => waiting.push(message),
                _ => answered.extend(answers(&message.text)),
            }
        }
    }
    for message in waiting.iter().filter(|message| !answered.contains(&message.id)) {
        reply(client, &args.chat, message)?;
    }
    save_state(&args.state, after)?;
    loop {
        let event = client.next_event()?;
        if let Event::Message(message) = &event
            && message.chat == args.chat
            && message.direction == "received"
        {
            reply(client, &args.chat, message)?;
        }
        if let Some(id) = event.event_id() {
            save_state(&args.state, id)?;
        }
    }
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("echo-bot: {error}");
            return ExitCode::from(2);
        }
    };
    loop {
        let error = match Client::connect(&args.socket) {
            Ok(mut client) => match serve(&mut client, &args) {
                Ok(()) => return ExitCode::SUCCESS,
                Err(ClientError::Rpc(error)) => {
                    eprintln!("echo-bot: {error} ({})", error.code);
                    return ExitCode::from(2);
                }
                Err(error) => error,
            },
            Err(error) => error,
        };
        eprintln!("echo-bot: {error}; trying again");
        std::thread::sleep(Duration::from_secs(1));
    }
}

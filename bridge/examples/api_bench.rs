//! Measures a running daemon's API (see `scripts/bench-api.sh`):
//!
//! ```text
//! api_bench latency SOCKET INBOX CHAT SECRET COUNT   a clm202 pointer dropped into INBOX, one at a
//!                                                    time; the time until the subscriber's
//!                                                    `message` notification (p50, p99, max)
//! api_bench send SOCKET CHAT COUNT                   `send` round trips (p50, p99, max)
//! api_bench flood SOCKET INBOX CHAT SECRET COUNT     COUNT pointers at once; the time until the
//!                                                    subscriber saw every one, and whether each
//!                                                    came once, in event order
//! api_bench stall SOCKET                             subscribes and never reads (until killed)
//! ```

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clm_bridge::api::{Client, Event};
use clm_core::{Clm202Chat, Pointer};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

fn drop_pointer(inbox: &Path, chat: &Clm202Chat, text: &str) {
    let pointer = Pointer::Clm202(chat.encode("bench", text, now(), text).expect("encodes")).to_json();
    let temporary = inbox.join(format!(".{text}.tmp"));
    std::fs::write(&temporary, pointer).expect("write");
    std::fs::rename(&temporary, inbox.join(format!("{text}.json"))).expect("rename");
}

fn percentiles(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{what}: n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().expect("samples").as_secs_f64() * 1e3
    );
}

fn next_message(client: &mut Client) -> clm_bridge::api::types::MessageEvent {
    loop {
        if let Event::Message(message) = client.next_event().expect("an event") {
            return message;
        }
    }
}

fn latency(socket: &str, inbox: &Path, chat: &Clm202Chat, count: usize) {
    let mut client = Client::connect(socket).expect("connect");
    client.subscribe(None).expect("subscribe");
    let run = now();
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let text = format!("lat-{run}-{i}");
        let started = Instant::now();
        drop_pointer(inbox, chat, &text);
        while next_message(&mut client).text != text {}
        samples.push(started.elapsed());
    }
    percentiles("event latency (drop file -> notification)", samples);
}

fn send(socket: &str, chat: &str, count: usize) {
    let mut client = Client::connect(socket).expect("connect");
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let started = Instant::now();
        client.send(chat, &format!("round trip {i}")).expect("send");
        samples.push(started.elapsed());
    }
    percentiles("API send round trip", samples);
}

fn flood(socket: &str, inbox: &Path, chat: &Clm202Chat, count: usize) {
    let mut client = Client::connect(socket).expect("connect");
    let after = client.subscribe(None).expect("subscribe").after;
    let run = now();
    let started = Instant::now();
    for i in 0..count {
        drop_pointer(inbox, chat, &format!("flood-{run}-{i}"));
    }
    let written = started.elapsed();
    let (mut seen, mut last, mut in_order) = (HashSet::new(), after, true);
    while seen.len() < count {
        let event = client.next_event().expect("an event");
        let id = event.event_id().expect("an id");
        in_order &= id == last + 1;
        last = id;
        if let Event::Message(message) = event
            && message.text.starts_with(&format!("flood-{run}-"))
        {
            assert!(seen.insert(message.text), "a message twice");
        }
    }
    println!(
        "flood: {count} files written in {:.2}s; all {count} events received after {:.2}s; each once; ids contiguous: {in_order}",
        written.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["latency", socket, inbox, chat, secret, count] => {
            latency(socket, Path::new(inbox), &Clm202Chat::new(secret, chat), count.parse().expect("COUNT"));
        }
        ["send", socket, chat, count] => send(socket, chat, count.parse().expect("COUNT")),
        ["flood", socket, inbox, chat, secret, count] => {
            flood(socket, Path::new(inbox), &Clm202Chat::new(secret, chat), count.parse().expect("COUNT"));
        }
        ["stall", socket] => {
            let mut client = Client::connect(socket).expect("connect");
            client.subscribe(Some(0)).expect("subscribe");
            std::thread::sleep(Duration::from_secs(3600));
        }
        _ => {
            eprintln!("usage: api_bench latency|send|flood|stall ... (see the source)");
            std::process::exit(2);
        }
    }
}

//! Pointer files for the drop-folder benches (`scripts/bench-bridge.sh`), written the way a
//! bridge's `send` writes them: one pointer per file, named by its digest
//! (`DropTransport::file_name_for`), so a reader takes each file as soon as it sees it.
//!
//! ```text
//! gen_drop_files backlog DIR COUNT                  COUNT files at once (plain writes)
//! gen_drop_files trickle DIR COUNT INTERVAL_MS LOG  one file every INTERVAL_MS, each through a
//!                                                   hidden temp file and a rename; LOG gets
//!                                                   "INDEX<TAB>UNIX_NS" after each rename
//! gen_drop_files latency LOG LINES                  joins LOG with LINES ("UNIX_SECONDS.FRACTION
//!                                                   JSON" per message the daemon printed) and
//!                                                   prints the drop-to-output latencies
//! gen_drop_files junk DIR FILES PER_FILE [FIRST]     FILES files (junk-FIRST.json, ...) of
//!                                                   PER_FILE junk pointers each: clm202-shaped,
//!                                                   opened by no chat (scripts/bench-flood.sh),
//!                                                   each through a hidden temp file and a rename
//! ```
//! The chat: `$BENCH_SECRET`, `$BENCH_FORMAT` (native or clm202, default native), `$BENCH_CHAT`
//! (clm202's chat name, default `bench`), sender `bench`. Message texts are `backlog N` and
//! `latency N`.
//!
//! `cargo run --release -p clm-bridge --example gen_drop_files -- backlog /tmp/drop 100000`

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clm_adapters::drop::DropTransport;
use clm_core::{Clm202Chat, NativeKeys, Pointer};

/// The keys pointers are made with.
enum Keys {
    Native(NativeKeys),
    Clm202(Clm202Chat),
}

impl Keys {
    fn from_env() -> Result<Keys, String> {
        let secret = std::env::var("BENCH_SECRET").map_err(|_| "set BENCH_SECRET to the chat secret")?;
        let chat = std::env::var("BENCH_CHAT").unwrap_or_else(|_| "bench".to_owned());
        match std::env::var("BENCH_FORMAT").as_deref().unwrap_or("native") {
            "native" => Ok(Keys::Native(NativeKeys::derive(secret.as_bytes()))),
            "clm202" => Ok(Keys::Clm202(Clm202Chat::new(&secret, &chat))),
            other => Err(format!("BENCH_FORMAT {other:?}: native or clm202")),
        }
    }

    /// One pointer's text, with a fresh random nonce.
    fn pointer(&self, text: &str, epoch: u64) -> Result<String, String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| format!("no random bytes: {e}"))?;
        let pointer = match self {
            Keys::Native(keys) => {
                Pointer::Native(keys.encode("bench", text, epoch, nonce).map_err(|e| e.to_string())?)
            }
            Keys::Clm202(chat) => {
                let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
                Pointer::Clm202(chat.encode("bench", text, epoch, &nonce).map_err(|e| e.to_string())?)
            }
        };
        Ok(pointer.to_json())
    }
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("{what}: not a number: {text:?}"))
}

/// Writes `count` files at once.
fn backlog(dir: &Path, count: u64) -> Result<(), String> {
    let keys = Keys::from_env()?;
    let epoch = unix_now().as_secs();
    let started = Instant::now();
    for index in 0..count {
        let text = keys.pointer(&format!("backlog {index}"), epoch)?;
        let path = dir.join(DropTransport::file_name_for(&text));
        fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!("gen_drop_files: {count} files in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Writes `count` files one by one, each atomically, logging when each appeared.
fn trickle(dir: &Path, count: u64, interval: Duration, log: &Path) -> Result<(), String> {
    let keys = Keys::from_env()?;
    let mut log_file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut next = Instant::now();
    for index in 0..count {
        let text = keys.pointer(&format!("latency {index}"), unix_now().as_secs())?;
        let name = DropTransport::file_name_for(&text);
        let temp = dir.join(format!(".{name}.tmp"));
        fs::write(&temp, &text).map_err(|e| format!("{}: {e}", temp.display()))?;
        fs::rename(&temp, dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        let appeared = unix_now().as_nanos();
        writeln!(log_file, "{index}\t{appeared}").map_err(|e| format!("{}: {e}", log.display()))?;
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok(())
}

/// Writes `files` files of `per_file` junk pointers each (about 100 bytes apiece).
fn junk(dir: &Path, files: u64, per_file: u64, first: u64) -> Result<(), String> {
    let epoch = unix_now().as_secs();
    for file in first..first + files {
        let mut text = String::with_capacity(per_file as usize * 110);
        for n in 0..per_file {
            let mut data = [0u8; 32];
            getrandom::fill(&mut data).map_err(|e| format!("no random bytes: {e}"))?;
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            text.push_str(&format!("{{\"e\":{},\"n\":\"junk-{file}-{n}\",\"d\":\"{hex}\"}}\n", epoch + n));
        }
        let name = format!("junk-{file:06}.json");
        let temp = dir.join(format!(".{name}.tmp"));
        fs::write(&temp, &text).map_err(|e| format!("{}: {e}", temp.display()))?;
        fs::rename(&temp, dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Nanoseconds from "SECONDS.FRACTION" (bash's $EPOCHREALTIME).
fn stamp_nanos(stamp: &str) -> Option<u128> {
    let (seconds, fraction) = stamp.split_once('.')?;
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(seconds.parse::<u128>().ok()? * 1_000_000_000 + digits.parse::<u128>().ok()?)
}

/// Prints the latency percentiles of the messages in `log` as seen in `lines`.
fn latency(log: &Path, lines: &Path) -> Result<(), String> {
    let open = |path: &Path| {
        fs::File::open(path).map(BufReader::new).map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut written: HashMap<u64, u128> = HashMap::new();
    for line in open(log)?.lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some((index, nanos)) = line.split_once('\t') {
            written.insert(number(index, "log index")?, nanos.parse().map_err(|_| "log time".to_owned())?);
        }
    }
    let mut latencies: Vec<f64> = Vec::new();
    for line in open(lines)?.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Some((stamp, json)) = line.split_once(' ') else { continue };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else { continue };
        let Some(index) = value["text"].as_str().and_then(|t| t.strip_prefix("latency ")) else { continue };
        let (Ok(index), Some(seen)) = (index.parse::<u64>(), stamp_nanos(stamp)) else { continue };
        if let Some(appeared) = written.remove(&index) {
            latencies.push((seen.saturating_sub(appeared)) as f64 / 1e6);
        }
    }
    if latencies.is_empty() {
        return Err("no message of the log was seen in the daemon's output".into());
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "latency_ms p50={:.1} p90={:.1} p99={:.1} max={:.1} seen={} missing={}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        latencies.len(),
        written.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["backlog", dir, count] => number(count, "COUNT").and_then(|count| backlog(Path::new(dir), count)),
        ["trickle", dir, count, interval, log] => number(count, "COUNT").and_then(|count| {
            let interval = Duration::from_millis(number(interval, "INTERVAL_MS")?);
            trickle(Path::new(dir), count, interval, &PathBuf::from(log))
        }),
        ["latency", log, lines] => latency(Path::new(log), Path::new(lines)),
        ["junk", dir, files, per_file, rest @ ..] if rest.len() <= 1 => (|| {
            let first = rest.first().map_or(Ok(0), |first| number(first, "FIRST"))?;
            junk(Path::new(dir), number(files, "FILES")?, number(per_file, "PER_FILE")?, first)
        })(),
        _ => Err(
            "usage: gen_drop_files backlog DIR COUNT | trickle DIR COUNT INTERVAL_MS LOG | latency LOG LINES \
             | junk DIR FILES PER_FILE [FIRST]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gen_drop_files: {error}");
            ExitCode::from(2)
        }
    }
}

//! A 244 MB backlog of junk pointers (60 inputs of 4 MiB, as a drop folder full of them hands
//! over) goes through the daemon's intake and receive loop in bounded batches: the heap never
//! holds more than a small, fixed amount however large the backlog, and a real message behind
//! it is stored and shown. And one batch of tiny pointers is stored in transactions of
//! `batch_pointers`, never held whole. Their own test binary, because they count every
//! allocation of the process (a counting global allocator) and assert on the peak; they take
//! turns.
//!
//! Measured before the limits (files, not bytes or pointers, bounded a batch, held whole in
//! memory for its transaction): 244 MB in 60 files took the daemon to 2.82 GB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clm_adapters::Inbound;
use clm_bridge::daemon::ingest::{Item, Storage};
use clm_bridge::daemon::intake::intake;
use clm_bridge::daemon::progress::ProgressSlot;
use clm_bridge::daemon::receiver::Receiver;
use clm_bridge::daemon::summary::Summary;
use clm_bridge::limits::Limits;
use clm_bridge::pipeline::Ingested;
use clm_bridge::store::{NewChat, Store};
use clm_bridge::vault::{KdfParams, Vault};
use clm_core::{Clm202Chat, Format, Pointer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Counts the bytes allocated now and the most ever allocated at once.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let now = if new_size >= layout.size() {
            NOW.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size()
        } else {
            NOW.fetch_sub(layout.size() - new_size, Ordering::Relaxed) - (layout.size() - new_size)
        };
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: as allocated, with the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests take turns: each measures the whole process's heap.
static TURN: Mutex<()> = Mutex::new(());

fn my_turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a measurement: the heap in use now, and the peak reset to it.
fn measure_from() -> usize {
    let now = NOW.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

const MIB: usize = 1 << 20;
/// Inputs, as a drop folder of 60 files of 4 MiB each hands them over.
const INPUTS: usize = 60;
const INPUT_BYTES: usize = 4 * MIB;
/// The bound asserted: the intake's budget (16 MiB), a batch (8 MiB), the hand-over (two
/// inputs), SQLite's page cache (16 MiB) and the working set, with room to spare.
const PEAK_BOUND: usize = 100 * MIB;

/// One input of junk: clm202-shaped pointers no chat opens, each `{"e":..,"n":..,"d":..}` with
/// 1 KiB of hex, packed into `INPUT_BYTES`.
fn junk(input: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(INPUT_BYTES);
    let mut n = 0u64;
    loop {
        let pointer = format!(
            "{{\"e\":{},\"n\":\"j{input}-{n}\",\"d\":\"{:01024x}\"}}\n",
            1_763_700_000 + n,
            (input as u64) << 32 | n
        );
        if text.len() + pointer.len() > INPUT_BYTES {
            return text;
        }
        text.extend_from_slice(pointer.as_bytes());
        n += 1;
    }
}

fn inbound(origin: String, text: Vec<u8>) -> Inbound {
    Inbound {
        transport: "drop.flood".into(),
        origin,
        place: String::new(),
        text,
        cursor: None,
        committed: None,
    }
}

/// A store with chat Family (clm202, secret "family secret") and the daemon's storage on it.
fn storage(temp: &tempfile::TempDir, limits: Limits) -> Storage {
    let database = temp.path().join("history.sqlite3");
    let mut store = Store::open(&database).expect("store");
    let (vault, header) =
        Vault::create(b"pass", KdfParams { m_kib: 64, t: 1, p: 1 }, getrandom::fill).expect("vault");
    store.set_vault_header(&header).expect("header");
    let chat = NewChat {
        name: "Family",
        format: Format::Clm202,
        secret: b"family secret",
        clm201_chat_id: None,
        seed_suffix: None,
        native_root: None,
        native_salt: None,
        created_at: 1,
    };
    store.unlock(&vault).expect("unlocked");
    store.add_chat(&chat).expect("chat");
    Storage::open(store, limits, &std::collections::BTreeMap::new(), 1_763_700_000).expect("storage")
}

#[test]
fn a_244_mb_backlog_is_stored_in_bounded_batches_and_a_real_message_behind_it_is_shown() {
    let _turn = my_turn();
    let temp = tempfile::tempdir().expect("temp dir");
    let database = temp.path().join("history.sqlite3");
    // Every pointer of every input is read: the batch bounds, not the per-input one, do the work.
    let limits = Limits { pointers_per_input: usize::MAX, ..Limits::default() };
    let storage = storage(&temp, limits);
    let real = Pointer::Clm202(
        Clm202Chat::new("family secret", "Family")
            .encode("alice", "behind the flood", 1_763_700_000, "r")
            .unwrap(),
    )
    .to_json();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let before = measure_from();
    let mut out = Vec::new();
    runtime.block_on(async {
        let (intake, receiver_side) = intake(limits.inbound_queue_bytes);
        let (sender, _forwarder) = intake.transport_sender();
        drop(intake);
        // The transport: one input at a time, made as it is sent (as a drop folder reads its files).
        let producer = tokio::spawn(async move {
            for input in 0..INPUTS {
                sender.send(inbound(format!("junk-{input}.json"), junk(input))).await.expect("queue open");
            }
            sender.send(inbound("real.json".into(), real.into_bytes())).await.expect("queue open");
        });
        let (_requests_tx, requests) = mpsc::channel(1);
        let mut receiver = Receiver {
            storage: Arc::new(Mutex::new(storage)),
            database: PathBuf::from(&database),
            limits,
            json: true,
            progress: ProgressSlot::default(),
            out: &mut out,
            notifier: None,
            handled: Arc::new(AtomicU64::new(0)),
            summary: Summary::default(),
            full_until: None,
            events: clm_bridge::api::EventBell::default(),
            outbox_wake: Arc::default(),
        };
        let never = CancellationToken::new();
        receiver.receive(receiver_side, requests, &never, &never).await.expect("received");
        producer.await.expect("producer");
    });
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!("peak heap over the backlog: {:.1} MiB", peak as f64 / MIB as f64);
    assert!(
        peak < PEAK_BOUND,
        "peak heap {peak} bytes for a {} MB backlog",
        INPUTS * INPUT_BYTES / 1_000_000
    );
    let shown = String::from_utf8(out).expect("UTF-8");
    assert!(shown.contains("\"text\":\"behind the flood\""), "the real message is shown: {shown}");
}

#[test]
fn one_batch_of_tiny_pointers_is_stored_in_transactions_of_batch_pointers() {
    let _turn = my_turn();
    let temp = tempfile::tempdir().expect("temp dir");
    // Every pointer read and kept (then shed to the pending caps): only the transactions bound
    // what is held.
    let limits = Limits { pointers_per_input: usize::MAX, pending_per_origin: u32::MAX, ..Limits::default() };
    let mut storage = storage(&temp, limits);
    // 2 MiB of the smallest junk pointers: about 75 000 of them in one batch.
    let mut text = Vec::with_capacity(2 * MIB);
    let mut n = 0u64;
    while text.len() < 2 * MIB - 64 {
        text.extend_from_slice(format!("{{\"e\":{n},\"n\":\"\",\"d\":\"{:02x}\"}}\n", n % 256).as_bytes());
        n += 1;
    }
    let items = [Item {
        transport: "drop.flood".into(),
        origin: "tiny.json".into(),
        place: String::new(),
        text,
        cursor: None,
    }];
    let before = measure_from();
    let mut ingested = Ingested::default();
    storage.ingest(&items, 1_763_700_000, true, &mut ingested).expect("stored");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!("{n} pointers in one batch: peak heap {:.1} MiB over the input", peak as f64 / MIB as f64);
    assert_eq!(ingested.per_input[0].pointers as u64, n);
    // SQLite's page cache and one transaction's arrivals: never the whole batch's (~75 000
    // arrivals, about 25 MiB).
    assert!(peak < 16 * MIB, "peak heap {peak} bytes for one batch of {n} pointers");
}

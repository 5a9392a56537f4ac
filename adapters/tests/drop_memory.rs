//! What a drop folder full of files costs the receive loop in memory, counted by a global
//! allocator (this test binary holds this one test, so nothing else allocates meanwhile).

#![cfg(feature = "drop")]
// A counting allocator is the one way to measure heap bytes exactly: it forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clm_adapters::drop::{DropSettings, DropTransport};
use clm_adapters::{Cursor, Inbound, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Heap bytes in use, and the most in use since the last reset of `PEAK`.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only the byte counts are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `System.alloc`, with the caller's layout.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as `System.dealloc`, with what the caller got from `alloc`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `System.realloc`, with the caller's arguments.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const HANG_GUARD: Duration = Duration::from_secs(300);
/// The longest name most file systems allow.
const NAME_MAX: usize = 255;
/// What reading may hold beyond the per-file records, whatever the folder's size: a backlog
/// window's bookkeeping (16 MiB), the read queue made of it, listing chunks and read buffers.
const TRANSIENT_BOUND: usize = 32 << 20;

/// Files of each kind in the big folder: `CLM_DROP_MEMORY_FILES` (to measure at other sizes),
/// else 4 000.
fn files_per_kind() -> usize {
    std::env::var("CLM_DROP_MEMORY_FILES").ok().and_then(|n| n.parse().ok()).unwrap_or(4_000)
}

/// A scratch folder, in memory where there is a tmpfs (creating files is the slow part here).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() }
}

fn pointer(n: usize) -> String {
    format!(r#"{{"e": {}, "n": "nonce-{n}", "d": "{:0>64x}"}}"#, 1_700_000_000 + n, n)
}

/// A name of `NAME_MAX` bytes ending in `tag` and `n`.
fn long_name(tag: &str, n: usize) -> String {
    let end = format!("-{tag}-{n}.json");
    format!("{}{end}", "x".repeat(NAME_MAX - end.len()))
}

/// Kinds of entries in the big folder.
const KINDS: usize = 3;

/// `files` pointer files, `files` empty ones and `files` symlinks (each skipped with a
/// warning, the symlinks as soon as they are listed), every name of the greatest length.
fn fill(folder: &Path, files: usize) {
    for n in 0..files {
        fs::write(folder.join(long_name("pointer", n)), pointer(n)).unwrap();
        fs::File::create(folder.join(long_name("empty", n))).unwrap();
        std::os::unix::fs::symlink("elsewhere", folder.join(long_name("link", n))).unwrap();
    }
}

struct Run {
    inbound: mpsc::Receiver<Inbound>,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), clm_adapters::TransportError>>,
}

fn start(folder: &Path) -> Run {
    // No settle time: every file is complete (nothing writes to the folder meanwhile). No
    // periodic listing while idle memory is sampled: events bring the marker.
    let settings = DropSettings {
        poll_interval: Duration::from_secs(3600),
        settle_time: Duration::ZERO,
        ..DropSettings::new(folder)
    };
    let transport = Arc::new(DropTransport::new("drop.memory".into(), settings));
    let (tx, inbound) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let handle = tokio::spawn(transport.run(Vec::<Cursor>::new(), tx, stop.clone()));
    Run { inbound, stop, handle }
}

impl Run {
    /// Takes `count` deliveries, then one more after a marker file (so every file has been
    /// dealt with, warnings included).
    async fn drain(&mut self, folder: &Path, count: usize) {
        tokio::time::timeout(HANG_GUARD, async {
            for _ in 0..count {
                self.inbound.recv().await.expect("delivery");
            }
            let marker = folder.join("marker.json");
            fs::write(folder.join(".marker.partial"), pointer(usize::from(u16::MAX))).unwrap();
            fs::rename(folder.join(".marker.partial"), &marker).unwrap();
            let last = self.inbound.recv().await.expect("the marker");
            assert_eq!(last.origin, "marker.json");
        })
        .await
        .expect("the folder is read before the hang guard");
    }

    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap().unwrap();
    }
}

/// Heap bytes in use by the idle loop: the least of a few samples, so a blocking task that
/// is just ending does not count.
async fn idle_live() -> usize {
    let mut least = usize::MAX;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        least = least.min(LIVE.load(Ordering::Relaxed));
    }
    least
}

/// Heap bytes the receive loop holds once idle, per entry of a folder of pointer files and
/// hostile entries with the longest names: what the seen set and a fixed-size record per entry
/// cost, never the names themselves (the loop kept a name per skipped entry). And what it held beyond that while reading: bounded whatever the folder's size,
/// as a backlog is read in windows and listed in chunks.
#[tokio::test]
async fn regression_a_folder_of_many_long_named_files_costs_a_bounded_amount_per_file() {
    let files = files_per_kind();
    let small = scratch();
    let big = scratch();
    fill(big.path(), files);

    let mut run = start(small.path());
    run.drain(small.path(), 0).await;
    let idle_small = idle_live().await;
    run.stop().await;

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut run = start(big.path());
    run.drain(big.path(), files).await;
    let idle_big = idle_live().await;
    let peak = PEAK.load(Ordering::Relaxed);
    run.stop().await;

    let entries = KINDS * files;
    let per_file = idle_big.saturating_sub(idle_small) as f64 / entries as f64;
    let transient = peak.saturating_sub(idle_big.max(before));
    println!(
        "{entries} entries: idle {per_file:.1} bytes per entry; while reading {:.1} MiB more ({:.1} bytes per entry)",
        transient as f64 / f64::from(1 << 20),
        transient as f64 / entries as f64,
    );
    // The seen set's 16-byte keys and a 32-byte record per entry, in hash tables at least
    // 7/16 full (they double when 7/8 full).
    assert!(per_file < 128.0, "{per_file:.1} bytes per entry while idle");
    assert!(transient < TRANSIENT_BOUND, "{transient} bytes more while reading");
}

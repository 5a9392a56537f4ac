//! Store ingest throughput: 100 000 opened pointers, in batches of 500 (one transaction each,
//! with a cursor), into a fresh database in a temporary directory. Each message is sealed twice
//! (sender and text) with the vault, as in the daemon. Criterion reports messages per second.
//! Also the cost of opening a vault with the real Argon2id parameters.
//!
//! `cargo bench -p clm-bridge --bench ingest`

use std::hint::black_box;
use std::time::{Duration, Instant};

use clm_bridge::store::{Arrival, ArrivalItem, NewChat, Store};
use clm_bridge::vault::{KdfParams, Vault};
use clm_core::Format;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const MESSAGES: usize = 100_000;
const BATCH: usize = 500;
/// The store bench is about SQLite and sealing, not the KDF.
const CHEAP_KDF: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

/// SplitMix64: spreads digests over the key space as SHA-256 would, without a hash dependency.
fn mix(mut state: u64) -> u64 {
    state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn digest(n: u64) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for (index, chunk) in digest.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(n * 4 + index as u64).to_le_bytes());
    }
    digest
}

/// The batches: pointer text the size of a short clm202 message, text of about 60 bytes.
fn batches(chat_id: i64) -> Vec<Vec<Arrival>> {
    (0..MESSAGES as u64)
        .map(|n| Arrival {
            transport: "drop.bench".to_owned(),
            origin: format!("{:016x}.clm", mix(n)),
            now: 1_760_000_000 + (n / 1000) as i64,
            item: ArrivalItem::Opened {
                chat_id,
                digest: digest(n),
                pointer_text: format!(
                    r#"{{"e":{},"n":"{:032x}","d":"{}"}}"#,
                    1_760_000_000 + n,
                    n,
                    "ab".repeat(80)
                ),
                format: Format::Clm202,
                epoch: 1_760_000_000 + n,
                sender: "alice".to_owned(),
                text: format!("message number {n}, about as long as a short chat line"),
                truncated: false,
            },
        })
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[Arrival]>::to_vec)
        .collect()
}

fn ingest(c: &mut Criterion) {
    let (vault, _) = Vault::create(b"bench", CHEAP_KDF, getrandom::fill).expect("vault");
    let mut group = c.benchmark_group("store");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("ingest_100k_opened_in_batches_of_500", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let temp = tempfile::tempdir().expect("tempdir");
                let mut store = Store::open(&temp.path().join("history.sqlite3")).expect("store");
                store.unlock(&vault).expect("unlock");
                let chat = NewChat {
                    name: "bench",
                    format: Format::Clm202,
                    secret: b"bench secret",
                    clm201_chat_id: None,
                    seed_suffix: None,
                    native_root: None,
                    native_salt: None,
                    created_at: 0,
                };
                let chat_id = store.add_chat(&chat).expect("chat");
                let batches = batches(chat_id);
                let start = Instant::now();
                for (index, batch) in batches.iter().enumerate() {
                    let position = index.to_string();
                    let outcomes =
                        store.ingest(batch, &[("drop.bench", "batch", &position)]).expect("ingest");
                    black_box(outcomes);
                }
                total += start.elapsed();
                assert_eq!(store.message_count().expect("count"), MESSAGES as u64);
            }
            total
        })
    });
    group.finish();
}

fn vault_open(c: &mut Criterion) {
    let (_, header) =
        Vault::create(b"bench passphrase", KdfParams::default(), getrandom::fill).expect("vault");
    let mut group = c.benchmark_group("vault");
    group.sample_size(10);
    group.bench_function("open_default_argon2id_64MiB_t3_p4", |b| {
        b.iter(|| Vault::open(black_box(b"bench passphrase"), &header).expect("opens"))
    });
    group.finish();
}

criterion_group!(benches, ingest, vault_open);
criterion_main!(benches);

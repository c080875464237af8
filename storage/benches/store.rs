//! Group-commit throughput of `RocksStore` on this disk (a benchmark, not a test):
//! `cargo bench -p storage --bench store`.
//!
//! Appends 128-byte entries spread round-robin over 1, 100 and 10,000 groups, committing
//! (one write + one fsync) every 1, 64 or 1024 entries, and prints entries/s and fsyncs/s;
//! then the latency of a 1-entry synced batch, and the disk's raw fsync latency beside it.
//! Batches are committed as the driver does: the next batch is written while the last one
//! is being synced by the [`Syncer`] (each batch still gets an fsync of its own before the
//! next sync starts); the last column writes without any fsync, the store's CPU cost alone.
//! `STORE_BENCH_SECONDS` (default 2) is the time per cell; `STORE_BENCH_DIR` the directory
//! (default: a temporary directory under the working directory, which is on the real disk).
//! An argument such as `10000x1024` runs only the cells whose `groupsxbatch` contains it (and
//! skips the latency rows), for profiling one cell.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use consensus::{Entry, LogIndex, Payload, Term};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use storage::{GroupId, RocksConfig, RocksStore, Syncer, Tier, WriteBatch};

const ENTRY_BYTES: usize = 128;

fn main() {
    let seconds: f64 = std::env::var("STORE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let base = std::env::var("STORE_BENCH_DIR").unwrap_or_else(|_| ".".to_string());
    let payload = Bytes::from(vec![0xab; ENTRY_BYTES]);
    // `cargo bench` passes `--bench`; anything else not starting with `-` picks cells.
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));

    println!("| groups | entries per sync | entries/s | fsyncs/s | entries/s without the fsync |");
    println!("|---|---|---|---|---|");
    for groups in [1u64, 100, 10_000] {
        for batch in [1usize, 64, 1024] {
            if only.as_ref().is_some_and(|only| !format!("{groups}x{batch}").contains(only.as_str())) {
                continue;
            }
            let (entries, syncs) = run_cell(&base, budget, groups, batch, &payload, true);
            let (unsynced, _) = run_cell(&base, budget, groups, batch, &payload, false);
            println!("| {groups} | {batch} | {entries:.0} | {syncs:.0} | {unsynced:.0} |");
        }
    }

    if only.is_some() {
        return;
    }
    let dir = tempfile::tempdir_in(&base).unwrap();
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
    let group = GroupId::new(Tier::Channel, 1);
    let mut latencies = Vec::new();
    let started = Instant::now();
    for index in 1.. {
        if started.elapsed() >= budget {
            break;
        }
        let mut write = WriteBatch::new();
        let entry =
            Entry { term: Term(1), index: LogIndex(index), payload: Payload::Command(payload.clone()) };
        write.append(group, vec![entry]);
        let t0 = Instant::now();
        store.commit(&write).unwrap();
        latencies.push(t0.elapsed());
    }
    println!();
    println!("1-entry synced batch: {}", percentiles(&mut latencies));

    let file_dir = tempfile::tempdir_in(&base).unwrap();
    let mut file = std::fs::File::create(file_dir.path().join("fsync")).unwrap();
    let block = vec![0u8; 4096];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < budget {
        let t0 = Instant::now();
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
        latencies.push(t0.elapsed());
    }
    println!("raw 4 KiB write + fdatasync: {}", percentiles(&mut latencies));
}

/// Appends `batch`-entry batches round-robin over `groups` groups for `budget`; returns
/// entries/s and fsyncs/s, once every batch is durable. Without `sync` the batches are
/// written but never fsynced: the store's CPU cost alone.
fn run_cell(
    base: &str,
    budget: Duration,
    groups: u64,
    batch: usize,
    payload: &Bytes,
    sync: bool,
) -> (f64, f64) {
    let dir = tempfile::tempdir_in(base).unwrap();
    let store = Arc::new(RocksStore::open(dir.path(), &RocksConfig::default()).unwrap());
    let fsyncs = Arc::new(AtomicU64::new(0));
    let counted = fsyncs.clone();
    let on_synced = Box::new(move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
    });
    let syncer = Syncer::spawn(store.clone(), on_synced).unwrap();
    // The batch whose sync is running: waited for before the next batch is built.
    let mut syncing = None;
    let mut next = vec![1u64; groups as usize];
    let mut entries = 0u64;
    let started = Instant::now();
    while started.elapsed() < budget {
        let mut per_group: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
        for i in 0..batch as u64 {
            let g = (entries + i) % groups;
            let index = LogIndex(next[g as usize]);
            next[g as usize] += 1;
            let entry = Entry { term: Term(1), index, payload: Payload::Command(payload.clone()) };
            per_group.entry(g).or_default().push(entry);
        }
        let mut write = WriteBatch::new();
        for (g, list) in per_group {
            write.append(GroupId::new(Tier::Channel, g), list);
        }
        let written = store.write(&write).unwrap();
        if sync {
            // Runs once the previous batch's sync has ended.
            syncer.start().unwrap();
            if let Some(previous) = syncing {
                syncer.wait(previous).unwrap();
            }
            syncing = Some(written);
        }
        entries += batch as u64;
    }
    if let Some(last) = syncing {
        syncer.wait(last).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    (entries as f64 / elapsed, fsyncs.load(Ordering::Relaxed) as f64 / elapsed)
}

fn percentiles(latencies: &mut [Duration]) -> String {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    format!(
        "n={} p50={:.0}µs p99={:.0}µs p99.9={:.0}µs ({:.0}/s)",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        latencies.len() as f64 / latencies.iter().map(Duration::as_secs_f64).sum::<f64>()
    )
}

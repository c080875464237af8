//! A real crash test: a child process writes and syncs batches into a `RocksStore` and
//! reports each synced batch on stdout; the parent kills it with SIGKILL at a seeded moment,
//! reopens the store, and checks that every batch reported synced is intact and that no
//! batch is visible in part. Then it lets a new child carry on from there, many times.
//!
//! Every batch `k` appends entry `k + 1` to each of three groups, records `batch/k` in the
//! state, moves `last` to `k` and saves a hard state with commit `k + 1`: so a half-applied
//! batch would show as groups of different lengths, or a `last` that disagrees with them.
#![cfg(feature = "rocksdb")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use bytes::Bytes;
use consensus::{Entry, HardState, LogIndex, Payload, Rng, Term};
use storage::{GroupId, RocksConfig, RocksStore, Tier, WriteBatch};

const GROUPS: [GroupId; 3] = [
    GroupId { tier: Tier::Slot, id: 0 },
    GroupId { tier: Tier::Channel, id: 1 },
    GroupId { tier: Tier::Channel, id: 2 },
];
const CHILD_DIR_ENV: &str = "STORAGE_CRASH_CHILD_DIR";
const ROUNDS: u64 = 30;

/// The payload of batch `k`'s entry in group `g`: a few bytes to some tens of kilobytes,
/// so that a kill often lands inside a large write.
fn payload(k: u64, g: usize) -> Bytes {
    let len = (k * 7919 + g as u64 * 104_729) % 40_000;
    let mut data = format!("batch {k} group {g};").into_bytes();
    data.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(k as u8)));
    Bytes::from(data)
}

fn open(dir: &str) -> RocksStore {
    RocksStore::open(dir, &RocksConfig::default()).expect("the store opens after a crash")
}

/// The last batch the store holds, after checking that every batch up to it is whole and
/// that nothing after it is visible.
fn check(store: &RocksStore) -> Option<u64> {
    let meta = GROUPS[0];
    let last = store.get(meta, b"last").unwrap().map(|v| u64::from_be_bytes(v[..].try_into().unwrap()));
    let batches = last.map_or(0, |k| k + 1);
    for (g, group) in GROUPS.iter().enumerate() {
        let state = store.log_state(*group).unwrap();
        assert_eq!(state.last_index, LogIndex(batches), "group {g} holds a different number of batches");
        if batches > 0 {
            let entries = store.entries(*group, LogIndex(1), LogIndex(batches + 1), usize::MAX).unwrap();
            for (k, entry) in entries.iter().enumerate() {
                assert_eq!(entry.payload, Payload::Command(payload(k as u64, g)), "batch {k} group {g}");
            }
        }
    }
    assert_eq!(store.hard_state(meta).unwrap().commit, LogIndex(batches));
    for k in 0..batches + 3 {
        let present = store.get(meta, format!("batch/{k:08}").as_bytes()).unwrap().is_some();
        assert_eq!(present, k < batches, "batch/{k} visible without its batch, or missing");
    }
    last
}

/// The child: carries on writing batches after the last one in the store, forever, and
/// prints `synced k` once batch `k` is durable. Only runs when the parent asks.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else { return };
    let store = open(&dir);
    let next = check(&store).map_or(0, |k| k + 1);
    let mut stdout = std::io::stdout().lock();
    for k in next.. {
        let mut batch = WriteBatch::new();
        for (g, group) in GROUPS.iter().enumerate() {
            let entry =
                Entry { term: Term(1), index: LogIndex(k + 1), payload: Payload::Command(payload(k, g)) };
            batch.append(*group, vec![entry]);
        }
        batch.put(GROUPS[0], format!("batch/{k:08}"), Bytes::new());
        batch.put(GROUPS[0], &b"last"[..], k.to_be_bytes().to_vec());
        batch.hard_state(GROUPS[0], HardState { term: Term(1), vote: None, commit: LogIndex(k + 1) });
        store.commit(&batch).unwrap();
        writeln!(stdout, "synced {k}").unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn synced_batches_survive_sigkill() {
    let seed = std::env::var("STORAGE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c4a5);
    println!("crash test seed {seed} (STORAGE_CRASH_SEED replays it)");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let dir_name = dir.path().to_str().unwrap().to_string();
    let mut acknowledged: Option<u64> = None;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, &dir_name)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Kept open until the kill, so the child never sees a closed pipe first.
        let mut reports = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a seeded number of reports: the child is then somewhere in its next
        // batch, writing or syncing.
        let kill_after = rng.below(40);
        let mut seen = 0;
        for line in reports.by_ref() {
            let line = line.unwrap();
            let Some(k) = line.strip_prefix("synced ") else { continue };
            let k: u64 = k.parse().unwrap();
            assert!(acknowledged.is_none_or(|a| k > a), "batch {k} reported twice");
            acknowledged = Some(k);
            seen += 1;
            if seen > kill_after {
                break;
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        drop(reports);
        assert!(!status.success(), "the child was killed, not finished: {status}");

        let store = open(&dir_name);
        let last = check(&store);
        assert!(
            last >= acknowledged,
            "round {round}: batch {acknowledged:?} was synced but the store ends at {last:?}"
        );
        // What survived beyond the acknowledged batches is whole, and is now the baseline.
        acknowledged = last;
    }
    assert!(acknowledged.is_some_and(|k| k >= ROUNDS), "the children made progress: {acknowledged:?}");
}

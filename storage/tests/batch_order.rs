//! RocksDB is handed a batch's puts and deletes in key order (a cheaper memtable insert), but
//! the batch must mean what it meant in the order written: later writes of a key win, and a
//! range delete covers exactly the writes before it. Both engines, same batch, same result.

use bytes::Bytes;
use consensus::{Entry, LogIndex, Payload, Term};
use storage::{Cf, Engine, GroupId, MemStore, RocksConfig, RocksStore, Store, Tier, WriteBatch};

const A: GroupId = GroupId { tier: Tier::Channel, id: 7 };
const B: GroupId = GroupId { tier: Tier::Channel, id: 3 };

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        payload: Payload::Command(Bytes::from(vec![index as u8])),
    }
}

/// Writes out of key order, the same key twice, a delete between, and a truncation (a range
/// delete) between two appends of the same indexes.
fn write_everything<E: Engine>(store: &Store<E>) {
    let mut batch = WriteBatch::new();
    batch.put(A, &b"z"[..], &b"first"[..]);
    batch.put(B, &b"m"[..], &b"b-m"[..]);
    batch.put(A, &b"a"[..], &b"gone"[..]);
    batch.delete(A, &b"a"[..]);
    batch.put(A, &b"z"[..], &b"second"[..]);
    batch.append(A, (1..=5).map(|i| entry(1, i)).collect());
    batch.append(B, vec![entry(1, 1)]);
    batch.append(A, (3..=4).map(|i| entry(2, i)).collect());
    batch.put(A, &b"a"[..], &b"back"[..]);
    store.commit(&batch).unwrap();
}

fn read_everything<E: Engine>(store: &Store<E>) -> Vec<String> {
    let mut seen = Vec::new();
    for (group, key) in [(A, &b"a"[..]), (A, b"z"), (B, b"m")] {
        seen.push(format!("{group:?} {key:?} = {:?}", store.get(group, key).unwrap()));
    }
    for group in [A, B] {
        let last = store.log_state(group).unwrap().last_index;
        let entries = store.entries(group, LogIndex(1), last.next(), usize::MAX).unwrap();
        let terms: Vec<u64> = entries.iter().map(|e| e.term.0).collect();
        seen.push(format!("{group:?} log to {last}: terms {terms:?}"));
    }
    seen
}

#[test]
fn a_batch_reads_back_as_written_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
    let mem = MemStore::in_memory();
    write_everything(&rocks);
    write_everything(&mem);
    let seen = read_everything(&rocks);
    assert_eq!(seen, read_everything(&mem));
    assert!(seen[0].ends_with("Some(b\"back\")"), "{seen:?}");
    assert!(seen[1].ends_with("Some(b\"second\")"), "{seen:?}");
    assert!(seen[3].ends_with("log to 4: terms [1, 1, 2, 2]"), "{seen:?}");

    // And again from the files, after a reopen.
    drop(rocks);
    let rocks = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
    assert_eq!(read_everything(&rocks), seen);
}

#[test]
fn a_key_written_many_times_in_a_batch_is_inserted_once() {
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
    let entries = |store: &RocksStore| store.engine().memtable_entries(Cf::Kv).unwrap();
    let before = entries(&rocks);
    let mut batch = WriteBatch::new();
    for seq in 1..=5u8 {
        batch.put(A, &b"sender"[..], vec![seq]);
        batch.put(A, vec![b'm', seq], &b"message"[..]);
    }
    batch.delete(B, &b"x"[..]);
    batch.put(B, &b"x"[..], &b"after the delete"[..]);
    rocks.commit(&batch).unwrap();
    // One sender key, five messages, one x.
    assert_eq!(entries(&rocks) - before, 7);
    assert_eq!(rocks.get(A, b"sender").unwrap().as_deref(), Some(&[5u8][..]));
    assert_eq!(rocks.get(B, b"x").unwrap().as_deref(), Some(&b"after the delete"[..]));
}

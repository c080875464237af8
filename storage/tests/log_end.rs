//! A reopened store finds where each log ends by point lookups (the log's memtable is hashed
//! by group and cannot seek backwards): right for every length, next to neighbouring groups'
//! logs, after a compaction and after a truncation, in the memtable and in SST files.

use bytes::Bytes;
use consensus::{Entry, LogIndex, Membership, Payload, SnapshotMeta, Term};
use storage::{GroupId, LogState, RocksConfig, RocksStore, Tier, WriteBatch};

fn entries(term: u64, from: u64, to: u64) -> Vec<Entry> {
    (from..=to)
        .map(|i| Entry {
            term: Term(term),
            index: LogIndex(i),
            payload: Payload::Command(Bytes::from(vec![1; 8])),
        })
        .collect()
}

/// Group `id`'s log: `len` entries of term 1, the last `id % 3` of them rewritten in term 2 by
/// a truncation, and every fourth group compacted to half its length.
fn write_group(batch: &mut WriteBatch, id: u64, len: u64) -> LogState {
    let group = GroupId::new(Tier::Channel, id);
    let mut state = LogState::default();
    if len == 0 {
        return state;
    }
    batch.append(group, entries(1, 1, len));
    (state.last_index, state.last_term) = (LogIndex(len), Term(1));
    let rewrite = id % 3;
    if rewrite > 0 && rewrite < len {
        batch.truncate(group, LogIndex(len - rewrite + 1));
        batch.append(group, entries(2, len - rewrite + 1, len));
        state.last_term = Term(2);
    }
    if id.is_multiple_of(4) && len >= 2 {
        let index = LogIndex(len / 2);
        let meta = SnapshotMeta { index, term: Term(1), membership: Membership::new([1], []) };
        batch.compact(group, meta, Bytes::new());
        (state.snapshot_index, state.snapshot_term) = (index, Term(1));
    }
    state
}

#[test]
fn a_reopened_log_ends_where_it_was_written() {
    let lengths: Vec<u64> = (0..=70).chain([127, 128, 129, 1000, 1023, 1024, 1025]).collect();
    for flush in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        {
            let store = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
            for (id, len) in lengths.iter().enumerate() {
                let mut batch = WriteBatch::new();
                expected.push(write_group(&mut batch, id as u64, *len));
                store.commit(&batch).unwrap();
            }
            if flush {
                store.engine().flush().unwrap();
            }
        }
        let store = RocksStore::open(dir.path(), &RocksConfig::default()).unwrap();
        for (id, want) in expected.iter().enumerate() {
            let group = GroupId::new(Tier::Channel, id as u64);
            let state = store.log_state(group).unwrap();
            assert_eq!(state, *want, "group {id} of length {} (flushed: {flush})", lengths[id]);
            let all = store.entries(group, state.first_index(), state.last_index.next(), usize::MAX).unwrap();
            assert_eq!(all.len() as u64, state.last_index.0 - state.snapshot_index.0);
        }
    }
}

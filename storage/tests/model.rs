//! Both stores against a model: random sequences of batches (append, truncate, compact,
//! install a snapshot, hard state, state puts and deletes, deleting a group), syncs, and
//! crashes or reopens, compared after every step with a `BTreeMap` model of what must be
//! visible.
//!
//! `MemStore` crashes: the state after a crash must be the synced state plus some whole
//! prefix of the unsynced batches, never part of a batch. `RocksStore` is closed and
//! reopened: a process restart keeps every written batch.

use std::collections::BTreeMap;

use bytes::Bytes;
use consensus::{Entry, HardState, LogIndex, Membership, NodeId, Payload, Snapshot, SnapshotMeta, Term};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use storage::{CrashMode, Engine, GroupId, MemStore, Order, Store, Tier, WriteBatch};

const GROUPS: [GroupId; 3] = [
    GroupId { tier: Tier::Node, id: 0 },
    GroupId { tier: Tier::Slot, id: 7 },
    GroupId { tier: Tier::Channel, id: 7 },
];

/// An operation with its positions still abstract: `pick` is resolved against the model
/// when the step runs, so every generated operation is valid.
#[derive(Clone, Debug)]
enum Abstract {
    Append { group: usize, pick: u64, len: usize, term: u64, membership: bool },
    Truncate { group: usize, pick: u64 },
    HardState { group: usize, term: u64, vote: u64, commit: u64 },
    Compact { group: usize, pick: u64, data: Vec<u8> },
    Install { group: usize, ahead: u64, term: u64, data: Vec<u8> },
    Put { group: usize, key: Vec<u8>, value: Vec<u8> },
    Delete { group: usize, key: Vec<u8> },
    DeleteGroup { group: usize },
}

#[derive(Clone, Debug)]
enum Step {
    Write(Vec<Abstract>),
    Sync,
    /// MemStore: a crash keeping a seeded prefix of the unsynced batches.
    /// RocksStore: close and reopen.
    Restart(u64),
}

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xff), any::<u8>()], 0..4)
}

fn abstract_op() -> impl Strategy<Value = Abstract> {
    let group = 0..GROUPS.len();
    prop_oneof![
        4 => (group.clone(), any::<u64>(), 1..5usize, 1..4u64, prop::bool::weighted(0.2))
            .prop_map(|(group, pick, len, term, membership)| Abstract::Append { group, pick, len, term, membership }),
        1 => (group.clone(), any::<u64>()).prop_map(|(group, pick)| Abstract::Truncate { group, pick }),
        2 => (group.clone(), 0..5u64, 0..4u64, 0..9u64)
            .prop_map(|(group, term, vote, commit)| Abstract::HardState { group, term, vote, commit }),
        1 => (group.clone(), any::<u64>(), small_key())
            .prop_map(|(group, pick, data)| Abstract::Compact { group, pick, data }),
        1 => (group.clone(), 0..4u64, 1..5u64, small_key())
            .prop_map(|(group, ahead, term, data)| Abstract::Install { group, ahead, term, data }),
        4 => (group.clone(), small_key(), small_key()).prop_map(|(group, key, value)| Abstract::Put { group, key, value }),
        2 => (group.clone(), small_key()).prop_map(|(group, key)| Abstract::Delete { group, key }),
        1 => Just(Abstract::DeleteGroup { group: 2 }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(abstract_op(), 1..5).prop_map(Step::Write),
        2 => Just(Step::Sync),
        1 => any::<u64>().prop_map(Step::Restart),
    ]
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct GroupModel {
    hard_state: HardState,
    snapshot: Snapshot,
    entries: BTreeMap<LogIndex, Entry>,
    kv: BTreeMap<Vec<u8>, Vec<u8>>,
    has_hard_state: bool,
}

impl GroupModel {
    fn last_index(&self) -> LogIndex {
        self.entries.keys().next_back().copied().unwrap_or(self.snapshot.meta.index)
    }

    fn term(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot.meta.index {
            return Some(self.snapshot.meta.term);
        }
        self.entries.get(&index).map(|e| e.term)
    }

    fn membership_at(&self, index: LogIndex) -> Membership {
        let in_log = self.entries.range(..=index).rev().find_map(|(_, e)| match &e.payload {
            Payload::Membership(m) => Some(m.clone()),
            _ => None,
        });
        in_log.unwrap_or_else(|| self.snapshot.meta.membership.clone())
    }
}

type Model = [GroupModel; 3];

/// Resolves `op` against `model`, adds it to `batch` and applies it to `model`.
fn resolve(op: &Abstract, model: &mut Model, batch: &mut WriteBatch) {
    match op {
        Abstract::Append { group, pick, len, term, membership } => {
            let m = &mut model[*group];
            let first = m.snapshot.meta.index.next();
            let first = first.plus(pick % (m.last_index().next().0 - first.0 + 1));
            let term = Term(m.term(first.prev()).map_or(0, |t| t.0) + term - 1);
            let entries: Vec<Entry> = (0..*len as u64)
                .map(|i| {
                    let index = first.plus(i);
                    let payload = if *membership && i == 0 {
                        Payload::Membership(Membership::new([1, index.0 % 5 + 2], [9]))
                    } else {
                        Payload::Command(Bytes::from(format!("{group}/{index}/{term}")))
                    };
                    Entry { term, index, payload }
                })
                .collect();
            m.entries.split_off(&first);
            m.entries.extend(entries.iter().map(|e| (e.index, e.clone())));
            batch.append(GROUPS[*group], entries);
        }
        Abstract::Truncate { group, pick } => {
            let m = &mut model[*group];
            let first = m.snapshot.meta.index.next();
            let from = first.plus(pick % (m.last_index().next().0 - first.0 + 1));
            m.entries.split_off(&from);
            batch.truncate(GROUPS[*group], from);
        }
        Abstract::HardState { group, term, vote, commit } => {
            let hard_state = HardState {
                term: Term(*term),
                vote: Some(NodeId(*vote)).filter(|v| v.0 != 0),
                commit: LogIndex(*commit),
            };
            model[*group].hard_state = hard_state;
            model[*group].has_hard_state = true;
            batch.hard_state(GROUPS[*group], hard_state);
        }
        Abstract::Compact { group, pick, data } => {
            let m = &mut model[*group];
            let (snapshot_index, last) = (m.snapshot.meta.index, m.last_index());
            if last == snapshot_index {
                return;
            }
            let index = snapshot_index.plus(1 + pick % (last.0 - snapshot_index.0));
            let meta =
                SnapshotMeta { index, term: m.term(index).unwrap(), membership: m.membership_at(index) };
            m.entries = m.entries.split_off(&index.next());
            m.snapshot = Snapshot { meta: meta.clone(), data: Bytes::from(data.clone()) };
            batch.compact(GROUPS[*group], meta, Bytes::from(data.clone()));
        }
        Abstract::Install { group, ahead, term, data } => {
            let m = &mut model[*group];
            let index = m.last_index().plus(*ahead);
            let meta = SnapshotMeta { index, term: Term(*term), membership: Membership::new([1, 2, 3], []) };
            let snapshot = Snapshot { meta, data: Bytes::from(data.clone()) };
            m.entries.clear();
            m.snapshot = snapshot.clone();
            batch.install_snapshot(GROUPS[*group], snapshot);
        }
        Abstract::Put { group, key, value } => {
            model[*group].kv.insert(key.clone(), value.clone());
            batch.put(GROUPS[*group], key.clone(), value.clone());
        }
        Abstract::Delete { group, key } => {
            model[*group].kv.remove(key);
            batch.delete(GROUPS[*group], key.clone());
        }
        Abstract::DeleteGroup { group } => {
            model[*group] = GroupModel::default();
            batch.delete_group(GROUPS[*group]);
        }
    }
}

/// Everything a reader of the store can observe, in the model's shape.
fn observe<E: Engine>(store: &Store<E>) -> Model {
    let mut seen = Model::default();
    for (i, group) in GROUPS.iter().enumerate() {
        let state = store.log_state(*group).unwrap();
        let snapshot = store.snapshot(*group).unwrap();
        assert_eq!((state.snapshot_index, state.snapshot_term), (snapshot.meta.index, snapshot.meta.term));
        let entries =
            store.entries(*group, state.first_index(), state.last_index.next(), usize::MAX).unwrap();
        for entry in &entries {
            assert_eq!(store.term(*group, entry.index).unwrap(), Some(entry.term));
        }
        assert_eq!(store.term(*group, state.snapshot_index).unwrap(), Some(state.snapshot_term));
        assert_eq!(store.term(*group, state.last_index.next()).unwrap(), None);
        assert_eq!(state.last_term, store.term(*group, state.last_index).unwrap().unwrap());
        let memberships: Vec<(LogIndex, Membership)> = entries
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Membership(m) => Some((e.index, m.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(store.memberships(*group).unwrap(), memberships);
        // The newest entries, as a driver reads them to apply them (from memory, mostly).
        for back in 1..=entries.len().min(3) {
            let from = entries[entries.len() - back].index;
            let newest = store.entries(*group, from, state.last_index.next(), usize::MAX).unwrap();
            assert_eq!(newest, entries[entries.len() - back..]);
        }
        // A byte limit stops early but always returns one entry.
        if let Some(first) = entries.first() {
            let one = store.entries(*group, first.index, state.last_index.next(), 0).unwrap();
            assert_eq!(one, vec![first.clone()]);
        }
        let kv: BTreeMap<Vec<u8>, Vec<u8>> = store
            .scan(*group, b"", None, usize::MAX, Order::Ascending)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        let mut descending = store.scan(*group, b"", None, usize::MAX, Order::Descending).unwrap();
        descending.reverse();
        assert_eq!(descending.len(), kv.len());
        for (key, value) in &kv {
            assert_eq!(store.get(*group, key).unwrap().as_deref(), Some(&value[..]));
        }
        let bounded = store.scan(*group, &[1], Some(&[0xff]), 2, Order::Descending).unwrap();
        let expected: Vec<_> = kv.range(vec![1]..vec![0xff]).rev().take(2).map(|(k, _)| k.clone()).collect();
        assert_eq!(bounded.iter().map(|(k, _)| k.to_vec()).collect::<Vec<_>>(), expected);
        seen[i] = GroupModel {
            hard_state: store.hard_state(*group).unwrap(),
            snapshot,
            entries: entries.into_iter().map(|e| (e.index, e)).collect(),
            kv,
            has_hard_state: false,
        };
    }
    let with_hard_state = store.groups().unwrap();
    for (i, group) in GROUPS.iter().enumerate() {
        seen[i].has_hard_state = with_hard_state.contains(group);
    }
    seen
}

/// Runs `steps` against a store; `restart` crashes or reopens it and says which states
/// (durable first, then after each unsynced batch) the store may come back in.
fn run<E: Engine>(steps: &[Step], mut store: Store<E>, restart: impl Fn(Store<E>, u64) -> (Store<E>, bool)) {
    let mut model = Model::default();
    // The model after the last sync, and after each batch written since.
    let mut durable = model.clone();
    let mut unsynced: Vec<Model> = Vec::new();
    for step in steps {
        match step {
            Step::Write(ops) => {
                let mut batch = WriteBatch::new();
                for op in ops {
                    resolve(op, &mut model, &mut batch);
                }
                store.write(&batch).unwrap();
                unsynced.push(model.clone());
            }
            Step::Sync => {
                store.sync().unwrap();
                durable = model.clone();
                unsynced.clear();
            }
            Step::Restart(seed) => {
                let (reopened, keeps_everything) = restart(store, *seed);
                store = reopened;
                let seen = observe(&store);
                if keeps_everything {
                    assert_eq!(seen, model);
                } else {
                    let candidates: Vec<&Model> = std::iter::once(&durable).chain(unsynced.iter()).collect();
                    assert!(
                        candidates.iter().any(|c| **c == seen),
                        "after the crash the store is not the synced state plus whole batches"
                    );
                    model = seen;
                }
                durable = model.clone();
                unsynced.clear();
                continue;
            }
        }
        assert_eq!(observe(&store), model);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "../proptest-regressions/storage-model.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mem_store_matches_the_model(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps, MemStore::in_memory(), |store, seed| {
            let mode = if seed % 2 == 0 { CrashMode::LoseUnsynced } else { CrashMode::KeepSomeUnsynced { seed } };
            store.crash(mode);
            (store, false)
        });
    }
}

#[cfg(feature = "rocksdb")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..config() })]

    #[test]
    fn rocks_store_matches_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let config = storage::RocksConfig::default();
        let store = storage::RocksStore::open(dir.path(), &config).unwrap();
        run(&steps, store, |store, _| {
            drop(store);
            (storage::RocksStore::open(dir.path(), &config).unwrap(), true)
        });
    }
}

/// A batch is all or nothing: one invalid operation and none of the batch is applied.
#[test]
fn an_invalid_batch_changes_nothing() {
    let store = MemStore::in_memory();
    let group = GROUPS[1];
    let entry = |index| Entry { term: Term(1), index: LogIndex(index), payload: Payload::Noop };
    let mut batch = WriteBatch::new();
    batch.put(group, &b"k"[..], &b"v"[..]);
    batch.append(group, vec![entry(1), entry(2)]);
    store.commit(&batch).unwrap();

    let mut bad = WriteBatch::new();
    bad.put(group, &b"k"[..], &b"changed"[..]);
    bad.append(group, vec![entry(5)]);
    let error = store.write(&bad).unwrap_err();
    assert!(matches!(error, storage::Error::Invalid { .. }), "{error}");
    assert_eq!(store.get(group, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(store.log_state(group).unwrap().last_index, LogIndex(2));
}

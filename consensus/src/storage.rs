//! The read side of durable storage, as the core sees it, and an in-memory implementation.
//!
//! The core never writes: it hands the writes out in a [`Ready`](crate::Ready) and the
//! driver applies them (to RocksDB, or to [`MemStorage`]) before calling `advance`. The core
//! reads back only what is durable through this trait.

use crate::types::{Entry, HardState, LogIndex, Membership, Payload, Snapshot, Term};
use crate::Ready;

/// What a restarted core needs from its store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitialState {
    pub hard_state: HardState,
    /// The membership in force at the last durable log entry: the latest membership entry
    /// in the log, or the snapshot's membership if the log holds none.
    pub membership: Membership,
    /// Every membership entry in the durable log after the snapshot, oldest first, so that
    /// a truncation can fall back to the one before.
    pub membership_entries: Vec<(LogIndex, Membership)>,
}

/// Durable log and snapshot, read-only. `first_index()..=last_index()` are readable;
/// `first_index() - 1` is the snapshot's index, whose term is still known.
pub trait Storage {
    fn initial_state(&self) -> InitialState;
    /// The first index that holds an entry (the snapshot index + 1).
    fn first_index(&self) -> LogIndex;
    /// The last durable index (the snapshot index if the log is empty).
    fn last_index(&self) -> LogIndex;
    /// The term at `index`, for `first_index() - 1 ..= last_index()`; `None` outside.
    fn term(&self, index: LogIndex) -> Option<Term>;
    /// Entries in `[lo, hi)`, stopping before `bytes_max` is passed but always at least one
    /// entry when the range is non-empty. Panics if the range is not readable.
    fn entries(&self, lo: LogIndex, hi: LogIndex, bytes_max: usize) -> Vec<Entry>;
    /// The latest snapshot (index 0 and empty data when there is none yet).
    fn snapshot(&self) -> Snapshot;
}

/// An in-memory durable store: what the tests, the simulator and the benchmark use. "Durable"
/// here means "has been handed to `write`": a simulated crash keeps this value and drops the
/// core.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
    snapshot: Snapshot,
    /// Entries after the snapshot index, contiguous.
    entries: Vec<Entry>,
}

impl MemStorage {
    /// A store for a brand new group whose initial membership is `membership`.
    pub fn new_with_membership(membership: Membership) -> MemStorage {
        let mut store = MemStorage::default();
        store.snapshot.meta.membership = membership;
        store
    }

    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// Carries out the writes of `ready`, in the order the contract asks: snapshot, then
    /// truncation, then entries, then hard state.
    pub fn write(&mut self, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.snapshot = snapshot.clone();
            self.entries.clear();
        }
        if let Some(from) = ready.truncate_from {
            self.truncate_from(from);
        }
        if let Some(first) = ready.entries.first() {
            self.truncate_from(first.index);
            assert_eq!(first.index, self.last_index().next(), "entries must be contiguous");
            self.entries.extend(ready.entries.iter().cloned());
        }
        if let Some(hard_state) = ready.hard_state {
            self.hard_state = hard_state;
        }
    }

    fn truncate_from(&mut self, from: LogIndex) {
        let keep = from.0.saturating_sub(self.first_index().0) as usize;
        self.entries.truncate(keep);
    }

    /// Drops the entries up to `index` (which must be applied) and keeps `data` as the
    /// snapshot of the state there.
    pub fn compact(&mut self, index: LogIndex, data: bytes::Bytes) {
        if index <= self.snapshot.meta.index {
            return;
        }
        assert!(index <= self.last_index(), "compact({index}) past the last index");
        let term = self.term(index).expect("index is in the log");
        let membership = self.membership_at(index);
        let drop = (index.0 - self.snapshot.meta.index.0) as usize;
        self.entries.drain(..drop);
        self.snapshot.meta.index = index;
        self.snapshot.meta.term = term;
        self.snapshot.meta.membership = membership;
        self.snapshot.data = data;
    }

    fn membership_at(&self, index: LogIndex) -> Membership {
        self.entries
            .iter()
            .take_while(|e| e.index <= index)
            .filter_map(|e| match &e.payload {
                Payload::Membership(m) => Some(m.clone()),
                _ => None,
            })
            .last()
            .unwrap_or_else(|| self.snapshot.meta.membership.clone())
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> InitialState {
        let membership_entries: Vec<(LogIndex, Membership)> = self
            .entries
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Membership(m) => Some((e.index, m.clone())),
                _ => None,
            })
            .collect();
        let membership = membership_entries
            .last()
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| self.snapshot.meta.membership.clone());
        InitialState { hard_state: self.hard_state, membership, membership_entries }
    }

    fn first_index(&self) -> LogIndex {
        self.snapshot.meta.index.next()
    }

    fn last_index(&self) -> LogIndex {
        self.snapshot.meta.index.plus(self.entries.len() as u64)
    }

    fn term(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot.meta.index {
            return Some(self.snapshot.meta.term);
        }
        if index < self.first_index() || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index.0 - self.first_index().0) as usize].term)
    }

    fn entries(&self, lo: LogIndex, hi: LogIndex, bytes_max: usize) -> Vec<Entry> {
        assert!(
            lo >= self.first_index() && hi <= self.last_index().next(),
            "entries({lo}, {hi}) out of range"
        );
        let start = (lo.0 - self.first_index().0) as usize;
        let end = (hi.0 - self.first_index().0) as usize;
        take_bytes(&self.entries[start..end], bytes_max)
    }

    fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }
}

/// The longest prefix of `entries` within `bytes_max`, and never less than one entry.
pub(crate) fn take_bytes(entries: &[Entry], bytes_max: usize) -> Vec<Entry> {
    let mut bytes = 0;
    let mut cut = entries.len();
    for (at, entry) in entries.iter().enumerate() {
        bytes += entry.size_bytes();
        if at > 0 && bytes > bytes_max {
            cut = at;
            break;
        }
    }
    entries[..cut].to_vec()
}

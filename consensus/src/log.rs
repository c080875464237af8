//! The log as the core sees it: the durable prefix in `Storage` plus an unstable tail in
//! memory that has not yet been acknowledged as written.
//!
//! Invariant: the log is `storage[first_index .. offset)` followed by `unstable`. Storage
//! entries at or after `offset` are dead (a truncation not yet written) and are never read.
//! A pending snapshot replaces the whole storage view until it is written.

use crate::storage::Storage;
use crate::types::{Entry, LogIndex, Snapshot, Term};

pub(crate) struct RaftLog<S> {
    pub storage: S,
    /// A snapshot received from the leader, not yet written.
    pending_snapshot: Option<Snapshot>,
    /// Index of `unstable[0]`, or where the next appended entry goes when it is empty.
    offset: LogIndex,
    unstable: Vec<Entry>,
    pub committed: LogIndex,
    /// The last index handed out for applying.
    pub applied: LogIndex,
}

impl<S: Storage> RaftLog<S> {
    pub fn new(storage: S, committed: LogIndex, applied: LogIndex) -> RaftLog<S> {
        let offset = storage.last_index().next();
        let first = storage.first_index();
        assert!(committed <= storage.last_index(), "commit {committed} past the durable log");
        // After a restart, applying starts at the snapshot at the earliest.
        let applied = applied.max(first.prev()).min(committed);
        RaftLog { storage, pending_snapshot: None, offset, unstable: Vec::new(), committed, applied }
    }

    pub fn first_index(&self) -> LogIndex {
        match &self.pending_snapshot {
            Some(snapshot) => snapshot.meta.index.next(),
            None => self.storage.first_index(),
        }
    }

    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.offset.0 + self.unstable.len() as u64 - 1)
    }

    pub fn last_term(&self) -> Term {
        self.term(self.last_index()).expect("the last index always has a term")
    }

    /// The term at `index`, if it is in the log or is the snapshot's index.
    pub fn term(&self, index: LogIndex) -> Option<Term> {
        if index >= self.offset {
            return self.unstable.get((index.0 - self.offset.0) as usize).map(|e| e.term);
        }
        if let Some(snapshot) = &self.pending_snapshot {
            return (index == snapshot.meta.index).then_some(snapshot.meta.term);
        }
        self.storage.term(index)
    }

    pub fn matches(&self, index: LogIndex, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// True if a log ending at `(last_index, last_term)` is at least as up to date as ours
    /// (Raft §5.4.1).
    pub fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        let our_term = self.last_term();
        last_term > our_term || (last_term == our_term && last_index >= self.last_index())
    }

    /// The last index that is durable and still part of this log.
    pub fn stored_index(&self) -> LogIndex {
        if self.pending_snapshot.is_some() {
            return self.storage.first_index().prev();
        }
        self.storage.last_index().min(self.offset.prev())
    }

    /// Entries in `[lo, hi)`, at most `bytes_max` bytes but at least one.
    pub fn entries(&self, lo: LogIndex, hi: LogIndex, bytes_max: usize) -> Vec<Entry> {
        assert!(
            lo >= self.first_index() && hi <= self.last_index().next(),
            "entries({lo}, {hi}) out of range"
        );
        if lo >= hi {
            return Vec::new();
        }
        let mut out = Vec::new();
        if lo < self.offset {
            out = self.storage.entries(lo, hi.min(self.offset), bytes_max);
            let read_to = lo.plus(out.len() as u64);
            if read_to < self.offset || read_to >= hi {
                return out;
            }
        }
        let start = lo.max(self.offset);
        let from = (start.0 - self.offset.0) as usize;
        let to = (hi.0 - self.offset.0) as usize;
        let mut used: usize = out.iter().map(Entry::size_bytes).sum();
        for entry in &self.unstable[from..to] {
            used += entry.size_bytes();
            if !out.is_empty() && used > bytes_max {
                break;
            }
            out.push(entry.clone());
        }
        out
    }

    /// Appends entries from the leader that follow `(prev_index, prev_term)`, which the
    /// caller has checked. Entries already present are skipped; the first conflicting one
    /// truncates our tail (never below the commit index). Returns the last index that now
    /// matches the leader.
    pub fn append_from_leader(&mut self, mut entries: Vec<Entry>) -> Option<LogIndex> {
        let conflict = entries.iter().position(|e| !self.matches(e.index, e.term));
        if let Some(at) = conflict {
            let index = entries[at].index;
            assert!(
                index > self.committed,
                "conflicting entry at {index} <= commit {}: a committed entry would change",
                self.committed
            );
            self.truncate_from(index);
            self.unstable.extend(entries.drain(at..));
            return Some(index);
        }
        None
    }

    /// Appends `entries` at `entries[0].index`, dropping whatever the log held from there.
    #[cfg(test)]
    pub fn truncate_and_append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        self.truncate_from(first.index);
        self.unstable.extend_from_slice(entries);
    }

    pub fn append(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index().next());
        self.unstable.push(entry);
    }

    /// Drops every entry at or after `index` (which must be past the commit index).
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index > self.committed, "truncate at {index} <= commit {}", self.committed);
        assert!(index <= self.last_index().next() && index >= self.first_index());
        if index <= self.offset {
            self.offset = index;
            self.unstable.clear();
        } else {
            self.unstable.truncate((index.0 - self.offset.0) as usize);
        }
    }

    /// Replaces the log with a snapshot from the leader.
    pub fn restore(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        assert!(index > self.committed, "restore at {index} <= commit {}", self.committed);
        self.committed = index;
        self.offset = index.next();
        self.unstable.clear();
        self.pending_snapshot = Some(snapshot);
    }

    pub fn commit_to(&mut self, index: LogIndex) -> bool {
        if index <= self.committed {
            return false;
        }
        assert!(index <= self.last_index(), "commit {index} past last index {}", self.last_index());
        self.committed = index;
        true
    }

    // ----- handing work out and learning it is done -----

    pub fn pending_snapshot(&self) -> Option<&Snapshot> {
        self.pending_snapshot.as_ref()
    }

    pub fn unstable_entries(&self) -> &[Entry] {
        &self.unstable
    }

    /// Where the store must cut its log before writing the unstable entries, if its durable
    /// tail reaches past the live prefix.
    pub fn truncate_point(&self) -> Option<LogIndex> {
        if self.pending_snapshot.is_some() {
            return None;
        }
        (self.offset <= self.storage.last_index()).then_some(self.offset)
    }

    /// The written entries are durable. Entries that changed since they were handed out stay
    /// unstable and are written again.
    pub fn stable_to(&mut self, written: &[Entry]) {
        let Some(last) =
            written.iter().rev().find(|e| e.index >= self.offset && self.matches(e.index, e.term))
        else {
            return;
        };
        let drop = (last.index.0 - self.offset.0 + 1) as usize;
        self.unstable.drain(..drop);
        self.offset = last.index.next();
    }

    pub fn stable_snapshot(&mut self, index: LogIndex) {
        if self.pending_snapshot.as_ref().is_some_and(|s| s.meta.index == index) {
            self.pending_snapshot = None;
        }
    }

    pub fn has_committed_to_apply(&self) -> bool {
        self.committed > self.applied && self.pending_snapshot.is_none()
    }

    /// The next committed entries to apply, at most `bytes_max` bytes; marks them applied.
    pub fn take_committed(&mut self, bytes_max: usize) -> Vec<Entry> {
        if !self.has_committed_to_apply() {
            return Vec::new();
        }
        let entries = self.entries(self.applied.next(), self.committed.next(), bytes_max);
        self.applied = self.applied.plus(entries.len() as u64);
        entries
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;

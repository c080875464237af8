//! [`GroupLog`]: one group's durable log as its raft core reads it.

use std::sync::Arc;

use consensus::{Entry, InitialState, LogIndex, Snapshot, Storage, Term};

use crate::{Engine, GroupId, Store};

/// The [`consensus::Storage`] of one group, read from the node's shared [`Store`].
///
/// The core's reads cannot fail. A log that cannot be read (an I/O error, a checksum that
/// does not match) stops the node with a panic naming the group and the key: a node that
/// guessed instead could vote or acknowledge against its own history.
pub struct GroupLog<E: Engine> {
    store: Arc<Store<E>>,
    group: GroupId,
}

impl<E: Engine> GroupLog<E> {
    pub fn new(store: Arc<Store<E>>, group: GroupId) -> GroupLog<E> {
        GroupLog { store, group }
    }

    pub fn group(&self) -> GroupId {
        self.group
    }

    pub fn store(&self) -> &Arc<Store<E>> {
        &self.store
    }

    fn fatal(&self, what: &str, error: crate::Error) -> ! {
        panic!("group {:?}: cannot read {what}: {error}", self.group)
    }
}

impl<E: Engine> Storage for GroupLog<E> {
    fn initial_state(&self) -> InitialState {
        let hard_state =
            self.store.hard_state(self.group).unwrap_or_else(|e| self.fatal("the hard state", e));
        let membership_entries =
            self.store.memberships(self.group).unwrap_or_else(|e| self.fatal("the memberships", e));
        let membership = match membership_entries.last() {
            Some((_, m)) => m.clone(),
            None => {
                let meta = self.store.snapshot_meta(self.group);
                meta.unwrap_or_else(|e| self.fatal("the snapshot", e)).membership
            }
        };
        InitialState { hard_state, membership, membership_entries }
    }

    fn first_index(&self) -> LogIndex {
        self.store.log_state(self.group).unwrap_or_else(|e| self.fatal("the log", e)).first_index()
    }

    fn last_index(&self) -> LogIndex {
        self.store.log_state(self.group).unwrap_or_else(|e| self.fatal("the log", e)).last_index
    }

    fn term(&self, index: LogIndex) -> Option<Term> {
        self.store.term(self.group, index).unwrap_or_else(|e| self.fatal("a term", e))
    }

    fn entries(&self, lo: LogIndex, hi: LogIndex, bytes_max: usize) -> Vec<Entry> {
        self.store.entries(self.group, lo, hi, bytes_max).unwrap_or_else(|e| self.fatal("entries", e))
    }

    fn snapshot(&self) -> Snapshot {
        self.store.snapshot(self.group).unwrap_or_else(|e| self.fatal("the snapshot", e))
    }
}

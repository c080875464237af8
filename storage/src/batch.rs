//! The writes of one driver iteration, for any number of groups.

use bytes::Bytes;
use consensus::{Entry, HardState, LogIndex, Ready, Snapshot, SnapshotMeta};

use crate::GroupId;

/// One logical write. [`Store::write`](crate::Store::write) turns a batch of them into one
/// atomic engine batch, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Entries with contiguous indexes. Whatever the log held from the first one's index on
    /// is replaced.
    Append {
        group: GroupId,
        entries: Vec<Entry>,
    },
    /// Drops the entries at `from` and after.
    Truncate {
        group: GroupId,
        from: LogIndex,
    },
    HardState {
        group: GroupId,
        hard_state: HardState,
    },
    /// Drops the entries up to `meta.index`, which must be in the log, and keeps the
    /// application's `data` as the snapshot there. Later entries stay.
    Compact {
        group: GroupId,
        meta: SnapshotMeta,
        data: Bytes,
    },
    /// Replaces the whole log with a snapshot received from the leader.
    InstallSnapshot {
        group: GroupId,
        snapshot: Snapshot,
    },
    Put {
        group: GroupId,
        key: Bytes,
        value: Bytes,
    },
    Delete {
        group: GroupId,
        key: Bytes,
    },
    /// Removes everything the group has: log, hard state, snapshot and state.
    DeleteGroup {
        group: GroupId,
    },
}

/// The writes of one iteration. Applied atomically and in order by
/// [`Store::write`](crate::Store::write).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<Op>,
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn append(&mut self, group: GroupId, entries: Vec<Entry>) {
        if !entries.is_empty() {
            self.ops.push(Op::Append { group, entries });
        }
    }

    pub fn truncate(&mut self, group: GroupId, from: LogIndex) {
        self.ops.push(Op::Truncate { group, from });
    }

    pub fn hard_state(&mut self, group: GroupId, hard_state: HardState) {
        self.ops.push(Op::HardState { group, hard_state });
    }

    pub fn compact(&mut self, group: GroupId, meta: SnapshotMeta, data: Bytes) {
        self.ops.push(Op::Compact { group, meta, data });
    }

    pub fn install_snapshot(&mut self, group: GroupId, snapshot: Snapshot) {
        self.ops.push(Op::InstallSnapshot { group, snapshot });
    }

    pub fn put(&mut self, group: GroupId, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.ops.push(Op::Put { group, key: key.into(), value: value.into() });
    }

    pub fn delete(&mut self, group: GroupId, key: impl Into<Bytes>) {
        self.ops.push(Op::Delete { group, key: key.into() });
    }

    pub fn delete_group(&mut self, group: GroupId) {
        self.ops.push(Op::DeleteGroup { group });
    }

    /// The writes a core's [`Ready`] asks for, in the order its contract gives: snapshot,
    /// truncation, entries, hard state.
    pub fn add_ready(&mut self, group: GroupId, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.install_snapshot(group, snapshot.clone());
        }
        if let Some(from) = ready.truncate_from {
            self.truncate(group, from);
        }
        self.append(group, ready.entries.clone());
        if let Some(hard_state) = ready.hard_state {
            self.hard_state(group, hard_state);
        }
    }
}

//! [`Tails`]: the entries each group appended last, kept in memory so that applying them
//! (and sending them to followers) does not read back from the engine what was written a
//! moment ago. Reading them back was a fifth of a driver's time under paced load.
//!
//! The cache mirrors the log exactly or not at all: every batch's log ops are replayed on
//! it after the engine took the batch, and a read it cannot fully answer goes to the
//! engine. Only groups that were read are kept: a store that is only written (a
//! benchmark, a follower far behind) pays a lookup per append and nothing more.

use std::collections::VecDeque;

use consensus::{Entry, LogIndex};

use crate::batch::Op;
use crate::{GroupId, GroupMap};

/// Entries kept per group at most: a few batches of a busy group.
const ENTRIES_PER_GROUP_MAX: usize = 256;
/// Bytes of entries kept over all groups at most; past it a group's appends are not kept
/// until reads have made room.
const BYTES_MAX: usize = 32 << 20;

#[derive(Default)]
pub(crate) struct Tails {
    groups: GroupMap<VecDeque<Entry>>,
    bytes: usize,
}

impl Tails {
    /// Replays the log ops of a batch the engine took.
    pub(crate) fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Append { group, entries } => self.append(*group, entries),
                Op::Truncate { group, from } => self.cut_from(*group, *from),
                Op::Compact { group, meta, .. } => self.cut_through(*group, meta.index),
                Op::InstallSnapshot { group, .. } | Op::DeleteGroup { group } => self.forget(*group),
                Op::HardState { .. } | Op::Put { .. } | Op::Delete { .. } => {}
            }
        }
    }

    fn append(&mut self, group: GroupId, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        // Only groups someone reads: a store that is only written keeps nothing.
        let Some(tail) = self.groups.get_mut(&group) else { return };
        let added: usize = entries.iter().map(Entry::size_bytes).sum();
        // An append at or before the tail's end replaces what follows.
        while tail.back().is_some_and(|last| last.index >= first.index) {
            let dropped = tail.pop_back().expect("looked at the back");
            self.bytes -= dropped.size_bytes();
        }
        // One past the end leaves a hole the cache cannot show; past the byte bound the
        // group is not kept: either way, start over.
        let follows = tail.back().is_none_or(|last| last.index.next() == first.index);
        if !follows || self.bytes + added > BYTES_MAX {
            let dropped: usize = tail.iter().map(Entry::size_bytes).sum();
            self.bytes -= dropped;
            self.groups.remove(&group);
            return;
        }
        tail.extend(entries.iter().cloned());
        self.bytes += added;
        while tail.len() > ENTRIES_PER_GROUP_MAX {
            let dropped = tail.pop_front().expect("longer than the bound");
            self.bytes -= dropped.size_bytes();
        }
    }

    /// Drops the group's entries from `from` on.
    fn cut_from(&mut self, group: GroupId, from: LogIndex) {
        let Some(tail) = self.groups.get_mut(&group) else { return };
        while tail.back().is_some_and(|last| last.index >= from) {
            let dropped = tail.pop_back().expect("looked at the back");
            self.bytes -= dropped.size_bytes();
        }
    }

    /// Drops the group's entries up to `through`.
    fn cut_through(&mut self, group: GroupId, through: LogIndex) {
        let Some(tail) = self.groups.get_mut(&group) else { return };
        while tail.front().is_some_and(|first| first.index <= through) {
            let dropped = tail.pop_front().expect("looked at the front");
            self.bytes -= dropped.size_bytes();
        }
    }

    pub(crate) fn forget(&mut self, group: GroupId) {
        if let Some(tail) = self.groups.remove(&group) {
            self.bytes -= tail.iter().map(Entry::size_bytes).sum::<usize>();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.groups.clear();
        self.bytes = 0;
    }

    /// Entries `[lo, hi)` as `Store::entries` returns them, if the tail holds all of them.
    /// Entries before `lo` are dropped: whoever reads the log reads it forwards.
    pub(crate) fn read(
        &mut self,
        group: GroupId,
        lo: LogIndex,
        hi: LogIndex,
        bytes_max: usize,
    ) -> Option<Vec<Entry>> {
        // A group read once is kept from its next append on.
        let tail = self.groups.entry(group).or_default();
        let first = tail.front()?.index;
        if lo < first || hi > tail.back()?.index.next() {
            return None;
        }
        let mut entries = Vec::new();
        let mut bytes = 0;
        for entry in tail.range((lo.0 - first.0) as usize..(hi.0 - first.0) as usize) {
            bytes += entry.size_bytes();
            if bytes > bytes_max && !entries.is_empty() {
                break;
            }
            entries.push(entry.clone());
        }
        self.cut_through(group, lo.prev());
        Some(entries)
    }
}

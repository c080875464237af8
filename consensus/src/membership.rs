//! Which membership is in force: the latest membership entry in the log (Raft dissertation
//! §4.1: a server uses the newest configuration in its log, committed or not), falling back
//! to the one before when that entry is truncated.

use crate::types::{LogIndex, Membership};

#[derive(Clone, Debug)]
pub(crate) struct MembershipLog {
    /// In force at or before the commit index; never truncated.
    committed: Membership,
    /// Membership entries after the commit index, oldest first.
    uncommitted: Vec<(LogIndex, Membership)>,
}

impl MembershipLog {
    /// Rebuilds from the store: `base` is in force at the snapshot, `entries` follow it.
    pub fn restore(
        base: Membership,
        entries: Vec<(LogIndex, Membership)>,
        commit: LogIndex,
    ) -> MembershipLog {
        let mut log = MembershipLog { committed: base, uncommitted: entries };
        log.commit_to(commit);
        log
    }

    pub fn current(&self) -> &Membership {
        self.uncommitted.last().map(|(_, m)| m).unwrap_or(&self.committed)
    }

    /// The index of a membership entry not yet known to be committed, if any.
    pub fn pending_index(&self) -> Option<LogIndex> {
        self.uncommitted.last().map(|(index, _)| *index)
    }

    pub fn appended(&mut self, index: LogIndex, membership: Membership) {
        self.uncommitted.push((index, membership));
    }

    /// The log was truncated from `index` on. Returns true if the membership changed.
    pub fn truncated(&mut self, index: LogIndex) -> bool {
        let before = self.uncommitted.len();
        self.uncommitted.retain(|(at, _)| *at < index);
        self.uncommitted.len() != before
    }

    pub fn commit_to(&mut self, commit: LogIndex) {
        while let Some((index, _)) = self.uncommitted.first() {
            if *index > commit {
                break;
            }
            self.committed = self.uncommitted.remove(0).1;
        }
    }

    /// The whole log was replaced by a snapshot.
    pub fn reset(&mut self, membership: Membership) {
        self.committed = membership;
        self.uncommitted.clear();
    }
}

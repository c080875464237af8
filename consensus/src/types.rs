//! The values the core reasons about: ids, terms, indexes, entries, hard state, snapshots.

use std::collections::BTreeSet;
use std::fmt;

use bytes::Bytes;

macro_rules! newtype_u64 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

newtype_u64!(
    /// A member of a raft group. `NodeId(0)` is never a member: it means "none".
    NodeId
);
newtype_u64!(
    /// A raft term. Starts at 0; the first election makes it 1.
    Term
);
newtype_u64!(
    /// A position in the log. Index 0 is the empty prefix; the first entry has index 1.
    LogIndex
);

impl Term {
    pub fn next(self) -> Term {
        Term(self.0 + 1)
    }
}

impl LogIndex {
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }

    /// The index before this one. Panics on index 0, which has no predecessor.
    pub fn prev(self) -> LogIndex {
        assert!(self.0 > 0, "index 0 has no predecessor");
        LogIndex(self.0 - 1)
    }

    pub fn plus(self, n: u64) -> LogIndex {
        LogIndex(self.0 + n)
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Appended by a new leader so that it can commit in its own term (Raft §5.4.2).
    Noop,
    /// Application data, opaque to the core.
    Command(Bytes),
    /// The group's whole membership after one single-step change. It takes effect on every
    /// member as soon as it is in that member's log (Raft dissertation §4.1), and is undone
    /// if the entry is truncated.
    Membership(Membership),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub payload: Payload,
}

/// Bytes an entry is charged in the byte bounds: its payload plus a fixed header.
pub const ENTRY_OVERHEAD_BYTES: usize = 24;

impl Entry {
    pub fn size_bytes(&self) -> usize {
        let payload = match &self.payload {
            Payload::Noop => 0,
            Payload::Command(data) => data.len(),
            Payload::Membership(m) => 8 * (m.voters.len() + m.learners.len()),
        };
        ENTRY_OVERHEAD_BYTES + payload
    }
}

/// Voters elect and form quorums; learners only replicate. A node is never both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

impl Membership {
    pub fn new(voters: impl IntoIterator<Item = u64>, learners: impl IntoIterator<Item = u64>) -> Self {
        Membership {
            voters: voters.into_iter().map(NodeId).collect(),
            learners: learners.into_iter().map(NodeId).collect(),
        }
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    pub fn is_member(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    /// Every voter and learner, in id order.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// The membership after `change`, or why the change is refused.
    pub fn apply(&self, change: MembershipChange) -> Result<Membership, MembershipError> {
        let mut next = self.clone();
        match change {
            MembershipChange::AddVoter(id) => {
                if self.is_voter(id) {
                    return Err(MembershipError::AlreadyVoter(id));
                }
                next.learners.remove(&id);
                next.voters.insert(id);
            }
            MembershipChange::AddLearner(id) => {
                if self.is_member(id) {
                    return Err(MembershipError::AlreadyMember(id));
                }
                next.learners.insert(id);
            }
            MembershipChange::PromoteLearner(id) => {
                if !self.learners.contains(&id) {
                    return Err(MembershipError::NotLearner(id));
                }
                next.learners.remove(&id);
                next.voters.insert(id);
            }
            MembershipChange::Remove(id) => {
                if !self.is_member(id) {
                    return Err(MembershipError::NotMember(id));
                }
                next.voters.remove(&id);
                next.learners.remove(&id);
                if next.voters.is_empty() {
                    return Err(MembershipError::LastVoter(id));
                }
            }
        }
        Ok(next)
    }
}

/// One single-step change: the old and new voter sets differ by at most one node, so any
/// majority of one intersects any majority of the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    AddVoter(NodeId),
    AddLearner(NodeId),
    PromoteLearner(NodeId),
    /// Removes a voter or a learner.
    Remove(NodeId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipError {
    AlreadyVoter(NodeId),
    AlreadyMember(NodeId),
    NotLearner(NodeId),
    NotMember(NodeId),
    LastVoter(NodeId),
}

/// The state that must be durable before any message that depends on it is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: LogIndex,
}

/// Where a snapshot stands in the log, and the membership in force there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub index: LogIndex,
    pub term: Term,
    pub membership: Membership,
}

/// The application's state up to `meta.index`, opaque to the core.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Bytes,
}

/// The role a node plays in its group right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Volatile state a driver may want to observe: who leads, and what this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    pub leader: Option<NodeId>,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;

    use super::*;

    fn change() -> impl Strategy<Value = MembershipChange> {
        (0u8..4, 1u64..8).prop_map(|(kind, id)| {
            let id = NodeId(id);
            match kind {
                0 => MembershipChange::AddVoter(id),
                1 => MembershipChange::AddLearner(id),
                2 => MembershipChange::PromoteLearner(id),
                _ => MembershipChange::Remove(id),
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                "../proptest-regressions/consensus-membership.txt",
            ))),
            ..ProptestConfig::default()
        })]

        /// Every accepted change is single-step: a majority of the old voters and a majority
        /// of the new voters always share a node, so two leaders cannot be elected by the
        /// two configurations in one term. Voters and learners never overlap, and the group
        /// never loses its last voter.
        #[test]
        fn accepted_changes_keep_majorities_intersecting(
            voters in prop::collection::btree_set(1u64..8, 1..6),
            learners in prop::collection::btree_set(1u64..8, 0..3),
            changes in prop::collection::vec(change(), 1..20),
        ) {
            let learners: Vec<u64> = learners.difference(&voters).copied().collect();
            let mut membership = Membership::new(voters, learners);
            for change in changes {
                let Ok(next) = membership.apply(change) else { continue };
                let union = membership.voters.union(&next.voters).count();
                prop_assert!(membership.quorum() + next.quorum() > union, "{membership:?} -> {next:?}");
                prop_assert!(next.voters.is_disjoint(&next.learners));
                prop_assert!(!next.voters.is_empty());
                membership = next;
            }
        }
    }
}

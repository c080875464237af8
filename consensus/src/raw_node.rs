//! The public face of the core: inputs in, a `Ready` out, `advance` back.

use bytes::Bytes;

use crate::config::{Config, COMMITTED_BYTES_PER_READY_MAX};
use crate::election::CampaignKind;
use crate::leader::ProposeError;
use crate::message::Message;
use crate::raft::Raft;
use crate::storage::Storage;
use crate::trace::{TraceDetail, TraceEvent};
use crate::types::{
    Entry, HardState, LogIndex, Membership, MembershipChange, NodeId, Role, Snapshot, SoftState, Term,
};

/// Everything the core asks of its driver since the last `advance`. The driver must, in
/// this order:
/// 1. send `messages` (they may go at once, even before the writes below);
/// 2. write `snapshot`, then cut the log at `truncate_from`, then append `entries` (an entry
///    at index `i` also replaces whatever the log held from `i` on), then save `hard_state`,
///    and make all of it durable (one fsync);
/// 3. send `persisted_messages`, which promise what step 2 made durable;
/// 4. restore `snapshot` into the state machine and apply `committed_entries`;
/// 5. call `advance(ready)`.
#[derive(Debug, Default)]
pub struct Ready {
    pub number: u64,
    pub soft_state: Option<SoftState>,
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub truncate_from: Option<LogIndex>,
    pub entries: Vec<Entry>,
    pub messages: Vec<Message>,
    pub persisted_messages: Vec<Message>,
    pub committed_entries: Vec<Entry>,
}

impl Ready {
    /// Whether step 2 has anything to write.
    pub fn must_persist(&self) -> bool {
        self.hard_state.is_some()
            || self.snapshot.is_some()
            || self.truncate_from.is_some()
            || !self.entries.is_empty()
    }
}

/// A snapshot of the core's state, for drivers, tests and the simulator's checkers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub commit: LogIndex,
    pub applied: LogIndex,
    pub last_index: LogIndex,
    pub stored_index: LogIndex,
    pub membership: Membership,
    pub quiescent: bool,
}

/// One member of one raft group. Not thread-safe; a driver owns it.
pub struct RawNode<S: Storage> {
    raft: Raft<S>,
    persisted: HardState,
    soft_state: SoftState,
    ready_number: u64,
    ready_outstanding: bool,
}

impl<S: Storage> RawNode<S> {
    /// Starts (or restarts) a node from what `storage` holds.
    pub fn new(config: Config, storage: S) -> RawNode<S> {
        let raft = Raft::new(config, storage);
        let persisted = HardState { term: raft.term, vote: raft.vote, commit: raft.log.committed };
        let soft_state = SoftState { leader: raft.leader, role: raft.role };
        RawNode { raft, persisted, soft_state, ready_number: 0, ready_outstanding: false }
    }

    /// One unit of logical time. A quiescent node ignores it, so a driver may stop ticking
    /// it until something wakes it.
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// A message from another member. Messages for other nodes, from stale terms or that
    /// no longer fit the log are dropped or answered as the protocol says; nothing a peer
    /// sends can make this panic unless it breaks the protocol's invariants.
    pub fn step(&mut self, message: Message) {
        self.raft.step(message);
    }

    /// Appends a command (leader only). Returns its index; it is committed once a later
    /// Ready hands it out in `committed_entries`.
    pub fn propose(&mut self, data: Bytes) -> Result<LogIndex, ProposeError> {
        self.raft.propose(data)
    }

    pub fn propose_membership(&mut self, change: MembershipChange) -> Result<LogIndex, ProposeError> {
        self.raft.propose_membership(change)
    }

    /// Starts an election now (with pre-vote), as if the election timeout had passed.
    pub fn campaign(&mut self) {
        if self.raft.campaign(CampaignKind::PreVote) {
            self.raft.record("Timeout", None, TraceDetail::None);
        }
    }

    /// Hands leadership to `to` once it has caught up; proposals are refused meanwhile. The
    /// transfer is abandoned after an election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) {
        self.raft.transfer_leader(to);
    }

    /// A driver saw a member node come or go: leave quiescence and check on the group.
    pub fn wake(&mut self) {
        match self.raft.role {
            Role::Leader => self.raft.wake_leader(),
            _ => self.raft.wake_follower_self(),
        }
        self.raft.record("Wake", None, TraceDetail::None);
    }

    /// Nothing to do until a proposal, a message or `wake`: no ticks needed.
    pub fn is_quiescent(&self) -> bool {
        self.raft.quiescent()
    }

    /// Whether the next `Ready` hands out committed entries to apply (when it can be taken).
    pub fn has_committed_to_apply(&self) -> bool {
        self.raft.log.has_committed_to_apply()
    }

    pub fn status(&self) -> Status {
        let raft = &self.raft;
        Status {
            id: raft.id,
            term: raft.term,
            vote: raft.vote,
            role: raft.role,
            leader: raft.leader,
            commit: raft.log.committed,
            applied: raft.log.applied,
            last_index: raft.log.last_index(),
            stored_index: raft.log.stored_index(),
            membership: raft.membership().clone(),
            quiescent: raft.quiescent(),
        }
    }

    /// The entries of the log in `[lo, hi)` (for checkers and tests).
    pub fn log_entries(&self, lo: LogIndex, hi: LogIndex) -> Vec<Entry> {
        self.raft.log.entries(lo, hi, usize::MAX)
    }

    /// The term of the entry at `index`, if the log holds it (or it is the snapshot's).
    pub fn term(&self, index: LogIndex) -> Option<Term> {
        self.raft.log.term(index)
    }

    pub fn last_index(&self) -> LogIndex {
        self.raft.log.last_index()
    }

    pub fn first_index(&self) -> LogIndex {
        self.raft.log.first_index()
    }

    pub fn storage(&self) -> &S {
        &self.raft.log.storage
    }

    /// The store, for a driver that writes the Ready and compacts. Writes must follow the
    /// Ready contract; compaction only of applied entries.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.raft.log.storage
    }

    pub fn into_storage(self) -> S {
        self.raft.log.storage
    }

    pub fn has_ready(&self) -> bool {
        if self.ready_outstanding {
            return false;
        }
        let raft = &self.raft;
        !raft.msgs.is_empty()
            || !raft.msgs_after_persist.is_empty()
            || raft.sync_after_persist
            || self.hard_state() != self.persisted
            || self.soft_state() != self.soft_state
            || raft.log.pending_snapshot().is_some()
            || raft.log.truncate_point().is_some()
            || !raft.log.unstable_entries().is_empty()
            || raft.log.has_committed_to_apply()
            || (raft.role == Role::Leader && raft.has_parked_to_answer())
    }

    /// Takes the pending work. Call `advance` with it before the next `ready`.
    pub fn ready(&mut self) -> Ready {
        assert!(!self.ready_outstanding, "{}: ready() called again before advance()", self.raft.id);
        self.ready_outstanding = true;
        self.ready_number += 1;
        let raft = &mut self.raft;
        if raft.role == Role::Leader {
            raft.answer_parked();
        }
        raft.sync_req_after_persist();
        let snapshot = raft.log.pending_snapshot().cloned();
        if let Some(snapshot) = &snapshot {
            // The state machine restores the snapshot as part of this Ready.
            raft.log.applied = raft.log.applied.max(snapshot.meta.index);
        }
        let hard_state = self.hard_state();
        let soft_state = self.soft_state();
        let raft = &mut self.raft;
        let ready = Ready {
            number: self.ready_number,
            soft_state: (soft_state != self.soft_state).then_some(soft_state),
            hard_state: (hard_state != self.persisted).then_some(hard_state),
            truncate_from: raft.log.truncate_point(),
            entries: raft.log.unstable_entries().to_vec(),
            messages: std::mem::take(&mut raft.msgs),
            persisted_messages: std::mem::take(&mut raft.msgs_after_persist),
            committed_entries: raft.log.take_committed(COMMITTED_BYTES_PER_READY_MAX),
            snapshot,
        };
        self.soft_state = soft_state;
        self.raft.record("Ready", None, TraceDetail::None);
        ready
    }

    /// The driver has carried out `ready`: its writes are durable and its entries applied.
    pub fn advance(&mut self, ready: Ready) {
        assert!(self.ready_outstanding, "{}: advance() without ready()", self.raft.id);
        self.ready_outstanding = false;
        let raft = &mut self.raft;
        if let Some(snapshot) = &ready.snapshot {
            raft.log.stable_snapshot(snapshot.meta.index);
        }
        raft.log.stable_to(&ready.entries);
        if let Some(hard_state) = ready.hard_state {
            self.persisted = hard_state;
        }
        if raft.role == Role::Leader {
            raft.maybe_commit();
        }
        raft.record("Persist", None, TraceDetail::None);
    }

    /// The trace events recorded since the last call (feature `tla-trace`; always empty
    /// without it). Drain after every call so that events of all nodes interleave causally.
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        std::mem::take(&mut self.raft.trace)
    }

    fn hard_state(&self) -> HardState {
        HardState { term: self.raft.term, vote: self.raft.vote, commit: self.raft.log.committed }
    }

    fn soft_state(&self) -> SoftState {
        SoftState { leader: self.raft.leader, role: self.raft.role }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    /// Carries out a Ready the way a driver does (write, apply, advance); returns the
    /// entries it applied.
    fn persist(node: &mut RawNode<MemStorage>) -> Vec<Entry> {
        let ready = node.ready();
        node.storage_mut().write(&ready);
        let applied = ready.committed_entries.clone();
        node.advance(ready);
        applied
    }

    #[test]
    fn a_driver_can_tell_which_ready_will_apply_before_it_takes_it() {
        let membership = Membership::new([1], []);
        let mut node = RawNode::new(Config::new(1), MemStorage::new_with_membership(membership));
        node.campaign();
        while node.has_ready() {
            persist(&mut node);
        }
        assert_eq!(node.status().role, Role::Leader);
        assert!(!node.has_committed_to_apply(), "the election's entry is applied");

        let index = node.propose(Bytes::from_static(b"x")).unwrap();
        assert!(!node.has_committed_to_apply(), "proposed, not yet durable");
        assert!(persist(&mut node).is_empty());
        assert!(node.has_committed_to_apply(), "durable on the only voter: committed");
        assert_eq!(persist(&mut node).last().map(|e| e.index), Some(index));
        assert!(!node.has_committed_to_apply());
    }
}

//! The leader's side: proposals, answering pulls (park, serve, reject, snapshot), commit,
//! heartbeats and suspension, check-quorum, and leadership transfer.

use bytes::Bytes;

use crate::config::{SUSPEND_AFTER_IDLE_ANSWERS, UNCOMMITTED_BYTES_MAX, UNCOMMITTED_ENTRIES_MAX};
use crate::message::{Message, MessageBody};
use crate::raft::Raft;
use crate::storage::Storage;
use crate::trace::TraceDetail;
use crate::types::{LogIndex, MembershipChange, MembershipError, NodeId, Payload, Role, Term};

/// Why a proposal was refused. Nothing was appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// Only the leader takes proposals; the known leader, if any, is named.
    NotLeader(Option<NodeId>),
    /// A leadership transfer is under way.
    Transferring,
    /// The proposal queue is full (`UNCOMMITTED_ENTRIES_MAX` / `UNCOMMITTED_BYTES_MAX`).
    QueueFull,
    /// A membership change is still uncommitted; changes go one at a time.
    MembershipPending,
    /// The leader has not yet committed an entry of its own term, so it does not know the
    /// membership is settled (the single-step change bug in Ongaro's 2015 raft-dev post).
    NotReady,
    /// A learner is promoted only once it has caught up to the commit index.
    LearnerBehind(NodeId),
    Membership(MembershipError),
}

impl<S: Storage> Raft<S> {
    pub fn propose(&mut self, data: Bytes) -> Result<LogIndex, ProposeError> {
        self.check_can_propose(crate::types::ENTRY_OVERHEAD_BYTES + data.len())?;
        let index = self.append_entry(Payload::Command(data));
        self.record("Propose", None, TraceDetail::None);
        Ok(index)
    }

    pub fn propose_membership(&mut self, change: MembershipChange) -> Result<LogIndex, ProposeError> {
        self.check_can_propose(0)?;
        if self.memberships.pending_index().is_some() {
            return Err(ProposeError::MembershipPending);
        }
        if self.log.committed < self.term_start {
            return Err(ProposeError::NotReady);
        }
        let next = self.membership().apply(change).map_err(ProposeError::Membership)?;
        if let MembershipChange::PromoteLearner(id) = change {
            let stored = self.progress.get(&id).map(|p| p.stored).unwrap_or_default();
            if stored < self.log.committed {
                return Err(ProposeError::LearnerBehind(id));
            }
        }
        let index = self.append_entry(Payload::Membership(next.clone()));
        self.record("ProposeMembership", None, TraceDetail::Membership(next));
        Ok(index)
    }

    fn check_can_propose(&self, bytes: usize) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader(self.leader));
        }
        if self.transferee.is_some() {
            return Err(ProposeError::Transferring);
        }
        if self.uncommitted.len() as u64 >= UNCOMMITTED_ENTRIES_MAX
            || self.uncommitted_bytes + bytes > UNCOMMITTED_BYTES_MAX
        {
            return Err(ProposeError::QueueFull);
        }
        Ok(())
    }

    pub fn transfer_leader(&mut self, to: NodeId) {
        if self.role != Role::Leader || to == self.id || !self.membership().is_voter(to) {
            return;
        }
        self.transferee = Some(to);
        self.transfer_elapsed = 0;
        self.wake_follower(to);
        self.maybe_send_timeout_now();
        self.record("TransferLeader", None, TraceDetail::Target(to));
    }

    fn maybe_send_timeout_now(&mut self) {
        let Some(to) = self.transferee else { return };
        let caught_up = self.progress.get(&to).is_some_and(|p| p.stored == self.log.last_index());
        if caught_up {
            self.send(to, MessageBody::TimeoutNow);
        }
    }

    pub fn step_leader(&mut self, m: Message) {
        // Only a SyncReq is for a leader: other messages of our own term come from nobody
        // who could be another leader of it.
        if let MessageBody::SyncReq { next_index, prev_log_term, stored_index } = m.body {
            self.handle_sync_req(m.from, next_index, prev_log_term, stored_index);
        }
    }

    fn handle_sync_req(
        &mut self,
        from: NodeId,
        next_index: LogIndex,
        prev_log_term: Term,
        stored_index: LogIndex,
    ) {
        let Some(progress) = self.progress.get_mut(&from) else { return };
        progress.active = true;
        progress.heard = true;
        progress.suspended = false;
        let prev_index = next_index.prev();
        if prev_index < self.log.first_index().prev() {
            // The follower needs entries we have compacted away.
            progress.parked = None;
            let snapshot = self.log.storage.snapshot();
            self.send(from, MessageBody::Snapshot { snapshot });
            return;
        }
        if !self.log.matches(prev_index, prev_log_term) {
            progress.parked = None;
            let (hint_index, hint_term) = self.reject_hint(prev_index, prev_log_term);
            let body = MessageBody::SyncReject { next_index, prev_log_term, hint_index, hint_term };
            self.send(from, body);
            return;
        }
        // The follower's log matches ours up to prev_index (log matching), so its durable
        // prefix up to min(stored_index, prev_index) is ours: that is its acknowledgement.
        let acked = stored_index.min(prev_index);
        if acked > progress.stored {
            progress.stored = acked;
        }
        progress.parked = Some((next_index, prev_log_term));
        self.maybe_commit();
        if self.transferee == Some(from) {
            self.maybe_send_timeout_now();
        }
    }

    /// The last index at or before `prev_index` (and our last index) whose term is at most
    /// `prev_log_term`: every index after it can hold a different entry on the follower.
    fn reject_hint(&self, prev_index: LogIndex, prev_log_term: Term) -> (LogIndex, Term) {
        let floor = self.log.first_index().prev();
        let mut index = prev_index.min(self.log.last_index());
        loop {
            let term = self.log.term(index).expect("index is within the log");
            if term <= prev_log_term || index == floor {
                return (index, term);
            }
            index = index.prev();
        }
    }

    /// Answers parked requests that now have something to carry: new entries or a newer
    /// commit index. Called once per Ready, so everything since the last one goes in one
    /// answer per follower.
    pub fn answer_parked(&mut self) {
        let last = self.log.last_index();
        let commit = self.log.committed;
        let ids: Vec<NodeId> = self.progress.keys().copied().collect();
        for id in ids {
            let progress = &self.progress[&id];
            let Some((next_index, _)) = progress.parked else { continue };
            if next_index <= last || progress.commit_sent < commit {
                self.answer(id, false);
            }
        }
    }

    /// Answers `id`'s parked request with what we have for it.
    fn answer(&mut self, id: NodeId, suspend: bool) {
        let progress = self.progress.get_mut(&id).expect("member has progress");
        let Some((next_index, prev_log_term)) = progress.parked.take() else { return };
        if next_index.prev() < self.log.first_index().prev() {
            // Compacted since the request was parked.
            let snapshot = self.log.storage.snapshot();
            self.send(id, MessageBody::Snapshot { snapshot });
            return;
        }
        let last = self.log.last_index();
        let entries = if next_index <= last {
            self.log.entries(next_index, last.next(), self.config.sync_resp_bytes_max)
        } else {
            Vec::new()
        };
        let commit = self.log.committed;
        let progress = self.progress.get_mut(&id).expect("member has progress");
        progress.commit_sent = commit;
        if !entries.is_empty() {
            progress.idle_answers = 0;
        }
        if suspend {
            progress.suspended = true;
        }
        let body = MessageBody::SyncResp { next_index, prev_log_term, entries, commit, suspend };
        self.send(id, body);
    }

    /// The highest index durable on a quorum of voters (the leader counts its own durable
    /// index), committed if it is from our term (Raft §5.4.2).
    pub fn maybe_commit(&mut self) -> bool {
        let membership = self.membership();
        let acked = |id: &NodeId| {
            if *id == self.id {
                self.log.stored_index()
            } else {
                self.progress.get(id).map(|p| p.stored).unwrap_or_default()
            }
        };
        // Runs on every ack: no allocation for groups of up to VOTERS_INLINE voters.
        const VOTERS_INLINE: usize = 16;
        let mut inline = [LogIndex(0); VOTERS_INLINE];
        let mut spilled = Vec::new();
        let stored: &mut [LogIndex] = if membership.voters.len() <= VOTERS_INLINE {
            let n = membership.voters.len();
            for (slot, id) in inline.iter_mut().zip(&membership.voters) {
                *slot = acked(id);
            }
            &mut inline[..n]
        } else {
            spilled.extend(membership.voters.iter().map(acked));
            &mut spilled
        };
        stored.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = stored[membership.quorum() - 1];
        if candidate <= self.log.committed || self.log.term(candidate) != Some(self.term) {
            return false;
        }
        self.log.commit_to(candidate);
        self.committed_to(candidate);
        true
    }

    pub fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.transferee.is_some() {
            self.transfer_elapsed += 1;
            if self.transfer_elapsed >= self.config.election_ticks {
                self.transferee = None;
                self.record("TransferAbort", None, TraceDetail::None);
            }
        }
        if self.election_elapsed >= self.config.election_ticks {
            self.election_elapsed = 0;
            if !self.check_quorum() {
                let term = self.term;
                self.become_follower(term, None);
                self.record("StepDown", None, TraceDetail::None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            let suspended = self.heartbeat();
            self.record("Heartbeat", None, TraceDetail::Suspended(suspended));
        }
    }

    /// Check-quorum: a leader that has not heard from a quorum of voters during the last
    /// election timeout steps down, so a partitioned leader does not linger. Followers we
    /// suspended are silent by our own request and count as heard.
    fn check_quorum(&mut self) -> bool {
        let membership = self.membership().clone();
        let mut heard = usize::from(membership.is_voter(self.id));
        for (id, progress) in self.progress.iter_mut() {
            if membership.is_voter(*id) && (progress.active || progress.suspended) {
                heard += 1;
            }
            progress.active = false;
        }
        heard >= membership.quorum()
    }

    /// Once per heartbeat: answer parked requests (they double as heartbeats), suspend
    /// followers that have been idle long enough, and re-notify members we have not heard
    /// from (a lost `NotifySync`, a new member, a restarted follower).
    fn heartbeat(&mut self) -> std::collections::BTreeSet<NodeId> {
        let mut suspended = std::collections::BTreeSet::new();
        let idle = self.log.committed == self.log.last_index() && self.transferee.is_none();
        let last = self.log.last_index();
        let ids: Vec<NodeId> = self.progress.keys().copied().collect();
        for id in ids {
            let progress = self.progress.get_mut(&id).expect("member has progress");
            let heard = std::mem::take(&mut progress.heard);
            if progress.parked.is_some() {
                progress.idle_answers += 1;
                let suspend =
                    idle && progress.stored == last && progress.idle_answers >= SUSPEND_AFTER_IDLE_ANSWERS;
                if suspend {
                    suspended.insert(id);
                }
                self.answer(id, suspend);
            } else if (progress.suspended && progress.stored < last) || (!progress.suspended && !heard) {
                self.send(id, MessageBody::NotifySync { commit: self.log.committed });
            }
        }
        suspended
    }

    /// New entries exist: suspended followers start pulling again.
    pub fn wake_suspended_followers(&mut self) {
        // Called on every proposal: the common case, nobody suspended, costs one scan.
        if !self.progress.values().any(|p| p.suspended) {
            return;
        }
        let suspended: Vec<NodeId> =
            self.progress.iter().filter(|(_, p)| p.suspended).map(|(id, _)| *id).collect();
        for id in suspended {
            self.wake_follower(id);
        }
    }

    pub(crate) fn wake_follower(&mut self, id: NodeId) {
        let Some(progress) = self.progress.get_mut(&id) else { return };
        if progress.suspended {
            progress.suspended = false;
            progress.idle_answers = 0;
            self.send(id, MessageBody::NotifySync { commit: self.log.committed });
        }
    }

    /// A driver saw a member's liveness change: every follower resumes pulling, so the
    /// leader learns within a check-quorum period whether it still has a quorum.
    pub fn wake_leader(&mut self) {
        let ids: Vec<NodeId> = self.progress.keys().copied().collect();
        for id in ids {
            self.wake_follower(id);
        }
        self.election_elapsed = 0;
    }
}

impl<S: Storage> Raft<S> {
    /// Whether `answer_parked` would send anything.
    pub fn has_parked_to_answer(&self) -> bool {
        let last = self.log.last_index();
        let commit = self.log.committed;
        self.progress.values().any(|p| match p.parked {
            Some((next_index, _)) => next_index <= last || p.commit_sent < commit,
            None => false,
        })
    }
}

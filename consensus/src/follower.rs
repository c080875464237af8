//! The follower's side of pull replication: asking, appending, truncating on rejection,
//! installing snapshots, suspending and waking.

use crate::election::CampaignKind;
use crate::message::{Message, MessageBody};
use crate::raft::Raft;
use crate::storage::Storage;
use crate::trace::TraceDetail;
use crate::types::{Entry, LogIndex, Membership, Payload, Role, Snapshot, Term};

impl<S: Storage> Raft<S> {
    pub fn tick_follower(&mut self) {
        if self.leader.is_some() && !self.sync_after_persist {
            self.sync_elapsed += 1;
            if !self.sync_in_flight || self.sync_elapsed >= self.config.sync_retry_ticks() {
                self.send_sync_req();
                self.record("SyncRetry", None, TraceDetail::None);
            }
        }
        self.tick_election();
    }

    /// Our pull as of now: what we have, and what of it is durable.
    pub fn sync_req_body(&self) -> MessageBody {
        let last = self.log.last_index();
        MessageBody::SyncReq {
            next_index: last.next(),
            prev_log_term: self.log.last_term(),
            stored_index: self.log.stored_index(),
        }
    }

    pub fn send_sync_req(&mut self) {
        let (last, last_term, stored) =
            (self.log.last_index(), self.log.last_term(), self.log.stored_index());
        self.pull(last.next(), last_term, stored, false);
    }

    /// Sends our one outstanding pull to the leader (after this Ready's writes if
    /// `after_persist`); answers to any other pull are stale from now on.
    fn pull(
        &mut self,
        next_index: LogIndex,
        prev_log_term: Term,
        stored_index: LogIndex,
        after_persist: bool,
    ) {
        let Some(leader) = self.leader else { return };
        let body = MessageBody::SyncReq { next_index, prev_log_term, stored_index };
        self.sync_expect = Some(next_index);
        self.sync_in_flight = true;
        self.sync_elapsed = 0;
        if after_persist {
            self.send_after_persist(leader, self.term, body);
        } else {
            self.send(leader, body);
        }
    }

    /// The pull that acknowledges this Ready's writes: built when the Ready is, so that it
    /// claims exactly what will be durable once the Ready is written.
    pub fn sync_req_after_persist(&mut self) {
        if !std::mem::take(&mut self.sync_after_persist) || self.role != Role::Follower {
            return;
        }
        // Everything in the log is durable once this Ready is written.
        let (last, last_term) = (self.log.last_index(), self.log.last_term());
        self.pull(last.next(), last_term, last, true);
    }

    pub fn step_follower(&mut self, m: Message) {
        if matches!(m.body, MessageBody::SyncReq { .. }) {
            return;
        }
        // Every other message of our term comes from its leader.
        if self.role != Role::Follower {
            let term = self.term;
            self.become_follower(term, Some(m.from));
        }
        self.leader = Some(m.from);
        self.election_elapsed = 0;
        match m.body {
            MessageBody::SyncResp { next_index, prev_log_term, entries, commit, suspend } => {
                self.handle_sync_resp(next_index, prev_log_term, entries, commit, suspend)
            }
            MessageBody::SyncReject { next_index, prev_log_term, hint_index, hint_term } => {
                self.handle_sync_reject(next_index, prev_log_term, hint_index, hint_term)
            }
            MessageBody::Snapshot { snapshot } => self.handle_snapshot(snapshot),
            MessageBody::NotifySync { .. } => {
                self.suspended = false;
                if !self.sync_after_persist {
                    self.send_sync_req();
                }
            }
            MessageBody::TimeoutNow => {
                self.campaign(CampaignKind::Transfer);
            }
            MessageBody::SyncReq { .. } | MessageBody::VoteReq { .. } | MessageBody::VoteResp { .. } => {}
        }
    }

    /// Answers to anything but our outstanding request are stale (duplicated, reordered or
    /// superseded) and dropped, so duplicates cannot multiply requests.
    fn is_expected(&mut self, next_index: LogIndex) -> bool {
        if self.sync_expect != Some(next_index) {
            return false;
        }
        self.sync_expect = None;
        self.sync_in_flight = false;
        true
    }

    fn handle_sync_resp(
        &mut self,
        next_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        commit: LogIndex,
        suspend: bool,
    ) {
        if !self.is_expected(next_index) {
            return;
        }
        let prev_index = next_index.prev();
        if !self.log.matches(prev_index, prev_log_term) {
            self.send_sync_req();
            return;
        }
        let received = entries.len() as u64;
        let memberships: Vec<(LogIndex, Membership)> = entries
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Membership(m) => Some((e.index, m.clone())),
                _ => None,
            })
            .collect();
        if let Some(conflict) = self.log.append_from_leader(entries) {
            self.memberships.truncated(conflict);
            for (index, membership) in memberships.into_iter().filter(|(index, _)| *index >= conflict) {
                self.memberships.appended(index, membership);
            }
        }
        let matched = prev_index.plus(received);
        let commit = commit.min(matched);
        if self.log.commit_to(commit) {
            self.committed_to(commit);
        }
        if suspend && received == 0 {
            self.suspended = true;
            return;
        }
        self.sync_after_persist = true;
    }

    fn handle_sync_reject(
        &mut self,
        next_index: LogIndex,
        prev_log_term: Term,
        hint_index: LogIndex,
        hint_term: Term,
    ) {
        if !self.is_expected(next_index) {
            return;
        }
        let at = next_index.prev();
        if !self.log.matches(at, prev_log_term) {
            self.send_sync_req();
            return;
        }
        // The leader does not hold our entry at `at`, so it is not committed (the leader has
        // every committed entry) and neither is anything after it (log matching).
        assert!(
            at > self.log.committed,
            "{}: leader rejected ({at}, {prev_log_term}) at or below commit {}",
            self.id,
            self.log.committed
        );
        self.log.truncate_from(at);
        self.memberships.truncated(at);
        let floor = self.log.first_index().prev();
        let mut index = hint_index.min(self.log.last_index());
        while index > floor && self.log.term(index).is_some_and(|term| term > hint_term) {
            index = index.prev();
        }
        let term = self.log.term(index).expect("index is within the log");
        let stored = self.log.stored_index();
        self.pull(index.next(), term, stored, false);
    }

    fn handle_snapshot(&mut self, snapshot: Snapshot) {
        self.sync_in_flight = false;
        self.sync_expect = None;
        let meta = &snapshot.meta;
        if meta.index <= self.log.committed {
            self.send_sync_req();
            return;
        }
        if self.log.matches(meta.index, meta.term) {
            // We hold the snapshot's last entry, so everything up to it: just commit.
            let index = meta.index;
            self.log.commit_to(index);
            self.committed_to(index);
            self.send_sync_req();
            return;
        }
        let index = meta.index;
        self.memberships.reset(meta.membership.clone());
        self.log.restore(snapshot);
        self.committed_to(index);
        self.sync_after_persist = true;
    }

    /// A driver saw a member's liveness change: resume pulling and ticking.
    pub fn wake_follower_self(&mut self) {
        self.suspended = false;
        if self.leader.is_some() && !self.sync_after_persist {
            self.send_sync_req();
        }
    }
}

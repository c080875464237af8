//! The raft state machine: its state, role changes, and the dispatch of every input.
//! Elections live in `election.rs`, the leader's side of replication in `leader.rs`, the
//! follower's in `follower.rs`.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::log::RaftLog;
use crate::membership::MembershipLog;
use crate::message::{Message, MessageBody};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::storage::Storage;
use crate::trace::{TraceDetail, TraceEvent};
use crate::types::{Entry, LogIndex, Membership, NodeId, Payload, Role, Term};

pub(crate) struct Raft<S> {
    pub id: NodeId,
    pub config: Config,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub log: RaftLog<S>,
    pub memberships: MembershipLog,
    /// Leader only: every other member.
    pub progress: BTreeMap<NodeId, Progress>,
    /// Candidates and pre-candidates: the answers so far.
    pub votes: BTreeMap<NodeId, bool>,

    /// Followers and candidates: ticks since the leader was last heard from (or since the
    /// election began). Leaders: ticks in the current check-quorum period.
    pub election_elapsed: u32,
    pub randomized_election_ticks: u32,
    pub heartbeat_elapsed: u32,
    /// Leader: the member we are handing leadership to, and ticks spent on it.
    pub transferee: Option<NodeId>,
    pub transfer_elapsed: u32,
    /// Leader: the index of its no-op; nothing before it is known committed in its term.
    pub term_start: LogIndex,
    /// Leader: sizes of proposed entries not yet committed, oldest first (the proposal queue).
    pub uncommitted: std::collections::VecDeque<(LogIndex, usize)>,
    pub uncommitted_bytes: usize,

    /// Follower: a `SyncReq` is outstanding, sent `sync_elapsed` ticks ago.
    pub sync_in_flight: bool,
    pub sync_elapsed: u32,
    /// Follower: the `next_index` of the outstanding `SyncReq`; answers to others are stale.
    pub sync_expect: Option<LogIndex>,
    /// Follower: the leader told us to stop asking until notified.
    pub suspended: bool,
    /// Follower: send a `SyncReq` once this Ready's writes are durable (the ack).
    pub sync_after_persist: bool,

    pub msgs: Vec<Message>,
    pub msgs_after_persist: Vec<Message>,
    pub trace: Vec<TraceEvent>,
    rng: Rng,
}

impl<S: Storage> Raft<S> {
    pub fn new(config: Config, storage: S) -> Raft<S> {
        config.validate();
        let initial = storage.initial_state();
        let snapshot = storage.snapshot();
        let hard_state = initial.hard_state;
        let commit = hard_state.commit.max(snapshot.meta.index);
        let memberships =
            MembershipLog::restore(snapshot.meta.membership, initial.membership_entries, commit);
        debug_assert_eq!(memberships.current(), &initial.membership);
        let log = RaftLog::new(storage, commit, config.applied);
        let mut raft = Raft {
            id: config.id,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader: None,
            log,
            memberships,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            election_elapsed: 0,
            randomized_election_ticks: config.election_ticks,
            heartbeat_elapsed: 0,
            transferee: None,
            transfer_elapsed: 0,
            term_start: LogIndex(0),
            uncommitted: Default::default(),
            uncommitted_bytes: 0,
            sync_in_flight: false,
            sync_elapsed: 0,
            sync_expect: None,
            suspended: false,
            sync_after_persist: false,
            msgs: Vec::new(),
            msgs_after_persist: Vec::new(),
            trace: Vec::new(),
            rng: Rng::new(config.seed ^ config.id.0.rotate_left(32)),
            config,
        };
        raft.reset_randomized_election_ticks();
        raft
    }

    /// Records a trace event with our state after the action (feature `tla-trace`).
    #[allow(unused_variables)]
    pub fn record(&mut self, name: &'static str, message: Option<&Message>, detail: TraceDetail) {
        #[cfg(feature = "tla-trace")]
        {
            let event = TraceEvent {
                name,
                node: self.id,
                message: message.cloned(),
                detail,
                term: self.term,
                vote: self.vote,
                role: self.role,
                leader: self.leader,
                commit: self.log.committed,
                last_index: self.log.last_index(),
                last_term: self.log.last_term(),
            };
            self.trace.push(event);
        }
    }

    pub fn membership(&self) -> &Membership {
        self.memberships.current()
    }

    /// May this node start elections: it is a voter in its own view of the membership.
    pub fn promotable(&self) -> bool {
        self.membership().is_voter(self.id)
    }

    pub fn quiescent(&self) -> bool {
        match self.role {
            Role::Follower => self.suspended,
            Role::Leader => {
                self.transferee.is_none()
                    && self.log.committed == self.log.last_index()
                    && self.progress.values().all(|p| p.suspended)
            }
            Role::PreCandidate | Role::Candidate => false,
        }
    }

    pub fn send(&mut self, to: NodeId, body: MessageBody) {
        let message = Message { from: self.id, to, term: self.term, body };
        self.msgs.push(message);
    }

    pub fn send_after_persist(&mut self, to: NodeId, term: Term, body: MessageBody) {
        let message = Message { from: self.id, to, term, body };
        self.msgs_after_persist.push(message);
    }

    pub fn reset_randomized_election_ticks(&mut self) {
        let ticks = self.config.election_ticks;
        self.randomized_election_ticks = ticks + self.rng.below(ticks as u64) as u32;
    }

    fn reset(&mut self, term: Term) {
        if self.term != term {
            self.term = term;
            self.vote = None;
        }
        self.leader = None;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_ticks();
        self.transferee = None;
        self.transfer_elapsed = 0;
        self.votes.clear();
        self.progress.clear();
        self.uncommitted.clear();
        self.uncommitted_bytes = 0;
        self.sync_in_flight = false;
        self.sync_elapsed = 0;
        self.sync_expect = None;
        self.suspended = false;
        self.sync_after_persist = false;
    }

    pub fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
    }

    pub fn become_pre_candidate(&mut self) {
        assert_ne!(self.role, Role::Leader, "{}: a leader cannot become a pre-candidate", self.id);
        // Pre-vote changes neither term nor vote: a partitioned node that keeps failing its
        // pre-vote never bumps its term and never disrupts the group when it comes back.
        let term = self.term;
        self.reset(term);
        self.role = Role::PreCandidate;
    }

    pub fn become_candidate(&mut self) {
        assert_ne!(self.role, Role::Leader, "{}: a leader cannot become a candidate", self.id);
        let term = self.term.next();
        self.reset(term);
        self.vote = Some(self.id);
        self.role = Role::Candidate;
    }

    pub fn become_leader(&mut self) {
        assert_ne!(self.role, Role::Follower, "{}: a follower cannot become leader directly", self.id);
        let term = self.term;
        self.reset(term);
        self.role = Role::Leader;
        self.leader = Some(self.id);
        let members: Vec<NodeId> = self.membership().members().filter(|id| *id != self.id).collect();
        for id in members {
            self.progress.insert(id, Progress::default());
        }
        // The no-op lets this leader commit in its own term, and with it every entry of
        // earlier terms before it (Raft §5.4.2, "Figure 8").
        self.term_start = self.log.last_index().next();
        self.append_entry(Payload::Noop);
        let ids: Vec<NodeId> = self.progress.keys().copied().collect();
        for id in ids {
            self.send(id, MessageBody::NotifySync { commit: self.log.committed });
        }
        self.maybe_commit();
    }

    /// Appends one entry to our own log (leader only) and wakes suspended followers.
    pub fn append_entry(&mut self, payload: Payload) -> LogIndex {
        debug_assert_eq!(self.role, Role::Leader);
        let index = self.log.last_index().next();
        let entry = Entry { term: self.term, index, payload };
        let bytes = entry.size_bytes();
        if let Payload::Membership(membership) = &entry.payload {
            self.memberships.appended(index, membership.clone());
            self.membership_changed();
        }
        self.log.append(entry);
        self.uncommitted.push_back((index, bytes));
        self.uncommitted_bytes += bytes;
        self.wake_suspended_followers();
        index
    }

    /// The membership in force changed: a leader starts or stops tracking members.
    pub fn membership_changed(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let membership = self.membership().clone();
        self.progress.retain(|id, _| membership.is_member(*id));
        for id in membership.members() {
            if id != self.id && !self.progress.contains_key(&id) {
                self.progress.insert(id, Progress::default());
                self.send(id, MessageBody::NotifySync { commit: self.log.committed });
            }
        }
        if self.transferee.is_some_and(|id| !membership.is_voter(id)) {
            self.transferee = None;
        }
    }

    /// The commit index moved: the membership may be settled, and a leader that removed
    /// itself steps down once the removal is committed.
    pub fn committed_to(&mut self, commit: LogIndex) {
        self.memberships.commit_to(commit);
        if self.role == Role::Leader {
            while self.uncommitted.front().is_some_and(|(index, _)| *index <= commit) {
                let (_, bytes) = self.uncommitted.pop_front().expect("front exists");
                self.uncommitted_bytes -= bytes;
            }
            if !self.membership().is_voter(self.id) && self.memberships.pending_index().is_none() {
                let term = self.term;
                self.become_follower(term, None);
            }
        }
    }

    // ----- inputs -----

    pub fn tick(&mut self) {
        if self.quiescent() {
            return;
        }
        match self.role {
            Role::Leader => self.tick_leader(),
            Role::Follower => self.tick_follower(),
            Role::PreCandidate | Role::Candidate => self.tick_election(),
        }
    }

    pub fn step(&mut self, m: Message) {
        #[cfg(feature = "tla-trace")]
        let traced = m.clone();
        self.step_message(m);
        #[cfg(feature = "tla-trace")]
        self.record("Receive", Some(&traced), TraceDetail::None);
    }

    fn step_message(&mut self, m: Message) {
        if m.to != self.id {
            return;
        }
        if m.term > self.term && !self.step_higher_term(&m) {
            return;
        }
        if m.term < self.term {
            self.step_lower_term(m);
            return;
        }
        match &m.body {
            MessageBody::VoteReq { .. } => self.handle_vote_req(m),
            MessageBody::VoteResp { .. } => self.handle_vote_resp(m),
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                _ => self.step_follower(m),
            },
        }
    }

    /// A message from a higher term. Returns false if it is to be ignored.
    fn step_higher_term(&mut self, m: &Message) -> bool {
        match &m.body {
            MessageBody::VoteReq { pre_vote, transfer, .. } => {
                // Check-quorum lease: while we hear from a leader, we ignore elections
                // (unless the leader itself asked for one by a transfer). This keeps a node
                // that was partitioned away from disrupting a healthy group.
                let in_lease = self.leader.is_some() && self.election_elapsed < self.config.election_ticks;
                if in_lease && !transfer {
                    // A message wakes a quiescent group (DESIGN §3). A suspended follower's
                    // clock is stopped, so its lease would never run out: resume pulling and
                    // ticking, so that it runs out if the leader is gone. A leader hearing a
                    // member it let suspend campaign (it restarted, say) tells it who leads:
                    // no heartbeat would while the group is quiet.
                    match self.role {
                        Role::Follower if self.suspended => self.wake_follower_self(),
                        Role::Leader => self.wake_follower(m.from),
                        _ => {}
                    }
                    return false;
                }
                if !pre_vote {
                    self.become_follower(m.term, None);
                }
                true
            }
            // A granted pre-vote answer carries the term the pre-candidate will campaign in.
            MessageBody::VoteResp { pre_vote: true, granted: true } => true,
            MessageBody::SyncResp { .. }
            | MessageBody::SyncReject { .. }
            | MessageBody::Snapshot { .. }
            | MessageBody::NotifySync { .. }
            | MessageBody::TimeoutNow => {
                self.become_follower(m.term, Some(m.from));
                true
            }
            MessageBody::VoteResp { .. } | MessageBody::SyncReq { .. } => {
                self.become_follower(m.term, None);
                true
            }
        }
    }

    fn step_lower_term(&mut self, m: Message) {
        match m.body {
            // Tell a pre-candidate with a stale term that it is behind, so it can catch up
            // instead of retrying pre-votes that can never succeed.
            MessageBody::VoteReq { pre_vote: true, .. } => {
                self.send(m.from, MessageBody::VoteResp { pre_vote: true, granted: false });
            }
            // A follower still in an older term pulls from us: tell it who leads now.
            MessageBody::SyncReq { .. } if self.role == Role::Leader => {
                self.send(m.from, MessageBody::NotifySync { commit: self.log.committed });
            }
            // A stale leader talks to us: our answer's term makes it step down.
            MessageBody::SyncResp { .. }
            | MessageBody::NotifySync { .. }
            | MessageBody::SyncReject { .. } => {
                let body = self.sync_req_body();
                self.send(m.from, body);
            }
            _ => {}
        }
    }
}

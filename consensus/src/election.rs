//! Elections: timeouts, pre-vote, votes, and the transfer-triggered campaign.

use crate::message::{Message, MessageBody};
use crate::raft::Raft;
use crate::storage::Storage;
use crate::trace::TraceDetail;
use crate::types::{NodeId, Role};

/// How a campaign starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignKind {
    /// Ask for promises first, without bumping the term (the default).
    PreVote,
    /// Bump the term and ask for votes.
    Vote,
    /// Asked by the leader (`TimeoutNow`): skip pre-vote and override the voters' lease.
    Transfer,
}

impl<S: Storage> Raft<S> {
    /// Followers and candidates: start an election when the leader has been silent too long.
    pub fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.promotable() && self.election_elapsed >= self.randomized_election_ticks {
            self.campaign(CampaignKind::PreVote);
            self.record("Timeout", None, TraceDetail::None);
        }
    }

    /// Starts a campaign; false if this node cannot (a leader, or not a voter).
    pub fn campaign(&mut self, kind: CampaignKind) -> bool {
        if !self.promotable() || self.role == Role::Leader {
            return false;
        }
        let pre_vote = kind == CampaignKind::PreVote;
        if pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate();
        }
        self.votes.insert(self.id, true);
        if self.poll_won() {
            self.election_won(pre_vote);
            return true;
        }
        let term = if pre_vote { self.term.next() } else { self.term };
        let body = MessageBody::VoteReq {
            pre_vote,
            transfer: kind == CampaignKind::Transfer,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
        };
        let voters: Vec<NodeId> =
            self.membership().voters.iter().copied().filter(|id| *id != self.id).collect();
        for id in voters {
            if pre_vote {
                let message = Message { from: self.id, to: id, term, body: body.clone() };
                self.msgs.push(message);
            } else {
                // Our own vote must be durable before anyone can count on it.
                self.send_after_persist(id, term, body.clone());
            }
        }
        true
    }

    fn election_won(&mut self, pre_vote: bool) {
        if pre_vote {
            self.campaign(CampaignKind::Vote);
        } else {
            self.become_leader();
        }
    }

    fn poll_won(&self) -> bool {
        let granted = self.votes.values().filter(|granted| **granted).count();
        granted >= self.membership().quorum()
    }

    fn poll_lost(&self) -> bool {
        let rejected = self.votes.values().filter(|granted| !**granted).count();
        rejected >= self.membership().quorum()
    }

    pub fn handle_vote_req(&mut self, m: Message) {
        let MessageBody::VoteReq { pre_vote, last_index, last_term, .. } = m.body else { unreachable!() };
        let can_vote = self.vote == Some(m.from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && m.term > self.term);
        let granted = can_vote && self.log.is_up_to_date(last_index, last_term);
        if pre_vote {
            // A granted pre-vote answer carries the term asked for; a refusal carries ours.
            let term = if granted { m.term } else { self.term };
            let message = Message {
                from: self.id,
                to: m.from,
                term,
                body: MessageBody::VoteResp { pre_vote, granted },
            };
            self.msgs.push(message);
            return;
        }
        if granted {
            self.vote = Some(m.from);
            self.election_elapsed = 0;
            // The vote is an answer only once it is durable.
            self.send_after_persist(m.from, self.term, MessageBody::VoteResp { pre_vote, granted });
        } else {
            self.send(m.from, MessageBody::VoteResp { pre_vote, granted });
        }
    }

    pub fn handle_vote_resp(&mut self, m: Message) {
        let MessageBody::VoteResp { pre_vote, granted } = m.body else { unreachable!() };
        let expected = if pre_vote { Role::PreCandidate } else { Role::Candidate };
        // Only the voters of our membership count, whatever else answers.
        if self.role != expected || !self.membership().is_voter(m.from) {
            return;
        }
        self.votes.entry(m.from).or_insert(granted);
        if self.poll_won() {
            self.election_won(pre_vote);
        } else if self.poll_lost() {
            let term = self.term;
            self.become_follower(term, None);
        }
    }
}

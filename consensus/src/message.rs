//! What cores say to each other.
//!
//! Replication is pulled by followers: a follower sends `SyncReq`, the leader answers with
//! `SyncResp` (entries and commit), `SyncReject` (the follower's log diverges) or `Snapshot`
//! (the follower is behind the compacted prefix). A caught-up follower's `SyncReq` is parked
//! by the leader and answered when there is something new. `NotifySync` wakes a follower
//! that stopped asking.

use crate::types::{Entry, LogIndex, NodeId, Snapshot, Term};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term; for a pre-vote request, the term the sender would campaign in.
    pub term: Term,
    pub body: MessageBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageBody {
    /// A request for a vote (or, with `pre_vote`, for a promise to vote if asked).
    /// `transfer` marks an election started by a leadership transfer: it overrides the
    /// check-quorum lease of the voters.
    VoteReq {
        pre_vote: bool,
        transfer: bool,
        last_index: LogIndex,
        last_term: Term,
    },
    VoteResp {
        pre_vote: bool,
        granted: bool,
    },
    /// A follower's pull: "send me entries from `next_index`; my entry at `next_index - 1`
    /// has term `prev_log_term`; everything up to `stored_index` is durable on my disk".
    SyncReq {
        next_index: LogIndex,
        prev_log_term: Term,
        stored_index: LogIndex,
    },
    /// Entries starting at `next_index` (possibly none), and the leader's commit index.
    /// `next_index`/`prev_log_term` echo the request so that the follower can tell whether
    /// the answer still fits its log. `suspend` tells an idle follower to stop asking until
    /// it gets a `NotifySync`.
    SyncResp {
        next_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        commit: LogIndex,
        suspend: bool,
    },
    /// The leader's log does not hold `(next_index - 1, prev_log_term)`: the follower's entry
    /// there is not the leader's and is truncated with everything after it. The follower
    /// asks again from the last index at or before `hint_index` whose term is at most
    /// `hint_term`.
    SyncReject {
        next_index: LogIndex,
        prev_log_term: Term,
        hint_index: LogIndex,
        hint_term: Term,
    },
    /// The leader's state up to `snapshot.meta.index`, for a follower behind the compacted
    /// prefix of the leader's log.
    Snapshot {
        snapshot: Snapshot,
    },
    /// "I lead this term and have something for you": a follower starts pulling.
    NotifySync {
        commit: LogIndex,
    },
    /// Leadership transfer: the target campaigns at once, skipping pre-vote.
    TimeoutNow,
}

impl MessageBody {
    /// The name of the message type, as the datadriven scripts and traces print it.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageBody::VoteReq { pre_vote: true, .. } => "PreVoteReq",
            MessageBody::VoteReq { .. } => "VoteReq",
            MessageBody::VoteResp { pre_vote: true, .. } => "PreVoteResp",
            MessageBody::VoteResp { .. } => "VoteResp",
            MessageBody::SyncReq { .. } => "SyncReq",
            MessageBody::SyncResp { .. } => "SyncResp",
            MessageBody::SyncReject { .. } => "SyncReject",
            MessageBody::Snapshot { .. } => "Snapshot",
            MessageBody::NotifySync { .. } => "NotifySync",
            MessageBody::TimeoutNow => "TimeoutNow",
        }
    }
}

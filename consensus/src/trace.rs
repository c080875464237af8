//! Trace events for TLA+ trace validation (`docs/tla`). With the `tla-trace` feature the core
//! records one event per spec action, named after it, carrying the node's state right after
//! the action; a driver drains them with `RawNode::take_trace` after every call, so that
//! events of all nodes form one causal order. Without the feature nothing is recorded and
//! nothing is built.

use std::collections::BTreeSet;

use crate::message::Message;
use crate::types::{LogIndex, Membership, NodeId, Role, Term};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// The spec action: Receive, Timeout, SyncRetry, Heartbeat, StepDown, TransferAbort,
    /// Propose, ProposeMembership, TransferLeader, Wake, Ready, Persist.
    pub name: &'static str,
    pub node: NodeId,
    /// The message received, for `Receive`.
    pub message: Option<Message>,
    /// Choices the spec leaves open and the core made: see `TraceDetail`.
    pub detail: TraceDetail,
    // The node's state after the action.
    pub term: Term,
    pub vote: Option<NodeId>,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub commit: LogIndex,
    pub last_index: LogIndex,
    pub last_term: Term,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TraceDetail {
    #[default]
    None,
    /// Heartbeat: the followers told to suspend.
    Suspended(BTreeSet<NodeId>),
    /// ProposeMembership: the membership proposed.
    Membership(Membership),
    /// TransferLeader: the target.
    Target(NodeId),
}

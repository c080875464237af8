//! Trace events for TLA+ trace validation (docs/tla). With the `tla-trace` feature the core
//! records one event per spec action into `Ready::trace`; without it, `trace!` expands to
//! nothing and the events are never built.

use crate::message::Message;
use crate::types::{Entry, LogIndex, NodeId, Role, Term};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    Send(Message),
    Receive(Message),
    Role { node: NodeId, role: Role, term: Term },
    Append { node: NodeId, index: LogIndex, term: Term },
    Commit { node: NodeId, index: LogIndex },
}

impl TraceEvent {
    pub fn send(message: &Message) -> TraceEvent {
        TraceEvent::Send(message.clone())
    }

    pub fn receive(message: &Message) -> TraceEvent {
        TraceEvent::Receive(message.clone())
    }

    pub fn role(node: NodeId, role: Role, term: Term) -> TraceEvent {
        TraceEvent::Role { node, role, term }
    }

    pub fn append(node: NodeId, entry: &Entry) -> TraceEvent {
        TraceEvent::Append { node, index: entry.index, term: entry.term }
    }

    pub fn commit(node: NodeId, index: LogIndex) -> TraceEvent {
        TraceEvent::Commit { node, index }
    }
}

macro_rules! trace {
    ($raft:expr, $event:expr) => {
        #[cfg(feature = "tla-trace")]
        {
            let event = $event;
            $raft.trace.push(event);
        }
    };
}
pub(crate) use trace;

//! Canonical, compact text for the core's values, as the scripts print them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use consensus::{
    Entry, HardState, Membership, Message, MessageBody, NodeId, Payload, Ready, Snapshot, SoftState, Status,
};

pub fn id(node: Option<NodeId>) -> u64 {
    node.map_or(0, |n| n.0)
}

pub fn ids(set: &BTreeSet<NodeId>) -> String {
    let list: Vec<String> = set.iter().map(|n| n.to_string()).collect();
    format!("({})", list.join(","))
}

pub fn membership(m: &Membership) -> String {
    format!("voters={} learners={}", ids(&m.voters), ids(&m.learners))
}

/// `term/index payload`, e.g. `1/3 "foo"`, `2/4 noop`, `2/5 conf voters=(1,2) learners=()`.
pub fn entry(e: &Entry) -> String {
    match &e.payload {
        Payload::Noop => format!("{}/{} noop", e.term, e.index),
        Payload::Command(data) => format!("{}/{} {:?}", e.term, e.index, String::from_utf8_lossy(data)),
        Payload::Membership(m) => format!("{}/{} conf {}", e.term, e.index, membership(m)),
    }
}

pub fn entries(list: &[Entry]) -> String {
    let items: Vec<String> = list.iter().map(entry).collect();
    format!("[{}]", items.join(", "))
}

/// `term/index` of its last entry, the membership there, and the state machine's data.
pub fn snapshot(s: &Snapshot) -> String {
    format!(
        "{}/{} {} data={:?}",
        s.meta.term,
        s.meta.index,
        membership(&s.meta.membership),
        String::from_utf8_lossy(&s.data)
    )
}

pub fn hard_state(hs: &HardState) -> String {
    format!("term={} vote={} commit={}", hs.term, id(hs.vote), hs.commit)
}

pub fn soft_state(ss: &SoftState) -> String {
    format!("leader={} role={:?}", id(ss.leader), ss.role)
}

/// `from->to Kind term=T fields...`
pub fn message(m: &Message) -> String {
    let mut out = format!("{}->{} {} term={}", m.from, m.to, m.body.kind(), m.term);
    match &m.body {
        MessageBody::VoteReq { transfer, last_index, last_term, .. } => {
            write!(out, " last={last_term}/{last_index}").expect("write to String");
            if *transfer {
                out.push_str(" transfer");
            }
        }
        MessageBody::VoteResp { granted, .. } => {
            out.push_str(if *granted { " granted" } else { " rejected" });
        }
        MessageBody::SyncReq { next_index, prev_log_term, stored_index } => {
            write!(out, " next={next_index} prev_term={prev_log_term} stored={stored_index}")
                .expect("write to String");
        }
        MessageBody::SyncResp { next_index, prev_log_term, entries: list, commit, suspend } => {
            write!(out, " next={next_index} prev_term={prev_log_term} commit={commit}")
                .expect("write to String");
            if !list.is_empty() {
                write!(out, " entries={}", entries(list)).expect("write to String");
            }
            if *suspend {
                out.push_str(" suspend");
            }
        }
        MessageBody::SyncReject { next_index, prev_log_term, hint_index, hint_term } => {
            write!(out, " next={next_index} prev_term={prev_log_term} hint={hint_term}/{hint_index}")
                .expect("write to String");
        }
        MessageBody::Snapshot { snapshot: s } => {
            write!(out, " {}", snapshot(s)).expect("write to String");
        }
        MessageBody::NotifySync { commit } => write!(out, " commit={commit}").expect("write to String"),
        MessageBody::TimeoutNow => {}
    }
    out
}

/// One line per part of the Ready that is present, in the order the driver handles them.
pub fn ready(r: &Ready) -> String {
    let mut out = String::from("Ready:\n");
    if let Some(ss) = &r.soft_state {
        writeln!(out, "soft: {}", soft_state(ss)).expect("write to String");
    }
    if let Some(hs) = &r.hard_state {
        writeln!(out, "hard: {}", hard_state(hs)).expect("write to String");
    }
    if let Some(s) = &r.snapshot {
        writeln!(out, "snapshot: {}", snapshot(s)).expect("write to String");
    }
    if let Some(index) = r.truncate_from {
        writeln!(out, "truncate_from: {index}").expect("write to String");
    }
    if !r.entries.is_empty() {
        writeln!(out, "entries: {}", entries(&r.entries)).expect("write to String");
    }
    if !r.committed_entries.is_empty() {
        writeln!(out, "committed: {}", entries(&r.committed_entries)).expect("write to String");
    }
    if !r.messages.is_empty() {
        out.push_str("msgs:\n");
        for m in &r.messages {
            writeln!(out, "  {}", message(m)).expect("write to String");
        }
    }
    if !r.persisted_messages.is_empty() {
        out.push_str("persisted_msgs:\n");
        for m in &r.persisted_messages {
            writeln!(out, "  {}", message(m)).expect("write to String");
        }
    }
    out
}

pub fn status(s: &Status) -> String {
    format!(
        "{}: {:?} term={} vote={} leader={} commit={} applied={} last={} stored={} {}{}",
        s.id,
        s.role,
        s.term,
        id(s.vote),
        id(s.leader),
        s.commit,
        s.applied,
        s.last_index,
        s.stored_index,
        membership(&s.membership),
        if s.quiescent { " quiescent" } else { "" }
    )
}

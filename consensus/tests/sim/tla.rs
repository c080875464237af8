//! Writes a run's TLA+ trace (feature `tla-trace`): one JSON line per core event, in the
//! order the simulator caused them, for `docs/tla/trace2tla.py` and TLC to check against
//! `docs/tla/PullRaft.tla`. Field names are the spec's.

use std::fmt::Write;

use consensus::{Entry, Membership, Message, MessageBody, NodeId, Payload, Status, TraceDetail, TraceEvent};

pub struct TraceWriter {
    lines: Vec<String>,
}

fn id(node: Option<NodeId>) -> u64 {
    node.map(|n| n.0).unwrap_or(0)
}

fn set(ids: impl IntoIterator<Item = NodeId>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|n| n.0.to_string()).collect();
    format!("[{}]", ids.join(","))
}

fn membership(m: &Membership) -> String {
    format!(
        "{{\"voters\":{},\"learners\":{}}}",
        set(m.voters.iter().copied()),
        set(m.learners.iter().copied())
    )
}

fn entry(e: &Entry) -> String {
    let (kind, conf) = match &e.payload {
        Payload::Noop => ("noop", Membership::default()),
        Payload::Command(_) => ("cmd", Membership::default()),
        Payload::Membership(m) => ("conf", m.clone()),
    };
    format!(
        "{{\"term\":{},\"kind\":\"{kind}\",\"voters\":{},\"learners\":{}}}",
        e.term,
        set(conf.voters.iter().copied()),
        set(conf.learners.iter().copied())
    )
}

fn message(m: &Message) -> String {
    let head =
        format!("\"type\":\"{}\",\"from\":{},\"to\":{},\"term\":{}", kind(&m.body), m.from, m.to, m.term);
    let body = match &m.body {
        MessageBody::VoteReq { pre_vote, transfer, last_index, last_term } => format!(
            "\"pre\":{pre_vote},\"transfer\":{transfer},\"lastIndex\":{last_index},\"lastTerm\":{last_term}"
        ),
        MessageBody::VoteResp { pre_vote, granted } => format!("\"pre\":{pre_vote},\"granted\":{granted}"),
        MessageBody::SyncReq { next_index, prev_log_term, stored_index } => {
            format!("\"next\":{next_index},\"prevTerm\":{prev_log_term},\"stored\":{stored_index}")
        }
        MessageBody::SyncResp { next_index, prev_log_term, entries, commit, suspend } => {
            let entries: Vec<String> = entries.iter().map(entry).collect();
            format!(
                "\"next\":{next_index},\"prevTerm\":{prev_log_term},\"entries\":[{}],\"commit\":{commit},\"suspend\":{suspend}",
                entries.join(",")
            )
        }
        MessageBody::SyncReject { next_index, prev_log_term, hint_index, hint_term } => format!(
            "\"next\":{next_index},\"prevTerm\":{prev_log_term},\"hintIndex\":{hint_index},\"hintTerm\":{hint_term}"
        ),
        MessageBody::NotifySync { commit } => format!("\"commit\":{commit}"),
        MessageBody::TimeoutNow => String::new(),
        MessageBody::Snapshot { .. } => panic!("snapshots are not in the spec: trace runs do not compact"),
    };
    if body.is_empty() {
        format!("{{{head}}}")
    } else {
        format!("{{{head},{body}}}")
    }
}

/// The spec's message type: vote requests and answers are one type with a `pre` flag.
fn kind(body: &MessageBody) -> &'static str {
    match body {
        MessageBody::VoteReq { .. } => "VoteReq",
        MessageBody::VoteResp { .. } => "VoteResp",
        other => other.kind(),
    }
}

impl TraceWriter {
    pub fn new(seed: u64, servers: u64, voters: u64) -> TraceWriter {
        let servers = set((1..=servers).map(NodeId));
        let voters = set((1..=voters).map(NodeId));
        TraceWriter {
            lines: vec![format!("{{\"seed\":{seed},\"servers\":{servers},\"initVoters\":{voters}}}")],
        }
    }

    pub fn event(&mut self, e: &TraceEvent) {
        let mut line = format!(
            "{{\"ev\":\"{}\",\"n\":{},\"term\":{},\"vote\":{},\"role\":\"{:?}\",\"leader\":{},\"commit\":{},\"last\":{},\"lastTerm\":{}",
            e.name,
            e.node,
            e.term,
            id(e.vote),
            e.role,
            id(e.leader),
            e.commit,
            e.last_index,
            e.last_term
        );
        if let Some(m) = &e.message {
            write!(line, ",\"msg\":{}", message(m)).expect("write to a String");
        }
        match &e.detail {
            TraceDetail::None => {}
            TraceDetail::Suspended(ids) => {
                write!(line, ",\"susp\":{}", set(ids.iter().copied())).expect("write")
            }
            TraceDetail::Membership(m) => write!(line, ",\"conf\":{}", membership(m)).expect("write"),
            TraceDetail::Target(to) => write!(line, ",\"target\":{to}").expect("write"),
        }
        line.push('}');
        self.lines.push(line);
    }

    /// The simulator restarted a crashed node: the spec's Crash (restart from what is durable).
    pub fn crash(&mut self, s: &Status, last_term: consensus::Term) {
        self.lines.push(format!(
            "{{\"ev\":\"Crash\",\"n\":{},\"term\":{},\"vote\":{},\"role\":\"{:?}\",\"leader\":{},\"commit\":{},\"last\":{},\"lastTerm\":{}}}",
            s.id,
            s.term,
            id(s.vote),
            s.role,
            id(s.leader),
            s.commit,
            s.last_index,
            last_term
        ));
    }

    pub fn events(&self) -> usize {
        self.lines.len() - 1
    }

    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.lines.join("\n") + "\n")
    }
}

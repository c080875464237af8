//! The interaction environment: raft nodes over `MemStorage`, and a network that the
//! script drives message by message (etcd's `rafttest.InteractionEnv`).
//!
//! A node's `MemStorage` is its disk: it holds exactly what `process-ready` (or
//! `persist-ready`) wrote. `crash` drops the `RawNode` and any Ready not yet written;
//! `restart` builds a new `RawNode` from the store.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use consensus::{Config, LogIndex, MemStorage, Membership, Message, RawNode, Ready, Storage};

use crate::describe;

/// `stabilize` gives up after this many rounds of (handle Readies, deliver messages). A
/// settled group needs a few dozen (an election, a membership change, a snapshot catch-up
/// each take under ten); hitting the bound means the scripted nodes never go quiet.
const STABILIZE_ROUNDS_MAX: usize = 200;

pub struct Node {
    /// `None` while the node is crashed.
    pub raw: Option<RawNode<MemStorage>>,
    /// The store of a crashed node, waiting for `restart`.
    crashed: Option<MemStorage>,
    config: Config,
    /// The state machine's applied index; it survives a crash (the state machine is as
    /// durable as the store it is applied next to).
    applied: LogIndex,
    /// A Ready taken by `take-ready` whose writes are not done yet.
    pending: Option<Ready>,
}

/// Which queued messages a delivery command acts on.
#[derive(Default)]
pub struct MsgFilter {
    pub kind: Option<String>,
    pub from: Option<u64>,
}

impl MsgFilter {
    fn matches(&self, m: &Message) -> bool {
        self.kind.iter().all(|k| k == m.body.kind()) && self.from.iter().all(|f| *f == m.from.0)
    }
}

struct InFlight {
    message: Message,
    /// Sent across a cut or to a crashed node: it is dropped when delivered, even if the
    /// cut has healed or the node restarted meanwhile.
    lost: bool,
}

#[derive(Default)]
pub struct Env {
    pub nodes: BTreeMap<u64, Node>,
    /// Messages sent and not yet delivered or dropped, in send order.
    in_flight: Vec<InFlight>,
    /// Messages held back by `stash-msgs`, to be released later (reordering, delay).
    stashed: Vec<InFlight>,
    /// Unordered pairs of nodes that cannot reach each other.
    cuts: BTreeSet<(u64, u64)>,
    /// `log-level none` silences Ready and message printouts.
    pub quiet: bool,
}

impl Node {
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Env {
    pub fn add_node(&mut self, config: Config, membership: Membership) {
        let id = config.id.0;
        assert!(!self.nodes.contains_key(&id), "node {id} exists");
        let storage = MemStorage::new_with_membership(membership);
        let raw = RawNode::new(config.clone(), storage);
        let node = Node { raw: Some(raw), crashed: None, config, applied: LogIndex(0), pending: None };
        self.nodes.insert(id, node);
    }

    pub fn next_id(&self) -> u64 {
        self.nodes.keys().next_back().map_or(1, |id| id + 1)
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    fn node(&mut self, id: u64) -> Result<&mut Node, String> {
        self.nodes.get_mut(&id).ok_or_else(|| format!("no node {id}"))
    }

    /// The running node `id`.
    pub fn raw(&mut self, id: u64) -> Result<&mut RawNode<MemStorage>, String> {
        self.node(id)?.raw.as_mut().ok_or_else(|| format!("node {id} is down"))
    }

    fn is_up(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.raw.is_some())
    }

    fn quiet_or(&self, text: String) -> String {
        if self.quiet {
            String::new()
        } else {
            text
        }
    }

    // ----- Readies -----

    /// Takes a Ready, prints it and sends its `messages`; its writes wait for `persist_ready`.
    pub fn take_ready(&mut self, id: u64) -> Result<String, String> {
        let node = self.node(id)?;
        if node.pending.is_some() {
            return Err(format!("node {id} has a Ready waiting for persist-ready"));
        }
        let raw = node.raw.as_mut().ok_or_else(|| format!("node {id} is down"))?;
        if !raw.has_ready() {
            return Ok(self.quiet_or("no Ready".to_string()));
        }
        let ready = raw.ready();
        let text = describe::ready(&ready);
        self.send(&ready.messages);
        self.node(id)?.pending = Some(ready);
        Ok(self.quiet_or(text))
    }

    /// Writes the taken Ready to the node's store, sends its `persisted_messages`, applies
    /// it and advances the node.
    pub fn persist_ready(&mut self, id: u64) -> Result<(), String> {
        let node = self.node(id)?;
        let ready = node.pending.take().ok_or_else(|| format!("node {id} has no Ready to persist"))?;
        let raw = node.raw.as_mut().ok_or_else(|| format!("node {id} is down"))?;
        raw.storage_mut().write(&ready);
        if let Some(snapshot) = &ready.snapshot {
            node.applied = node.applied.max(snapshot.meta.index);
        }
        if let Some(last) = ready.committed_entries.last() {
            node.applied = last.index;
        }
        self.send(&ready.persisted_messages);
        self.raw(id)?.advance(ready);
        Ok(())
    }

    pub fn process_ready(&mut self, id: u64) -> Result<String, String> {
        let text = self.take_ready(id)?;
        if self.nodes[&id].pending.is_some() {
            self.persist_ready(id)?;
        }
        Ok(text)
    }

    // ----- the network -----

    fn connected(&self, a: u64, b: u64) -> bool {
        !self.cuts.contains(&(a.min(b), a.max(b)))
    }

    fn send(&mut self, messages: &[Message]) {
        for m in messages {
            let lost = !self.connected(m.from.0, m.to.0) || !self.is_up(m.to.0);
            self.in_flight.push(InFlight { message: m.clone(), lost });
        }
    }

    fn take_msgs(&mut self, to: u64, filter: &MsgFilter) -> Vec<InFlight> {
        let (taken, kept) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|f| f.message.to.0 == to && filter.matches(&f.message));
        self.in_flight = kept;
        taken
    }

    /// Delivers the queued messages for `to` that pass `filter`, in send order. Messages
    /// across a cut or to a crashed node are lost.
    pub fn deliver(&mut self, to: u64, filter: &MsgFilter) -> Result<String, String> {
        let mut out = String::new();
        for InFlight { message: m, lost } in self.take_msgs(to, filter) {
            let text = describe::message(&m);
            if lost || !self.connected(m.from.0, to) || !self.is_up(to) {
                writeln!(out, "lost: {text}").expect("write to String");
            } else {
                writeln!(out, "{text}").expect("write to String");
                self.raw(to)?.step(m);
            }
        }
        Ok(self.quiet_or(out))
    }

    pub fn drop_msgs(&mut self, to: u64, filter: &MsgFilter) -> String {
        let lines: Vec<String> = self
            .take_msgs(to, filter)
            .iter()
            .map(|f| format!("dropped: {}", describe::message(&f.message)))
            .collect();
        self.quiet_or(lines.join("\n"))
    }

    /// Queues a second copy of each matching message for `to`, right after the first.
    pub fn duplicate_msgs(&mut self, to: u64, filter: &MsgFilter) -> String {
        let mut out = String::new();
        let mut queue = Vec::new();
        for f in std::mem::take(&mut self.in_flight) {
            if f.message.to.0 == to && filter.matches(&f.message) {
                writeln!(out, "duplicated: {}", describe::message(&f.message)).expect("write to String");
                queue.push(InFlight { message: f.message.clone(), lost: f.lost });
            }
            queue.push(f);
        }
        self.in_flight = queue;
        out
    }

    /// Holds matching messages for `to` back until `release_msgs`: they arrive after
    /// everything sent meanwhile.
    pub fn stash_msgs(&mut self, to: u64, filter: &MsgFilter) -> String {
        let taken = self.take_msgs(to, filter);
        let lines: Vec<String> =
            taken.iter().map(|f| format!("stashed: {}", describe::message(&f.message))).collect();
        self.stashed.extend(taken);
        lines.join("\n")
    }

    pub fn release_msgs(&mut self) -> String {
        let lines: Vec<String> =
            self.stashed.iter().map(|f| format!("released: {}", describe::message(&f.message))).collect();
        self.in_flight.append(&mut self.stashed);
        lines.join("\n")
    }

    pub fn cut(&mut self, a: u64, b: u64) {
        self.cuts.insert((a.min(b), a.max(b)));
    }

    pub fn isolate(&mut self, id: u64) {
        for other in self.ids() {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    pub fn heal(&mut self) {
        self.cuts.clear();
    }

    /// Handles Readies and delivers messages among `ids` until nothing is left to do.
    pub fn stabilize(&mut self, ids: &[u64]) -> Result<String, String> {
        let mut out = String::new();
        for _ in 0..STABILIZE_ROUNDS_MAX {
            let mut busy = false;
            for &id in ids {
                let ready = self.nodes[&id].pending.is_none()
                    && self.nodes[&id].raw.as_ref().is_some_and(|raw| raw.has_ready());
                if ready {
                    busy = true;
                    writeln!(out, "> {id} handling Ready").expect("write to String");
                    out.push_str(&indent(&self.process_ready(id)?));
                }
            }
            for &id in ids {
                if self.in_flight.iter().any(|f| f.message.to.0 == id) {
                    busy = true;
                    writeln!(out, "> {id} receiving messages").expect("write to String");
                    out.push_str(&indent(&self.deliver(id, &MsgFilter::default())?));
                }
            }
            if !busy {
                return Ok(self.quiet_or(out));
            }
        }
        panic!("stabilize did not settle within {STABILIZE_ROUNDS_MAX} rounds:\n{out}");
    }

    // ----- crashes, the store -----

    /// Drops the node and any Ready it has not written: it keeps only its store.
    pub fn crash(&mut self, id: u64) -> Result<(), String> {
        let node = self.node(id)?;
        let raw = node.raw.take().ok_or_else(|| format!("node {id} is down"))?;
        node.pending = None;
        node.crashed = Some(raw.into_storage());
        Ok(())
    }

    pub fn restart(&mut self, id: u64) -> Result<(), String> {
        let node = self.node(id)?;
        let storage = node.crashed.take().ok_or_else(|| format!("node {id} is not down"))?;
        let mut config = node.config.clone();
        config.applied = node.applied;
        node.raw = Some(RawNode::new(config, storage));
        Ok(())
    }

    /// Compacts the node's store up to `index`, which its state machine has applied.
    pub fn compact(&mut self, id: u64, index: LogIndex) -> Result<(), String> {
        let applied = self.node(id)?.applied;
        if index > applied {
            return Err(format!("node {id} has applied only up to {applied}"));
        }
        let data = bytes::Bytes::from(format!("state@{index}"));
        self.raw(id)?.storage_mut().compact(index, data);
        Ok(())
    }

    /// The node's log; entries not yet durable are marked.
    pub fn raft_log(&mut self, id: u64) -> Result<String, String> {
        let raw = self.raw(id)?;
        let mut out = String::new();
        let snapshot = raw.storage().snapshot();
        if snapshot.meta.index.0 > 0 {
            writeln!(out, "snapshot {}", describe::snapshot(&snapshot)).expect("write to String");
        }
        let status = raw.status();
        for e in raw.log_entries(raw.first_index(), status.last_index.next()) {
            let mark = if e.index > status.stored_index { " (unstable)" } else { "" };
            writeln!(out, "{}{mark}", describe::entry(&e)).expect("write to String");
        }
        if out.is_empty() {
            out.push_str("empty log");
        }
        Ok(out)
    }

    pub fn status(&mut self, id: u64) -> String {
        match self.nodes.get(&id).and_then(|n| n.raw.as_ref()) {
            Some(raw) => describe::status(&raw.status()),
            None => format!("{id}: down"),
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

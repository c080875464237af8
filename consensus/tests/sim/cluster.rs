//! The simulated nodes: each a core over a `MemStorage` that holds exactly what was written,
//! with a write that is taken but not yet durable (so a crash can lose it).

use bytes::Bytes;
use consensus::{
    Config, Entry, LogIndex, MemStorage, Membership, Message, NodeId, RawNode, Ready, Rng, Role, Snapshot,
    Status, Term,
};

use crate::sim::network::Network;

pub struct SimNode {
    pub id: NodeId,
    /// `None` while crashed.
    pub raw: Option<RawNode<MemStorage>>,
    /// The store of a crashed node: only what was written survives.
    pub stopped: Option<MemStorage>,
    /// A Ready whose messages went out but whose writes are not yet durable.
    pub pending: Option<Ready>,
    /// A slow disk: writes complete less often.
    pub slow: bool,
    seed: u64,
    sync_resp_bytes_max: usize,
}

/// What a step showed the checkers.
#[derive(Default)]
pub struct Observed {
    /// Entries handed out to write, with the term of the entry before the first.
    pub appended: Option<(Term, Vec<Entry>)>,
    pub applied: Vec<Entry>,
    pub snapshot: Option<Snapshot>,
    pub hard_state: Option<consensus::HardState>,
}

pub struct Cluster {
    pub nodes: Vec<SimNode>,
}

impl Cluster {
    /// Nodes `1..=voters` form the group; the rest start empty, as spares to add later.
    pub fn new(seed: u64, voters: u64, spares: u64, sync_resp_bytes_max: usize) -> Cluster {
        let membership = Membership::new(1..=voters, []);
        let mut nodes = Vec::new();
        for id in 1..=voters + spares {
            let storage = if id <= voters {
                MemStorage::new_with_membership(membership.clone())
            } else {
                MemStorage::default()
            };
            let seed = seed.wrapping_mul(31).wrapping_add(id);
            let raw = RawNode::new(node_config(id, seed, sync_resp_bytes_max), storage);
            nodes.push(SimNode {
                id: NodeId(id),
                raw: Some(raw),
                stopped: None,
                pending: None,
                slow: false,
                seed,
                sync_resp_bytes_max,
            });
        }
        Cluster { nodes }
    }

    pub fn node(&mut self, id: NodeId) -> &mut SimNode {
        &mut self.nodes[id.0 as usize - 1]
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    pub fn live_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.raw.is_some()).map(|n| n.id).collect()
    }

    pub fn status(&self, id: NodeId) -> Option<Status> {
        self.nodes[id.0 as usize - 1].raw.as_ref().map(|r| r.status())
    }

    /// The leader with the highest term, if any live node leads.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|n| n.raw.as_ref().map(|r| r.status()))
            .filter(|s| s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    pub fn propose(&mut self, id: NodeId, data: Bytes) -> bool {
        match &mut self.node(id).raw {
            Some(raw) => raw.propose(data).is_ok(),
            None => false,
        }
    }

    pub fn deliver(&mut self, message: Message) {
        if let Some(raw) = &mut self.node(message.to).raw {
            raw.step(message);
        }
    }

    /// Takes a Ready: its messages go at once; its writes wait for `persist`.
    pub fn process_ready(&mut self, id: NodeId, net: &mut Network, rng: &mut Rng) -> Observed {
        let node = self.node(id);
        let mut observed = Observed::default();
        let Some(raw) = &mut node.raw else { return observed };
        if node.pending.is_some() || !raw.has_ready() {
            return observed;
        }
        let mut ready = raw.ready();
        if let Some(first) = ready.entries.first() {
            let prev = raw.term(first.index.prev());
            let prev = match (prev, &ready.snapshot) {
                (Some(term), _) => term,
                (None, Some(snapshot)) if snapshot.meta.index == first.index.prev() => snapshot.meta.term,
                (None, _) => panic!("{id}: no term before the first entry {}", first.index),
            };
            observed.appended = Some((prev, ready.entries.clone()));
        }
        for message in ready.messages.drain(..) {
            net.send(rng, message);
        }
        node.pending = Some(ready);
        observed
    }

    /// Makes a pending Ready durable, sends what waited for that, applies, advances.
    pub fn persist(&mut self, id: NodeId, net: &mut Network, rng: &mut Rng) -> Observed {
        let node = self.node(id);
        let mut observed = Observed::default();
        let (Some(raw), Some(mut ready)) = (&mut node.raw, node.pending.take()) else { return observed };
        raw.storage_mut().write(&ready);
        for message in ready.persisted_messages.drain(..) {
            net.send(rng, message);
        }
        observed.applied = std::mem::take(&mut ready.committed_entries);
        observed.snapshot = ready.snapshot.clone();
        observed.hard_state = ready.hard_state;
        raw.advance(ready);
        observed
    }

    /// Drops the core and any write not yet durable.
    pub fn crash(&mut self, id: NodeId) {
        let node = self.node(id);
        if let Some(raw) = node.raw.take() {
            node.pending = None;
            node.stopped = Some(raw.into_storage());
        }
    }

    /// Restarts from the store. The state machine is volatile, so it starts again from the
    /// snapshot and re-applies committed entries.
    pub fn restart(&mut self, id: NodeId) {
        let node = self.node(id);
        if let Some(storage) = node.stopped.take() {
            node.seed = node.seed.wrapping_add(1);
            node.raw = Some(RawNode::new(node_config(id.0, node.seed, node.sync_resp_bytes_max), storage));
        }
    }

    /// Compacts the log up to what the node has applied and written.
    pub fn compact(&mut self, id: NodeId, rng: &mut Rng) {
        let node = self.node(id);
        if node.pending.is_some() {
            return;
        }
        let Some(raw) = &mut node.raw else { return };
        let status = raw.status();
        let stored = status.stored_index.min(status.applied).min(status.commit);
        let first = raw.first_index();
        if stored < first {
            return;
        }
        let index = LogIndex(first.0 + rng.below(stored.0 - first.0 + 1));
        raw.storage_mut().compact(index, Bytes::new());
    }
}

fn node_config(id: u64, seed: u64, sync_resp_bytes_max: usize) -> Config {
    let mut config = Config::new(id);
    config.seed = seed;
    config.sync_resp_bytes_max = sync_resp_bytes_max;
    config
}

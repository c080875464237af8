//! Bugs the simulator found, pinned as deterministic tests. Each opens with a
//! `// postmortem:` line saying what went wrong and why.

use bytes::Bytes;
use consensus::{
    Config, LogIndex, MemStorage, Membership, Message, MessageBody, NodeId, RawNode, Role, Storage,
};

/// A few cores wired by an instant, lossless network.
struct Group {
    nodes: Vec<RawNode<MemStorage>>,
    in_flight: Vec<Message>,
}

impl Group {
    fn new(voters: u64) -> Group {
        let membership = Membership::new(1..=voters, []);
        let nodes = (1..=voters)
            .map(|id| RawNode::new(Config::new(id), MemStorage::new_with_membership(membership.clone())))
            .collect();
        Group { nodes, in_flight: Vec::new() }
    }

    fn node(&mut self, id: u64) -> &mut RawNode<MemStorage> {
        &mut self.nodes[id as usize - 1]
    }

    /// Carries out `id`'s Ready, queueing its messages.
    fn process(&mut self, id: u64) {
        let node = self.node(id);
        if !node.has_ready() {
            return;
        }
        let mut ready = node.ready();
        node.storage_mut().write(&ready);
        let mut out = std::mem::take(&mut ready.messages);
        out.append(&mut ready.persisted_messages);
        node.advance(ready);
        self.in_flight.extend(out);
    }

    /// Delivers everything until no node has anything left to do.
    fn stabilize(&mut self) {
        for _ in 0..1000 {
            for id in 1..=self.nodes.len() as u64 {
                self.process(id);
            }
            if self.in_flight.is_empty() {
                return;
            }
            for message in std::mem::take(&mut self.in_flight) {
                let to = message.to.0;
                self.node(to).step(message);
            }
        }
        panic!("the group did not settle");
    }

    fn elect(&mut self, id: u64) {
        self.node(id).campaign();
        self.stabilize();
        assert_eq!(self.node(id).status().role, Role::Leader);
    }
}

// postmortem: the leader parks every matching SyncReq and answers it when it next builds a
// Ready. A reordered, older request from a lagging follower was parked; the application
// compacted the leader's log past that request before the Ready; answering it then read
// entries below the first index and panicked (simulator seed 57 of the first simulator
// version). Fix: a parked request is checked against the compacted prefix when it is
// answered, and gets a snapshot if it fell behind.
#[test]
fn parked_request_behind_a_compaction_gets_a_snapshot() {
    let mut group = Group::new(3);
    group.elect(1);
    for i in 0..15 {
        group.node(1).propose(Bytes::from(format!("e{i}"))).expect("leader takes proposals");
    }
    group.stabilize();
    let status = group.node(1).status();
    assert_eq!(status.commit, LogIndex(16));
    let term = status.term;

    // An old pull from node 3, delivered late: it matches the leader's log and is parked.
    let stale = Message {
        from: NodeId(3),
        to: NodeId(1),
        term,
        body: MessageBody::SyncReq {
            next_index: LogIndex(12),
            prev_log_term: term,
            stored_index: LogIndex(11),
        },
    };
    group.node(1).step(stale);
    group.node(1).storage_mut().compact(LogIndex(14), Bytes::from_static(b"state@14"));

    let ready = group.node(1).ready();
    let to_3: Vec<&Message> = ready.messages.iter().filter(|m| m.to == NodeId(3)).collect();
    assert!(
        matches!(&to_3[..], [Message { body: MessageBody::Snapshot { snapshot }, .. }] if snapshot.meta.index == LogIndex(14)),
        "expected one snapshot for node 3, got {to_3:?}"
    );
    group.node(1).advance(ready);
}

/// The other half of the same fix: a follower that asks for a compacted range gets the
/// snapshot and then catches up by pulling, ending with the leader's log.
#[test]
fn follower_behind_compaction_catches_up_through_a_snapshot() {
    let mut group = Group::new(3);
    group.elect(1);
    // Node 3 is down while the group moves on and compacts.
    let down = group.nodes.remove(2);
    for i in 0..20 {
        group.node(1).propose(Bytes::from(format!("e{i}"))).expect("leader takes proposals");
    }
    group.in_flight.retain(|m| m.to != NodeId(3));
    stabilize_without_3(&mut group);
    group.node(1).storage_mut().compact(LogIndex(18), Bytes::from_static(b"state@18"));
    group.nodes.push(down);
    group.node(3).wake();
    group.node(1).wake();
    group.stabilize();
    let leader = group.node(1).status();
    let follower = group.node(3).status();
    assert_eq!(follower.commit, leader.commit);
    assert_eq!(follower.last_index, leader.last_index);
    assert_eq!(group.node(3).storage().snapshot().meta.index, LogIndex(18));
    assert_eq!(follower.term, leader.term);
}

fn stabilize_without_3(group: &mut Group) {
    for _ in 0..1000 {
        for id in 1..=2 {
            group.process(id);
        }
        group.in_flight.retain(|m| m.to != NodeId(3));
        if group.in_flight.is_empty() {
            return;
        }
        for message in std::mem::take(&mut group.in_flight) {
            let to = message.to.0;
            group.node(to).step(message);
        }
    }
}

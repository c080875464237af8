//! Property: whatever uncommitted tails the followers carry from lost terms, pulling from a
//! new leader converges every log to the leader's, in a bounded number of rounds, without
//! ever touching the committed prefix (the core asserts that) and with every follower ack
//! counted only for entries that match the leader.

use bytes::Bytes;
use consensus::{
    Config, Entry, HardState, LogIndex, MemStorage, Membership, Message, MessageBody, NodeId, Payload,
    RawNode, Ready, Role, Term,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// A log of `terms` (index i has `terms[i-1]`), payloads naming the term and index.
fn storage(membership: &Membership, terms: &[u64], commit: u64) -> MemStorage {
    let mut storage = MemStorage::new_with_membership(membership.clone());
    let entries = terms
        .iter()
        .enumerate()
        .map(|(i, t)| Entry {
            term: Term(*t),
            index: LogIndex(i as u64 + 1),
            payload: Payload::Command(Bytes::from(format!("{t}/{}", i + 1))),
        })
        .collect();
    let term = terms.iter().copied().max().unwrap_or(0);
    let hard_state = HardState { term: Term(term), vote: None, commit: LogIndex(commit) };
    storage.write(&Ready { entries, hard_state: Some(hard_state), ..Ready::default() });
    storage
}

/// Common committed prefix, then per node a tail: the leader-to-be (node 1) and node 2 use
/// even terms, the divergent follower (node 3) odd ones, so tails never share `(index, term)`.
fn logs() -> impl Strategy<Value = (Vec<u64>, Vec<u64>, Vec<u64>)> {
    let prefix = prop::collection::vec(1u64..3, 0..6).prop_map(|mut v| {
        v.sort();
        v
    });
    let tail = |parity: u64| {
        prop::collection::vec(0u64..4, 0..8).prop_map(move |mut v| {
            v.sort();
            v.into_iter().map(|t| 4 + 2 * t + parity).collect::<Vec<u64>>()
        })
    };
    (prefix, tail(0), tail(1))
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "../proptest-regressions/consensus-pull-convergence.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn followers_converge_on_the_leaders_log((prefix, leader_tail, stale_tail) in logs()) {
        let membership = Membership::new(1..=3, []);
        let commit = prefix.len() as u64;
        let mut leader_log = prefix.clone();
        leader_log.extend(&leader_tail);
        // The leader-to-be must win: its last term is the highest.
        leader_log.push(20);
        let mut stale_log = prefix.clone();
        stale_log.extend(&stale_tail);
        let mut nodes = [
            RawNode::new(Config::new(1), storage(&membership, &leader_log, commit)),
            RawNode::new(Config::new(2), storage(&membership, &leader_log[..leader_log.len() - 1], commit)),
            RawNode::new(Config::new(3), storage(&membership, &stale_log, commit)),
        ];
        nodes[0].campaign();
        let mut rounds = 0;
        let mut rejects = 0;
        let mut in_flight: Vec<Message> = Vec::new();
        loop {
            for node in nodes.iter_mut() {
                if node.has_ready() {
                    let mut ready = node.ready();
                    node.storage_mut().write(&ready);
                    in_flight.append(&mut ready.messages);
                    in_flight.append(&mut ready.persisted_messages);
                    node.advance(ready);
                }
            }
            if in_flight.is_empty() {
                break;
            }
            for message in std::mem::take(&mut in_flight) {
                rejects += usize::from(matches!(message.body, MessageBody::SyncReject { .. }));
                let to = message.to.0 as usize - 1;
                nodes[to].step(message);
            }
            rounds += 1;
            prop_assert!(rounds < 200, "no convergence after {rounds} rounds");
        }
        prop_assert_eq!(nodes[0].status().role, Role::Leader);
        // The conflict hint skips a whole term per rejection.
        let mut stale_terms = stale_tail.clone();
        stale_terms.dedup();
        prop_assert!(rejects <= stale_terms.len() + 1, "{rejects} rejections for tail terms {stale_terms:?}");
        if !stale_tail.is_empty() {
            prop_assert!(rejects >= 1, "a divergent tail must be rejected");
        }
        let leader_last = nodes[0].last_index();
        let expected = nodes[0].log_entries(LogIndex(1), leader_last.next());
        for id in [2usize, 3] {
            let node = &nodes[id - 1];
            prop_assert_eq!(node.status().leader, Some(NodeId(1)));
            prop_assert_eq!(node.log_entries(LogIndex(1), node.last_index().next()), expected.clone());
            prop_assert_eq!(node.status().commit, leader_last);
        }
    }
}

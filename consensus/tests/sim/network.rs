//! The simulated network: messages in flight, delivered in any order, maybe dropped or
//! duplicated, never across a partition.

use std::collections::BTreeSet;

use consensus::{Message, NodeId, Rng};

pub struct Network {
    in_flight: Vec<Message>,
    /// Each node's side; messages between different sides are lost.
    side: Vec<u8>,
    pub drop_percent: u64,
    pub duplicate_percent: u64,
    /// Messages in flight past this are dropped at send: a bound on the simulator's memory.
    pub capacity: usize,
}

impl Network {
    pub fn new(nodes: usize) -> Network {
        Network {
            in_flight: Vec::new(),
            side: vec![0; nodes + 1],
            drop_percent: 0,
            duplicate_percent: 0,
            capacity: 10_000,
        }
    }

    pub fn send(&mut self, rng: &mut Rng, message: Message) {
        if self.in_flight.len() >= self.capacity || rng.below(100) < self.drop_percent {
            return;
        }
        if rng.below(100) < self.duplicate_percent {
            self.in_flight.push(message.clone());
        }
        self.in_flight.push(message);
    }

    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Takes a random message; `None` if it was lost to a partition (or none are in flight).
    pub fn take_random(&mut self, rng: &mut Rng) -> Option<Message> {
        if self.in_flight.is_empty() {
            return None;
        }
        let at = rng.below(self.in_flight.len() as u64) as usize;
        let message = self.in_flight.swap_remove(at);
        self.connected(message.from, message.to).then_some(message)
    }

    /// Takes the oldest message, for the orderly liveness phase.
    pub fn take_first(&mut self) -> Option<Message> {
        if self.in_flight.is_empty() {
            return None;
        }
        let message = self.in_flight.remove(0);
        self.connected(message.from, message.to).then_some(message)
    }

    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.side[a.0 as usize] == self.side[b.0 as usize]
    }

    /// Splits the nodes into two sides at random.
    pub fn partition(&mut self, rng: &mut Rng) -> BTreeSet<u64> {
        let mut minority = BTreeSet::new();
        for id in 1..self.side.len() {
            self.side[id] = (rng.below(2)) as u8;
            if self.side[id] == 1 {
                minority.insert(id as u64);
            }
        }
        minority
    }

    pub fn heal(&mut self) {
        self.side.iter_mut().for_each(|s| *s = 0);
    }
}

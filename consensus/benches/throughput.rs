//! Commit throughput of the raft core alone: N cores in one thread, an instant in-memory
//! network and `MemStorage`, so that everything measured is the core and the Ready cycle.
//!
//! The leader gets 64-byte proposals in batches of B. One driver round lets every core with
//! work hand out one `Ready` (write it to its `MemStorage`, queue its messages, queue its
//! persisted messages after the write, advance) and then delivers every queued message.
//! Two ways to feed the leader:
//! - `lockstep`: propose a batch, run rounds until the leader has committed it, repeat;
//! - `pipelined`: propose a new batch every round while the proposal queue has room
//!   (`ProposeError::QueueFull` past it), so batch k commits while k+1 replicates.
//!
//! Counted: proposals committed at the leader per second of wall time, and messages sent
//! (by all cores) per committed proposal.
//!
//! ```text
//! cargo bench -p consensus --bench throughput              # full run, ~2-5 s per row
//! cargo bench -p consensus --bench throughput -- --smoke   # 1/50 of the work
//! CONSENSUS_BENCH_SMOKE=1 cargo bench -p consensus --bench throughput
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use consensus::{Config, LogIndex, MemStorage, Membership, Message, Payload, ProposeError, RawNode, Role};

/// The size of every proposal, in bytes.
const PROPOSAL_BYTES: usize = 64;
static PROPOSAL: [u8; PROPOSAL_BYTES] = [0x5a; PROPOSAL_BYTES];

/// Compact every store once all nodes have applied this many entries past its snapshot:
/// bounds the memory of a long run (an entry is ~100 bytes in each of N stores) while
/// keeping the compaction's copy of the uncommitted tail rare.
const COMPACT_EVERY_ENTRIES: u64 = 1 << 12;

/// Rounds to elect the first leader at most; an instant network needs a handful.
const ELECTION_ROUNDS_MAX: u32 = 100;

/// Rounds without progress before a run is declared stuck (a bug in the core or here).
const STALL_ROUNDS_MAX: u32 = 1_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lockstep,
    Pipelined,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Lockstep => "lockstep",
            Mode::Pipelined => "pipelined",
        }
    }
}

struct Cluster {
    nodes: Vec<RawNode<MemStorage>>,
    /// Per node: the last index handed out in `committed_entries`.
    applied: Vec<LogIndex>,
    /// Per node: its store's snapshot index (where the compacted prefix ends).
    compacted: Vec<LogIndex>,
    /// In flight between cores, in send order; reused for the whole run (`append` moves a
    /// Ready's messages in with one copy).
    network: Vec<Message>,
    leader: usize,
    /// Messages handed out by all cores (both `messages` and `persisted_messages`).
    messages_sent: u64,
    /// Commands (not no-ops) the leader has seen committed.
    committed_commands: u64,
}

impl Cluster {
    fn new(voters: u64) -> Cluster {
        let membership = Membership::new(1..=voters, []);
        let nodes: Vec<_> = (1..=voters)
            .map(|id| RawNode::new(Config::new(id), MemStorage::new_with_membership(membership.clone())))
            .collect();
        let n = nodes.len();
        Cluster {
            nodes,
            applied: vec![LogIndex(0); n],
            compacted: vec![LogIndex(0); n],
            network: Vec::with_capacity(64),
            leader: 0,
            messages_sent: 0,
            committed_commands: 0,
        }
    }

    /// Node 1 campaigns; rounds run until it leads and has committed its no-op.
    fn elect(&mut self) {
        self.nodes[0].campaign();
        for _ in 0..ELECTION_ROUNDS_MAX {
            self.round();
            let status = self.nodes[0].status();
            if status.role == Role::Leader && status.commit == status.last_index {
                self.leader = 0;
                while self.round() {}
                self.messages_sent = 0;
                self.committed_commands = 0;
                return;
            }
        }
        panic!("no leader after {ELECTION_ROUNDS_MAX} rounds");
    }

    /// Every core with work handles one Ready, then every queued message is delivered.
    /// Returns whether anything happened.
    fn round(&mut self) -> bool {
        let mut busy = false;
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            if !node.has_ready() {
                continue;
            }
            busy = true;
            let mut ready = node.ready();
            self.messages_sent += (ready.messages.len() + ready.persisted_messages.len()) as u64;
            self.network.append(&mut ready.messages);
            node.storage_mut().write(&ready);
            self.network.append(&mut ready.persisted_messages);
            if let Some(last) = ready.committed_entries.last() {
                self.applied[i] = last.index;
                if i == self.leader {
                    self.committed_commands += ready
                        .committed_entries
                        .iter()
                        .filter(|e| matches!(e.payload, Payload::Command(_)))
                        .count() as u64;
                }
            }
            node.advance(ready);
        }
        busy |= !self.network.is_empty();
        // Stepping queues nothing here: a core's output waits for its next Ready.
        for message in self.network.drain(..) {
            let to = message.to.0 as usize - 1;
            self.nodes[to].step(message);
        }
        self.maybe_compact();
        busy
    }

    /// Drops the prefix every node has applied, once it is long enough. Every follower asks
    /// from past its own applied index, so nobody needs a snapshot afterwards.
    fn maybe_compact(&mut self) {
        let floor = *self.applied.iter().min().expect("at least one node");
        for i in 0..self.nodes.len() {
            if floor.0 >= self.compacted[i].0 + COMPACT_EVERY_ENTRIES {
                self.nodes[i].storage_mut().compact(floor, Bytes::new());
                self.compacted[i] = floor;
            }
        }
    }

    /// Proposes `batch` commands at the leader; returns how many were taken before the
    /// proposal queue filled.
    fn propose(&mut self, batch: usize) -> usize {
        let leader = &mut self.nodes[self.leader];
        for taken in 0..batch {
            match leader.propose(Bytes::from_static(&PROPOSAL)) {
                Ok(_) => {}
                Err(ProposeError::QueueFull) => return taken,
                Err(e) => panic!("proposal refused: {e:?}"),
            }
        }
        batch
    }

    /// After a run: drain all work, then every node must have committed the same prefix.
    fn settle_and_check(&mut self) {
        while self.round() {}
        let leader = self.nodes[self.leader].status();
        for node in &self.nodes {
            let status = node.status();
            assert_eq!(status.commit, leader.commit, "node {} lags the leader after settling", status.id);
            assert_eq!(status.last_index, leader.last_index, "node {} log differs", status.id);
        }
    }
}

struct Outcome {
    committed: u64,
    elapsed: Duration,
    messages_sent: u64,
}

fn run(voters: u64, batch: usize, mode: Mode, entries: u64) -> Outcome {
    let mut cluster = Cluster::new(voters);
    cluster.elect();
    let start = Instant::now();
    let mut proposed: u64 = 0;
    let mut stalled = 0;
    while cluster.committed_commands < entries {
        let before = cluster.committed_commands;
        match mode {
            Mode::Lockstep => {
                proposed += cluster.propose(batch) as u64;
                while cluster.committed_commands < proposed {
                    assert!(cluster.round(), "lockstep: the batch stopped before it committed");
                }
            }
            Mode::Pipelined => {
                if proposed < entries {
                    proposed += cluster.propose(batch) as u64;
                }
                cluster.round();
            }
        }
        stalled = if cluster.committed_commands == before { stalled + 1 } else { 0 };
        assert!(stalled < STALL_ROUNDS_MAX, "no commit progress for {STALL_ROUNDS_MAX} rounds");
    }
    let elapsed = start.elapsed();
    let outcome =
        Outcome { committed: cluster.committed_commands, elapsed, messages_sent: cluster.messages_sent };
    cluster.settle_and_check();
    outcome
}

struct Row {
    voters: u64,
    batch: usize,
    mode: Mode,
    /// Entries to commit in a full run: about 2-5 s on a 2-core VM at the measured rates.
    entries: u64,
}

const ROWS: &[Row] = &[
    Row { voters: 3, batch: 1, mode: Mode::Lockstep, entries: 1_000_000 },
    Row { voters: 3, batch: 16, mode: Mode::Lockstep, entries: 5_000_000 },
    Row { voters: 3, batch: 256, mode: Mode::Lockstep, entries: 10_000_000 },
    Row { voters: 3, batch: 1, mode: Mode::Pipelined, entries: 1_000_000 },
    Row { voters: 3, batch: 16, mode: Mode::Pipelined, entries: 5_000_000 },
    Row { voters: 3, batch: 256, mode: Mode::Pipelined, entries: 10_000_000 },
    Row { voters: 5, batch: 1, mode: Mode::Lockstep, entries: 500_000 },
    Row { voters: 5, batch: 16, mode: Mode::Lockstep, entries: 3_000_000 },
    Row { voters: 5, batch: 256, mode: Mode::Lockstep, entries: 6_000_000 },
    Row { voters: 5, batch: 256, mode: Mode::Pipelined, entries: 6_000_000 },
];

/// Smoke mode divides every row's work by this: a quick check that the bench still runs.
const SMOKE_DIVISOR: u64 = 50;

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke")
        || std::env::var("CONSENSUS_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
    // `cargo bench -- <filter>`: run only rows whose label contains the filter.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!(
        "consensus throughput: {PROPOSAL_BYTES}-byte proposals, instant network, MemStorage{}",
        if smoke { " (smoke mode)" } else { "" }
    );
    println!(
        "{:>6} {:>6} {:>10} {:>11} {:>7} {:>14} {:>10}",
        "voters", "batch", "mode", "entries", "secs", "entries/s", "msgs/entry"
    );
    for row in ROWS {
        let label = format!("{}x{}/{}", row.voters, row.batch, row.mode.name());
        if filter.as_deref().is_some_and(|f| !label.contains(f)) {
            continue;
        }
        let entries = if smoke { (row.entries / SMOKE_DIVISOR).max(1_000) } else { row.entries };
        let outcome = run(row.voters, row.batch, row.mode, entries);
        let secs = outcome.elapsed.as_secs_f64();
        println!(
            "{:>6} {:>6} {:>10} {:>11} {:>7.3} {:>14.0} {:>10.3}",
            row.voters,
            row.batch,
            row.mode.name(),
            outcome.committed,
            secs,
            outcome.committed as f64 / secs,
            outcome.messages_sent as f64 / outcome.committed as f64,
        );
    }
}

//! A seeded, single-threaded simulator of a raft group: a chaos phase (message loss,
//! duplication, reordering and delay, partitions, crashes that lose un-persisted writes,
//! slow disks, membership changes, transfers, compaction) and then a liveness phase with
//! the faults healed, which must elect a leader and commit new proposals everywhere. The
//! checkers look at the touched node after every step.

pub mod checker;
pub mod cluster;
pub mod network;
#[cfg(feature = "tla-trace")]
pub mod tla;

use bytes::Bytes;
use consensus::{Entry, LogIndex, MembershipChange, MessageBody, NodeId, Rng, Role};

use checker::Checker;
use cluster::Cluster;
use network::Network;

/// Chaos steps per seed: long enough for several elections, crashes and membership
/// changes; short enough that 300 seeds run in seconds in release mode.
const CHAOS_STEPS: u32 = 20_000;
/// Liveness rounds (each: every node ticks once, then all work is drained) before the
/// healed group must have committed its probe proposal everywhere.
const LIVENESS_ROUNDS: u32 = 400;
/// Work drained per liveness round at most, so a livelock cannot hang the test.
const ROUND_WORK_MAX: u32 = 100_000;

pub struct Outcome {
    pub violations: Vec<String>,
    pub committed: usize,
    pub steps: u32,
    pub stats: Stats,
}

/// What a run exercised, so that a green run can be told apart from an idle one.
#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    pub leaders: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub rejects: u64,
    pub snapshots: u64,
    pub membership_changes: u64,
    pub transfers: u64,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.leaders += other.leaders;
        self.crashes += other.crashes;
        self.partitions += other.partitions;
        self.rejects += other.rejects;
        self.snapshots += other.snapshots;
        self.membership_changes += other.membership_changes;
        self.transfers += other.transfers;
    }
}

/// The fault mix of one seed.
struct Faults {
    /// Relative weights of: deliver, tick, take a Ready, persist, propose, restart, fault.
    /// Drawn per seed, so that some seeds tick fast against slow delivery (many elections)
    /// and others deliver fast (long stable terms).
    steps: [u64; 7],
    crash_per_mille: u64,
    partition_per_mille: u64,
    membership_per_mille: u64,
    transfer_per_mille: u64,
    compact_per_mille: u64,
}

/// How a seed runs: the defaults, or a shorter run shaped for TLA+ trace validation.
pub struct Options {
    pub chaos_steps: u32,
    pub compaction: bool,
    /// Bytes per SyncResp: small so that followers page (the default), or unbounded for
    /// traces, since the spec's SyncResp carries every entry from its next index.
    pub sync_resp_bytes_max: usize,
    /// Write the TLA+ trace here (feature `tla-trace`).
    #[cfg_attr(not(feature = "tla-trace"), allow(dead_code))]
    pub trace_to: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options { chaos_steps: CHAOS_STEPS, compaction: true, sync_resp_bytes_max: 256, trace_to: None }
    }
}

pub fn run_seed(seed: u64, verbose: bool) -> Outcome {
    run_seed_with(seed, verbose, Options::default())
}

pub fn run_seed_with(seed: u64, verbose: bool, options: Options) -> Outcome {
    let mut rng = Rng::new(seed);
    let voters = 3 + rng.below(5); // 3..=7
    let spares = rng.below(3);
    let mut cluster = Cluster::new(seed, voters, spares, options.sync_resp_bytes_max);
    let mut net = Network::new((voters + spares) as usize);
    net.drop_percent = rng.below(15);
    net.duplicate_percent = rng.below(10);
    let faults = Faults {
        steps: [
            100 + rng.below(300),
            20 + rng.below(250),
            100 + rng.below(150),
            100 + rng.below(150),
            20 + rng.below(100),
            20,
            50,
        ],
        crash_per_mille: rng.below(8),
        partition_per_mille: rng.below(6),
        membership_per_mille: rng.below(6),
        transfer_per_mille: rng.below(4),
        compact_per_mille: if options.compaction { rng.below(10) } else { 0 },
    };
    for node in cluster.nodes.iter_mut() {
        node.slow = rng.below(4) == 0;
    }
    let mut sim = Sim {
        cluster,
        net,
        rng,
        checker: Checker::default(),
        next_payload: 0,
        verbose,
        stats: Stats::default(),
        #[cfg(feature = "tla-trace")]
        trace: options.trace_to.as_ref().map(|_| tla::TraceWriter::new(seed, voters + spares, voters)),
    };
    let mut steps = 0;
    for _ in 0..options.chaos_steps {
        steps += 1;
        sim.chaos_step(&faults);
    }
    let live = sim.liveness_phase();
    steps += live.1;
    let mut violations = std::mem::take(&mut sim.checker.violations);
    #[cfg(feature = "tla-trace")]
    if let (Some(trace), Some(path)) = (&sim.trace, &options.trace_to) {
        trace.write(path).expect("the trace file can be written");
        println!("seed {seed}: {} trace events to {}; {:?}", trace.events(), path.display(), sim.stats);
    }
    if let Err(what) = live.0 {
        violations.push(what);
    }
    Outcome { violations, committed: sim.checker.committed_len(), steps, stats: sim.stats }
}

struct Sim {
    cluster: Cluster,
    net: Network,
    rng: Rng,
    checker: Checker,
    next_payload: u64,
    verbose: bool,
    stats: Stats,
    #[cfg(feature = "tla-trace")]
    trace: Option<tla::TraceWriter>,
}

impl Sim {
    fn log(&self, what: impl FnOnce() -> String) {
        if self.verbose {
            println!("{}", what());
        }
    }

    fn random_node(&mut self) -> NodeId {
        let ids = self.cluster.ids();
        ids[self.rng.below(ids.len() as u64) as usize]
    }

    fn chaos_step(&mut self, faults: &Faults) {
        let id = self.random_node();
        let weights = faults.steps;
        let mut roll = self.rng.below(weights.iter().sum());
        let mut action = 0;
        while roll >= weights[action] {
            roll -= weights[action];
            action += 1;
        }
        match action {
            0 => self.deliver_random(),
            1 => self.tick(id),
            2 => self.process_ready(id),
            3 => {
                let slow = self.cluster.node(id).slow;
                if !slow || self.rng.below(4) == 0 {
                    self.persist(id);
                }
            }
            4 => self.propose(id),
            5 => {
                // Crashed nodes come back quickly, so a quorum is up most of the time.
                if self.cluster.node(id).raw.is_none() {
                    self.restart(id);
                    self.wake_all();
                }
            }
            _ => {
                let roll = self.rng.below(50);
                self.fault(roll, faults, id)
            }
        }
    }

    fn fault(&mut self, roll: u64, faults: &Faults, id: NodeId) {
        // `roll` is 0..50; each fault's per-mille share is scaled into it.
        let mut bound = 0;
        for (share, action) in [
            (faults.crash_per_mille, 0),
            (faults.partition_per_mille, 1),
            (faults.membership_per_mille, 2),
            (faults.transfer_per_mille, 3),
            (faults.compact_per_mille, 4),
        ] {
            bound += share;
            if roll < bound {
                return self.do_fault(action, id);
            }
        }
    }

    fn do_fault(&mut self, action: u32, id: NodeId) {
        match action {
            0 => {
                if self.cluster.node(id).raw.is_some() {
                    self.log(|| format!("crash {id}"));
                    self.stats.crashes += 1;
                    self.cluster.crash(id);
                    self.wake_all();
                }
            }
            1 => {
                if self.rng.below(2) == 0 {
                    let minority = self.net.partition(&mut self.rng);
                    self.stats.partitions += 1;
                    self.log(|| format!("partition {minority:?}"));
                } else {
                    self.log(|| "heal".to_string());
                    self.net.heal();
                }
                self.wake_all();
            }
            2 => self.change_membership(),
            3 => {
                if let Some(leader) = self.cluster.leader() {
                    let to = self.random_node();
                    self.log(|| format!("transfer {leader} -> {to}"));
                    self.stats.transfers += 1;
                    if let Some(raw) = &mut self.cluster.node(leader).raw {
                        raw.transfer_leader(to);
                    }
                    self.check(leader);
                }
            }
            _ => {
                self.cluster.compact(id, &mut self.rng);
            }
        }
    }

    fn change_membership(&mut self) {
        let Some(leader) = self.cluster.leader() else { return };
        let Some(status) = self.cluster.status(leader) else { return };
        let target = self.random_node();
        let membership = &status.membership;
        let change = if membership.voters.contains(&target) {
            MembershipChange::Remove(target)
        } else if membership.learners.contains(&target) {
            if self.rng.below(2) == 0 {
                MembershipChange::PromoteLearner(target)
            } else {
                MembershipChange::Remove(target)
            }
        } else if self.rng.below(2) == 0 {
            MembershipChange::AddLearner(target)
        } else {
            MembershipChange::AddVoter(target)
        };
        // Keep at least three voters so that the group can lose one and go on.
        if matches!(change, MembershipChange::Remove(id) if membership.voters.contains(&id))
            && membership.voters.len() <= 3
        {
            return;
        }
        let result = self.cluster.node(leader).raw.as_mut().map(|raw| raw.propose_membership(change));
        self.log(|| format!("membership {change:?} at {leader}: {result:?}"));
        if matches!(result, Some(Ok(_))) {
            self.stats.membership_changes += 1;
        }
        self.check(leader);
    }

    fn restart(&mut self, id: NodeId) {
        self.log(|| format!("restart {id}"));
        self.cluster.restart(id);
        self.checker.restarted(id);
        #[cfg(feature = "tla-trace")]
        if let (Some(trace), Some(raw)) = (&mut self.trace, &self.cluster.nodes[id.0 as usize - 1].raw) {
            let status = raw.status();
            trace.crash(&status, raw.term(status.last_index).expect("the last entry has a term"));
        }
        self.check(id);
    }

    /// What a driver does when it sees a member come or go.
    fn wake_all(&mut self) {
        for id in self.cluster.live_ids() {
            if let Some(raw) = &mut self.cluster.node(id).raw {
                raw.wake();
            }
            self.check(id);
        }
    }

    fn deliver_random(&mut self) {
        if let Some(message) = self.net.take_random(&mut self.rng) {
            self.deliver(message);
        }
    }

    fn deliver(&mut self, message: consensus::Message) {
        let to = message.to;
        self.log(|| format!("deliver {message:?}"));
        match &message.body {
            MessageBody::SyncReject { .. } => self.stats.rejects += 1,
            MessageBody::Snapshot { .. } => self.stats.snapshots += 1,
            _ => {}
        }
        self.cluster.deliver(message);
        self.check(to);
    }

    fn tick(&mut self, id: NodeId) {
        if let Some(raw) = &mut self.cluster.node(id).raw {
            raw.tick();
        }
        self.check(id);
    }

    fn process_ready(&mut self, id: NodeId) {
        let observed = self.cluster.process_ready(id, &mut self.net, &mut self.rng);
        self.checker.check_observed(id, &observed);
        self.check(id);
    }

    fn persist(&mut self, id: NodeId) {
        let observed = self.cluster.persist(id, &mut self.net, &mut self.rng);
        self.checker.check_observed(id, &observed);
        self.check(id);
    }

    fn propose(&mut self, id: NodeId) {
        self.next_payload += 1;
        let data = Bytes::from(format!("p{}", self.next_payload));
        self.cluster.propose(id, data);
        self.check(id);
    }

    fn check(&mut self, id: NodeId) {
        #[cfg(feature = "tla-trace")]
        if let (Some(trace), Some(raw)) = (&mut self.trace, &mut self.cluster.nodes[id.0 as usize - 1].raw) {
            for event in raw.take_trace() {
                trace.event(&event);
            }
        }
        let Some(raw) = self.cluster.node(id).raw.as_ref() else { return };
        let status = raw.status();
        if status.role == Role::Leader && self.checker.is_new_leader(&status) {
            self.stats.leaders += 1;
        }
        let entry_of = |index: LogIndex| entry_at(raw, index);
        self.checker.check_status(&status, entry_of);
    }

    /// Heal everything, restart every node, and drive the group in orderly rounds until a
    /// leader commits a probe entry that every voter then holds as committed.
    fn liveness_phase(&mut self) -> (Result<(), String>, u32) {
        self.net.heal();
        self.net.drop_percent = 0;
        self.net.duplicate_percent = 0;
        for id in self.cluster.ids() {
            self.cluster.node(id).slow = false;
            if self.cluster.node(id).raw.is_none() {
                self.restart(id);
            }
        }
        self.wake_all();
        let mut probe: Option<(NodeId, LogIndex)> = None;
        for round in 0..LIVENESS_ROUNDS {
            for id in self.cluster.ids() {
                self.tick(id);
            }
            self.drain();
            if probe.is_none() {
                if let Some(leader) = self.cluster.leader() {
                    self.next_payload += 1;
                    let data = Bytes::from(format!("live{}", self.next_payload));
                    if let Some(Ok(index)) =
                        self.cluster.node(leader).raw.as_mut().map(|raw| raw.propose(data))
                    {
                        probe = Some((leader, index));
                    }
                }
            }
            if let Some((leader, index)) = probe {
                if self.probe_committed(leader, index) {
                    let status = self.cluster.status(leader).expect("leader is up");
                    let raw = self.cluster.node(leader).raw.as_ref().expect("leader is up");
                    self.checker.check_final_leader(&status, |index| entry_at(raw, index));
                    return (Ok(()), round + 1);
                }
                // A leader that lost its leadership before committing: try again.
                if self.cluster.status(leader).is_none_or(|s| s.role != Role::Leader) {
                    probe = None;
                }
            }
        }
        let statuses: Vec<String> = self
            .cluster
            .ids()
            .into_iter()
            .filter_map(|id| self.cluster.status(id))
            .map(|s| {
                format!(
                    "{} {:?} term={} leader={:?} commit={} last={} voters={:?} quiescent={}",
                    s.id, s.role, s.term, s.leader, s.commit, s.last_index, s.membership.voters, s.quiescent
                )
            })
            .collect();
        (
            Err(format!("liveness: no probe committed everywhere; probe={probe:?}; {statuses:#?}")),
            LIVENESS_ROUNDS,
        )
    }

    fn probe_committed(&self, leader: NodeId, index: LogIndex) -> bool {
        let Some(status) = self.cluster.status(leader) else { return false };
        if status.role != Role::Leader || status.commit < index {
            return false;
        }
        status.membership.voters.iter().all(|id| self.cluster.status(*id).is_some_and(|s| s.commit >= index))
    }

    /// Delivers every message and carries out every Ready until the group is quiet.
    fn drain(&mut self) {
        for _ in 0..ROUND_WORK_MAX {
            let mut busy = false;
            for id in self.cluster.ids() {
                if self.cluster.node(id).pending.is_some() {
                    self.persist(id);
                    busy = true;
                }
                let has_ready = self.cluster.node(id).raw.as_ref().is_some_and(|r| r.has_ready());
                if has_ready {
                    self.process_ready(id);
                    self.persist(id);
                    busy = true;
                }
            }
            while let Some(message) = self.net.take_first() {
                self.deliver(message);
                busy = true;
            }
            if !busy && self.net.is_empty() {
                return;
            }
        }
    }
}

fn entry_at(raw: &consensus::RawNode<consensus::MemStorage>, index: LogIndex) -> Option<Entry> {
    if index < raw.first_index() || index > raw.last_index() || index == LogIndex(0) {
        return None;
    }
    raw.log_entries(index, index.next()).pop()
}

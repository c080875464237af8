//! Prometheus metrics, kept by hand: a few atomics and fixed-bucket histograms, rendered in
//! the text exposition format on the manager port's `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Cumulative buckets with fixed upper bounds.
pub struct Histogram {
    bounds: &'static [f64],
    state: Mutex<HistogramState>,
}

#[derive(Default)]
struct HistogramState {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        let state = HistogramState { counts: vec![0; bounds.len()], ..Default::default() };
        Histogram { bounds, state: Mutex::new(state) }
    }

    pub fn observe(&self, value: f64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            state.counts[i] += 1;
        }
        state.sum += value;
        state.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&state.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", state.count);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", state.sum, state.count);
    }
}

const SECONDS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
const OPS: &[f64] = &[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0];

pub struct Metrics {
    pub proposals: Counter,
    pub fsyncs: Counter,
    /// Commit notes the fan-out's queue had no room for.
    pub fanout_dropped: Counter,
    pub groups_created: Counter,
    pub groups_evicted: Counter,
    pub api_requests: Counter,
    pub api_errors: Counter,
    /// Raft groups in memory, by tier (node, slot, channel).
    groups: [AtomicI64; 3],
    /// Proposal to applied, as the proposer waits for it.
    pub commit_seconds: Histogram,
    /// Proposal taken by the driver to answered: the part of the commit the driver takes.
    pub driver_seconds: Histogram,
    pub fsync_seconds: Histogram,
    /// Writes per group-commit batch.
    pub batch_ops: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            proposals: Counter::default(),
            fsyncs: Counter::default(),
            fanout_dropped: Counter::default(),
            groups_created: Counter::default(),
            groups_evicted: Counter::default(),
            api_requests: Counter::default(),
            api_errors: Counter::default(),
            groups: Default::default(),
            commit_seconds: Histogram::new(SECONDS),
            driver_seconds: Histogram::new(SECONDS),
            fsync_seconds: Histogram::new(SECONDS),
            batch_ops: Histogram::new(OPS),
        }
    }
}

impl Metrics {
    pub fn set_groups(&self, counts: [i64; 3]) {
        for (gauge, count) in self.groups.iter().zip(counts) {
            gauge.store(count, Ordering::Relaxed);
        }
    }

    pub fn groups(&self) -> [i64; 3] {
        [0, 1, 2].map(|i| self.groups[i].load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("imserver_proposals_total", "Commands proposed to raft groups.", &self.proposals),
            ("imserver_fsyncs_total", "Group-commit fsyncs.", &self.fsyncs),
            (
                "imserver_fanout_dropped_total",
                "Commit notes dropped because the fan-out's queue was full.",
                &self.fanout_dropped,
            ),
            ("imserver_groups_created_total", "Raft groups created on this node.", &self.groups_created),
            (
                "imserver_groups_evicted_total",
                "Idle channel groups evicted from memory.",
                &self.groups_evicted,
            ),
            ("imserver_api_requests_total", "HTTP API requests.", &self.api_requests),
            ("imserver_api_errors_total", "HTTP API requests answered with an error.", &self.api_errors),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.get());
        }
        let name = "imserver_raft_groups";
        let _ = writeln!(out, "# HELP {name} Raft groups in memory, by tier.\n# TYPE {name} gauge");
        for (tier, count) in ["node", "slot", "channel"].iter().zip(self.groups()) {
            let _ = writeln!(out, "{name}{{tier=\"{tier}\"}} {count}");
        }
        self.commit_seconds.render(&mut out, "imserver_commit_seconds", "Proposal to applied, seconds.");
        self.driver_seconds.render(
            &mut out,
            "imserver_driver_seconds",
            "Proposal taken by the driver to answered, seconds.",
        );
        self.fsync_seconds.render(
            &mut out,
            "imserver_fsync_seconds",
            "Group-commit fsyncs (on the store's syncer thread), seconds.",
        );
        self.batch_ops.render(&mut out, "imserver_batch_ops", "Writes per group-commit batch.");
        out
    }
}

//! The seeded simulator of the raft core (see `sim/mod.rs`).
//!
//! `cargo test -p consensus --release --test simulate` runs `CONSENSUS_SIM_SEEDS` seeds
//! (default 300) starting at `CONSENSUS_SIM_SEED_BASE` (default 0); `CONSENSUS_SIM_SEED=<seed>`
//! replays one seed and prints every event.

mod sim;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Writes TLA+ traces of the seeds in `CONSENSUS_TLA_TRACE_SEEDS` (default: seeds with crashes, partitions, truncations and membership changes) to
/// `CONSENSUS_TLA_TRACE_DIR`, for `docs/tla/validate.sh`. Shorter runs, no compaction
/// (the spec has no snapshots), and unbounded SyncResp pages (the spec sends every entry).
#[cfg(feature = "tla-trace")]
#[test]
fn write_tla_traces() {
    let Ok(dir) = std::env::var("CONSENSUS_TLA_TRACE_DIR") else { return };
    let seeds = std::env::var("CONSENSUS_TLA_TRACE_SEEDS").unwrap_or_else(|_| "3,7,8,35,38,60".to_string());
    for seed in seeds.split(',').map(|s| s.trim().parse::<u64>().expect("seeds are numbers")) {
        let options = sim::Options {
            chaos_steps: 4_000,
            compaction: false,
            sync_resp_bytes_max: usize::MAX,
            trace_to: Some(std::path::Path::new(&dir).join(format!("seed-{seed:04}.ndjson"))),
        };
        let outcome = sim::run_seed_with(seed, false, options);
        assert!(outcome.violations.is_empty(), "seed {seed}: {:#?}", outcome.violations);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")))
}

/// Runs one seed; a panic inside the core counts as a violation of that seed.
fn run(seed: u64, verbose: bool) -> Result<(usize, u32, sim::Stats), Vec<String>> {
    match catch_unwind(AssertUnwindSafe(|| sim::run_seed(seed, verbose))) {
        Ok(outcome) if outcome.violations.is_empty() => Ok((outcome.committed, outcome.steps, outcome.stats)),
        Ok(outcome) => Err(outcome.violations),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(vec![format!("panic: {what}")])
        }
    }
}

#[test]
fn simulate() {
    if let Some(seed) = env_u64("CONSENSUS_SIM_SEED") {
        println!("replaying seed {seed}");
        match run(seed, true) {
            Ok((committed, steps, stats)) => {
                println!("seed {seed}: ok, {committed} entries committed in {steps} steps; {stats:?}")
            }
            Err(violations) => panic!("seed {seed}: {violations:#?}"),
        }
        return;
    }
    let seeds = env_u64("CONSENSUS_SIM_SEEDS").unwrap_or(300);
    let base = env_u64("CONSENSUS_SIM_SEED_BASE").unwrap_or(0);
    // A core panic is reported as that seed's violation; its backtrace is for replays.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = Vec::new();
    let mut committed_total = 0;
    let mut stats = sim::Stats::default();
    for seed in base..base + seeds {
        match run(seed, false) {
            Ok((committed, _, seed_stats)) => {
                committed_total += committed;
                stats.add(&seed_stats);
            }
            Err(violations) => {
                println!("seed {seed} FAILED: {violations:#?}");
                println!("  replay: CONSENSUS_SIM_SEED={seed} cargo test -p consensus --release --test simulate -- --nocapture");
                failed.push(seed);
            }
        }
    }
    std::panic::set_hook(default_hook);
    println!("exercised: {committed_total} entries committed; {stats:?}");
    println!("simulated {seeds} seeds: {} violations", failed.len());
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}

//! The multi-raft driver over the in-memory store: what it acknowledges survives a crash
//! (the store keeps only what was synced), groups are created on first use, and commands
//! proposed in the same iteration share one fsync.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use server::driver::{Driver, DriverConfig, DriverHandle};
use server::metrics::Metrics;
use server::sm::{Applied, StateMachine, StateRead, Tx};
use storage::{CrashMode, GroupId, MemStore, Tier};
use tokio::sync::oneshot;

/// Records each command under its own bytes, and counts them.
struct Recorder;

impl StateMachine for Recorder {
    fn apply(&mut self, command: &[u8], tx: &mut Tx<'_>) -> storage::Result<Applied> {
        if command == b"refuse me" {
            return Ok(Applied::Refused("as asked".into()));
        }
        let count = tx.get(b"count")?.map_or(0, |v| u64::from_be_bytes(v[..].try_into().unwrap()));
        tx.put(Bytes::from_static(b"count"), (count + 1).to_be_bytes().to_vec());
        tx.put(Bytes::copy_from_slice(command), Bytes::from_static(b"applied"));
        Ok(Applied::Done)
    }
}

type Running = (DriverHandle, oneshot::Sender<()>, tokio::task::JoinHandle<()>, Arc<Metrics>);

/// A driver whose fsyncs run inline, as in the simulator.
fn start(store: Arc<MemStore>, groups: &[GroupId]) -> Running {
    start_with(store, groups, false)
}

fn start_with(store: Arc<MemStore>, groups: &[GroupId], sync_on_thread: bool) -> Running {
    let config =
        DriverConfig { node_id: 1, tick: Duration::from_millis(20), evict_after_ticks: 1000, sync_on_thread };
    let metrics = Arc::new(Metrics::default());
    let (mut driver, handle) =
        Driver::new(config, store, Box::new(|_| Box::new(Recorder)), metrics.clone()).unwrap();
    driver.open_groups(groups).unwrap();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(driver.run(stopped));
    (handle, stop, task, metrics)
}

#[tokio::test]
async fn acknowledged_commands_survive_a_crash() {
    acknowledged_commands_survive_a_crash_with(false).await;
}

/// As a real node runs: the fsyncs on the syncer's thread, overlapping the iterations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_a_crash_with_fsyncs_on_their_own_thread() {
    acknowledged_commands_survive_a_crash_with(true).await;
}

async fn acknowledged_commands_survive_a_crash_with(sync_on_thread: bool) {
    let store = Arc::new(MemStore::in_memory());
    let groups = [GroupId::new(Tier::Slot, 0), GroupId::new(Tier::Slot, 1)];
    let (handle, stop, task, metrics) = start_with(store.clone(), &groups, sync_on_thread);

    let mut waiting = Vec::new();
    for i in 0..200u32 {
        let handle = handle.clone();
        let group = groups[i as usize % 2];
        waiting.push(tokio::spawn(async move {
            (group, i, handle.propose(group, Bytes::from(format!("cmd-{i}"))).await)
        }));
    }
    let mut acknowledged = Vec::new();
    for wait in waiting {
        let (group, i, result) = wait.await.unwrap();
        assert_eq!(result, Ok(Applied::Done));
        acknowledged.push((group, i));
    }
    // 200 proposals from concurrent tasks: many share an iteration, and so an fsync.
    assert!(metrics.fsyncs.get() < 200, "{} fsyncs for 200 commands", metrics.fsyncs.get());

    let _ = stop.send(());
    task.await.unwrap();
    store.crash(CrashMode::KeepSomeUnsynced { seed: 7 });

    let (handle, stop, task, _) = start_with(store.clone(), &groups, sync_on_thread);
    for (group, i) in &acknowledged {
        let key = format!("cmd-{i}");
        assert!(store.get(*group, key.as_bytes()).unwrap().is_some(), "acknowledged {key} lost");
    }
    let counts: u64 = groups
        .iter()
        .map(|g| {
            u64::from_be_bytes(
                StateRead::get(&*store, *g, b"count").unwrap().unwrap()[..].try_into().unwrap(),
            )
        })
        .sum();
    assert_eq!(counts, 200, "each command applied exactly once, even after the restart");
    // The restarted groups take proposals again.
    assert_eq!(handle.propose(groups[0], Bytes::from_static(b"after")).await, Ok(Applied::Done));
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn an_applied_command_is_answered_without_an_fsync_of_its_state_and_survives_losing_it() {
    let store = Arc::new(MemStore::in_memory());
    let group = GroupId::new(Tier::Slot, 0);
    let (handle, stop, task, metrics) = start(store.clone(), &[group]);

    let fsyncs = metrics.fsyncs.get();
    assert_eq!(handle.propose(group, Bytes::from_static(b"once")).await, Ok(Applied::Done));
    // One fsync made the entry durable; applying it (the next iteration) wrote without one.
    assert_eq!(metrics.fsyncs.get(), fsyncs + 1);
    assert!(store.get(group, b"once").unwrap().is_some(), "answered after its state is readable");

    // Lose everything unsynced, the applied state included: the restart applies the
    // durable entry again, once.
    store.crash(CrashMode::LoseUnsynced);
    let _ = stop.send(());
    task.await.unwrap();
    assert!(store.get(group, b"once").unwrap().is_none(), "the applied state was not synced");
    let (_handle, stop, task, _) = start(store.clone(), &[group]);
    assert!(store.get(group, b"once").unwrap().is_some(), "acknowledged, so applied after the restart");
    let count = StateRead::get(&*store, group, b"count").unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(count[..].try_into().unwrap()), 1);
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn groups_are_created_on_first_use_and_refusals_are_reported() {
    let store = Arc::new(MemStore::in_memory());
    let (handle, stop, task, metrics) = start(store.clone(), &[]);
    let channel = GroupId::new(Tier::Channel, 42);
    assert_eq!(handle.propose(channel, Bytes::from_static(b"hello")).await, Ok(Applied::Done));
    assert_eq!(metrics.groups()[Tier::Channel as usize], 1);
    let refused = handle.propose(channel, Bytes::from_static(b"refuse me")).await;
    assert!(matches!(refused, Err(server::driver::ProposeFailure::Refused(_))), "{refused:?}");
    assert!(store.get(channel, b"refuse me").unwrap().is_none());
    let _ = stop.send(());
    task.await.unwrap();
    // A stopped driver answers no more.
    assert!(handle.propose(channel, Bytes::from_static(b"late")).await.is_err());
}

/// An idle channel group is quiescent, then evicted from memory after
/// `evict_after_ticks`; the next proposal loads it back with its state. Time is tokio's
/// paused clock: the ticks pass without waiting.
#[tokio::test(start_paused = true)]
async fn idle_channel_groups_are_evicted_and_reload() {
    let store = Arc::new(MemStore::in_memory());
    let config = DriverConfig {
        node_id: 1,
        tick: Duration::from_millis(100),
        evict_after_ticks: 5,
        sync_on_thread: false,
    };
    let metrics = Arc::new(Metrics::default());
    let (driver, handle) =
        Driver::new(config, store.clone(), Box::new(|_| Box::new(Recorder)), metrics.clone()).unwrap();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(driver.run(stopped));

    let channel = GroupId::new(Tier::Channel, 7);
    assert_eq!(handle.propose(channel, Bytes::from_static(b"one")).await, Ok(Applied::Done));
    assert_eq!(metrics.groups()[Tier::Channel as usize], 1);
    // Bounded: a quiescent group goes within a few ticks of its last use.
    for _ in 0..100 {
        if metrics.groups_evicted.get() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metrics.groups_evicted.get(), 1, "the idle group was evicted");
    assert_eq!(metrics.groups()[Tier::Channel as usize], 0);

    assert_eq!(handle.propose(channel, Bytes::from_static(b"two")).await, Ok(Applied::Done));
    let count = StateRead::get(&*store, channel, b"count").unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(count[..].try_into().unwrap()), 2, "reloaded with its state");
    let _ = stop.send(());
    task.await.unwrap();
}

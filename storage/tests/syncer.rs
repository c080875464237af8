//! The syncer makes written batches durable off the writer's thread: a batch waited for
//! survives a crash, and writes go on while a sync runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use storage::{CrashMode, GroupId, MemStore, Syncer, Tier, WriteBatch};

const G: GroupId = GroupId { tier: Tier::Slot, id: 1 };

fn put(store: &MemStore, key: u32) -> u64 {
    let mut batch = WriteBatch::new();
    batch.put(G, Bytes::from(key.to_be_bytes().to_vec()), Bytes::from_static(b"v"));
    store.write(&batch).unwrap()
}

fn counter() -> (Arc<AtomicUsize>, storage::OnSynced) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    (
        count,
        Box::new(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

#[test]
fn a_batch_waited_for_survives_a_crash_and_later_ones_need_their_own_sync() {
    let store = Arc::new(MemStore::in_memory());
    let (syncs, on_synced) = counter();
    let syncer = Syncer::spawn(store.clone(), on_synced).unwrap();
    let mut last = 0;
    for key in 0..100 {
        last = put(&store, key);
        syncer.start().unwrap();
        if key % 10 == 9 {
            syncer.wait(last).unwrap();
            assert!(syncer.durable() >= last);
        }
    }
    syncer.wait(last).unwrap();
    let unsynced = put(&store, 1000);
    assert_eq!(store.durable(), last, "nothing asked for a sync of batch {unsynced}");
    let count = syncs.load(Ordering::SeqCst);
    assert!((1..=100).contains(&count), "{count} syncs for 100 batches");
    drop(syncer);

    store.crash(CrashMode::LoseUnsynced);
    for key in 0..100u32 {
        assert!(store.get(G, &key.to_be_bytes()).unwrap().is_some(), "key {key} was synced");
    }
    assert!(store.get(G, &1000u32.to_be_bytes()).unwrap().is_none(), "never synced");
}

#[test]
fn an_inline_syncer_syncs_before_start_returns() {
    let store = Arc::new(MemStore::in_memory());
    let (syncs, on_synced) = counter();
    let syncer = Syncer::inline(store.clone(), on_synced);
    let seq = put(&store, 1);
    syncer.start().unwrap();
    assert_eq!(syncer.durable(), seq);
    assert_eq!(syncs.load(Ordering::SeqCst), 1);
    syncer.wait(seq).unwrap();
    assert_eq!(syncs.load(Ordering::SeqCst), 1, "nothing was owed");
}

//! [`MemEngine`]: an engine in memory that remembers what was synced, so that a simulated
//! crash can lose exactly what a real one could.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use consensus::Rng;

use crate::store::lock;
use crate::{Cf, Engine, MemStore, RawBatch, RawOp, Result, Store};

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a crash keeps of the batches written since the last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// Nothing: the state is exactly the last synced one.
    LoseUnsynced,
    /// A prefix of the unsynced batches, its length drawn from `seed` (the OS may have
    /// written some of the log before the crash). Batches stay atomic, as in RocksDB.
    KeepSomeUnsynced { seed: u64 },
    /// As `KeepSomeUnsynced`, and then a prefix of the next batch's operations: a store
    /// whose batches are not atomic. Harsher than RocksDB; for testing what relies on it.
    Torn { seed: u64 },
}

#[derive(Default)]
pub struct MemEngine {
    inner: Mutex<Inner>,
}

#[derive(Clone, Default)]
struct Inner {
    /// What survives a crash.
    durable: [Table; 3],
    /// What reads see: `durable` plus every unsynced batch.
    current: [Table; 3],
    unsynced: Vec<RawBatch>,
}

impl MemEngine {
    pub fn new() -> MemEngine {
        MemEngine::default()
    }

    /// Flips the bits of byte `offset` (modulo the value's length) of the value at `key`,
    /// synced or not. Returns false when there is no such value.
    pub fn corrupt(&self, cf: Cf, key: &[u8], offset: usize) -> bool {
        let inner = &mut *lock(&self.inner);
        let mut found = false;
        for tables in [&mut inner.durable, &mut inner.current] {
            if let Some(value) = tables[cf as usize].get_mut(key).filter(|v| !v.is_empty()) {
                let at = offset % value.len();
                value[at] ^= 0xff;
                found = true;
            }
        }
        found
    }

    /// Every key of `cf` that reads can see, in order.
    pub fn keys(&self, cf: Cf) -> Vec<Vec<u8>> {
        lock(&self.inner).current[cf as usize].keys().cloned().collect()
    }

    /// Bytes of keys and values that reads can see.
    pub fn size_bytes(&self) -> usize {
        let inner = lock(&self.inner);
        inner.current.iter().flat_map(|t| t.iter()).map(|(k, v)| k.len() + v.len()).sum()
    }

    fn crash(&self, mode: CrashMode) {
        let mut inner = lock(&self.inner);
        let unsynced = std::mem::take(&mut inner.unsynced);
        let (mut rng, torn) = match mode {
            CrashMode::LoseUnsynced => (None, false),
            CrashMode::KeepSomeUnsynced { seed } => (Some(Rng::new(seed)), false),
            CrashMode::Torn { seed } => (Some(Rng::new(seed)), true),
        };
        if let Some(rng) = &mut rng {
            let keep = rng.below(unsynced.len() as u64 + 1) as usize;
            for batch in &unsynced[..keep] {
                apply(&mut inner.durable, &batch.ops);
            }
            if let Some(next) = unsynced.get(keep).filter(|_| torn) {
                let ops = rng.below(next.ops.len() as u64 + 1) as usize;
                apply(&mut inner.durable, &next.ops[..ops]);
            }
        }
        inner.current = inner.durable.clone();
    }
}

impl Engine for MemEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(lock(&self.inner).current[cf as usize].get(key).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: Option<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if to.is_some_and(|to| to <= from) {
            return Ok(());
        }
        // Copy out under the lock, one pair at a time, so `visit` may call back into the
        // store without deadlocking.
        let mut cursor: (Bound<Vec<u8>>, Bound<Vec<u8>>) =
            (Bound::Included(from.to_vec()), to.map_or(Bound::Unbounded, |to| Bound::Excluded(to.to_vec())));
        loop {
            let pair = {
                let inner = lock(&self.inner);
                let mut range = inner.current[cf as usize].range(cursor.clone());
                let pair = if reverse { range.next_back() } else { range.next() };
                pair.map(|(k, v)| (k.clone(), v.clone()))
            };
            let Some((key, value)) = pair else { return Ok(()) };
            if !visit(&key, &value) {
                return Ok(());
            }
            if reverse {
                cursor.1 = Bound::Excluded(key);
            } else {
                cursor.0 = Bound::Excluded(key);
            }
        }
    }

    fn write(&self, batch: RawBatch) -> Result<()> {
        let mut inner = lock(&self.inner);
        apply(&mut inner.current, &batch.ops);
        inner.unsynced.push(batch);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        let mut inner = lock(&self.inner);
        for batch in std::mem::take(&mut inner.unsynced) {
            apply(&mut inner.durable, &batch.ops);
        }
        Ok(())
    }
}

fn apply(tables: &mut [Table; 3], ops: &[RawOp]) {
    for op in ops {
        match op {
            RawOp::Put { cf, key, value } => {
                tables[*cf as usize].insert(key.clone(), value.clone());
            }
            RawOp::Delete { cf, key } => {
                tables[*cf as usize].remove(key);
            }
            RawOp::DeleteRange { cf, from, to } => {
                if to <= from {
                    continue;
                }
                let table = &mut tables[*cf as usize];
                let doomed: Vec<Vec<u8>> =
                    table.range(from.clone()..to.clone()).map(|(k, _)| k.clone()).collect();
                for key in doomed {
                    table.remove(&key);
                }
            }
        }
    }
}

impl MemStore {
    /// A new, empty in-memory store.
    pub fn in_memory() -> MemStore {
        Store::new(MemEngine::new())
    }

    /// Simulates a crash and restart of the node: the engine keeps what `mode` says
    /// survives, and the store forgets everything it had cached.
    pub fn crash(&self, mode: CrashMode) {
        self.engine.crash(mode);
        self.reset_after_crash();
    }
}

//! A cache of the slot groups' state in front of the store, for the service's point reads
//! (permission checks, tokens, conversation rows): a send reads about seven slot keys, and
//! they change rarely.
//!
//! Validity is one epoch that the driver bumps after every iteration in which a slot group
//! applied an entry, once that iteration's writes are in the store. A value read under an
//! older epoch is never returned: a reader that loads the epoch, then reads the store, may
//! cache what it read under that epoch, and the write it might have missed bumps the epoch
//! after it lands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use storage::{GroupId, Order, Tier};

use crate::ids::shard_of;
use crate::sm::StateRead;

/// Locks the cache is split over.
const SHARDS: usize = 16;
/// Keys one shard keeps at most; a full shard starts over.
const KEYS_PER_SHARD_MAX: usize = 16_384;

/// [`StateRead`] over the store, with slot-tier point reads cached.
pub struct CachedState {
    inner: Arc<dyn StateRead>,
    /// group tier, group id, key → the value, or `None` for a key known to be absent.
    values: SlotCache<Option<Bytes>>,
    /// The same and a range's bounds → the range's first (or last) entry: "has this list
    /// anyone in it" (a group's blacklist, whitelist), asked by every send.
    firsts: SlotCache<Option<(Bytes, Bytes)>>,
}

impl CachedState {
    /// `epoch` is the driver's slot epoch (`DriverHandle::slot_epoch`).
    pub fn new(inner: Arc<dyn StateRead>, epoch: Arc<AtomicU64>) -> CachedState {
        CachedState { inner, values: SlotCache::new(epoch.clone()), firsts: SlotCache::new(epoch) }
    }
}

fn cache_key(group: GroupId, key: &[u8]) -> Vec<u8> {
    let mut cached = Vec::with_capacity(9 + key.len());
    cached.push(group.tier as u8);
    cached.extend_from_slice(&group.id.to_be_bytes());
    cached.extend_from_slice(key);
    cached
}

impl StateRead for CachedState {
    fn get(&self, group: GroupId, key: &[u8]) -> storage::Result<Option<Bytes>> {
        if group.tier != Tier::Slot {
            return self.inner.get(group, key);
        }
        let epoch = self.values.epoch();
        let cached = cache_key(group, key);
        if let Some(value) = self.values.get(epoch, &cached) {
            return Ok(value);
        }
        let value = self.inner.get(group, key)?;
        self.values.put(epoch, cached, value.clone());
        Ok(value)
    }

    fn scan(
        &self,
        group: GroupId,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
        order: Order,
    ) -> storage::Result<Vec<(Bytes, Bytes)>> {
        if group.tier != Tier::Slot || limit != 1 {
            return self.inner.scan(group, from, to, limit, order);
        }
        let epoch = self.firsts.epoch();
        let mut cached = cache_key(group, from);
        // Unambiguous: the bounds' lengths and whether there is an upper one are in it.
        cached.push(order as u8 | u8::from(to.is_some()) << 1);
        cached.extend_from_slice(to.unwrap_or_default());
        cached.extend_from_slice(&(from.len() as u32).to_be_bytes());
        if let Some(first) = self.firsts.get(epoch, &cached) {
            return Ok(first.into_iter().collect());
        }
        let first = self.inner.scan(group, from, to, limit, order)?.pop();
        self.firsts.put(epoch, cached, first.clone());
        Ok(first.into_iter().collect())
    }
}

/// Values computed from slot state alone (a read, a send permission), kept while the slot
/// epoch stays where it was when they were read. Keyed by bytes the caller makes
/// unambiguous.
pub struct SlotCache<V> {
    epoch: Arc<AtomicU64>,
    shards: Vec<Mutex<CacheShard<V>>>,
}

/// The epoch a shard's values were read under, and the values.
type CacheShard<V> = (u64, HashMap<Vec<u8>, V>);

impl<V: Clone> SlotCache<V> {
    /// `epoch` is the driver's slot epoch (`DriverHandle::slot_epoch`).
    pub fn new(epoch: Arc<AtomicU64>) -> SlotCache<V> {
        SlotCache { epoch, shards: (0..SHARDS).map(|_| Mutex::new((0, HashMap::new()))).collect() }
    }

    /// The epoch to read under: load it before reading what a value depends on.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, epoch: u64, key: &[u8]) -> Option<V> {
        let shard = self.shards[shard_of(key, SHARDS)].lock().unwrap_or_else(|p| p.into_inner());
        if shard.0 != epoch {
            return None;
        }
        shard.1.get(key).cloned()
    }

    /// Keeps `value`, read under `epoch`, unless the epoch moved since.
    pub fn put(&self, epoch: u64, key: Vec<u8>, value: V) {
        let mut shard = self.shards[shard_of(&key, SHARDS)].lock().unwrap_or_else(|p| p.into_inner());
        if shard.0 != epoch {
            if epoch < shard.0 || epoch != self.epoch() {
                return;
            }
            shard.1.clear();
            shard.0 = epoch;
        }
        if shard.1.len() >= KEYS_PER_SHARD_MAX {
            shard.1.clear();
        }
        shard.1.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Map(Mutex<BTreeMap<Vec<u8>, Bytes>>, AtomicU64);

    impl StateRead for Map {
        fn get(&self, _group: GroupId, key: &[u8]) -> storage::Result<Option<Bytes>> {
            self.1.fetch_add(1, Ordering::Relaxed);
            Ok(self.0.lock().unwrap().get(key).cloned())
        }

        fn scan(
            &self,
            _: GroupId,
            from: &[u8],
            to: Option<&[u8]>,
            limit: usize,
            order: Order,
        ) -> storage::Result<Vec<(Bytes, Bytes)>> {
            self.1.fetch_add(1, Ordering::Relaxed);
            let map = self.0.lock().unwrap();
            let range = map.range(from.to_vec()..).take_while(|(key, _)| to.is_none_or(|to| &key[..] < to));
            let pairs = range.map(|(key, value)| (Bytes::copy_from_slice(key), value.clone()));
            let mut pairs: Vec<_> = pairs.collect();
            if order == Order::Descending {
                pairs.reverse();
            }
            pairs.truncate(limit);
            Ok(pairs)
        }
    }

    /// A cache over a counting map, its epoch, and a slot group to read.
    fn cached_map() -> (Arc<Map>, Arc<AtomicU64>, CachedState, GroupId) {
        let store = Arc::new(Map::default());
        let epoch = Arc::new(AtomicU64::new(0));
        let cache = CachedState::new(store.clone(), epoch.clone());
        (store, epoch, cache, GroupId::new(Tier::Slot, 3))
    }

    #[test]
    fn the_first_entry_of_a_slot_range_is_cached_until_the_epoch_moves() {
        let (store, epoch, cache, slot) = cached_map();
        let first = |from: &[u8], to: Option<&[u8]>, order| cache.scan(slot, from, to, 1, order).unwrap();
        assert!(first(b"b/", Some(b"b0"), Order::Ascending).is_empty());
        store.0.lock().unwrap().insert(b"b/x".to_vec(), Bytes::from_static(b"1"));
        store.0.lock().unwrap().insert(b"b/y".to_vec(), Bytes::from_static(b"2"));
        assert!(first(b"b/", Some(b"b0"), Order::Ascending).is_empty(), "cached until the driver says");
        assert_eq!(store.1.load(Ordering::Relaxed), 1);
        epoch.fetch_add(1, Ordering::Release);
        let pair = |key: &'static [u8], value: &'static [u8]| vec![(Bytes::from(key), Bytes::from(value))];
        assert_eq!(first(b"b/", Some(b"b0"), Order::Ascending), pair(b"b/x", b"1"));
        assert_eq!(first(b"b/", Some(b"b0"), Order::Ascending), pair(b"b/x", b"1"));
        assert_eq!(store.1.load(Ordering::Relaxed), 2);
        // Another order or other bounds are other ranges.
        assert_eq!(first(b"b/", Some(b"b0"), Order::Descending), pair(b"b/y", b"2"));
        assert_eq!(first(b"b/", None, Order::Ascending), pair(b"b/x", b"1"));
        assert_eq!(first(b"b/y", Some(b"b0"), Order::Ascending), pair(b"b/y", b"2"));
        assert_eq!(store.1.load(Ordering::Relaxed), 5);
        // Longer scans and other tiers go to the store every time.
        assert_eq!(cache.scan(slot, b"b/", None, 2, Order::Ascending).unwrap().len(), 2);
        let channel = GroupId::new(Tier::Channel, 3);
        cache.scan(channel, b"b/", None, 1, Order::Ascending).unwrap();
        cache.scan(channel, b"b/", None, 1, Order::Ascending).unwrap();
        assert_eq!(store.1.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn a_verdict_is_kept_until_the_epoch_moves_and_never_under_an_old_one() {
        let epoch = Arc::new(AtomicU64::new(0));
        let verdicts = SlotCache::new(epoch.clone());
        let read_under = verdicts.epoch();
        verdicts.put(read_under, b"k".to_vec(), true);
        assert_eq!(verdicts.get(verdicts.epoch(), b"k"), Some(true));
        epoch.fetch_add(1, Ordering::Release);
        assert_eq!(verdicts.get(verdicts.epoch(), b"k"), None, "the slot state changed");
        // Decided from reads under the old epoch, after it moved: not kept.
        verdicts.put(read_under, b"j".to_vec(), false);
        assert_eq!(verdicts.get(verdicts.epoch(), b"j"), None);
        verdicts.put(verdicts.epoch(), b"j".to_vec(), false);
        assert_eq!(verdicts.get(verdicts.epoch(), b"j"), Some(false));
    }

    #[test]
    fn slot_reads_are_cached_until_the_epoch_moves() {
        let (store, epoch, cache, slot) = cached_map();
        assert_eq!(cache.get(slot, b"k").unwrap(), None);
        store.0.lock().unwrap().insert(b"k".to_vec(), Bytes::from_static(b"v"));
        assert_eq!(cache.get(slot, b"k").unwrap(), None, "cached until the driver says");
        assert_eq!(store.1.load(Ordering::Relaxed), 1);
        epoch.fetch_add(1, Ordering::Release);
        assert_eq!(cache.get(slot, b"k").unwrap(), Some(Bytes::from_static(b"v")));
        assert_eq!(cache.get(slot, b"k").unwrap(), Some(Bytes::from_static(b"v")));
        assert_eq!(store.1.load(Ordering::Relaxed), 2);

        let channel = GroupId::new(Tier::Channel, 3);
        cache.get(channel, b"k").unwrap();
        cache.get(channel, b"k").unwrap();
        assert_eq!(store.1.load(Ordering::Relaxed), 4, "other tiers are not cached");
    }
}

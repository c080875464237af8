//! [`Store`]: raft logs, hard states, snapshots and state machines of many groups over one
//! [`Engine`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use consensus::{Entry, HardState, LogIndex, Membership, Payload, Snapshot, SnapshotMeta, Term};

use crate::batch::Op;
use crate::codec::{self, group_prefix, log_key, prefix_end};
use crate::tail::Tails;
use crate::{Cf, Engine, Error, GroupId, GroupMap, RawBatch, Result, WriteBatch};

/// Where a group's log stands: `first_index()..=last_index` hold entries, and
/// `snapshot_index` (the entry before the first) still has a known term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    pub snapshot_index: LogIndex,
    pub snapshot_term: Term,
    pub last_index: LogIndex,
    pub last_term: Term,
}

impl LogState {
    pub fn first_index(&self) -> LogIndex {
        self.snapshot_index.next()
    }
}

/// Direction of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// The store of one node. Reads may come from any thread; writes are serialized.
pub struct Store<E: Engine> {
    pub(crate) engine: E,
    /// Held while a batch is translated and written, so the log cache changes with the
    /// engine and two writers never interleave.
    write_lock: Mutex<()>,
    /// Each group's [`LogState`], loaded on first use and kept in step by `write`.
    pub(crate) logs: Mutex<GroupMap<LogState>>,
    /// The entries each group appended last, for reads that follow writes.
    tails: Mutex<Tails>,
    /// Batches written, and the last of them known durable.
    pub(crate) written: AtomicU64,
    pub(crate) synced: AtomicU64,
}

impl<E: Engine> Store<E> {
    pub fn new(engine: E) -> Store<E> {
        Store {
            engine,
            write_lock: Mutex::new(()),
            logs: Mutex::new(GroupMap::default()),
            tails: Mutex::default(),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
        }
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Applies `batch` atomically and returns its sequence number. Reads see it at once; it
    /// is durable once [`sync`](Self::sync) returns a number at least as large.
    pub fn write(&self, batch: &WriteBatch) -> Result<u64> {
        let _writer = lock(&self.write_lock);
        let mut raw = RawBatch::default();
        let mut logs = Overlay::default();
        for op in &batch.ops {
            self.translate(op, &mut raw, &mut logs)?;
        }
        if !raw.is_empty() {
            self.engine.write(raw)?;
        }
        lock(&self.logs).extend(logs.states);
        lock(&self.tails).apply(&batch.ops);
        Ok(self.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Makes every batch written so far durable with one fsync; returns the sequence
    /// number of the last durable batch.
    pub fn sync(&self) -> Result<u64> {
        let upto = self.written.load(Ordering::SeqCst);
        self.engine.sync()?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(upto)
    }

    /// `write` then `sync`: what a driver iteration does.
    pub fn commit(&self, batch: &WriteBatch) -> Result<u64> {
        let seq = self.write(batch)?;
        self.sync()?;
        Ok(seq)
    }

    /// The sequence number of the last batch written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// The sequence number of the last batch known durable.
    pub fn durable(&self) -> u64 {
        self.synced.load(Ordering::SeqCst)
    }

    /// After the engine lost its unsynced batches: forget what was cached about them.
    pub(crate) fn reset_after_crash(&self) {
        lock(&self.logs).clear();
        lock(&self.tails).clear();
        self.written.store(self.synced.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Drops the cached [`LogState`] of a group evicted from memory.
    pub fn forget(&self, group: GroupId) {
        lock(&self.logs).remove(&group);
        lock(&self.tails).forget(group);
    }

    pub fn log_state(&self, group: GroupId) -> Result<LogState> {
        if let Some(state) = lock(&self.logs).get(&group) {
            return Ok(*state);
        }
        let state = self.load_log_state(group)?;
        lock(&self.logs).insert(group, state);
        Ok(state)
    }

    /// Reads where a group's log stands. Its entries are exactly those after the snapshot
    /// up to the last (appends extend it without holes, truncations and compactions cut
    /// whole ends), so the last one is found by doubling then halving with point lookups:
    /// the log family's memtable cannot seek backwards (see `RocksEngine`).
    fn load_log_state(&self, group: GroupId) -> Result<LogState> {
        let meta = self.snapshot_meta(group)?;
        let mut state = LogState {
            snapshot_index: meta.index,
            snapshot_term: meta.term,
            last_index: meta.index,
            last_term: meta.term,
        };
        let has = |index: u64| -> Result<bool> {
            Ok(self.engine.get(Cf::Log, &log_key(group, LogIndex(index)))?.is_some())
        };
        // `present` holds an entry (or is the snapshot), `absent` does not.
        let (mut present, mut step) = (meta.index.0, 1u64);
        let mut absent = loop {
            let probe = present.saturating_add(step);
            if probe == present || !has(probe)? {
                break probe;
            }
            present = probe;
            step = step.saturating_mul(2);
        };
        while absent - present > 1 {
            let middle = present + (absent - present) / 2;
            if has(middle)? {
                present = middle;
            } else {
                absent = middle;
            }
        }
        if present > meta.index.0 {
            let key = log_key(group, LogIndex(present));
            let body = self
                .get_sealed(Cf::Log, &key)?
                .ok_or_else(|| codec::corrupt(Cf::Log, &key, "entry vanished"))?;
            state.last_term = codec::entry_term(&key, &body)?;
            state.last_index = LogIndex(present);
        }
        Ok(state)
    }

    pub fn hard_state(&self, group: GroupId) -> Result<HardState> {
        let key = codec::hard_state_key(group);
        match self.get_sealed(Cf::Meta, &key)? {
            Some(body) => codec::decode_hard_state(&key, &body),
            None => Ok(HardState::default()),
        }
    }

    pub fn snapshot_meta(&self, group: GroupId) -> Result<SnapshotMeta> {
        let key = codec::snapshot_key(group);
        match self.get_sealed(Cf::Meta, &key)? {
            Some(body) => codec::decode_snapshot_meta(&key, &body),
            None => Ok(SnapshotMeta::default()),
        }
    }

    pub fn snapshot(&self, group: GroupId) -> Result<Snapshot> {
        let meta = self.snapshot_meta(group)?;
        let key = codec::snapshot_data_key(group);
        let data = self.get_sealed(Cf::Meta, &key)?.map(Bytes::from).unwrap_or_default();
        Ok(Snapshot { meta, data })
    }

    /// The membership entries in the log after the snapshot, oldest first.
    pub fn memberships(&self, group: GroupId) -> Result<Vec<(LogIndex, Membership)>> {
        let prefix = codec::membership_prefix(group);
        let mut found = Vec::new();
        let mut result = Ok(());
        self.engine.scan(Cf::Meta, &prefix, prefix_end(&prefix).as_deref(), false, &mut |key, value| {
            result = codec::open(Cf::Meta, key, value)
                .and_then(|body| codec::decode_membership(key, body))
                .map(|m| found.push((codec::membership_key_index(key), m)));
            result.is_ok()
        })?;
        result.map(|()| found)
    }

    /// The term of the entry at `index`, for `snapshot_index..=last_index`; `None` outside.
    pub fn term(&self, group: GroupId, index: LogIndex) -> Result<Option<Term>> {
        let state = self.log_state(group)?;
        if index == state.snapshot_index {
            return Ok(Some(state.snapshot_term));
        }
        if index == state.last_index {
            return Ok(Some(state.last_term));
        }
        if index < state.snapshot_index || index > state.last_index {
            return Ok(None);
        }
        let key = log_key(group, index);
        match self.get_sealed(Cf::Log, &key)? {
            Some(body) => codec::entry_term(&key, &body).map(Some),
            None => Err(codec::corrupt(Cf::Log, &key, "entry missing inside the log")),
        }
    }

    /// Entries in `[lo, hi)`, stopping before their sizes pass `bytes_max` but always at
    /// least one when the range is not empty.
    pub fn entries(
        &self,
        group: GroupId,
        lo: LogIndex,
        hi: LogIndex,
        bytes_max: usize,
    ) -> Result<Vec<Entry>> {
        let state = self.log_state(group)?;
        if lo < state.first_index() || hi > state.last_index.next() {
            let reason = format!(
                "entries [{lo}, {hi}) outside the log [{}, {}]",
                state.first_index(),
                state.last_index
            );
            return Err(Error::Invalid { group, reason });
        }
        let mut entries = Vec::new();
        if lo >= hi {
            return Ok(entries);
        }
        if let Some(entries) = lock(&self.tails).read(group, lo, hi, bytes_max) {
            return Ok(entries);
        }
        let (mut bytes, mut result) = (0, Ok(()));
        let (from, to) = (log_key(group, lo), log_key(group, hi));
        self.engine.scan(Cf::Log, &from, Some(&to), false, &mut |key, value| {
            let entry = codec::open(Cf::Log, key, value).and_then(|body| codec::decode_entry(key, body));
            match entry {
                Ok(entry) => {
                    bytes += entry.size_bytes();
                    if bytes > bytes_max && !entries.is_empty() {
                        return false;
                    }
                    if entry.index != lo.plus(entries.len() as u64) {
                        result = Err(codec::corrupt(Cf::Log, key, "a hole in the log before this entry"));
                        return false;
                    }
                    entries.push(entry);
                    true
                }
                Err(error) => {
                    result = Err(error);
                    false
                }
            }
        })?;
        result?;
        if entries.is_empty() {
            return Err(codec::corrupt(Cf::Log, &from, "entry missing inside the log"));
        }
        Ok(entries)
    }

    pub fn get(&self, group: GroupId, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_sealed(Cf::Kv, &codec::kv_key(group, key))?.map(Bytes::from))
    }

    /// Up to `limit` pairs of the group's state with keys in `[from, to)` (`to: None` = to
    /// the end of the group), in `order`.
    pub fn scan(
        &self,
        group: GroupId,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        let start = codec::kv_key(group, from);
        let end = match to {
            Some(to) => Some(codec::kv_key(group, to)),
            None => prefix_end(&group_prefix(group)),
        };
        let mut found = Vec::new();
        let mut result = Ok(());
        if limit == 0 {
            return Ok(found);
        }
        let reverse = order == Order::Descending;
        self.engine.scan(Cf::Kv, &start, end.as_deref(), reverse, &mut |key, value| match codec::open(
            Cf::Kv,
            key,
            value,
        ) {
            Ok(body) => {
                let user_key = Bytes::copy_from_slice(&key[codec::GROUP_KEY_LEN..]);
                found.push((user_key, Bytes::copy_from_slice(body)));
                found.len() < limit
            }
            Err(error) => {
                result = Err(error);
                false
            }
        })?;
        result.map(|()| found)
    }

    /// Every group that has saved a hard state, in order.
    pub fn groups(&self) -> Result<Vec<GroupId>> {
        let mut groups = Vec::new();
        let mut from = Vec::new();
        loop {
            let mut next = None;
            self.engine.scan(Cf::Meta, &from, None, false, &mut |key, _| {
                next = codec::decode_group(key);
                false
            })?;
            let Some(group) = next else { return Ok(groups) };
            if self.get_sealed(Cf::Meta, &codec::hard_state_key(group))?.is_some() {
                groups.push(group);
            }
            match prefix_end(&group_prefix(group)) {
                Some(end) => from = end,
                None => return Ok(groups),
            }
        }
    }

    fn get_sealed(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.engine.get(cf, key)? {
            Some(value) => Ok(Some(codec::open(cf, key, &value)?.to_vec())),
            None => Ok(None),
        }
    }

    /// Adds the engine writes of `op` to `raw`, tracking each group's log as it changes
    /// within the batch.
    fn translate<'a>(&self, op: &'a Op, raw: &mut RawBatch, logs: &mut Overlay<'a>) -> Result<()> {
        match op {
            Op::Append { group, entries } => {
                let group = *group;
                let mut state = logs.get(self, group)?;
                let first = entries[0].index;
                if first <= state.snapshot_index || first > state.last_index.next() {
                    let reason = format!(
                        "append at {first} to a log holding [{}, {}]",
                        state.first_index(),
                        state.last_index
                    );
                    return Err(Error::Invalid { group, reason });
                }
                if first <= state.last_index {
                    truncate(raw, group, first);
                }
                for (i, entry) in entries.iter().enumerate() {
                    if entry.index != first.plus(i as u64) {
                        let reason = format!("entry {} follows {first} + {i}", entry.index);
                        return Err(Error::Invalid { group, reason });
                    }
                    let key = log_key(group, entry.index);
                    let value = codec::sealed_entry(&key, entry);
                    raw.put(Cf::Log, key, value);
                    if let Payload::Membership(m) = &entry.payload {
                        let key = codec::membership_key(group, entry.index);
                        let value = codec::seal(&key, &codec::encode_membership(m));
                        raw.put(Cf::Meta, key, value);
                    }
                }
                logs.appended.push((group, entries));
                let last = entries.last().expect("appends are never empty");
                state.last_index = last.index;
                state.last_term = last.term;
                logs.states.insert(group, state);
            }
            Op::Truncate { group, from } => {
                let (group, from) = (*group, *from);
                let mut state = logs.get(self, group)?;
                if from <= state.snapshot_index {
                    let reason = format!("truncate from {from}, at or before the snapshot");
                    return Err(Error::Invalid { group, reason });
                }
                if from <= state.last_index {
                    truncate(raw, group, from);
                    let last = from.prev();
                    state.last_term = match logs.appended_term(group, last) {
                        _ if last == state.snapshot_index => state.snapshot_term,
                        Some(term) => term,
                        None => self.term(group, last)?.expect("the entry before a truncation is in the log"),
                    };
                    state.last_index = last;
                    logs.states.insert(group, state);
                }
            }
            Op::HardState { group, hard_state } => {
                let key = codec::hard_state_key(*group);
                raw.put(Cf::Meta, key.clone(), codec::seal(&key, &codec::encode_hard_state(hard_state)));
            }
            Op::Compact { group, meta, data } => {
                let group = *group;
                let mut state = logs.get(self, group)?;
                if meta.index <= state.snapshot_index {
                    return Ok(());
                }
                if meta.index > state.last_index {
                    let reason =
                        format!("compact to {} past the last index {}", meta.index, state.last_index);
                    return Err(Error::Invalid { group, reason });
                }
                let (from, _) = group_range(group);
                raw.delete_range(Cf::Log, from, log_key(group, meta.index.next()));
                raw.delete_range(
                    Cf::Meta,
                    codec::membership_prefix(group),
                    codec::membership_key(group, meta.index.next()),
                );
                put_snapshot(raw, group, meta, data);
                state.snapshot_index = meta.index;
                state.snapshot_term = meta.term;
                logs.states.insert(group, state);
            }
            Op::InstallSnapshot { group, snapshot } => {
                let group = *group;
                let (from, to) = group_range(group);
                raw.delete_range(Cf::Log, from, to.expect("group ids never end the key space"));
                let prefix = codec::membership_prefix(group);
                let end = prefix_end(&prefix).expect("membership keys never end the key space");
                raw.delete_range(Cf::Meta, prefix, end);
                put_snapshot(raw, group, &snapshot.meta, &snapshot.data);
                let (index, term) = (snapshot.meta.index, snapshot.meta.term);
                let state = LogState {
                    snapshot_index: index,
                    snapshot_term: term,
                    last_index: index,
                    last_term: term,
                };
                logs.states.insert(group, state);
            }
            Op::Put { group, key, value } => {
                let key = codec::kv_key(*group, key);
                raw.put(Cf::Kv, key.clone(), codec::seal(&key, value));
            }
            Op::Delete { group, key } => raw.delete(Cf::Kv, codec::kv_key(*group, key)),
            Op::DeleteGroup { group } => {
                let (from, to) = group_range(*group);
                let to = to.expect("group ids never end the key space");
                for cf in Cf::ALL {
                    raw.delete_range(cf, from.clone(), to.clone());
                }
                logs.states.insert(*group, LogState::default());
            }
        }
        Ok(())
    }
}

/// The log states a batch has changed so far, before the engine has them.
#[derive(Default)]
struct Overlay<'a> {
    states: GroupMap<LogState>,
    /// The entries this batch appends, in order, for a truncation later in the same batch
    /// (rare: looked up by a scan rather than indexed per entry).
    appended: Vec<(GroupId, &'a [Entry])>,
}

impl Overlay<'_> {
    /// The term of the entry at `index` that this batch appended last, if any.
    fn appended_term(&self, group: GroupId, index: LogIndex) -> Option<Term> {
        self.appended.iter().rev().filter(|(g, _)| *g == group).find_map(|(_, entries)| {
            let first = entries.first()?.index;
            let offset = index.0.checked_sub(first.0)?;
            entries.get(offset as usize).map(|entry| entry.term)
        })
    }

    fn get<E: Engine>(&mut self, store: &Store<E>, group: GroupId) -> Result<LogState> {
        match self.states.get(&group) {
            Some(state) => Ok(*state),
            None => store.log_state(group),
        }
    }
}

/// Deletes the group's entries (and membership records) from `from` on.
fn truncate(raw: &mut RawBatch, group: GroupId, from: LogIndex) {
    let (_, end) = group_range(group);
    raw.delete_range(Cf::Log, log_key(group, from), end.expect("group ids never end the key space"));
    let prefix = codec::membership_prefix(group);
    let end = prefix_end(&prefix).expect("membership keys never end the key space");
    raw.delete_range(Cf::Meta, codec::membership_key(group, from), end);
}

fn put_snapshot(raw: &mut RawBatch, group: GroupId, meta: &SnapshotMeta, data: &[u8]) {
    let key = codec::snapshot_key(group);
    raw.put(Cf::Meta, key.clone(), codec::seal(&key, &codec::encode_snapshot_meta(meta)));
    let key = codec::snapshot_data_key(group);
    raw.put(Cf::Meta, key.clone(), codec::seal(&key, data));
}

/// All keys of a group: `[prefix, prefix_end)`.
fn group_range(group: GroupId) -> (Vec<u8>, Option<Vec<u8>>) {
    let prefix = group_prefix(group);
    (prefix.to_vec(), prefix_end(&prefix))
}

/// Locks `mutex`, ignoring poisoning: every critical section leaves its data consistent
/// before anything in it can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

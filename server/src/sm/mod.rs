//! The state machines the raft groups replicate: what a committed command does.
//!
//! A state machine reads and writes its group's key-value state through a [`Tx`]: reads see
//! the writes of commands applied earlier in the same driver iteration, and the writes go
//! into the iteration's one `WriteBatch`, together with the raft log writes and the
//! group's applied index, so that a crash never separates them.

pub mod channel;
pub mod conversation_sm;
pub mod message_record;
pub mod slot;
pub mod slot_channels;
pub mod slot_users;

use std::collections::BTreeMap;

use bytes::Bytes;
use storage::{Engine, GroupId, Order, Store, WriteBatch};

/// What applying one command produced, handed back to whoever proposed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// A message was stored (or had been: `duplicate` when `(from_uid, client_msg_no)` was
    /// seen before, and these are the original's numbers).
    Message {
        message_id: i64,
        message_seq: u64,
        duplicate: bool,
    },
    /// A channel's raft group, placed by its slot.
    Placed {
        group: u64,
    },
    /// The command was refused; the state is unchanged.
    Refused(String),
}

/// Reads of a group's state, as the state machines and the read paths need them.
pub trait StateRead: Send + Sync {
    fn get(&self, group: GroupId, key: &[u8]) -> storage::Result<Option<Bytes>>;
    fn scan(
        &self,
        group: GroupId,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
        order: Order,
    ) -> storage::Result<Vec<(Bytes, Bytes)>>;
}

impl<E: Engine> StateRead for Store<E> {
    fn get(&self, group: GroupId, key: &[u8]) -> storage::Result<Option<Bytes>> {
        Store::get(self, group, key)
    }

    fn scan(
        &self,
        group: GroupId,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
        order: Order,
    ) -> storage::Result<Vec<(Bytes, Bytes)>> {
        Store::scan(self, group, from, to, limit, order)
    }
}

/// The greatest key of `group` starting with `prefix`, as stored.
pub fn last_key(state: &dyn StateRead, group: GroupId, prefix: &[u8]) -> storage::Result<Option<Bytes>> {
    let end = storage::prefix_end(prefix);
    let last = state.scan(group, prefix, end.as_deref(), 1, Order::Descending)?;
    Ok(last.into_iter().next().map(|(key, _)| key))
}

/// One group's view of its state while commands are applied: the store, plus what this
/// iteration has written so far.
pub struct Tx<'a> {
    store: &'a dyn StateRead,
    group: GroupId,
    batch: &'a mut WriteBatch,
    /// This iteration's writes to the group (`None` = deleted), for reads that follow them.
    written: &'a mut BTreeMap<Bytes, Option<Bytes>>,
}

impl<'a> Tx<'a> {
    pub fn new(
        store: &'a dyn StateRead,
        group: GroupId,
        batch: &'a mut WriteBatch,
        written: &'a mut BTreeMap<Bytes, Option<Bytes>>,
    ) -> Tx<'a> {
        Tx { store, group, batch, written }
    }

    pub fn group(&self) -> GroupId {
        self.group
    }

    pub fn get(&self, key: &[u8]) -> storage::Result<Option<Bytes>> {
        match self.written.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.store.get(self.group, key),
        }
    }

    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        let (key, value) = (key.into(), value.into());
        self.batch.put(self.group, key.clone(), value.clone());
        self.written.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: impl Into<Bytes>) {
        let key = key.into();
        self.batch.delete(self.group, key.clone());
        self.written.insert(key, None);
    }

    /// The greatest key starting with `prefix`, this iteration's writes included. Only for
    /// keys that are never deleted (a channel's messages): deletes are not looked at.
    pub fn last_key(&self, prefix: &[u8]) -> storage::Result<Option<Bytes>> {
        let stored = last_key(self.store, self.group, prefix)?;
        let from = (std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded);
        let written = self.written.range::<[u8], _>(from);
        let written = written
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, value)| value.is_some())
            .map(|(key, _)| key.clone())
            .last();
        Ok(stored.max(written))
    }

    /// Every pair with a key starting with `prefix`, in key order, this iteration's writes
    /// included. For the small sets a command touches (a channel's allow list, say).
    pub fn scan_prefix(&self, prefix: &[u8]) -> storage::Result<Vec<(Bytes, Bytes)>> {
        let end = storage::prefix_end(prefix);
        let stored = self.store.scan(self.group, prefix, end.as_deref(), usize::MAX, Order::Ascending)?;
        let mut merged: BTreeMap<Bytes, Bytes> = stored.into_iter().collect();
        for (key, value) in
            self.written.range::<[u8], _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
        {
            if !key.starts_with(prefix) {
                break;
            }
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }
}

/// A replicated state machine: deterministic, so every replica reaches the same state.
/// It never reads a clock or a random number; whatever it needs (a timestamp, a message
/// id) comes in the command.
pub trait StateMachine: Send {
    fn apply(&mut self, command: &[u8], tx: &mut Tx<'_>) -> storage::Result<Applied>;

    /// The messages appended since the last call, if any: the driver hands them to the
    /// fan-out once they are durable, in the order they were applied.
    fn take_appended(&mut self) -> Option<NewMessages> {
        None
    }
}

/// The messages a channel group appended since the driver last looked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessages {
    pub first_seq: u64,
    pub last_seq: u64,
    /// The messages `first_seq..=last_seq`, in order, unless they were more than
    /// [`channel::NEW_MESSAGES_BYTES_MAX`]: then the fan-out reads them from the store.
    pub messages: Option<Vec<channel::StoredMessage>>,
}

/// The node tier's state machine. A single node has nothing to record there yet; a cluster
/// keeps its nodes and the slot table in it.
pub struct NodeSm;

impl StateMachine for NodeSm {
    fn apply(&mut self, _command: &[u8], _tx: &mut Tx<'_>) -> storage::Result<Applied> {
        Ok(Applied::Done)
    }
}

//! The raft logs and state machines of every group on a node, in one store.
//!
//! A node hosts many raft groups (node, slot and channel tiers). All of them live in one
//! [`Store`], and the multi-raft driver writes what one iteration produced for all groups as
//! one [`WriteBatch`], made durable by one [`Store::sync`]: one fsync per iteration, however
//! many groups took part (group commit).
//!
//! [`Store`] holds the logic (key layout, truncation, compaction, a per-group index cache)
//! over an [`Engine`], which only stores bytes:
//! - [`RocksEngine`] (feature `rocksdb`, not under `cfg(madsim)`): RocksDB, column families,
//!   tuned for this workload;
//! - [`MemEngine`]: in memory, with a volatile and a durable part; [`MemStore::crash`] drops
//!   what was not synced. The simulators use it.
//!
//! Every value carries a CRC32C of its key and body: a corrupted value is an
//! [`Error::Corrupt`], never data.

mod batch;
mod codec;
mod engine;
mod group_map;
mod mem;
mod raft_log;
#[cfg(all(feature = "rocksdb", not(madsim)))]
mod rocks;
mod store;
mod syncer;
mod tail;

pub use batch::WriteBatch;
pub use codec::prefix_end;
pub use engine::{Engine, RawBatch, RawOp};
pub use group_map::{GroupHasher, GroupMap};
pub use mem::{CrashMode, MemEngine};
pub use raft_log::GroupLog;
#[cfg(all(feature = "rocksdb", not(madsim)))]
pub use rocks::{RocksConfig, RocksEngine};
pub use store::{LogState, Order, Store};
pub use syncer::{OnSynced, Syncer};

/// The in-memory store the simulators use.
pub type MemStore = Store<MemEngine>;
/// The store a real node uses.
#[cfg(all(feature = "rocksdb", not(madsim)))]
pub type RocksStore = Store<RocksEngine>;

/// The tier a raft group belongs to (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tier {
    Node = 0,
    Slot = 1,
    Channel = 2,
}

impl Tier {
    fn from_u8(byte: u8) -> Option<Tier> {
        match byte {
            0 => Some(Tier::Node),
            1 => Some(Tier::Slot),
            2 => Some(Tier::Channel),
            _ => None,
        }
    }
}

/// One raft group on this node: its tier and its number within the tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId {
    pub tier: Tier,
    pub id: u64,
}

impl GroupId {
    pub fn new(tier: Tier, id: u64) -> GroupId {
        GroupId { tier, id }
    }
}

/// The column families (key spaces) of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// Log entries: group, index → term and payload.
    Log,
    /// Per-group records: hard state, snapshot, membership entries.
    Meta,
    /// The groups' state machines: group, key → value.
    Kv,
}

impl Cf {
    pub const ALL: [Cf; 3] = [Cf::Log, Cf::Meta, Cf::Kv];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Log => "log",
            Cf::Meta => "meta",
            Cf::Kv => "kv",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A stored value failed its checksum or does not parse. The store does not guess.
    #[error("corrupt value in column family {cf} at key {key}: {reason}")]
    Corrupt { cf: &'static str, key: String, reason: String },
    /// The engine failed (disk full, I/O error, ...).
    #[error("storage engine: {0}")]
    Engine(String),
    /// A write the store refuses because it would break the log (a gap, a compaction past
    /// the end).
    #[error("invalid write to group {group:?}: {reason}")]
    Invalid { group: GroupId, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

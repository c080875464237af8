//! A pure, I/O-free, pull-mode raft core, in the shape of etcd-raft's `RawNode`.
//!
//! The core never reads a clock, draws from a thread RNG, touches a file or socket, or
//! spawns anything. A driver owns it and runs this loop:
//!
//! ```text
//! loop {
//!     feed inputs:  node.tick() every tick; node.step(msg) for each message received;
//!                   node.propose(data) / propose_membership / campaign / transfer_leader
//!     if node.has_ready() {
//!         let ready = node.ready();
//!         send ready.messages                           // may go at once
//!         write ready.snapshot, truncate_from, entries, hard_state; fsync
//!         send ready.persisted_messages                 // only after the fsync
//!         apply ready.snapshot and ready.committed_entries
//!         node.advance(ready);
//!     }
//! }
//! ```
//!
//! Replication is pulled: followers send `SyncReq`, the leader answers (or parks a caught-up
//! request until it has something new), and a follower's `stored_index` is its ack. See
//! `message.rs` for the protocol and `DESIGN.md` §3 for why.

mod config;
mod election;
mod follower;
mod leader;
mod log;
mod membership;
mod message;
mod progress;
mod raft;
mod raw_node;
mod rng;
mod storage;
mod trace;
mod types;

pub use config::{
    Config, COMMITTED_BYTES_PER_READY_MAX, SUSPEND_AFTER_IDLE_ANSWERS, SYNC_RESP_BYTES_MAX,
    UNCOMMITTED_BYTES_MAX, UNCOMMITTED_ENTRIES_MAX,
};
pub use leader::ProposeError;
pub use message::{Message, MessageBody};
pub use raw_node::{RawNode, Ready, Status};
pub use rng::Rng;
pub use storage::{InitialState, MemStorage, Storage};
pub use trace::{TraceDetail, TraceEvent};
pub use types::{
    Entry, HardState, LogIndex, Membership, MembershipChange, MembershipError, NodeId, Payload, Role,
    Snapshot, SnapshotMeta, SoftState, Term, ENTRY_OVERHEAD_BYTES,
};

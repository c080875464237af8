//! Per-node configuration and the core's fixed bounds.

use crate::types::{LogIndex, NodeId};

/// At most this many bytes of entries in one `SyncResp` (a follower always gets at least
/// one entry). 1 MiB keeps one answer well under the 16 MiB transport frame, lets a
/// follower persist it in one write, and is large enough that a follower catching up over
/// loopback is bound by its fsyncs, not by round trips (1 MiB / 128-byte messages = 8k).
/// It is also the bound on in-flight data per follower: a follower has one `SyncReq`
/// outstanding, so the leader has at most one `SyncResp` in flight to it.
pub const SYNC_RESP_BYTES_MAX: usize = 1 << 20;

/// At most this many entries proposed but not yet committed: the proposal queue. Beyond it
/// `propose` pushes back with `ProposeError::QueueFull`. 64k entries is about 30 ms of work
/// at the benchmark's commit rate: enough to keep a pipeline full, small enough that a
/// leader which lost its quorum stops accepting work quickly.
pub const UNCOMMITTED_ENTRIES_MAX: u64 = 64 * 1024;

/// At most this many bytes proposed but not yet committed; the byte side of the proposal
/// queue (64 MiB: a few seconds of the disk's sequential bandwidth).
pub const UNCOMMITTED_BYTES_MAX: usize = 64 << 20;

/// At most this many bytes of committed entries handed out in one `Ready`, so that applying
/// one Ready stays short and bounded in memory after a long catch-up.
pub const COMMITTED_BYTES_PER_READY_MAX: usize = 4 << 20;

/// A leader tells a caught-up follower to suspend after this many consecutive heartbeat
/// answers with nothing new. Three lets a short pause in traffic pass without a suspend
/// and wake round trip, while an idle group goes quiet within a few heartbeats.
pub const SUSPEND_AFTER_IDLE_ANSWERS: u32 = 3;

#[derive(Clone, Debug)]
pub struct Config {
    /// This node. Never `NodeId(0)`.
    pub id: NodeId,
    /// Ticks without hearing from a leader before a follower starts a (pre-)election; the
    /// actual timeout is drawn from `[election_ticks, 2 * election_ticks)`. A leader steps
    /// down when it has not heard from a quorum for this many ticks. Default 10.
    pub election_ticks: u32,
    /// Ticks between a leader's answers to parked requests (its heartbeat). Must be less than
    /// `election_ticks`. Default 2.
    pub heartbeat_ticks: u32,
    /// The last index the application has applied; committed entries after it are handed
    /// out again on restart. Default 0.
    pub applied: LogIndex,
    /// Seed of the election-timeout jitter. Give each node its own.
    pub seed: u64,
    /// Bytes per `SyncResp`; default `SYNC_RESP_BYTES_MAX`. Tests lower it to page.
    pub sync_resp_bytes_max: usize,
}

impl Config {
    pub fn new(id: u64) -> Config {
        Config {
            id: NodeId(id),
            election_ticks: 10,
            heartbeat_ticks: 2,
            applied: LogIndex(0),
            seed: id,
            sync_resp_bytes_max: SYNC_RESP_BYTES_MAX,
        }
    }

    /// A follower re-sends a `SyncReq` that got no answer after this many ticks. It is longer
    /// than the heartbeat, because a parked request is answered at least every heartbeat.
    pub fn sync_retry_ticks(&self) -> u32 {
        self.heartbeat_ticks * 2 + 1
    }

    pub(crate) fn validate(&self) {
        assert!(self.id != NodeId(0), "node id 0 is reserved");
        assert!(self.heartbeat_ticks > 0, "heartbeat_ticks must be positive");
        assert!(
            self.election_ticks > self.heartbeat_ticks,
            "election_ticks ({}) must exceed heartbeat_ticks ({})",
            self.election_ticks,
            self.heartbeat_ticks
        );
        assert!(self.sync_resp_bytes_max > 0);
    }
}

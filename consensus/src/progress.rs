//! What a leader knows about each other member.

use crate::types::{LogIndex, Term};

#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    /// The highest index durable on the member and known to match our log: its ack.
    pub stored: LogIndex,
    /// A caught-up `SyncReq` (`next_index`, `prev_log_term`) held until there is something
    /// to send. At most one per member: a newer request replaces it.
    pub parked: Option<(LogIndex, Term)>,
    /// The commit index we last told the member.
    pub commit_sent: LogIndex,
    /// Consecutive heartbeat answers that carried nothing new.
    pub idle_answers: u32,
    /// We told it to stop asking; a `NotifySync` wakes it.
    pub suspended: bool,
    /// Heard from it during the current check-quorum period.
    pub active: bool,
    /// Heard from it since the last heartbeat.
    pub heard: bool,
}

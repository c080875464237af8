//! RECVs sent and not yet acknowledged, for a retry (WuKongIM v2 `MessageRetry`): in the
//! order they fall due, each re-sent unchanged (same bytes, no DUP flag, as Server v2) until
//! its RECVACK comes or its retries run out.

use std::collections::VecDeque;

use super::{frame_len, Frame};

/// One RECV waiting for its RECVACK.
struct Entry {
    message_id: i64,
    frame: Frame,
    due_ms: u64,
    retries: u32,
}

/// The table. Bounded in entries (`recvs_unacked_max`) and in bytes (`outbound_bytes_max`:
/// whatever is kept here is re-queued for the socket, where the same bound applies); past
/// either the oldest is forgotten and the client catches up through `/channel/messagesync`.
/// Entries are due in order because the clock never goes back and every (re-)send is due one
/// retry interval later, so the front is always the next one due.
pub(super) struct Unacked {
    entries: VecDeque<Entry>,
    bytes: usize,
    entries_max: usize,
    bytes_max: usize,
}

impl Unacked {
    pub(super) fn new(entries_max: usize, bytes_max: usize) -> Unacked {
        Unacked { entries: VecDeque::new(), bytes: 0, entries_max, bytes_max }
    }

    pub(super) fn insert(&mut self, message_id: i64, frame: Frame, due_ms: u64) {
        self.bytes += frame_len(&frame);
        self.entries.push_back(Entry { message_id, frame, due_ms, retries: 0 });
        while self.entries.len() > self.entries_max || self.bytes > self.bytes_max {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= frame_len(&oldest.frame);
        }
    }

    /// A RECVACK: forget that message's entry. Acks come roughly in the order RECVs went
    /// out, so the search usually stops at the front; it is bounded by `entries_max`. (A
    /// `retain` here visited every entry on every ack: a quarter of a busy group's fan-out.)
    pub(super) fn remove(&mut self, message_id: i64) {
        if let Some(at) = self.entries.iter().position(|entry| entry.message_id == message_id) {
            if let Some(entry) = self.entries.remove(at) {
                self.bytes -= frame_len(&entry.frame);
            }
        }
    }

    pub(super) fn next_due_ms(&self) -> Option<u64> {
        self.entries.front().map(|entry| entry.due_ms)
    }

    /// The frames due at `now_ms`, to send again; each is due again `retry_ms` later, or
    /// forgotten once sent `retries_max` times again. Looks at each entry at most once.
    pub(super) fn take_due(&mut self, now_ms: u64, retry_ms: u64, retries_max: u32) -> Vec<Frame> {
        let mut due = Vec::new();
        for _ in 0..self.entries.len() {
            let Some(entry) = self.entries.front() else { break };
            if entry.due_ms > now_ms {
                break;
            }
            let Some(mut entry) = self.entries.pop_front() else { break };
            if entry.retries >= retries_max {
                self.bytes -= frame_len(&entry.frame);
                continue;
            }
            entry.retries += 1;
            entry.due_ms = now_ms.saturating_add(retry_ms);
            due.push(entry.frame.clone());
            self.entries.push_back(entry);
        }
        due
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

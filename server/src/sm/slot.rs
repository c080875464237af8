//! The slot state machine: users and devices, channels and their members and lists,
//! system uids, conversations, and where each channel's raft group is (DESIGN §4).
//!
//! Commands are JSON (`serde`); a command that does not parse is refused, never applied
//! half-way. Keys are `<kind>/<...>` strings inside the slot group's state.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Applied, StateMachine, Tx};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum SlotCommand {
    /// Gives the channel a raft group of its own, once: a second placement of the same
    /// channel returns the first one's group.
    PlaceChannel { channel_id: String, channel_type: u8 },
    /// Forgets where the channel's group is: the next placement starts a new, empty group.
    UnplaceChannel { channel_id: String, channel_type: u8 },
}

/// The key of a channel's placement: its channel group number, 8 bytes big-endian.
pub fn placement_key(channel_id: &str, channel_type: u8) -> Vec<u8> {
    format!("place/{channel_type}/{channel_id}").into_bytes()
}

const NEXT_GROUP_KEY: &[u8] = b"place_next";

/// Channel group numbers: the slot in the high bits, a counter kept by the slot below, so
/// that slots never hand out the same number.
const GROUP_SLOT_SHIFT: u32 = 40;

pub struct SlotSm {
    slot: u32,
}

impl SlotSm {
    pub fn new(slot: u32) -> SlotSm {
        SlotSm { slot }
    }

    fn place(&self, channel_id: &str, channel_type: u8, tx: &mut Tx<'_>) -> storage::Result<Applied> {
        let key = placement_key(channel_id, channel_type);
        if let Some(group) = tx.get(&key)? {
            return Ok(Applied::Placed { group: be_u64(&group) });
        }
        let next = tx.get(NEXT_GROUP_KEY)?.map_or(1, |v| be_u64(&v));
        tx.put(Bytes::from_static(NEXT_GROUP_KEY), (next + 1).to_be_bytes().to_vec());
        let group = ((self.slot as u64) << GROUP_SLOT_SHIFT) | next;
        tx.put(key, group.to_be_bytes().to_vec());
        Ok(Applied::Placed { group })
    }
}

/// A big-endian u64 from the first 8 bytes (0 if shorter: values are written by this
/// module, and checksummed by the store).
pub fn be_u64(bytes: &[u8]) -> u64 {
    bytes.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

impl StateMachine for SlotSm {
    fn apply(&mut self, command: &[u8], tx: &mut Tx<'_>) -> storage::Result<Applied> {
        let command: SlotCommand = match serde_json::from_slice(command) {
            Ok(command) => command,
            Err(error) => return Ok(Applied::Refused(format!("slot command does not parse: {error}"))),
        };
        match command {
            SlotCommand::PlaceChannel { channel_id, channel_type } => {
                self.place(&channel_id, channel_type, tx)
            }
            SlotCommand::UnplaceChannel { channel_id, channel_type } => {
                tx.delete(placement_key(&channel_id, channel_type));
                Ok(Applied::Done)
            }
        }
    }
}

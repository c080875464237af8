//! The channel state machine: the channel's messages, in order.
//! (Filled in by the message path; see `ChannelCommand`.)

use serde::{Deserialize, Serialize};

use super::{Applied, StateMachine, Tx};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChannelCommand {}

#[derive(Default)]
pub struct ChannelSm {}

impl StateMachine for ChannelSm {
    fn apply(&mut self, command: &[u8], _tx: &mut Tx<'_>) -> storage::Result<Applied> {
        match serde_json::from_slice::<ChannelCommand>(command) {
            Ok(command) => match command {},
            Err(error) => Ok(Applied::Refused(format!("channel command does not parse: {error}"))),
        }
    }
}

//! What the server sends a logged-in client, decoded and (for RECV) decrypted.

use bytes::Bytes;
use protocol::{ChannelType, Event, Packet, ReasonCode, Suback};

/// One packet from the server, as [`crate::Client::next`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// The answer to one of our SENDs.
    Sendack(SendAck),
    /// A message, msgKey verified and payload decrypted.
    Recv(Received),
    /// A kick; the server closes the connection after it.
    Disconnect {
        reason_code: ReasonCode,
        reason: String,
    },
    /// The answer to [`crate::Client::ping`].
    Pong,
    Suback(Suback),
    /// Version 5 only.
    Event(Event),
    /// Anything a server should not send a client (PING, a second CONNACK, a SEND...), kept
    /// so that tests can see it.
    Other(Packet),
}

/// A SENDACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendAck {
    pub client_seq: u32,
    pub message_id: i64,
    /// 0 for a `no_persist` message.
    pub message_seq: u32,
    /// `SUCCESS` (1) when the message was taken.
    pub reason_code: ReasonCode,
}

impl SendAck {
    /// Whether the server took the message.
    pub fn is_success(&self) -> bool {
        self.reason_code == ReasonCode::SUCCESS
    }
}

/// A RECV, opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub message_id: i64,
    pub message_seq: u32,
    pub from_uid: String,
    /// Person channel: the peer's uid as this connection sees it (the sender's uid, or the
    /// recipient's on the sender's other devices).
    pub channel_id: String,
    pub channel_type: ChannelType,
    pub client_msg_no: String,
    pub red_dot: bool,
    pub no_persist: bool,
    pub sync_once: bool,
    /// Seconds; 0 below version 3.
    pub expire: u32,
    /// Empty when the TOPIC setting bit is clear.
    pub topic: String,
    /// The decrypted plaintext; still encrypted when `opened` is false.
    pub payload: Bytes,
    /// Whether msgKey was checked and the payload decrypted
    /// (`ConnectOptions::open_one_in`).
    pub opened: bool,
    /// Server time, seconds since the Unix epoch.
    pub timestamp: i32,
}

impl Received {
    /// The payload as JSON, if it is.
    pub fn payload_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.payload).ok()
    }
}

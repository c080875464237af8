//! The client gateway (DESIGN §5, §6): clients connect over WKProto (TCP and WebSocket) or
//! JSON-RPC (WebSocket text), log in, send, and receive in real time.
//!
//! - [`conn`]: one connection's protocol as a sans-io state machine: bytes and answers in,
//!   frames and events out, time passed in as milliseconds. Tested without sockets.
//! - [`online`]: who is connected: uid → connections, each with a bounded inbox.
//! - [`fanout`]: after a message commits, RECV to every online device of its channel.
//! - `listen` (real tokio only): the TCP, WebSocket and WSS listeners and the task that
//!   drives one [`conn::Conn`] over its socket.
//! - `tls` (real tokio only): the WSS listener's certificate and TLS acceptor.

pub mod conn;
pub mod fanout;
pub mod online;

#[cfg(not(madsim))]
pub mod listen;
#[cfg(not(madsim))]
pub mod tls;

use std::sync::Arc;

use bytes::Bytes;
use protocol::ReasonCode;

/// A connection's number on this node, unique for the node's life.
pub type ConnId = u64;

/// A committed (or `no_persist`) message, as every RECV built from it needs it. Shared by
/// all the connections it goes to; each encrypts it with its own key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// `HEADER_*` bits of `sm::message_record` (no_persist, red_dot, sync_once).
    pub header: u8,
    /// The client protocol's setting byte, as sent.
    pub setting: u8,
    pub message_id: i64,
    /// 0 for a `no_persist` message.
    pub message_seq: u64,
    /// Milliseconds since the Unix epoch; RECV carries seconds.
    pub timestamp_ms: i64,
    pub expire: u32,
    pub from_uid: String,
    /// The channel as clients name it, except person channels: those are the stored `a@b`
    /// id, and each receiving connection shows the peer of its own uid.
    pub channel_id: String,
    pub channel_type: u8,
    pub client_msg_no: String,
    pub topic: String,
    /// The plaintext payload (UTF-8 JSON for the official SDKs).
    pub payload: Bytes,
    /// The connection that sent it, which does not get it back.
    pub sender: Option<ConnId>,
}

/// What the rest of the node asks of a connection, through its bounded inbox.
#[derive(Clone, Debug)]
pub enum ToConn {
    Deliver(Arc<Delivery>),
    /// DISCONNECT with this reason, then close (a newer login of the same device, a device
    /// quit, a ban).
    Kick {
        reason_code: ReasonCode,
        reason: String,
    },
}

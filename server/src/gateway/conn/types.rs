//! The connection's public vocabulary: its configuration, what it hands out (events,
//! frames) and the answers it takes.

use bytes::Bytes;
use protocol::ReasonCode;

use crate::service::messages::SendRequest;

/// The bounds and timers of a connection. Every queue has a bound (STYLE 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    /// CONNACK's `nodeId` (V ≥ 4).
    pub node_id: u64,
    /// A connection that has not sent CONNECT, or whose login is not answered, by then is
    /// closed (Server v2: 4 s).
    pub connect_timeout_ms: u64,
    /// An open connection that sends nothing for this long is closed. Above the JS SDK's
    /// 60 s heartbeat (wkproto.md §4.4); Server v2 uses 3 minutes.
    pub idle_timeout_ms: u64,
    /// Largest frame body accepted (protocol::limits::FRAME_BODY_BYTES_MAX).
    pub frame_body_bytes_max: usize,
    /// Bytes queued for the socket at most. A client that stops reading is closed once its
    /// queue would grow past this (a slow consumer): server memory stays flat.
    pub outbound_bytes_max: usize,
    /// SENDs handed out as events and not yet answered, at most. At the bound,
    /// [`Conn::wants_input`] turns false and the driver stops reading the socket.
    pub sends_in_flight_max: usize,
    /// RECVs sent and not acknowledged kept for a retry, at most; past it the oldest is
    /// forgotten (the client catches up through `/channel/messagesync`).
    pub recvs_unacked_max: usize,
    /// A RECV not acknowledged for this long is sent again...
    pub recv_retry_ms: u64,
    /// ...at most this many times.
    pub recv_retries_max: u32,
}

impl Default for ConnConfig {
    fn default() -> ConnConfig {
        ConnConfig {
            node_id: 1,
            connect_timeout_ms: 10_000,
            idle_timeout_ms: 180_000,
            frame_body_bytes_max: protocol::limits::FRAME_BODY_BYTES_MAX,
            outbound_bytes_max: 4 << 20,
            sends_in_flight_max: 256,
            recvs_unacked_max: 1024,
            recv_retry_ms: 10_000,
            recv_retries_max: 5,
        }
    }
}

/// What carries the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// WKProto as a byte stream.
    Tcp,
    /// WebSocket: the inbound message payloads form one byte stream; a first byte `{` makes
    /// the connection JSON-RPC for its life, else it is WKProto. Outbound, one packet per
    /// message: binary for WKProto, text for JSON-RPC.
    WebSocket,
}

/// One frame to write: on TCP the bytes of a binary frame are written as they are; on a
/// WebSocket each frame is one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Binary(Bytes),
    Text(Bytes),
}

/// A CONNECT (or JSON-RPC `connect`) to check: the driver looks up the token and the ban,
/// registers the connection, and answers with [`Conn::handle_login`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    pub uid: String,
    pub token: String,
    pub device_flag: u8,
    pub device_id: String,
    /// The negotiated protocol version.
    pub version: u8,
}

/// Names a SEND handed out as an event, for its answer. The machine's own counter: clients
/// may repeat a `client_seq`.
pub type SendToken = u64;

/// What the driver must do for the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Check this login, then call [`Conn::handle_login`].
    Login(Login),
    /// Send this message (decrypted, `origin` Client, `from_uid` the connection's uid), then
    /// call [`Conn::handle_sendack`] with the token.
    Send { token: SendToken, request: SendRequest },
}

/// The answer to [`Event::Login`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    Accepted {
        device_level: u8,
    },
    /// Answered with a failure CONNACK carrying this reason, then closed.
    Refused(ReasonCode),
}

/// The answer to [`Event::Send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        message_id: i64,
        message_seq: u64,
    },
    /// A SENDACK with this reason (a permission refusal, a bad message, unavailable).
    Refused(ReasonCode),
}

/// Why a connection closed, for logs, metrics and `/connz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer's stream broke the protocol (garbage, oversized frame, a packet before
    /// CONNECT, an unknown packet type); DISCONNECT was sent where the protocol has one.
    Protocol(String),
    /// CONNECT or the login answer did not come in time, or the open connection was idle.
    Timeout,
    /// The login was refused with this reason.
    Refused(ReasonCode),
    /// Kicked with DISCONNECT.
    Kicked(ReasonCode),
    /// The client sent DISCONNECT (or JSON-RPC `disconnect`).
    ClientDisconnect,
    /// The client did not read: its outbound queue hit `outbound_bytes_max`.
    SlowConsumer,
}

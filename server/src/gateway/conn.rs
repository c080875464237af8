//! One client connection's protocol, sans-io (DESIGN §6; `reference/wkproto.md`).
//!
//! The socket driver (`gateway::listen`) feeds [`Conn`] the bytes it reads, the answers to
//! the events it took (a login checked, a send committed), messages to deliver and the time;
//! it writes the frames [`Conn::poll_transmit`] hands out, one per WebSocket message, and
//! closes the socket once [`Conn::is_closed`] says so and everything was written. The
//! machine never reads a clock or a random number and never blocks.
//!
//! ```text
//! AwaitConnect --CONNECT--> Authenticating --Accepted--> Open --kick/error/idle--> Closed
//!       \--anything else, timeout--> Closed   \--Refused: failure CONNACK--> Closed
//! ```
//!
//! STUB: the interface is fixed; the bodies are being written.

use bytes::Bytes;
use protocol::ReasonCode;

use super::Delivery;
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
    Accepted { device_level: u8 },
    /// Answered with a failure CONNACK carrying this reason, then closed.
    Refused(ReasonCode),
}

/// The answer to [`Event::Send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Sent { message_id: i64, message_seq: u64 },
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

/// One connection's protocol state.
pub struct Conn {}

impl Conn {
    /// A connection accepted at `now_ms`. `random` seeds its key pair (32 bytes) and salt
    /// (16 bytes): the driver draws them, the machine has no RNG.
    pub fn new(config: ConnConfig, transport: Transport, now_ms: u64, random: [u8; 48]) -> Conn {
        let _ = (config, transport, now_ms, random);
        todo!()
    }

    /// Bytes read from the socket (TCP bytes or one WebSocket message's payload), in order.
    pub fn handle_input(&mut self, now_ms: u64, bytes: &[u8]) {
        let _ = (now_ms, bytes);
        todo!()
    }

    /// The answer to [`Event::Login`].
    pub fn handle_login(&mut self, now_ms: u64, outcome: LoginOutcome) {
        let _ = (now_ms, outcome);
        todo!()
    }

    /// The answer to [`Event::Send`]: a SENDACK (or JSON-RPC response).
    pub fn handle_sendack(&mut self, token: SendToken, outcome: SendOutcome) {
        let _ = (token, outcome);
        todo!()
    }

    /// RECV a message to this connection: the person channel id rewritten for this uid,
    /// red dot off for the sender's own devices, the payload encrypted and `msgKey` computed
    /// with this connection's key; kept for a retry until acknowledged. Ignored before login
    /// and for the connection in `delivery.sender`.
    pub fn deliver(&mut self, now_ms: u64, delivery: &Delivery) {
        let _ = (now_ms, delivery);
        todo!()
    }

    /// DISCONNECT with the reason, then closed.
    pub fn kick(&mut self, reason_code: ReasonCode, reason: &str) {
        let _ = (reason_code, reason);
        todo!()
    }

    /// Timers: connect timeout, idle timeout, RECV retries.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let _ = now_ms;
        todo!()
    }

    /// When [`Conn::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        todo!()
    }

    /// The next thing the driver must do.
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    /// The next frame to write.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        todo!()
    }

    /// False while the connection may not take more input (sends in flight at their bound,
    /// or closed): the driver stops reading the socket.
    pub fn wants_input(&self) -> bool {
        todo!()
    }

    /// Closed: write what `poll_transmit` still has, then close the socket.
    pub fn is_closed(&self) -> bool {
        todo!()
    }

    pub fn close_reason(&self) -> Option<&CloseReason> {
        todo!()
    }

    /// The logged-in uid (empty before login).
    pub fn uid(&self) -> &str {
        todo!()
    }

    pub fn device_flag(&self) -> u8 {
        todo!()
    }

    pub fn device_id(&self) -> &str {
        todo!()
    }

    /// The negotiated protocol version (0 before CONNECT).
    pub fn version(&self) -> u8 {
        todo!()
    }

    /// JSON-RPC rather than WKProto.
    pub fn is_json_rpc(&self) -> bool {
        todo!()
    }

    /// Bytes queued for the socket now.
    pub fn outbound_bytes(&self) -> usize {
        todo!()
    }
}

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
//! - `binary`: WKProto packets (CONNECT, SEND, RECVACK, PING, SUB, DISCONNECT) and the
//!   packets answering them; `jsonrpc`: the same for JSON-RPC connections (wkproto.md §5);
//!   `unacked`: RECVs sent and waiting for their RECVACK.
//! - Inbound, the connection is one byte stream (wkproto.md §1.4); outbound, every packet is
//!   its own [`Frame`]. Every queue is bounded: events by `sends_in_flight_max` (+1 login),
//!   outbound by `outbound_bytes_max`, inbound by `Conn::inbound_bytes_max`.

mod binary;
mod jsonrpc;
#[cfg(test)]
mod tests;
mod types;
mod unacked;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::BytesMut;
use protocol::crypto::{salt_from_random, KeyPair, Session};
use protocol::jsonrpc::{Header, JsonRpcDecoder};
use protocol::limits::{VARINT_BYTES_MAX, VARINT_VALUE_MAX};
use protocol::{Decoder, Flags, ReasonCode, Version};

pub use self::types::{
    CloseReason, ConnConfig, Event, Frame, Login, LoginOutcome, SendOutcome, SendToken, Transport,
};
use self::unacked::Unacked;
use super::Delivery;

/// A frame's header byte and remaining length take at most this many bytes.
const FRAME_HEAD_BYTES_MAX: usize = 1 + VARINT_BYTES_MAX;

/// A text reason (DISCONNECT, [`CloseReason::Protocol`]) is cut to this many bytes: enough
/// for any message of ours or of the codec, far below the 32767 a wire string may hold.
const REASON_BYTES_MAX: usize = 256;

/// Where the connection is in its life (the diagram at the top).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitConnect,
    /// CONNECT taken, [`Event::Login`] handed out, its answer not yet in. Input is not
    /// decoded meanwhile: what follows CONNECT belongs to a logged-in session.
    Authenticating,
    Open,
    Closed,
}

/// Which protocol the connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A WebSocket that has not yet sent a non-whitespace byte.
    Undecided,
    Binary,
    JsonRpc,
}

/// What the answer to a login needs.
struct PendingLogin {
    login: Login,
    client_timestamp: i64,
    /// The JSON-RPC `connect` request's id; `None` on WKProto.
    request_id: Option<String>,
}

/// What the answer to a send needs.
enum PendingSend {
    Binary { flags: Flags, client_seq: u32 },
    JsonRpc { request_id: String, header: Header },
}

/// One connection's protocol state.
pub struct Conn {
    /// Shared by every connection of a listener: an idle connection's task is most of what
    /// it costs, and its size decides the allocator's size class.
    config: Arc<ConnConfig>,
    phase: Phase,
    mode: Mode,
    close_reason: Option<CloseReason>,
    /// The latest time passed in: the machine's clock never goes back.
    now_ms: u64,
    /// The connect deadline before login, the idle deadline after.
    deadline_ms: u64,
    inbound: BytesMut,
    decoder: Decoder,
    json_decoder: JsonRpcDecoder,
    /// Needed until CONNACK only; boxed, like the pending login, to keep an idle
    /// connection's task small.
    key_pair: Option<Box<KeyPair>>,
    salt: String,
    /// Set at CONNECT (WKProto only; JSON-RPC has no encryption).
    session: Option<Session>,
    /// Negotiated at CONNECT; 0 before.
    version: Version,
    uid: String,
    device_flag: u8,
    device_id: String,
    login: Option<Box<PendingLogin>>,
    events: VecDeque<Event>,
    sends: BTreeMap<SendToken, PendingSend>,
    next_token: SendToken,
    outbound: VecDeque<Frame>,
    outbound_bytes: usize,
    unacked: Unacked,
}

impl Conn {
    /// A connection accepted at `now_ms`. `random` seeds its key pair (32 bytes) and salt
    /// (16 bytes): the driver draws them, the machine has no RNG.
    pub fn new(
        config: impl Into<Arc<ConnConfig>>,
        transport: Transport,
        now_ms: u64,
        random: [u8; 48],
    ) -> Conn {
        let config = config.into();
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&random[..32]);
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&random[32..]);
        let frame_body_bytes_max = config.frame_body_bytes_max.min(VARINT_VALUE_MAX);
        Conn {
            phase: Phase::AwaitConnect,
            mode: match transport {
                Transport::Tcp => Mode::Binary,
                Transport::WebSocket => Mode::Undecided,
            },
            close_reason: None,
            now_ms,
            deadline_ms: now_ms.saturating_add(config.connect_timeout_ms),
            inbound: BytesMut::new(),
            decoder: Decoder::new(Version::LATEST).with_frame_body_bytes_max(frame_body_bytes_max),
            json_decoder: JsonRpcDecoder::with_message_bytes_max(frame_body_bytes_max),
            key_pair: Some(Box::new(KeyPair::from_secret_bytes(secret))),
            salt: salt_from_random(salt),
            session: None,
            version: Version::negotiate(0),
            uid: String::new(),
            device_flag: 0,
            device_id: String::new(),
            login: None,
            events: VecDeque::new(),
            sends: BTreeMap::new(),
            next_token: 1,
            outbound: VecDeque::new(),
            outbound_bytes: 0,
            unacked: Unacked::new(config.recvs_unacked_max, config.outbound_bytes_max),
            config,
        }
    }

    /// Bytes read from the socket (TCP bytes or one WebSocket message's payload), in order.
    pub fn handle_input(&mut self, now_ms: u64, bytes: &[u8]) {
        self.advance_clock(now_ms);
        if self.phase == Phase::Closed || bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Open {
            self.deadline_ms = self.now_ms.saturating_add(self.config.idle_timeout_ms);
        }
        self.inbound.extend_from_slice(bytes);
        self.process_input();
        if self.phase != Phase::Closed && self.inbound.len() > self.inbound_bytes_max() {
            self.protocol_error(ReasonCode::RATE_LIMIT, "input while told to stop reading");
        }
    }

    /// The answer to [`Event::Login`].
    pub fn handle_login(&mut self, now_ms: u64, outcome: LoginOutcome) {
        self.advance_clock(now_ms);
        if self.phase != Phase::Authenticating {
            return;
        }
        let Some(pending) = self.login.take() else { return };
        let time_diff = time_diff_ms(self.now_ms, pending.client_timestamp);
        match outcome {
            LoginOutcome::Accepted { .. } => {
                self.phase = Phase::Open;
                self.deadline_ms = self.now_ms.saturating_add(self.config.idle_timeout_ms);
                self.uid = pending.login.uid;
                match pending.request_id {
                    None => self.send_connack_success(time_diff),
                    Some(id) => self.reply_connect(id, time_diff, ReasonCode::SUCCESS),
                }
                self.process_input();
            }
            LoginOutcome::Refused(code) => self.refuse_login(pending.request_id, time_diff, code),
        }
    }

    /// The answer to [`Event::Send`]: a SENDACK (or JSON-RPC response).
    pub fn handle_sendack(&mut self, token: SendToken, outcome: SendOutcome) {
        if self.phase == Phase::Closed {
            return;
        }
        let Some(pending) = self.sends.remove(&token) else { return };
        let (message_id, message_seq, reason_code) = match outcome {
            SendOutcome::Sent { message_id, message_seq } => {
                (message_id, wire_seq(message_seq), ReasonCode::SUCCESS)
            }
            SendOutcome::Refused(code) => (0, 0, code),
        };
        match pending {
            PendingSend::Binary { flags, client_seq } => {
                self.send_sendack(flags, client_seq, message_id, message_seq, reason_code)
            }
            PendingSend::JsonRpc { request_id, header } => {
                self.reply_send(request_id, header, message_id, message_seq, reason_code)
            }
        }
        self.process_input();
    }

    /// RECV a message to this connection: the person channel id rewritten for this uid,
    /// red dot off for the sender's own devices, the payload encrypted and `msgKey` computed
    /// with this connection's key; kept for a retry until acknowledged (unless
    /// `no_persist`: WuKongIM keeps no retry for those). Ignored before login.
    pub fn deliver(&mut self, now_ms: u64, delivery: &Delivery) {
        self.advance_clock(now_ms);
        if self.phase != Phase::Open {
            return;
        }
        let frame = match self.mode {
            Mode::JsonRpc => self.recv_notification(delivery),
            _ => self.recv_frame(delivery),
        };
        let Some(frame) = frame else { return };
        if !self.queue(frame.clone()) {
            return;
        }
        let no_persist = delivery.header & crate::sm::message_record::HEADER_NO_PERSIST != 0;
        if !no_persist && self.config.recv_retries_max > 0 {
            let due_ms = self.now_ms.saturating_add(self.config.recv_retry_ms);
            self.unacked.insert(delivery.message_id, frame, due_ms);
        }
    }

    /// DISCONNECT with the reason, then closed.
    pub fn kick(&mut self, reason_code: ReasonCode, reason: &str) {
        if self.phase == Phase::Closed {
            return;
        }
        self.queue_disconnect(reason_code, reason);
        self.close(CloseReason::Kicked(reason_code));
    }

    /// Timers: connect timeout, idle timeout, RECV retries.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.advance_clock(now_ms);
        if self.phase == Phase::Closed {
            return;
        }
        if self.now_ms >= self.deadline_ms {
            // No DISCONNECT: JS would stop reconnecting, and a silent peer is likely gone.
            self.close(CloseReason::Timeout);
            return;
        }
        let due = self.unacked.take_due(self.now_ms, self.config.recv_retry_ms, self.config.recv_retries_max);
        for frame in due {
            if !self.queue(frame) {
                return;
            }
        }
    }

    /// When [`Conn::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase == Phase::Closed {
            return None;
        }
        Some(self.unacked.next_due_ms().map_or(self.deadline_ms, |due| due.min(self.deadline_ms)))
    }

    /// The next thing the driver must do.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > 0 {
            // An event is a few hundred bytes and a deque keeps its room: an idle
            // connection should not hold the room of its login.
            self.events = VecDeque::new();
        }
        event
    }

    /// The next frame to write.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        let Some(frame) = self.outbound.pop_front() else {
            if self.outbound.capacity() > 0 {
                self.outbound = VecDeque::new();
            }
            return None;
        };
        self.outbound_bytes -= frame_len(&frame);
        Some(frame)
    }

    /// False while the connection may not take more input (login or sends in flight at
    /// their bound, or closed): the driver stops reading the socket.
    pub fn wants_input(&self) -> bool {
        !self.is_paused()
    }

    /// Closed: write what `poll_transmit` still has, then close the socket.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// The logged-in uid (empty before login).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    pub fn device_flag(&self) -> u8 {
        self.device_flag
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The negotiated protocol version (0 before CONNECT).
    pub fn version(&self) -> u8 {
        self.version.get()
    }

    /// JSON-RPC rather than WKProto.
    pub fn is_json_rpc(&self) -> bool {
        self.mode == Mode::JsonRpc
    }

    /// Bytes queued for the socket now.
    pub fn outbound_bytes(&self) -> usize {
        self.outbound_bytes
    }

    /// Inbound bytes buffered at most. Decoding leaves at most one unfinished frame
    /// (`FRAME_HEAD_BYTES_MAX + frame_body_bytes_max`); while decoding is paused the driver
    /// stops reading, so at most one more read (one WebSocket message, or one TCP read, each
    /// below the frame limit) arrives on top. More means the driver ignores
    /// [`Conn::wants_input`]: closed rather than grown.
    fn inbound_bytes_max(&self) -> usize {
        2 * (FRAME_HEAD_BYTES_MAX + self.config.frame_body_bytes_max)
    }

    fn advance_clock(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    fn is_paused(&self) -> bool {
        match self.phase {
            Phase::Closed | Phase::Authenticating => true,
            Phase::AwaitConnect | Phase::Open => self.sends.len() >= self.config.sends_in_flight_max,
        }
    }

    /// Decodes and handles what is buffered, until it runs out or decoding pauses. Every
    /// round consumes a frame or ends the loop, so it is bounded by the buffer.
    fn process_input(&mut self) {
        while !self.is_paused() {
            let progressed = match self.mode {
                Mode::Undecided => self.decide_mode(),
                Mode::Binary => self.decode_packet(),
                Mode::JsonRpc => self.decode_message(),
            };
            if !progressed {
                return;
            }
        }
    }

    /// A WebSocket's first non-whitespace byte `{` makes it JSON-RPC, anything else WKProto.
    fn decide_mode(&mut self) -> bool {
        let Some(&first) = self.inbound.iter().find(|&&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) else {
            return false;
        };
        self.mode = if first == b'{' { Mode::JsonRpc } else { Mode::Binary };
        true
    }

    /// Queues a frame, unless that puts the queue above `outbound_bytes_max`: then the
    /// client is a slow consumer, its queue is dropped and it is closed. False if closed.
    fn queue(&mut self, frame: Frame) -> bool {
        let len = frame_len(&frame);
        if self.outbound_bytes.saturating_add(len) > self.config.outbound_bytes_max {
            self.outbound.clear();
            self.outbound_bytes = 0;
            self.close(CloseReason::SlowConsumer);
            return false;
        }
        self.outbound_bytes += len;
        self.outbound.push_back(frame);
        true
    }

    /// DISCONNECT (or the JSON-RPC `disconnect` notification), if the protocol is known.
    fn queue_disconnect(&mut self, reason_code: ReasonCode, reason: &str) {
        let reason = cut(reason, REASON_BYTES_MAX);
        match self.mode {
            Mode::Undecided => {}
            Mode::Binary => self.send_disconnect(reason_code, reason),
            Mode::JsonRpc => self.notify_disconnect(reason_code, reason),
        }
    }

    /// The peer broke the protocol: DISCONNECT with a reason, then closed.
    fn protocol_error(&mut self, reason_code: ReasonCode, reason: &str) {
        self.queue_disconnect(reason_code, reason);
        self.close(CloseReason::Protocol(cut(reason, REASON_BYTES_MAX)));
    }

    /// Closed for good: no more events, input or timers; queued frames stay to be written.
    fn close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.close_reason = Some(reason);
        self.events.clear();
        self.sends.clear();
        self.login = None;
        self.unacked.clear();
        self.inbound = BytesMut::new();
    }
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Binary(bytes) | Frame::Text(bytes) => bytes.len(),
    }
}

/// CONNACK's `timeDiff`: the server's clock minus the client's, in milliseconds.
fn time_diff_ms(now_ms: u64, client_timestamp_ms: i64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX).saturating_sub(client_timestamp_ms)
}

/// A message seq as the wire carries it (u32 up to protocol version 5). A channel would need
/// four billion messages to saturate it.
fn wire_seq(message_seq: u64) -> u32 {
    u32::try_from(message_seq).unwrap_or(u32::MAX)
}

/// `text` cut to at most `bytes_max` bytes, at a character boundary.
fn cut(text: &str, bytes_max: usize) -> String {
    let mut end = text.len().min(bytes_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

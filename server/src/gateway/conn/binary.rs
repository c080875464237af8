//! WKProto (wkproto.md §2): the packets a client sends, and the packets answering them.

use bytes::Bytes;
use protocol::crypto::Session;
use protocol::limits::{STRING_BYTES_MAX, VARINT_VALUE_MAX};
use protocol::{
    ChannelType, Connack, Connect, Disconnect, Error, Flags, Packet, PacketType, ReasonCode, Recv, Send,
    Sendack, Setting, Suback, Version,
};

use super::{
    time_diff_ms, wire_seq, CloseReason, Conn, Event, Frame, Login, PendingLogin, PendingSend, Phase,
};
use crate::gateway::Delivery;
use crate::ids::{person_peer, CHANNEL_PERSON};
use crate::service::channel_input::check_id;
use crate::service::messages::{MessageHeader, SendOrigin, SendRequest};
use crate::sm::message_record::{HEADER_NO_PERSIST, HEADER_RED_DOT, HEADER_SYNC_ONCE};

/// Setting bits never put in a RECV: the stream bits add fields whose two legacy layouts
/// disagree (wkproto.md §8.7), and every JS client decrypts, so a NO_ENCRYPT sender's message
/// is encrypted for each receiving connection all the same.
const RECV_SETTING_CLEARED: u8 = Setting::STREAM.0 | Setting::STREAM_LEGACY.0 | Setting::NO_ENCRYPT.0;

impl Conn {
    /// Decodes and handles one packet; false when no whole packet is buffered.
    pub(super) fn decode_packet(&mut self) -> bool {
        if let Some(early) = self.packet_before_connect() {
            self.protocol_error(ReasonCode::AUTH_FAIL, &format!("{early:?} before CONNECT"));
            return true;
        }
        match self.decoder.decode(&mut self.inbound) {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => return false,
            Err(error) => self.protocol_error(decode_error_code(&error), &error.to_string()),
        }
        true
    }

    /// The type of a packet that starts the stream and is not CONNECT (nor DISCONNECT), told
    /// from its header byte: refused without waiting for its body.
    fn packet_before_connect(&self) -> Option<PacketType> {
        if self.phase != Phase::AwaitConnect {
            return None;
        }
        let packet_type = PacketType::from_nibble(self.inbound.first()? >> 4)?;
        match packet_type {
            PacketType::Connect | PacketType::Disconnect => None,
            _ => Some(packet_type),
        }
    }

    fn on_packet(&mut self, packet: Packet) {
        match (self.phase, packet) {
            (_, Packet::Disconnect(_)) => self.close(CloseReason::ClientDisconnect),
            (Phase::AwaitConnect, Packet::Connect(connect)) => self.on_connect(connect),
            (Phase::AwaitConnect, packet) => self
                .protocol_error(ReasonCode::AUTH_FAIL, &format!("{:?} before CONNECT", packet.packet_type())),
            (_, Packet::Connect(_)) => {
                self.protocol_error(ReasonCode::NOT_SUPPORT_HEADER, "a second CONNECT")
            }
            (_, Packet::Send(send)) => self.on_send(send),
            (_, Packet::Recvack(ack)) => self.unacked.remove(ack.message_id),
            (_, Packet::Ping) => self.queue_packet(&Packet::Pong),
            (_, Packet::Sub(sub)) => {
                // WuKongIM v2 has no SUB handler; JS matches the SUBACK by channel.
                let suback = Suback {
                    sub_no: sub.sub_no,
                    channel_id: sub.channel_id,
                    channel_type: sub.channel_type,
                    action: sub.action,
                    reason_code: ReasonCode::SUCCESS,
                };
                self.queue_packet(&Packet::Suback(suback));
            }
            (_, packet) => self.protocol_error(
                ReasonCode::NOT_SUPPORT_HEADER,
                &format!("{:?} is a packet only servers send", packet.packet_type()),
            ),
        }
    }

    fn on_connect(&mut self, connect: Connect) {
        self.version = Version::negotiate(connect.version);
        self.decoder.set_version(self.version);
        self.device_flag = connect.device_flag.0;
        self.device_id = connect.device_id;
        let time_diff = time_diff_ms(self.now_ms, connect.client_timestamp);
        if check_id("uid", &connect.uid).is_err() {
            return self.refuse_login(None, time_diff, ReasonCode::AUTH_FAIL);
        }
        if connect.client_key.is_empty() {
            return self.refuse_login(None, time_diff, ReasonCode::CLIENT_KEY_IS_EMPTY);
        }
        let Some(key_pair) = self.key_pair.as_deref() else {
            return self.refuse_login(None, time_diff, ReasonCode::AUTH_FAIL);
        };
        match Session::accept(key_pair, &connect.client_key, &self.salt) {
            Ok(session) => self.session = Some(session),
            Err(error) => return self.refuse_login(None, time_diff, error.reason_code()),
        }
        let login = Login {
            uid: connect.uid,
            token: connect.token,
            device_flag: self.device_flag,
            device_id: self.device_id.clone(),
            version: self.version.get(),
        };
        self.start_login(login, connect.client_timestamp, None);
    }

    /// Hands the login out and waits for its answer.
    pub(super) fn start_login(&mut self, login: Login, client_timestamp: i64, request_id: Option<String>) {
        self.phase = Phase::Authenticating;
        self.events.push_back(Event::Login(login.clone()));
        self.login = Some(Box::new(PendingLogin { login, client_timestamp, request_id }));
    }

    /// A failure CONNACK (or `connect` result) with `code`, then closed.
    pub(super) fn refuse_login(&mut self, request_id: Option<String>, time_diff: i64, code: ReasonCode) {
        match request_id {
            None => {
                let connack = Connack::failure(self.version, time_diff, code, self.config.node_id);
                self.queue_packet(&Packet::Connack(connack));
            }
            Some(id) => self.reply_connect(id, time_diff, code),
        }
        self.close(CloseReason::Refused(code));
    }

    pub(super) fn send_connack_success(&mut self, time_diff: i64) {
        // The key pair's last use: the session holds what CONNECT derived from it.
        let public_key =
            self.key_pair.take().map(|key_pair| key_pair.public_key_base64()).unwrap_or_default();
        let connack = Connack::new(
            self.version,
            time_diff,
            ReasonCode::SUCCESS,
            public_key,
            // Its last use too: the session keeps it as its IV.
            std::mem::take(&mut self.salt),
            self.config.node_id,
        );
        self.queue_packet(&Packet::Connack(connack));
    }

    fn on_send(&mut self, send: Send) {
        let Some(session) = &self.session else {
            return self.protocol_error(ReasonCode::AUTH_FAIL, "SEND without a session");
        };
        let plaintext = match session.open_send(&send) {
            Ok(plaintext) => plaintext,
            Err(error) => {
                // A correct client never gets here: its key is wrong or its bytes are broken.
                let code = match error {
                    Error::MsgKeyMismatch => ReasonCode::MSG_KEY_ERROR,
                    _ => ReasonCode::PAYLOAD_DECODE_ERROR,
                };
                self.send_sendack(send.flags, send.client_seq, 0, 0, code);
                return self.protocol_error(code, &error.to_string());
            }
        };
        let request = SendRequest {
            origin: SendOrigin::Client,
            from_uid: self.uid.clone(),
            channel_id: send.channel_id,
            channel_type: send.channel_type.0,
            client_msg_no: send.client_msg_no,
            header: MessageHeader {
                no_persist: send.flags.no_persist,
                red_dot: send.flags.red_dot,
                sync_once: send.flags.sync_once,
            },
            setting: send.setting.0,
            expire: send.expire,
            topic: send.topic,
            payload: Bytes::from(plaintext),
            sender_conn: None,
        };
        let pending = PendingSend::Binary { flags: send.flags, client_seq: send.client_seq };
        self.hand_out_send(request, pending);
    }

    pub(super) fn hand_out_send(&mut self, request: SendRequest, pending: PendingSend) {
        let token = self.next_token;
        self.next_token += 1;
        self.sends.insert(token, pending);
        self.events.push_back(Event::Send { token, request });
    }

    /// SENDACK: the SEND's flags and client_seq copied (as Server v2).
    pub(super) fn send_sendack(
        &mut self,
        flags: Flags,
        client_seq: u32,
        message_id: i64,
        message_seq: u32,
        reason_code: ReasonCode,
    ) {
        let ack = Sendack { flags, message_id, client_seq, message_seq, reason_code };
        self.queue_packet(&Packet::Sendack(ack));
    }

    pub(super) fn send_disconnect(&mut self, reason_code: ReasonCode, reason: String) {
        self.queue_packet(&Packet::Disconnect(Disconnect { reason_code, reason }));
    }

    /// The RECV of `delivery` for this connection, encrypted with its session; `None` when
    /// the message cannot go on the wire (a string above the protocol's limit).
    pub(super) fn recv_frame(&self, delivery: &Delivery) -> Option<Frame> {
        let session = self.session.as_ref()?;
        let channel_id = self.shown_channel_id(delivery);
        let strings = [delivery.from_uid.as_str(), channel_id, &delivery.client_msg_no, &delivery.topic];
        if strings.iter().any(|s| s.len() > STRING_BYTES_MAX) {
            return None;
        }
        let mut recv = Recv {
            flags: Flags {
                dup: false,
                sync_once: delivery.header & HEADER_SYNC_ONCE != 0,
                red_dot: self.shows_red_dot(delivery),
                no_persist: delivery.header & HEADER_NO_PERSIST != 0,
            },
            setting: Setting(delivery.setting & !RECV_SETTING_CLEARED),
            from_uid: delivery.from_uid.clone(),
            channel_id: channel_id.to_string(),
            channel_type: ChannelType(delivery.channel_type),
            expire: delivery.expire,
            client_msg_no: delivery.client_msg_no.clone(),
            message_id: delivery.message_id,
            message_seq: wire_seq(delivery.message_seq),
            timestamp: timestamp_secs(delivery.timestamp_ms),
            topic: delivery.topic.clone(),
            ..Recv::default()
        };
        session.seal_recv(&mut recv, &delivery.payload);
        let packet = Packet::Recv(recv);
        if packet.encoded_len(self.version) > VARINT_VALUE_MAX {
            return None;
        }
        Some(Frame::Binary(self.encode(&packet)))
    }

    /// Person channels are stored as `a@b`; each side sees the other's uid.
    pub(super) fn shown_channel_id<'a>(&self, delivery: &'a Delivery) -> &'a str {
        if delivery.channel_type == CHANNEL_PERSON {
            person_peer(&delivery.channel_id, &self.uid).unwrap_or(&delivery.channel_id)
        } else {
            &delivery.channel_id
        }
    }

    /// Red dot as sent, but off on the sender's own devices (Server v2).
    pub(super) fn shows_red_dot(&self, delivery: &Delivery) -> bool {
        delivery.header & HEADER_RED_DOT != 0 && delivery.from_uid != self.uid
    }

    fn encode(&self, packet: &Packet) -> Bytes {
        let mut buf = Vec::with_capacity(packet.encoded_len(self.version));
        packet.encode(self.version, &mut buf);
        Bytes::from(buf)
    }

    fn queue_packet(&mut self, packet: &Packet) {
        let frame = Frame::Binary(self.encode(packet));
        self.queue(frame);
    }
}

/// RECV's timestamp: seconds, kept within 0..=i32::MAX (JS reads it unsigned).
pub(super) fn timestamp_secs(timestamp_ms: i64) -> i32 {
    i32::try_from(timestamp_ms.div_euclid(1000).max(0)).unwrap_or(i32::MAX)
}

/// The DISCONNECT reason for a stream that does not decode: a packet type the server does
/// not take is `NOT_SUPPORT_HEADER` (the header names it); bytes that do not make a packet
/// are `PAYLOAD_DECODE_ERROR`. JS only tells 1 from "not 1"; the text says the rest.
pub(super) fn decode_error_code(error: &Error) -> ReasonCode {
    match error {
        Error::UnknownPacketType(_) | Error::PacketNotInVersion { .. } | Error::UnknownMethod(_) => {
            ReasonCode::NOT_SUPPORT_HEADER
        }
        _ => ReasonCode::PAYLOAD_DECODE_ERROR,
    }
}

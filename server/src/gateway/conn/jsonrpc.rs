//! JSON-RPC connections (wkproto.md §5): the same session as WKProto, as JSON objects, one
//! per text frame, without encryption.

use bytes::Bytes;
use protocol::jsonrpc::{
    Call, ConnectParams, ConnectResult, DisconnectParams, Header, Message, Notification, Outcome, Payload,
    RecvParams, Request, Response, SendParams, SendResult, SettingFlags, SubscriptionResult,
};
use protocol::{ReasonCode, Setting, SubAction, Version};

use super::binary::{decode_error_code, timestamp_secs};
use super::{time_diff_ms, wire_seq, CloseReason, Conn, Frame, Login, PendingSend, Phase};
use crate::gateway::Delivery;
use crate::service::channel_input::check_id;
use crate::service::messages::{MessageHeader, SendOrigin, SendRequest};
use crate::sm::message_record::{HEADER_NO_PERSIST, HEADER_SYNC_ONCE};

impl Conn {
    /// Decodes and handles one message; false when no whole message is buffered.
    pub(super) fn decode_message(&mut self) -> bool {
        match self.json_decoder.decode(&mut self.inbound) {
            Ok(Some(message)) => self.on_message(message),
            Ok(None) => return false,
            Err(error) => self.protocol_error(decode_error_code(&error), &error.to_string()),
        }
        true
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::Request(request) => self.on_request(request),
            Message::Notification(Notification::Disconnect(_)) => self.close(CloseReason::ClientDisconnect),
            Message::Notification(Notification::RecvAck(ack)) if self.phase == Phase::Open => {
                self.unacked.remove(ack.message_id)
            }
            Message::Notification(Notification::RecvAck(_)) => {
                self.protocol_error(ReasonCode::AUTH_FAIL, "recvack before connect")
            }
            Message::Notification(_) | Message::Response(_) => {
                self.protocol_error(ReasonCode::NOT_SUPPORT_HEADER, "a message only servers send")
            }
        }
    }

    fn on_request(&mut self, Request { id, call }: Request) {
        match (self.phase, call) {
            (_, Call::Disconnect(_)) => self.close(CloseReason::ClientDisconnect),
            (Phase::AwaitConnect, Call::Connect(params)) => self.on_connect_request(id, params),
            (Phase::AwaitConnect, _) => {
                self.protocol_error(ReasonCode::AUTH_FAIL, "a request before connect")
            }
            (_, Call::Connect(_)) => self.protocol_error(ReasonCode::NOT_SUPPORT_HEADER, "a second connect"),
            (_, Call::Send(params)) => self.on_send_request(id, params),
            (_, Call::Subscribe(params)) => {
                // As SUB on WKProto: answered, nothing to do (WuKongIM marks it unsupported).
                self.reply_subscription(
                    id,
                    params.sub_no,
                    params.channel_id,
                    params.channel_type,
                    SubAction::SUBSCRIBE,
                )
            }
            (_, Call::Unsubscribe(params)) => self.reply_subscription(
                id,
                params.sub_no,
                params.channel_id,
                params.channel_type,
                SubAction::UNSUBSCRIBE,
            ),
            (_, Call::Ping) => self.respond(Response { id, outcome: Outcome::Empty }),
        }
    }

    fn on_connect_request(&mut self, id: String, params: ConnectParams) {
        // No encryption, so no clientKey; version 0 (or absent) means the latest.
        self.version = if params.version == 0 { Version::LATEST } else { Version::negotiate(params.version) };
        self.device_flag = params.device_flag.0;
        self.device_id = params.device_id;
        if check_id("uid", &params.uid).is_err() {
            let time_diff = time_diff_ms(self.now_ms, params.client_timestamp);
            return self.refuse_login(Some(id), time_diff, ReasonCode::AUTH_FAIL);
        }
        let login = Login {
            uid: params.uid,
            token: params.token,
            device_flag: self.device_flag,
            device_id: self.device_id.clone(),
            version: self.version.get(),
        };
        self.start_login(login, params.client_timestamp, Some(id));
    }

    /// The `connect` result. Like Server v2, a refusal is a result with its reason code too.
    pub(super) fn reply_connect(&mut self, id: String, time_diff: i64, reason_code: ReasonCode) {
        let result = ConnectResult {
            server_version: self.version.get(),
            time_diff,
            reason_code,
            node_id: self.config.node_id,
            ..ConnectResult::default()
        };
        self.respond(Response::result(id, &result));
    }

    fn on_send_request(&mut self, id: String, params: SendParams) {
        let request = SendRequest {
            origin: SendOrigin::Client,
            from_uid: self.uid.clone(),
            channel_id: params.channel_id,
            channel_type: params.channel_type.0,
            client_msg_no: params.client_msg_no,
            header: MessageHeader {
                no_persist: params.header.no_persist,
                red_dot: params.header.red_dot,
                sync_once: params.header.sync_once,
            },
            setting: Setting::from(params.setting).0,
            expire: params.expire,
            topic: params.topic,
            payload: params.payload.0,
            sender_conn: None,
        };
        self.hand_out_send(request, PendingSend::JsonRpc { request_id: id, header: params.header });
    }

    pub(super) fn reply_send(
        &mut self,
        id: String,
        header: Header,
        message_id: i64,
        message_seq: u32,
        reason_code: ReasonCode,
    ) {
        let result = SendResult { header, message_id, message_seq, reason_code };
        self.respond(Response::result(id, &result));
    }

    fn reply_subscription(
        &mut self,
        id: String,
        sub_no: String,
        channel_id: String,
        channel_type: protocol::ChannelType,
        action: SubAction,
    ) {
        let result = SubscriptionResult {
            sub_no,
            channel_id,
            channel_type,
            action,
            reason_code: ReasonCode::SUCCESS,
            ..SubscriptionResult::default()
        };
        self.respond(Response::result(id, &result));
    }

    pub(super) fn notify_disconnect(&mut self, reason_code: ReasonCode, reason: String) {
        let notification = Notification::Disconnect(DisconnectParams { reason_code, reason });
        self.queue(text_frame(&Message::Notification(notification)));
    }

    /// The `recv` notification of `delivery`: plaintext payload, no msgKey.
    pub(super) fn recv_notification(&self, delivery: &Delivery) -> Option<Frame> {
        let params = RecvParams {
            header: Header {
                no_persist: delivery.header & HEADER_NO_PERSIST != 0,
                red_dot: self.shows_red_dot(delivery),
                sync_once: delivery.header & HEADER_SYNC_ONCE != 0,
                ..Header::default()
            },
            setting: SettingFlags::from(Setting(delivery.setting)),
            expire: delivery.expire,
            message_id: delivery.message_id,
            message_seq: wire_seq(delivery.message_seq),
            client_msg_no: delivery.client_msg_no.clone(),
            timestamp: timestamp_secs(delivery.timestamp_ms),
            channel_id: self.shown_channel_id(delivery).to_string(),
            channel_type: protocol::ChannelType(delivery.channel_type),
            topic: delivery.topic.clone(),
            from_uid: delivery.from_uid.clone(),
            payload: Payload(delivery.payload.clone()),
            ..RecvParams::default()
        };
        Some(text_frame(&Message::Notification(Notification::Recv(params))))
    }

    fn respond(&mut self, response: Response) {
        self.queue(text_frame(&Message::Response(response)));
    }
}

fn text_frame(message: &Message) -> Frame {
    Frame::Text(Bytes::from(message.to_vec()))
}

//! The JSON-RPC protocol (wkproto.md §5): the doc's examples, Server v2's shapes, the stream
//! decoder, and a round trip of every message kind.

mod common;

use bytes::{Bytes, BytesMut};
use common::config;
use proptest::prelude::*;
use protocol::jsonrpc::{
    is_json_rpc, Call, ConnectParams, ConnectResult, DisconnectParams, ErrorObject, EventParams, Header,
    JsonRpcDecoder, Message, Notification, Outcome, Payload, RecvAckParams, RecvParams, Request, Response,
    SendParams, SendResult, SettingFlags, SubscribeParams, UnsubscribeParams,
};
use protocol::{ChannelType, DeviceFlag, Error, Flags, ReasonCode, Setting};
use serde_json::json;

fn decode(text: &str) -> Message {
    Message::decode(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn connect_request_minimal_example() {
    let message =
        decode(r#"{"method":"connect","params":{"uid":"testUser","token":"testToken"},"id":"req-conn-1"}"#);
    let expected =
        ConnectParams { uid: "testUser".into(), token: "testToken".into(), ..ConnectParams::default() };
    assert_eq!(message, Message::Request(Request { id: "req-conn-1".into(), call: Call::Connect(expected) }));
}

#[test]
fn connect_request_full() {
    let message = decode(
        r#"{"jsonrpc":"2.0","method":"connect","id":"1","params":{"uid":"u1","token":"t","version":5,
            "clientKey":"k","deviceId":"d","deviceFlag":1,"clientTimestamp":1700000000000,"header":{"redDot":true}}}"#,
    );
    let Message::Request(Request { call: Call::Connect(params), .. }) = message else {
        panic!("{message:?}")
    };
    assert_eq!(params.version, 5);
    assert_eq!(params.device_flag, DeviceFlag::WEB);
    assert_eq!(params.client_timestamp, 1_700_000_000_000);
    assert!(params.header.red_dot);
}

#[test]
fn connect_result_uses_binary_reason_codes() {
    let result = ConnectResult {
        time_diff: -15,
        reason_code: ReasonCode::SUCCESS,
        server_version: 5,
        node_id: 1,
        ..ConnectResult::default()
    };
    let text = Message::Response(Response::result("req-conn-1".into(), &result)).to_vec();
    let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(
        value,
        json!({"jsonrpc":"2.0","id":"req-conn-1","result":{"serverVersion":5,"timeDiff":-15,"reasonCode":1,"nodeId":1}})
    );
}

#[test]
fn send_payload_as_object_or_base64() {
    let object = decode(
        r#"{"method":"send","params":{"clientMsgNo":"uuid-12345","channelId":"targetUser","channelType":1,
            "payload":{"content":"Hello!","type":1}},"id":"req-send-1"}"#,
    );
    let Message::Request(Request { call: Call::Send(params), .. }) = object else { panic!("{object:?}") };
    assert_eq!(params.payload, Payload(Bytes::from(r#"{"content":"Hello!","type":1}"#)));
    assert_eq!(params.channel_type, ChannelType::PERSON);

    // Server v2's Go []byte field: a base64 string.
    let base64 =
        decode(r#"{"method":"send","id":"2","params":{"channelId":"g","channelType":2,"payload":"aGk="}}"#);
    let Message::Request(Request { call: Call::Send(params), .. }) = base64 else { panic!() };
    assert_eq!(params.payload.0, Bytes::from("hi"));
    assert!(Message::decode(br#"{"method":"send","id":"2","params":{"payload":"not base64!"}}"#).is_err());
}

#[test]
fn send_result_message_id_is_a_string() {
    let result = SendResult {
        message_id: 1_000_000_000_000_000_001,
        message_seq: 1001,
        reason_code: ReasonCode::SUCCESS,
        ..Default::default()
    };
    let value = serde_json::to_value(&result).unwrap();
    assert_eq!(value, json!({"messageId":"1000000000000000001","messageSeq":1001,"reasonCode":1}));
    assert_eq!(serde_json::from_value::<SendResult>(value).unwrap(), result);
}

/// The doc's example uses `"messageId":"serverMsgId2"`; real ids are decimal i64 strings
/// (`strconv.FormatInt`), and this codec types them, so the example is refused.
#[test]
fn recv_notification_doc_example_has_a_non_numeric_id() {
    let text = r#"{"method":"recv","params":{"messageId":"serverMsgId2","messageSeq":50,"timestamp":1678886400,
        "channelId":"senderUser","channelType":1,"fromUid":"senderUser","payload":{"content":"How are you?","type":1}}}"#;
    assert!(Message::decode(text.as_bytes()).is_err());
    let fixed = text.replace("serverMsgId2", "2");
    let Message::Notification(Notification::Recv(params)) = decode(&fixed) else { panic!() };
    assert_eq!(params.payload.0, Bytes::from(r#"{"content":"How are you?","type":1}"#));
}

#[test]
fn recv_and_recvack_notifications() {
    let recv = decode(
        r#"{"method":"recv","params":{"messageId":"42","messageSeq":50,"timestamp":1678886400,
            "channelId":"senderUser","channelType":1,"fromUid":"senderUser","payload":"eyJ0eXBlIjoxfQ==",
            "setting":{"topic":true},"header":{"noPersist":true}}}"#,
    );
    let Message::Notification(Notification::Recv(params)) = recv else { panic!("{recv:?}") };
    assert_eq!((params.message_id, params.message_seq), (42, 50));
    assert_eq!(params.payload.0, Bytes::from(r#"{"type":1}"#));
    assert_eq!(Setting::from(params.setting), Setting::TOPIC);
    assert_eq!(Flags::from(params.header), Flags { no_persist: true, ..Flags::default() });

    let ack = decode(r#"{"method":"recvack","params":{"messageId":"42","messageSeq":50}}"#);
    assert_eq!(
        ack,
        Message::Notification(Notification::RecvAck(RecvAckParams {
            message_id: 42,
            message_seq: 50,
            ..Default::default()
        }))
    );
}

#[test]
fn ping_pong() {
    for text in [
        r#"{"method":"ping","id":"req-ping-1"}"#,
        r#"{"method":"ping","id":"req-ping-1","params":null}"#,
        r#"{"method":"ping","id":"req-ping-1","params":{}}"#,
    ] {
        assert_eq!(
            decode(text),
            Message::Request(Request { id: "req-ping-1".into(), call: Call::Ping }),
            "{text}"
        );
    }
    assert!(Message::decode(br#"{"method":"ping","id":"1","params":{"x":1}}"#).is_err());
    // Server v2 answers a ping with an id and neither result nor error.
    let answer = Message::Response(Response { id: "req-ping-1".into(), outcome: Outcome::Empty });
    assert_eq!(answer.to_vec(), br#"{"jsonrpc":"2.0","id":"req-ping-1"}"#);
    assert_eq!(decode(r#"{"jsonrpc":"2.0","id":"req-ping-1"}"#), answer);
    // The doc's (and older servers') answer is a pong notification.
    assert_eq!(decode(r#"{"method":"pong"}"#), Message::Notification(Notification::Pong));
}

#[test]
fn disconnect_request_versus_notification() {
    let params = DisconnectParams { reason_code: ReasonCode(0), reason: String::new() };
    assert_eq!(
        decode(r#"{"method":"disconnect","params":{"reasonCode":0},"id":"req-disc-1"}"#),
        Message::Request(Request { id: "req-disc-1".into(), call: Call::Disconnect(params.clone()) })
    );
    let kick =
        decode(r#"{"method":"disconnect","params":{"reasonCode":12,"reason":"Kicked by another device"}}"#);
    assert_eq!(
        kick,
        Message::Notification(Notification::Disconnect(DisconnectParams {
            reason_code: ReasonCode::CONNECT_KICK,
            reason: "Kicked by another device".into()
        }))
    );
}

#[test]
fn error_response() {
    let message = decode(r#"{"error":{"code":1001,"message":"Authentication Failed"},"id":"req-conn-1"}"#);
    let expected = ErrorObject { code: 1001, message: "Authentication Failed".into(), data: None };
    assert_eq!(
        message,
        Message::Response(Response { id: "req-conn-1".into(), outcome: Outcome::Error(expected) })
    );
}

#[test]
fn malformed_messages() {
    for (text, why) in [
        (r#"{"jsonrpc":"1.0","method":"ping","id":"1"}"#, "wrong version"),
        (r#"{"method":"ping","id":1}"#, "numeric id (Go unmarshals ids into a string)"),
        (r#"{"id":"1","result":{},"error":{"code":1,"message":""}}"#, "result and error"),
        (r#"{"method":"send","id":"1","result":{}}"#, "method and result"),
        (r#"{"params":{}}"#, "neither method nor id"),
        (r#"{"method":"connect","id":"1"}"#, "missing params"),
        (
            r#"{"method":"recvack","id":"1","params":{"messageId":"1","messageSeq":1}}"#,
            "recvack is a notification",
        ),
        (r#"{"method":"recvack","params":{"messageId":"x","messageSeq":1}}"#, "non-numeric messageId"),
        (r#"{"method":"send","id":"1","params":{"channelType":300}}"#, "channel type above a byte"),
        (r#"["not","an","object"]"#, "not an object"),
    ] {
        assert!(Message::decode(text.as_bytes()).is_err(), "{why}: {text}");
    }
    assert!(matches!(
        Message::decode(br#"{"method":"fly","id":"1","params":{}}"#),
        Err(Error::UnknownMethod(m)) if m == "fly"
    ));
}

#[test]
fn detection_by_first_byte() {
    assert!(is_json_rpc(b"  \r\n\t{\"method\""));
    assert!(!is_json_rpc(&[0x10, 0x45]));
    assert!(!is_json_rpc(b"   "));
    assert!(!is_json_rpc(b"\x0c{"));
}

#[test]
fn stream_decoder_handles_batches_splits_and_whitespace() {
    let one = r#"{"method":"ping","id":"a"}"#;
    let two = r#"{"method":"recvack","params":{"messageId":"1","messageSeq":2}}"#;
    let text = format!(" {one}\n{two}{one}  ");
    let mut decoder = JsonRpcDecoder::default();
    let mut buffer = BytesMut::new();
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(7) {
        buffer.extend_from_slice(chunk);
        while let Some(message) = decoder.decode(&mut buffer).unwrap() {
            out.push(message);
        }
    }
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], decode(one));
    assert_eq!(out[1], decode(two));
    assert!(buffer.is_empty());
    assert!(JsonRpcDecoder::default().decode(&mut BytesMut::from(&b"{]"[..])).is_err());
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), ".{0,12}"]
}

fn header() -> impl Strategy<Value = Header> {
    (0u8..16, any::<bool>()).prop_map(|(bits, end)| Header { end, ..Header::from(Flags::from_bits(bits)) })
}

fn setting() -> impl Strategy<Value = SettingFlags> {
    any::<u8>().prop_map(|byte| SettingFlags::from(Setting(byte)))
}

fn payload() -> impl Strategy<Value = Payload> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| Payload(bytes.into()))
}

fn message() -> impl Strategy<Value = Message> {
    let request = |call: BoxedStrategy<Call>| {
        (text(), call).prop_map(|(id, call)| Message::Request(Request { id, call }))
    };
    let connect = (text(), text(), any::<u8>(), text(), any::<u8>(), any::<i64>(), header()).prop_map(
        |(uid, token, version, client_key, flag, client_timestamp, header)| {
            Call::Connect(ConnectParams {
                uid,
                token,
                version,
                client_key,
                device_id: String::new(),
                device_flag: DeviceFlag(flag),
                client_timestamp,
                header,
            })
        },
    );
    let send = (header(), setting(), text(), any::<u32>(), text(), text(), any::<u8>(), payload()).prop_map(
        |(header, setting, msg_key, expire, client_msg_no, channel_id, channel_type, payload)| {
            Call::Send(SendParams {
                header,
                setting,
                msg_key,
                expire,
                client_msg_no,
                stream_no: String::new(),
                channel_id,
                channel_type: ChannelType(channel_type),
                topic: String::new(),
                payload,
            })
        },
    );
    let recv = (header(), any::<i64>(), any::<u32>(), any::<i32>(), text(), text(), payload()).prop_map(
        |(header, message_id, message_seq, timestamp, channel_id, from_uid, payload)| {
            Notification::Recv(RecvParams {
                header,
                message_id,
                message_seq,
                timestamp,
                channel_id,
                from_uid,
                payload,
                ..RecvParams::default()
            })
        },
    );
    let event = (text(), text(), any::<i64>(), text()).prop_map(|(id, event_type, timestamp, data)| {
        Notification::Event(EventParams { id, event_type, timestamp, data, ..Default::default() })
    });
    let disconnect = || {
        (any::<u8>(), text())
            .prop_map(|(code, reason)| DisconnectParams { reason_code: ReasonCode(code), reason })
    };
    let outcome = prop_oneof![
        Just(Outcome::Empty),
        (any::<i64>(), text()).prop_map(|(code, message)| Outcome::Error(ErrorObject {
            code,
            message,
            data: None
        })),
        (any::<i64>(), text()).prop_map(|(seq, s)| Outcome::Result(json!({"messageSeq": seq, "s": s}))),
    ];
    prop_oneof![
        request(connect.boxed()),
        request(send.boxed()),
        request(
            (text(), text(), any::<u8>(), text())
                .prop_map(|(sub_no, channel_id, t, param)| Call::Subscribe(SubscribeParams {
                    sub_no,
                    channel_id,
                    channel_type: ChannelType(t),
                    param
                }))
                .boxed()
        ),
        request(
            (text(), text(), any::<u8>())
                .prop_map(|(sub_no, channel_id, t)| Call::Unsubscribe(UnsubscribeParams {
                    sub_no,
                    channel_id,
                    channel_type: ChannelType(t)
                }))
                .boxed()
        ),
        request(Just(Call::Ping).boxed()),
        request(disconnect().prop_map(Call::Disconnect).boxed()),
        recv.prop_map(Message::Notification),
        (any::<i64>(), any::<u32>(), header()).prop_map(|(message_id, message_seq, header)| {
            Message::Notification(Notification::RecvAck(RecvAckParams { header, message_id, message_seq }))
        }),
        event.prop_map(Message::Notification),
        disconnect().prop_map(|p| Message::Notification(Notification::Disconnect(p))),
        Just(Message::Notification(Notification::Pong)),
        (text(), outcome).prop_map(|(id, outcome)| Message::Response(Response { id, outcome })),
    ]
}

proptest! {
    #![proptest_config(config("jsonrpc", 1024))]

    #[test]
    fn decode_inverts_encode(message in message()) {
        let bytes = message.to_vec();
        prop_assert_eq!(Message::decode(&bytes).unwrap(), message.clone());
        let mut buffer = BytesMut::from(&bytes[..]);
        prop_assert_eq!(JsonRpcDecoder::default().decode(&mut buffer).unwrap(), Some(message));
        prop_assert!(buffer.is_empty());
    }
}

/// Brackets and quotes inside strings do not end the object; a large object dribbled one byte
/// per read is scanned once (a re-parse per byte would take ~10^10 steps here).
#[test]
fn stream_decoder_scans_strings_and_dribbled_objects() {
    let tricky = r#"{"method":"disconnect","params":{"reasonCode":1,"reason":"}]\"{[\\"}}"#;
    let mut buffer = BytesMut::from(tricky.as_bytes());
    let Some(Message::Notification(Notification::Disconnect(params))) =
        JsonRpcDecoder::default().decode(&mut buffer).unwrap()
    else {
        panic!()
    };
    assert_eq!(params.reason, r#"}]"{[\"#);

    let big =
        format!(r#"{{"method":"disconnect","params":{{"reasonCode":1,"reason":"{}"}}}}"#, "x".repeat(30_000));
    let mut decoder = JsonRpcDecoder::default();
    let mut buffer = BytesMut::new();
    let mut decoded = None;
    for &byte in big.as_bytes() {
        buffer.extend_from_slice(&[byte]);
        if let Some(message) = decoder.decode(&mut buffer).unwrap() {
            decoded = Some(message);
        }
    }
    assert!(matches!(decoded, Some(Message::Notification(Notification::Disconnect(_)))));
    assert!(JsonRpcDecoder::default().decode(&mut BytesMut::from(&b"  [1]"[..])).is_err());
}

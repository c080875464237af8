//! Helpers shared by the integration tests: hex, whole-buffer decoding, packet strategies.
#![allow(dead_code)] // each test binary uses a different subset

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use protocol::{
    ChannelType, Connack, Connect, DeviceFlag, Disconnect, Event, Flags, Packet, ReasonCode, Recv, Recvack,
    Send, Sendack, Setting, StreamFlag, Sub, SubAction, Suback, Version,
};

/// Bytes from hex, ignoring spaces, newlines and `|` (the layout of wkproto.md §6).
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    let pairs = digits.chunks_exact(2);
    assert!(pairs.remainder().is_empty(), "odd number of hex digits in {text:?}");
    pairs.map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// Hex of a string's UTF-8 bytes, for building vectors field by field.
pub fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes exactly one packet that fills `bytes`.
pub fn decode_exact(bytes: &[u8], version: Version) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let packet = protocol::Decoder::new(version).decode(&mut buf).expect("decodes").expect("a whole packet");
    assert!(buf.is_empty(), "{} bytes left after {packet:?}", buf.len());
    packet
}

pub fn encode(packet: &Packet, version: Version) -> Vec<u8> {
    let mut out = Vec::new();
    packet.encode(version, &mut out);
    assert_eq!(out.len(), packet.encoded_len(version), "encoded_len of {packet:?}");
    out
}

/// A proptest config whose failures are kept in the top-level `proptest-regressions/`.
pub fn config(name: &str, cases: u32) -> Config {
    let path: &'static str =
        Box::leak(format!("../proptest-regressions/protocol-{name}.txt").into_boxed_str());
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        ..Config::default()
    }
}

pub fn versions() -> impl Strategy<Value = Version> {
    (0u8..=5).prop_map(Version::negotiate)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9_@-]{1,12}", ".{0,24}"]
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..160).prop_map(Bytes::from)
}

fn flags() -> impl Strategy<Value = Flags> {
    (0u8..16).prop_map(Flags::from_bits)
}

fn connect() -> impl Strategy<Value = Connect> {
    (any::<u8>(), any::<u8>(), text(), text(), text(), any::<i64>(), text()).prop_map(
        |(version, device_flag, device_id, uid, token, client_timestamp, client_key)| Connect {
            version,
            device_flag: DeviceFlag(device_flag),
            device_id,
            uid,
            token,
            client_timestamp,
            client_key,
        },
    )
}

fn connack() -> impl Strategy<Value = Connack> {
    let server_version = prop_oneof![Just(0u8), 4u8..=255];
    (server_version, any::<i64>(), any::<u8>(), text(), text(), any::<u64>()).prop_map(
        |(server_version, time_diff, reason, server_key, salt, node_id)| Connack {
            server_version,
            time_diff,
            reason_code: ReasonCode(reason),
            server_key,
            salt,
            // No server-version byte, no node id on the wire.
            node_id: if server_version == 0 { 0 } else { node_id },
        },
    )
}

fn send(version: Version) -> impl Strategy<Value = Send> {
    (
        (flags(), any::<u8>(), any::<u32>(), text(), text(), text()),
        (any::<u8>(), any::<u32>(), text(), text(), payload()),
    )
        .prop_map(move |((flags, setting, client_seq, client_msg_no, stream_no, channel_id), rest)| {
            let (channel_type, expire, msg_key, topic, payload) = rest;
            let setting = Setting(setting);
            let stream_on_wire = version.has_stream_fields() && setting.has_stream();
            Send {
                flags,
                setting,
                client_seq,
                client_msg_no,
                stream_no: if stream_on_wire { stream_no } else { String::new() },
                channel_id,
                channel_type: ChannelType(channel_type),
                expire: if version.has_expire() { expire } else { 0 },
                msg_key,
                topic: if setting.contains(Setting::TOPIC) { topic } else { String::new() },
                payload,
            }
        })
}

fn sendack() -> impl Strategy<Value = Sendack> {
    (flags(), any::<i64>(), any::<u32>(), any::<u32>(), any::<u8>()).prop_map(
        |(flags, message_id, client_seq, message_seq, reason)| Sendack {
            flags,
            message_id,
            client_seq,
            message_seq,
            reason_code: ReasonCode(reason),
        },
    )
}

fn recv(version: Version) -> impl Strategy<Value = Recv> {
    (
        (flags(), any::<u8>(), text(), text(), text(), any::<u8>(), any::<u32>(), text()),
        (text(), any::<u32>(), any::<u8>(), any::<u64>()),
        (any::<i64>(), any::<u32>(), any::<i32>(), text(), payload()),
    )
        .prop_map(move |(head, stream, tail)| {
            let (flags, setting, msg_key, from_uid, channel_id, channel_type, expire, client_msg_no) = head;
            let (stream_no, stream_seq, stream_flag, stream_id) = stream;
            let (message_id, message_seq, timestamp, topic, payload) = tail;
            let setting = Setting(setting);
            let streams = version.has_stream_fields() && setting.has_stream();
            let legacy = streams && setting.contains(Setting::STREAM_LEGACY);
            let current = streams && !legacy;
            Recv {
                flags,
                setting,
                msg_key,
                from_uid,
                channel_id,
                channel_type: ChannelType(channel_type),
                expire: if version.has_expire() { expire } else { 0 },
                client_msg_no,
                stream_no: if streams { stream_no } else { String::new() },
                stream_seq: if legacy { stream_seq } else { 0 },
                stream_flag: StreamFlag(if streams { stream_flag } else { 0 }),
                stream_id: if current { stream_id } else { 0 },
                message_id,
                message_seq,
                timestamp,
                topic: if setting.contains(Setting::TOPIC) { topic } else { String::new() },
                payload,
            }
        })
}

fn recvack() -> impl Strategy<Value = Recvack> {
    (flags(), any::<i64>(), any::<u32>()).prop_map(|(flags, message_id, message_seq)| Recvack {
        flags,
        message_id,
        message_seq,
    })
}

fn sub() -> impl Strategy<Value = Sub> {
    (any::<u8>(), text(), text(), any::<u8>(), any::<u8>(), text()).prop_map(
        |(setting, sub_no, channel_id, channel_type, action, param)| Sub {
            setting: Setting(setting),
            sub_no,
            channel_id,
            channel_type: ChannelType(channel_type),
            action: SubAction(action),
            param,
        },
    )
}

fn suback() -> impl Strategy<Value = Suback> {
    (text(), text(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(
        |(sub_no, channel_id, channel_type, action, reason)| Suback {
            sub_no,
            channel_id,
            channel_type: ChannelType(channel_type),
            action: SubAction(action),
            reason_code: ReasonCode(reason),
        },
    )
}

fn event() -> impl Strategy<Value = Event> {
    (text(), text(), any::<i64>(), payload()).prop_map(|(id, event_type, timestamp, data)| Event {
        id,
        event_type,
        timestamp,
        data,
    })
}

/// Any packet that exists at `version`, with the fields that `version` and its setting byte do
/// not put on the wire at their defaults (what decoding gives back).
pub fn packet(version: Version) -> BoxedStrategy<Packet> {
    let mut choices: Vec<BoxedStrategy<Packet>> = vec![
        connect().prop_map(Packet::Connect).boxed(),
        connack().prop_map(Packet::Connack).boxed(),
        send(version).prop_map(Packet::Send).boxed(),
        sendack().prop_map(Packet::Sendack).boxed(),
        recv(version).prop_map(Packet::Recv).boxed(),
        recvack().prop_map(Packet::Recvack).boxed(),
        Just(Packet::Ping).boxed(),
        Just(Packet::Pong).boxed(),
        (any::<u8>(), text())
            .prop_map(|(code, reason)| {
                Packet::Disconnect(Disconnect { reason_code: ReasonCode(code), reason })
            })
            .boxed(),
        sub().prop_map(Packet::Sub).boxed(),
        suback().prop_map(Packet::Suback).boxed(),
    ];
    if version.has_event() {
        choices.push(event().prop_map(Packet::Event).boxed());
    }
    proptest::strategy::Union::new(choices).boxed()
}

/// A version and a packet that exists at it.
pub fn versioned_packet() -> impl Strategy<Value = (Version, Packet)> {
    versions().prop_flat_map(|version| (Just(version), packet(version)))
}

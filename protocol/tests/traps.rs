//! wkproto.md §8, the details that break real SDKs: one test per trap that the codec can get
//! wrong. (Traps 5, 6, 11 and 12 are server behaviour, not codec: RECV plaintext must be JSON,
//! person-channel id rewriting, PONG for every PING, per-connect device ids.)

mod common;

use bytes::{Bytes, BytesMut};
use common::{decode_exact, encode, hex, hex_of};
use protocol::crypto::{KeyPair, Session};
use protocol::limits::STRING_BYTES_MAX;
use protocol::{
    ChannelType, Connack, Decoder, Error, Event, Flags, Packet, ReasonCode, Recv, Send, Sendack, Setting,
    StreamFlag, Version,
};

fn sendack(message_id: i64) -> Packet {
    Packet::Sendack(Sendack {
        message_id,
        client_seq: 1,
        message_seq: 1,
        reason_code: ReasonCode::SUCCESS,
        ..Default::default()
    })
}

/// §8.1: inbound is a byte stream. JS 1.3.x puts up to 5 SENDs into one WebSocket message, and a
/// packet can be split across messages; the decoder handles both. (Outbound, the encoder
/// writes exactly one packet per `encode` call, so the gateway can send one per WS message.)
#[test]
fn trap_1_byte_stream_inbound() {
    let sends: Vec<Packet> = (1..=5)
        .map(|seq| Packet::Send(Send { client_seq: seq, channel_id: "g1".into(), ..Send::default() }))
        .collect();
    let mut one_ws_message = Vec::new();
    for send in &sends {
        send.encode(Version::V5, &mut one_ws_message);
    }
    // All five in one read, plus the first half of a sixth.
    let sixth = encode(&sends[0], Version::V5);
    let mut buffer = BytesMut::from(&one_ws_message[..]);
    buffer.extend_from_slice(&sixth[..sixth.len() / 2]);
    let mut decoder = Decoder::new(Version::V5);
    for send in &sends {
        assert_eq!(decoder.decode(&mut buffer).unwrap().as_ref(), Some(send));
    }
    assert_eq!(decoder.decode(&mut buffer).unwrap(), None);
    assert_eq!(buffer.len(), sixth.len() / 2, "a partial frame is not consumed");
    buffer.extend_from_slice(&sixth[sixth.len() / 2..]);
    assert_eq!(decoder.decode(&mut buffer).unwrap().as_ref(), Some(&sends[0]));

    // One encode call is one packet: SENDACK then RECV stay two separate buffers.
    let mut first = Vec::new();
    sendack(1).encode(Version::V2, &mut first);
    assert_eq!(decode_exact(&first, Version::V2), sendack(1));
}

/// §8.2: CONNACK layout by version. v2/v3 (JS 1.0.4): header 0x20, no server-version byte, no
/// node id. Client version above 3: header bit 0, the version byte first, node id last.
#[test]
fn trap_2_connack_layout_follows_the_version() {
    let body = |server_version: &str, node_id: &str| {
        format!(
            "{server_version} fffffffffffffff1 01 0002 {} 0010 {} {node_id}",
            hex_of("k="),
            hex_of("abcdefghijklmnop")
        )
    };
    for version in [Version::V2, Version::V3] {
        let connack =
            Connack::new(version, -15, ReasonCode::SUCCESS, "k=".into(), "abcdefghijklmnop".into(), 7);
        let bytes = encode(&Packet::Connack(connack), version);
        assert_eq!(bytes, hex(&format!("20 1f {}", body("", ""))), "version {version}");
    }
    for (version, byte) in [(Version::V4, "04"), (Version::V5, "05")] {
        let connack =
            Connack::new(version, -15, ReasonCode::SUCCESS, "k=".into(), "abcdefghijklmnop".into(), 7);
        let bytes = encode(&Packet::Connack(connack.clone()), version);
        assert_eq!(bytes, hex(&format!("21 28 {}", body(byte, "0000000000000007"))), "version {version}");
        assert_eq!(decode_exact(&bytes, version), Packet::Connack(connack));
    }
    // A client above 5 gets version 5; 0 stays 0 (Server v2).
    assert_eq!(Version::negotiate(9), Version::V5);
    assert_eq!(Version::negotiate(0).get(), 0);
    // A version byte of 3 or less behind header bit 0 is not something any server sends.
    let bad = hex(&format!("21 20 {}", body("03", "")));
    assert!(matches!(
        Decoder::new(Version::V5).decode(&mut BytesMut::from(&bad[..])),
        Err(Error::InvalidServerVersion(3))
    ));
}

/// §8.2 (continued): expire exists in SEND and RECV from v3, not in v2.
#[test]
fn trap_2_expire_from_version_3() {
    let send = Send { expire: 100, ..Send::default() };
    let v2 = encode(&Packet::Send(send.clone()), Version::V2);
    let v3 = encode(&Packet::Send(send.clone()), Version::V3);
    assert_eq!(v3.len(), v2.len() + 4);
    assert_eq!(decode_exact(&v2, Version::V2), Packet::Send(Send { expire: 0, ..send.clone() }));
    assert_eq!(decode_exact(&v3, Version::V3), Packet::Send(send));
}

/// §8.3: the key is the first 16 *hex characters* of MD5(base64(shared)), as ASCII; the IV is
/// the salt's 16 ASCII bytes, which must be exactly 16.
#[test]
fn trap_3_key_is_hex_text_and_salt_is_16_bytes() {
    let shared = [0x11u8; 32];
    let key = protocol::crypto::aes_key_from_shared(&shared);
    assert!(key.iter().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    for salt in ["", "abcdefghijklmno", "abcdefghijklmnopq", "abcdefghijklmnoé"] {
        assert!(matches!(Session::new(&shared, salt), Err(Error::InvalidSalt(_))), "{salt:?}");
    }
    let salt = protocol::crypto::salt_from_random([0, 61, 62, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(salt.len(), 16);
    assert!(salt.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(Session::new(&shared, &salt).is_ok());
}

/// §8.4: RECV's msgKey is over the *encrypted* payload of *this* connection, with base-10
/// numbers; a RECV sealed for one connection fails on another (JS would drop it silently).
#[test]
fn trap_4_recv_msg_key_is_per_connection() {
    let server_a = KeyPair::from_secret_bytes([1; 32]);
    let server_b = KeyPair::from_secret_bytes([2; 32]);
    let client_a = KeyPair::from_secret_bytes([3; 32]);
    let client_b = KeyPair::from_secret_bytes([4; 32]);
    let salt = "0123456789abcdef";
    let a = Session::accept(&server_a, &client_a.public_key_base64(), salt).unwrap();
    let b = Session::accept(&server_b, &client_b.public_key_base64(), salt).unwrap();
    let a_client =
        Session::new(&client_a.shared_secret(&server_a.public_key_base64()).unwrap(), salt).unwrap();

    let template = Recv { message_id: 42, message_seq: 7, timestamp: 1_700_000_000, ..Recv::default() };
    let (mut for_a, mut for_b) = (template.clone(), template);
    a.seal_recv(&mut for_a, b"{\"type\":1}");
    b.seal_recv(&mut for_b, b"{\"type\":1}");
    assert_ne!(for_a.payload, for_b.payload);
    assert_ne!(for_a.msg_key, for_b.msg_key);
    assert_eq!(a_client.open_recv(&for_a).unwrap(), b"{\"type\":1}");
    assert!(matches!(a_client.open_recv(&for_b), Err(Error::MsgKeyMismatch)));
    // Every signed field matters, and so does the encrypted payload.
    let mut changed = for_a.clone();
    changed.message_seq += 1;
    assert!(matches!(a_client.open_recv(&changed), Err(Error::MsgKeyMismatch)));
    // Unsigned fields (setting, expire, topic, flags) do not.
    let mut unsigned = for_a.clone();
    unsigned.expire = 9;
    unsigned.flags.red_dot = true;
    assert!(a_client.open_recv(&unsigned).is_ok());
}

/// §8.7: stream fields. v5 never has them; v2..4 with the legacy bit 0x04 have JS 1.0.4's
/// layout, with the current bit 0x02 Go's layout; legacy wins when both are set.
#[test]
fn trap_7_stream_fields() {
    let send = Send { setting: Setting::STREAM_LEGACY, stream_no: "s1".into(), ..Send::default() };
    // SEND v2 as JS 1.0.4 writes it: streamNo right after clientMsgNo.
    assert_eq!(
        encode(&Packet::Send(send.clone()), Version::V2),
        hex("30 10 04 00000000 0000 0002 7331 0000 00 0000")
    );
    // v5 drops it: the same setting byte, no streamNo.
    assert_eq!(
        encode(&Packet::Send(send.clone()), Version::V5),
        hex("30 10 04 00000000 0000 0000 00 00000000 0000")
    );
    let current = Send { setting: Setting::STREAM, ..send };
    assert_eq!(
        encode(&Packet::Send(current), Version::V4),
        hex("30 14 02 00000000 0000 0002 7331 0000 00 00000000 0000")
    );

    let recv = Recv {
        setting: Setting::STREAM_LEGACY,
        stream_no: "s1".into(),
        stream_seq: 3,
        stream_flag: StreamFlag::END,
        stream_id: 0,
        ..Recv::default()
    };
    // Legacy: streamNo, streamSeq u32, streamFlag u8 after clientMsgNo (JS 1.0.4 decodeRecvPacket).
    let legacy =
        "50 23 04 0000 0000 0000 00 0000 | 0002 7331 00000003 02 | 0000000000000000 00000000 00000000";
    assert_eq!(encode(&Packet::Recv(recv.clone()), Version::V2), hex(legacy));
    // Current: streamFlag u8, streamNo, streamId u64.
    let go = Recv { setting: Setting::STREAM, stream_seq: 0, stream_id: 9, ..recv.clone() };
    let current = "50 27 02 0000 0000 0000 00 0000 | 02 0002 7331 0000000000000009 | 0000000000000000 00000000 00000000";
    assert_eq!(encode(&Packet::Recv(go), Version::V2), hex(current));
    // Both bits: legacy layout.
    let both = Recv { setting: Setting::STREAM | Setting::STREAM_LEGACY, ..recv.clone() };
    let bytes = encode(&Packet::Recv(both.clone()), Version::V2);
    assert_eq!(bytes[2..].len(), hex(legacy)[2..].len());
    assert_eq!(decode_exact(&bytes, Version::V2), Packet::Recv(both));
    // v1 (treated as v2) never has stream fields; neither does v5.
    for version in [Version::negotiate(1), Version::V5] {
        let bytes = encode(&Packet::Recv(recv.clone()), version);
        let expected =
            Recv { stream_no: String::new(), stream_seq: 0, stream_flag: StreamFlag::START, ..recv.clone() };
        assert_eq!(decode_exact(&bytes, version), Packet::Recv(expected));
    }
}

/// §8.8: EVENT only for v5 (JS 1.0.4 reconnects on it); PING and PONG are single bytes with no
/// length, even when other packets follow immediately.
#[test]
fn trap_8_event_only_v5_and_one_byte_heartbeats() {
    let event = Packet::Event(Event {
        id: "1".into(),
        event_type: "t".into(),
        timestamp: 1,
        data: Bytes::from("{}"),
    });
    assert!(event.exists_in(Version::V5));
    for version in [Version::V2, Version::V3, Version::V4] {
        assert!(!event.exists_in(version));
        let bytes = encode(&event, Version::V5);
        let result = Decoder::new(version).decode(&mut BytesMut::from(&bytes[..]));
        assert!(matches!(result, Err(Error::PacketNotInVersion { version: v, .. }) if v == version.get()));
    }
    assert!(Packet::Sendack(Sendack::default()).exists_in(Version::V2));

    let mut buffer = BytesMut::from(&hex("70 70 80 62 0c 0de0b6b3a7640001 00000001")[..]);
    let mut decoder = Decoder::new(Version::V2);
    assert_eq!(decoder.decode(&mut buffer).unwrap(), Some(Packet::Ping));
    assert_eq!(decoder.decode(&mut buffer).unwrap(), Some(Packet::Ping));
    assert_eq!(decoder.decode(&mut buffer).unwrap(), Some(Packet::Pong));
    assert!(matches!(decoder.decode(&mut buffer).unwrap(), Some(Packet::Recvack(_))));
    assert_eq!(encode(&Packet::Ping, Version::V2), [0x70]);
    assert_eq!(encode(&Packet::Pong, Version::V2), [0x80]);
}

/// §8.8 (continued): encoding EVENT for a client below v5 is a bug in the caller.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "encoded for protocol version 4")]
fn trap_8_encoding_event_below_v5_panics_in_debug() {
    Packet::Event(Event::default()).encode(Version::V4, &mut Vec::new());
}

/// §8.9: strings at most 32767 bytes (Go reads the length as a signed i16); longer ones are
/// refused by the decoder and cannot be encoded.
#[test]
fn trap_9_string_limit() {
    let at_limit = "x".repeat(STRING_BYTES_MAX);
    let packet = Packet::Send(Send { channel_id: at_limit, ..Send::default() });
    assert_eq!(decode_exact(&encode(&packet, Version::V5), Version::V5), packet);

    // DISCONNECT whose reason claims 0x8000 bytes.
    let mut bytes = hex("90 83 80 02 0c 8000");
    bytes.extend_from_slice(&[b'x'; 0x8000]);
    let result = Decoder::new(Version::V5).decode(&mut BytesMut::from(&bytes[..]));
    assert!(matches!(result, Err(Error::StringTooLong { len: 0x8000, .. })), "{result:?}");
}

#[test]
#[should_panic(expected = "exceeds the protocol maximum")]
fn trap_9_encoding_a_longer_string_panics() {
    let packet = Packet::Send(Send { channel_id: "x".repeat(STRING_BYTES_MAX + 1), ..Send::default() });
    packet.encode(Version::V5, &mut Vec::new());
}

/// §8.10: success is 1, not 0; a failure CONNACK is in the client's layout with empty key and
/// salt (vector in §6.2).
#[test]
fn trap_10_success_is_one() {
    assert_eq!(ReasonCode::SUCCESS.0, 1);
    assert_eq!(ReasonCode::UNKNOWN.0, 0);
    assert_eq!(format!("{:?}", ReasonCode(1)), "ReasonCode::SUCCESS");
    assert_eq!(format!("{:?}", ReasonCode(200)), "ReasonCode(200)");
    let failure = Connack::failure(Version::V5, 0, ReasonCode::AUTH_FAIL, 1);
    assert_eq!((failure.server_key.as_str(), failure.salt.as_str()), ("", ""));
    assert_eq!(failure.server_version, 5);
    // Errors map to the reason codes Server v2 answers with.
    assert_eq!(Error::MsgKeyMismatch.reason_code(), ReasonCode::PAYLOAD_DECODE_ERROR);
}

/// Header flags: JS SENDs carry RedDot (0x32); the server copies SEND flags into SENDACK and
/// RECV, and JS copies RECV's into RECVACK. Trailing bytes (Server main's v6 SENDACK
/// `clientMsgNo`) are ignored by v5 decoders, as Go and JS do.
#[test]
fn flags_are_kept_and_trailing_bytes_ignored() {
    let send = Send { flags: Flags { red_dot: true, ..Flags::default() }, ..Send::default() };
    assert_eq!(encode(&Packet::Send(send), Version::V2)[0], 0x32);
    assert_eq!(Flags::from_bits(0x0f).bits(), 0x0f);

    let v6_sendack = hex("42 17 | 0de0b6b3a7640001 | 00000001 | 00000001 | 01 | 0004 636d6e31");
    let decoded = decode_exact(&v6_sendack, Version::V5);
    let Packet::Sendack(ack) = decoded else { panic!("{decoded:?}") };
    assert_eq!(
        (ack.flags.red_dot, ack.message_id, ack.reason_code),
        (true, 1_000_000_000_000_000_001, ReasonCode::SUCCESS)
    );
}

/// Type 0 (reserved) and 13..15 are corrupt streams, refused from the header byte alone; a body
/// shorter than its fields is corrupt too; the empty body is written as `00` (the official
/// encoders write nothing for 0).
#[test]
fn unknown_types_and_short_bodies() {
    for byte in [0x00u8, 0xd0, 0xe0, 0xf0] {
        let result = Decoder::new(Version::V5).decode(&mut BytesMut::from(&[byte][..]));
        assert!(matches!(result, Err(Error::UnknownPacketType(t)) if t == byte >> 4));
    }
    let result = Decoder::new(Version::V5).decode(&mut BytesMut::from(&hex("42 03 000000")[..]));
    assert!(matches!(result, Err(Error::Truncated { field: "message_id", .. })), "{result:?}");
    let result = Decoder::new(Version::V5).decode(&mut BytesMut::from(&hex("90 00")[..]));
    assert!(matches!(result, Err(Error::Truncated { field: "reason_code", .. })), "{result:?}");
    let result = Decoder::new(Version::V5).decode(&mut BytesMut::from(&hex("90 04 01 0001 ff")[..]));
    assert!(matches!(result, Err(Error::InvalidUtf8 { field: "reason", .. })), "{result:?}");
}

/// Channel types and the setting byte keep unknown values.
#[test]
fn unknown_codes_survive() {
    let send = Send { setting: Setting(0x41), channel_type: ChannelType(200), ..Send::default() };
    let packet = Packet::Send(send);
    assert_eq!(decode_exact(&encode(&packet, Version::V5), Version::V5), packet);
}

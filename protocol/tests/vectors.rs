//! Every test vector of wkproto.md §6, decoded and encoded byte for byte, and the crypto worked
//! example step by step (§3.5). §6.2's client-side bytes come from the real
//! `wukongimjssdk@1.0.4` encoder, so these tests pin compatibility with it.

mod common;

use bytes::Bytes;
use common::{decode_exact, encode, hex, hex_of};
use protocol::crypto::{aes_key_from_shared, recv_sign, send_sign, KeyPair, Session};
use protocol::header::{decode_varint, put_varint};
use protocol::limits::VARINT_VALUE_MAX;
use protocol::{
    ChannelType, Connack, Connect, DeviceFlag, Disconnect, Event, Flags, Packet, ReasonCode, Recv, Recvack,
    Send, Sendack, Setting, Sub, SubAction, Suback, Version,
};

const CLIENT_PRIVATE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const CLIENT_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const CLIENT_KEY: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
const SERVER_PRIVATE: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const SERVER_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SERVER_KEY: &str = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
const AES_KEY: &str = "0c15fdbf4d09bc6c";
const SALT: &str = "abcdefghijklmnop";
const PLAINTEXT: &str = r#"{"content":"hi","type":1}"#;
const PAYLOAD: &str = "ozuhJ1HEIaov0gJsW2O6iv1TpFIEcAPghtbIhDn5PcE=";
const MESSAGE_ID: i64 = 1_000_000_000_000_000_001;

fn key_pair(private_hex: &str) -> KeyPair {
    KeyPair::from_secret_bytes(hex(private_hex).try_into().unwrap())
}

fn session() -> Session {
    Session::from_aes_key(AES_KEY.as_bytes().try_into().unwrap(), SALT).unwrap()
}

/// Decodes `bytes` into `expected` and encodes `expected` back into `bytes`.
fn both_ways(bytes: &[u8], version: Version, expected: Packet) {
    assert_eq!(decode_exact(bytes, version), expected);
    assert_eq!(encode(&expected, version), bytes, "encoding {expected:?}");
}

#[test]
fn key_exchange_is_rfc7748_and_derives_the_aes_key() {
    let client = key_pair(CLIENT_PRIVATE);
    let server = key_pair(SERVER_PRIVATE);
    assert_eq!(client.public_key().to_vec(), hex(CLIENT_PUBLIC));
    assert_eq!(server.public_key().to_vec(), hex(SERVER_PUBLIC));
    assert_eq!(client.public_key_base64(), CLIENT_KEY);
    assert_eq!(server.public_key_base64(), SERVER_KEY);

    let shared = server.shared_secret(CLIENT_KEY).unwrap();
    assert_eq!(shared.to_vec(), hex(SHARED));
    assert_eq!(client.shared_secret(SERVER_KEY).unwrap(), shared);
    // md5hex(base64(shared)) = 0c15fdbf4d09bc6c861ee10c50569438; the key is its first 16 chars.
    assert_eq!(&aes_key_from_shared(&shared), AES_KEY.as_bytes());

    // Server side of the handshake gives the same session as the worked example's key.
    let accepted = Session::accept(&server, CLIENT_KEY, SALT).unwrap();
    assert_eq!(accepted.encrypt(PLAINTEXT.as_bytes()), Bytes::from(PAYLOAD));
}

#[test]
fn connect_v2_from_js() {
    let bytes = hex("10 45 | 02 | 01 | 0003 643157 | 0002 7531 | 0002 7431 | 0000018bcfe56800 | 002c \
         6853447743596b777031523069333363744437335767322f4f67306d4f427230363653706a717162546d6f3d");
    let connect = Connect {
        version: 2,
        device_flag: DeviceFlag::WEB,
        device_id: "d1W".into(),
        uid: "u1".into(),
        token: "t1".into(),
        client_timestamp: 1_700_000_000_000,
        client_key: CLIENT_KEY.into(),
    };
    // CONNECT is decoded before the version is known: same bytes at every version.
    for version in [Version::V2, Version::LATEST] {
        both_ways(&bytes, version, Packet::Connect(connect.clone()));
    }
}

#[test]
fn connack_v2() {
    let bytes = hex(&format!("20 49 fffffffffffffff1 01 002c {} 0010 {}", hex_of(SERVER_KEY), hex_of(SALT)));
    let connack = Connack::new(Version::V2, -15, ReasonCode::SUCCESS, SERVER_KEY.into(), SALT.into(), 1);
    assert_eq!(connack.server_version, 0);
    assert_eq!(connack.node_id, 0);
    both_ways(&bytes, Version::V2, Packet::Connack(connack));
}

#[test]
fn connack_v5() {
    let bytes = hex(&format!(
        "21 52 | 05 | fffffffffffffff1 | 01 | 002c {} | 0010 {} | 0000000000000001",
        hex_of(SERVER_KEY),
        hex_of(SALT)
    ));
    let connack = Connack::new(Version::V5, -15, ReasonCode::SUCCESS, SERVER_KEY.into(), SALT.into(), 1);
    both_ways(&bytes, Version::V5, Packet::Connack(connack));
}

#[test]
fn connack_v2_auth_failure() {
    let bytes = hex("20 0d 0000000000000000 02 0000 0000");
    both_ways(
        &bytes,
        Version::V2,
        Packet::Connack(Connack::failure(Version::V2, 0, ReasonCode::AUTH_FAIL, 1)),
    );
}

fn js_send() -> Send {
    Send {
        flags: Flags { red_dot: true, ..Flags::default() },
        setting: Setting::default(),
        client_seq: 1,
        client_msg_no: "cmn1".into(),
        channel_id: "u2".into(),
        channel_type: ChannelType::PERSON,
        msg_key: "4a5d20031e5f8a086c1471cb5b90fc74".into(),
        payload: Bytes::from(PAYLOAD),
        ..Send::default()
    }
}

#[test]
fn send_v2_from_js() {
    let bytes = hex("32 5e | 00 | 00000001 | 0004 636d6e31 | 0002 7532 | 01 |
         0020 3461356432303033316535663861303836633134373163623562393066633734
         6f7a75684a31484549616f7630674a7357324f366976315470464945634150676874624968446e355063453d");
    both_ways(&bytes, Version::V2, Packet::Send(js_send()));
}

#[test]
fn send_crypto_worked_example() {
    let session = session();
    let send = js_send();
    assert_eq!(session.encrypt(PLAINTEXT.as_bytes()), Bytes::from(PAYLOAD));
    let sign = send_sign(&send);
    assert_eq!(sign, format!("1cmn1u21{PAYLOAD}").as_bytes());
    assert_eq!(
        session.encrypt(&sign),
        Bytes::from(
            "yrc8SPGKs+nfIKoSCfs21AUCk6ebDvirzPUcO1lvblNVs6WILL9kTKghSdz9KSX3HWQHAQK/ATtUuHXbSxsKVw=="
        )
    );
    assert_eq!(session.msg_key(&sign), send.msg_key);
    assert_eq!(session.open_send(&send).unwrap(), PLAINTEXT.as_bytes());

    // What a client does produces the same packet.
    let mut sealed = Send { msg_key: String::new(), payload: Bytes::new(), ..js_send() };
    session.seal_send(&mut sealed, PLAINTEXT.as_bytes());
    assert_eq!(sealed, send);
}

#[test]
fn sendack() {
    let bytes = hex("42 11 | 0de0b6b3a7640001 | 00000001 | 00000001 | 01");
    let sendack = Sendack {
        flags: Flags { red_dot: true, ..Flags::default() },
        message_id: MESSAGE_ID,
        client_seq: 1,
        message_seq: 1,
        reason_code: ReasonCode::SUCCESS,
    };
    for version in [Version::V2, Version::V5] {
        both_ways(&bytes, version, Packet::Sendack(sendack.clone()));
    }
}

const RECV_MSG_KEY: &str = "e32596ce5262ee823966ddfaeac56242";

fn recv_for_u2() -> Recv {
    Recv {
        flags: Flags { red_dot: true, ..Flags::default() },
        msg_key: RECV_MSG_KEY.into(),
        from_uid: "u1".into(),
        channel_id: "u1".into(),
        channel_type: ChannelType::PERSON,
        client_msg_no: "cmn1".into(),
        message_id: MESSAGE_ID,
        message_seq: 1,
        timestamp: 1_700_000_000,
        payload: Bytes::from(PAYLOAD),
        ..Recv::default()
    }
}

#[test]
fn recv_v2() {
    let bytes = hex(&format!(
        "52 6e | 00 | 0020 {} | 0002 7531 | 0002 7531 | 01 | 0004 636d6e31 | 0de0b6b3a7640001 | 00000001 | \
         6553f100 | {}",
        hex_of(RECV_MSG_KEY),
        hex_of(PAYLOAD)
    ));
    both_ways(&bytes, Version::V2, Packet::Recv(recv_for_u2()));
}

#[test]
fn recv_v3_has_expire() {
    let bytes = hex(&format!(
        "52 72 | 00 | 0020 {} | 0002 7531 | 0002 7531 | 01 | 00000000 | 0004 636d6e31 | 0de0b6b3a7640001 | \
         00000001 | 6553f100 | {}",
        hex_of(RECV_MSG_KEY),
        hex_of(PAYLOAD)
    ));
    both_ways(&bytes, Version::V3, Packet::Recv(recv_for_u2()));
}

#[test]
fn recv_crypto_worked_example() {
    let session = session();
    let expected = recv_for_u2();
    assert_eq!(recv_sign(&expected), format!("10000000000000000011cmn11700000000u1u11{PAYLOAD}").as_bytes());
    let mut recv = Recv { msg_key: String::new(), payload: Bytes::new(), ..recv_for_u2() };
    session.seal_recv(&mut recv, PLAINTEXT.as_bytes());
    assert_eq!(recv, expected);
    assert_eq!(session.open_recv(&recv).unwrap(), PLAINTEXT.as_bytes());
}

#[test]
fn recvack_from_js() {
    let bytes = hex("62 0c | 0de0b6b3a7640001 | 00000001");
    let recvack = Recvack {
        flags: Flags { red_dot: true, ..Flags::default() },
        message_id: MESSAGE_ID,
        message_seq: 1,
    };
    both_ways(&bytes, Version::V2, Packet::Recvack(recvack));
}

#[test]
fn ping_and_pong_are_one_byte() {
    both_ways(&hex("70"), Version::V2, Packet::Ping);
    both_ways(&hex("80"), Version::V2, Packet::Pong);
}

#[test]
fn disconnect_kick() {
    let bytes = hex("90 18 | 0c | 0015 6c6f67696e20696e206f7468657220646576696365");
    let disconnect =
        Disconnect { reason_code: ReasonCode::CONNECT_KICK, reason: "login in other device".into() };
    both_ways(&bytes, Version::V2, Packet::Disconnect(disconnect));
}

#[test]
fn sub_from_js() {
    let bytes = hex("a0 0b | 00 | 0000 | 0002 6731 | 02 | 00 | 0000");
    let sub = Sub { channel_id: "g1".into(), channel_type: ChannelType::GROUP, ..Sub::default() };
    both_ways(&bytes, Version::V2, Packet::Sub(sub));
}

#[test]
fn suback() {
    let bytes = hex("b0 09 | 0000 | 0002 6731 | 02 | 00 | 01");
    let suback = Suback {
        sub_no: String::new(),
        channel_id: "g1".into(),
        channel_type: ChannelType::GROUP,
        action: SubAction::SUBSCRIBE,
        reason_code: ReasonCode::SUCCESS,
    };
    both_ways(&bytes, Version::V2, Packet::Suback(suback));
}

#[test]
fn varint_examples() {
    let examples: [(usize, &str); 9] = [
        (0, "00"), // the official encoders write nothing for 0; we write one 0x00
        (1, "01"),
        (127, "7f"),
        (128, "80 01"),
        (1241, "d9 09"), // Go's protocol_test.go
        (16383, "ff 7f"),
        (16384, "80 80 01"),
        (2_097_151, "ff ff 7f"),
        (2_097_152, "80 80 80 01"),
    ];
    for (value, encoded) in examples {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        assert_eq!(out, hex(encoded), "{value}");
        assert_eq!(decode_varint(&out, VARINT_VALUE_MAX).unwrap(), Some((value, out.len())));
    }
}

/// §6.1: the inputs of WuKongIMGoProto's round-trip tests.
#[test]
fn go_round_trip_inputs() {
    let cases = [
        (
            Version::V4,
            Packet::Connack(Connack {
                server_version: 100,
                time_diff: 12345,
                reason_code: ReasonCode::SUCCESS,
                server_key: "ServerKey".into(),
                salt: "Salt".into(),
                node_id: 0,
            }),
        ),
        (
            Version::V3,
            Packet::Recv(Recv {
                flags: Flags { no_persist: true, sync_once: true, ..Flags::default() },
                message_id: 1223,
                expire: 10,
                message_seq: 9_238_934,
                channel_id: "3434".into(),
                channel_type: ChannelType::GROUP,
                from_uid: "123".into(),
                payload: Bytes::from("中文测试"),
                ..Recv::default()
            }),
        ),
        (
            Version::V5,
            Packet::Send(Send {
                flags: Flags { red_dot: true, ..Flags::default() },
                setting: Setting::NO_ENCRYPT,
                expire: 100,
                client_seq: 2,
                channel_id: "34341".into(),
                channel_type: ChannelType::GROUP,
                payload: Bytes::from("dsdsdsd1"),
                ..Send::default()
            }),
        ),
        (
            Version::V5,
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode(1), reason: "其他地方登录了！".into()
            }),
        ),
        (
            Version::V5,
            Packet::Event(Event {
                id: "123456".into(),
                event_type: "test".into(),
                timestamp: 1_234_567_890,
                data: Bytes::from("test"),
            }),
        ),
    ];
    for (version, packet) in cases {
        assert_eq!(decode_exact(&encode(&packet, version), version), packet);
    }
}

/// The Go CONNACK case at v4 has the header bit and the version byte 100 on the wire.
#[test]
fn go_connack_layout() {
    let connack = Connack {
        server_version: 100,
        time_diff: 12345,
        reason_code: ReasonCode::SUCCESS,
        server_key: "ServerKey".into(),
        salt: "Salt".into(),
        node_id: 0,
    };
    let bytes = encode(&Packet::Connack(connack), Version::V4);
    assert_eq!(bytes[0], 0x21);
    assert_eq!(bytes[2], 100);
}

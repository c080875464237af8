//! The connection driven by a client built from the `protocol` crate, without sockets: time
//! is the `now_ms` passed in.

mod control;
mod errors;
mod handshake;
mod json_rpc;
mod messages;
mod random;

use bytes::{Bytes, BytesMut};
use protocol::crypto::{KeyPair, Session};
use protocol::{ChannelType, Connack, Connect, Decoder, DeviceFlag, Flags, Packet, Send, Version};

use super::{Conn, ConnConfig, Event, Frame, LoginOutcome, Transport};
use crate::gateway::Delivery;

/// The time the tests start at (2023-11-14), in milliseconds.
const T0: u64 = 1_700_000_000_000;
/// The client's clock in CONNECT: 15 ms behind the server's when the login is answered.
const CLIENT_TIMESTAMP: i64 = T0 as i64 - 10;
/// When the tests answer a login.
const LOGIN_AT: u64 = T0 + 5;
const PLAINTEXT: &[u8] = br#"{"content":"hi","type":1}"#;

fn config() -> ConnConfig {
    ConnConfig { node_id: 7, ..ConnConfig::default() }
}

fn server_random() -> [u8; 48] {
    let mut random = [0u8; 48];
    for (i, byte) in random.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(13).wrapping_add(5);
    }
    random
}

/// The client side: what the JS SDK does, built from the protocol crate.
struct Client {
    keys: KeyPair,
    /// The version the client sends in CONNECT.
    client_version: u8,
    session: Option<Session>,
    next_seq: u32,
}

impl Client {
    fn new(client_version: u8) -> Client {
        Client { keys: KeyPair::from_secret_bytes([42; 32]), client_version, session: None, next_seq: 1 }
    }

    /// The version both sides speak after CONNECT.
    fn version(&self) -> Version {
        Version::negotiate(self.client_version)
    }

    fn connect_packet(&self, uid: &str) -> Connect {
        Connect {
            version: self.client_version,
            device_flag: DeviceFlag::WEB,
            device_id: "d1W".into(),
            uid: uid.into(),
            token: "t1".into(),
            client_timestamp: CLIENT_TIMESTAMP,
            client_key: self.keys.public_key_base64(),
        }
    }

    fn connect(&self, uid: &str) -> Vec<u8> {
        encode(&Packet::Connect(self.connect_packet(uid)), Version::LATEST)
    }

    /// Takes the server's key and salt from a successful CONNACK.
    fn accept(&mut self, connack: &Connack) {
        let shared = self.keys.shared_secret(&connack.server_key).expect("server key");
        self.session = Some(Session::new(&shared, &connack.salt).expect("salt"));
    }

    fn session(&self) -> &Session {
        self.session.as_ref().expect("logged in")
    }

    /// A SEND as JS builds it: red dot, encrypted, msgKey over the encrypted payload.
    fn send_packet(&mut self, channel_id: &str, channel_type: ChannelType, plaintext: &[u8]) -> Send {
        let mut send = Send {
            flags: Flags { red_dot: true, ..Flags::default() },
            client_seq: self.next_seq,
            client_msg_no: format!("cmn{}", self.next_seq),
            channel_id: channel_id.into(),
            channel_type,
            ..Send::default()
        };
        self.next_seq += 1;
        self.session().seal_send(&mut send, plaintext);
        send
    }

    fn send(&mut self, channel_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let send = self.send_packet(channel_id, ChannelType::PERSON, plaintext);
        self.encode(&Packet::Send(send))
    }

    fn encode(&self, packet: &Packet) -> Vec<u8> {
        encode(packet, self.version())
    }
}

fn encode(packet: &Packet, version: Version) -> Vec<u8> {
    let mut buf = Vec::new();
    packet.encode(version, &mut buf);
    buf
}

/// Every queued frame, each a binary frame holding exactly one packet.
fn packets(conn: &mut Conn, version: Version) -> Vec<Packet> {
    let mut packets = Vec::new();
    while let Some(frame) = conn.poll_transmit() {
        let Frame::Binary(bytes) = frame else { panic!("a text frame on a WKProto connection") };
        let mut buf = BytesMut::from(&bytes[..]);
        let packet = Decoder::new(version).decode(&mut buf).expect("decodes").expect("a whole packet");
        assert!(buf.is_empty(), "one packet per frame, {} bytes left over", buf.len());
        packets.push(packet);
    }
    packets
}

fn new_conn(config: ConnConfig) -> Conn {
    Conn::new(config, Transport::WebSocket, T0, server_random())
}

/// A connection logged in as `uid` at `client_version`, its CONNACK taken.
fn logged_in_with(config: ConnConfig, client_version: u8, uid: &str) -> (Conn, Client) {
    let mut conn = new_conn(config);
    let mut client = Client::new(client_version);
    conn.handle_input(T0, &client.connect(uid));
    assert!(matches!(conn.poll_event(), Some(Event::Login(_))));
    conn.handle_login(LOGIN_AT, LoginOutcome::Accepted { device_level: 1 });
    let packets = packets(&mut conn, client.version());
    let [Packet::Connack(connack)] = &packets[..] else { panic!("expected CONNACK, got {packets:?}") };
    client.accept(connack);
    (conn, client)
}

fn logged_in(client_version: u8) -> (Conn, Client) {
    logged_in_with(config(), client_version, "u1")
}

/// A message from `from_uid` in the person channel `u1@u2`.
fn person_delivery(message_id: i64, from_uid: &str) -> Delivery {
    Delivery {
        header: crate::sm::message_record::HEADER_RED_DOT,
        message_id,
        message_seq: 1,
        timestamp_ms: 1_700_000_000_123,
        from_uid: from_uid.into(),
        channel_id: "u1@u2".into(),
        channel_type: 1,
        client_msg_no: format!("cmn{message_id}"),
        payload: Bytes::from_static(PLAINTEXT),
        ..Delivery::default()
    }
}

/// The next event, which must be a send.
fn take_send(conn: &mut Conn) -> (super::SendToken, crate::service::messages::SendRequest) {
    match conn.poll_event() {
        Some(Event::Send { token, request }) => (token, request),
        other => panic!("expected a send, got {other:?}"),
    }
}

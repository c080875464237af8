//! The client against a fake server half built from the `protocol` crate over a tokio
//! duplex: login layouts per version, SEND sealed so the server's `open_send` accepts it,
//! RECV opened and acknowledged, refusals and kicks surfaced. No sleeps, no timing.

use bytes::{Bytes, BytesMut};
use protocol::crypto::{KeyPair, Session};
use protocol::{Connack, Connect, Decoder, Disconnect, Flags, Packet, Recv, Send, Sendack, Setting};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

/// The duplex buffer: larger than any frame of these tests, so neither side blocks on it.
const DUPLEX_BYTES: usize = 64 * 1024;

const SALT: &str = "abcdefghijklmnop";

/// The server end of one connection, as the gateway would drive it.
struct FakeServer {
    stream: DuplexStream,
    decoder: Decoder,
    inbound: BytesMut,
    version: Version,
    session: Session,
}

impl FakeServer {
    /// Reads CONNECT, answers a successful CONNACK in the client's layout.
    async fn accept(stream: DuplexStream, server_secret: [u8; 32]) -> (FakeServer, Connect, Bytes) {
        let mut decoder = Decoder::new(Version::LATEST);
        let mut inbound = BytesMut::new();
        let mut stream = stream;
        let connect = loop {
            if let Some(packet) = decoder.decode(&mut inbound).unwrap() {
                let Packet::Connect(connect) = packet else { panic!("first packet {packet:?}") };
                break connect;
            }
            assert!(stream.read_buf(&mut inbound).await.unwrap() > 0, "client closed before CONNECT");
        };
        let version = Version::negotiate(connect.version);
        decoder.set_version(version);
        let server = KeyPair::from_secret_bytes(server_secret);
        let session = Session::accept(&server, &connect.client_key, SALT).unwrap();
        let connack =
            Connack::new(version, -15, ReasonCode::SUCCESS, server.public_key_base64(), SALT.into(), 7);
        let mut frame = BytesMut::new();
        Packet::Connack(connack).encode(version, &mut frame);
        stream.write_all(&frame).await.unwrap();
        (FakeServer { stream, decoder, inbound, version, session }, connect, frame.freeze())
    }

    async fn read(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.inbound).unwrap() {
                return Some(packet);
            }
            if self.stream.read_buf(&mut self.inbound).await.unwrap() == 0 {
                return None;
            }
        }
    }

    async fn write(&mut self, packet: Packet) {
        let mut frame = BytesMut::new();
        packet.encode(self.version, &mut frame);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// A RECV of `plaintext` sealed for this connection.
    fn recv(&self, message_id: i64, plaintext: &[u8]) -> Recv {
        let mut recv = Recv {
            flags: Flags { red_dot: true, ..Flags::default() },
            from_uid: "u1".into(),
            channel_id: "u1".into(),
            channel_type: ChannelType::PERSON,
            expire: if self.version.has_expire() { 9 } else { 0 },
            client_msg_no: format!("cmn{message_id}"),
            message_id,
            message_seq: message_id as u32,
            timestamp: 1_700_000_000,
            ..Recv::default()
        };
        self.session.seal_recv(&mut recv, plaintext);
        recv
    }
}

/// A client and the fake server of one logged-in duplex connection.
async fn logged_in(version: u8) -> (Client, FakeServer, Bytes) {
    logged_in_with(ConnectOptions::new("u1", "t1").with_version(version)).await
}

async fn logged_in_with(options: ConnectOptions) -> (Client, FakeServer, Bytes) {
    let (client_end, server_end) = tokio::io::duplex(DUPLEX_BYTES);
    let (client, (server, connect, connack)) =
        tokio::join!(Client::login(client_end, options.clone()), FakeServer::accept(server_end, [9; 32]));
    assert_eq!(connect.uid, options.uid);
    assert_eq!(connect.token, options.token);
    assert_eq!(connect.version, options.version);
    (client.unwrap(), server, connack)
}

#[tokio::test]
async fn login_send_and_recv_at_versions_2_to_5() {
    for version in [2u8, 3, 4, 5] {
        let (mut client, mut server, connack) = logged_in(version).await;
        assert_eq!(client.version().get(), version);
        // v2/v3: header 0x20, no server-version byte; v4+: 0x21, the byte first.
        if version > 3 {
            assert_eq!(connack[0], 0x21, "v{version}");
            assert_eq!(connack[2], version, "v{version}");
            assert_eq!(client.connack().node_id, 7);
        } else {
            assert_eq!(connack[0], 0x20, "v{version}");
        }
        assert_eq!(client.connack().time_diff, -15);

        let mut options = SendOptions::text("u2", ChannelType::PERSON, "hi");
        options.expire = 30;
        let client_seq = client.send(options).await.unwrap();
        assert_eq!(client_seq, 1);
        let Some(Packet::Send(send)) = server.read().await else { panic!("v{version}: no SEND") };
        assert_eq!(send.flags, Flags { red_dot: true, ..Flags::default() }, "JS sends 0x32");
        assert_eq!((send.client_seq, send.channel_id.as_str()), (1, "u2"));
        assert_eq!(send.expire, if version >= 3 { 30 } else { 0 }, "v{version}");
        assert!(!send.client_msg_no.is_empty());
        let plaintext = server.session.open_send(&send).unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&plaintext).unwrap()["content"], "hi");

        let ack = Sendack {
            flags: send.flags,
            message_id: 42,
            client_seq: 1,
            message_seq: 3,
            reason_code: ReasonCode::SUCCESS,
        };
        server.write(Packet::Sendack(ack)).await;
        let ack = client.wait_sendack(1).await.unwrap();
        assert_eq!((ack.message_id, ack.message_seq, ack.is_success()), (42, 3, true));

        let recv = server.recv(77, br#"{"type":1,"content":"yo"}"#);
        server.write(Packet::Recv(recv)).await;
        let Incoming::Recv(message) = client.next().await.unwrap() else { panic!("v{version}: no RECV") };
        assert_eq!(message.payload.as_ref(), br#"{"type":1,"content":"yo"}"#);
        assert_eq!((message.message_id, message.message_seq), (77, 77));
        assert_eq!((message.from_uid.as_str(), message.channel_id.as_str()), ("u1", "u1"));
        assert_eq!(message.client_msg_no, "cmn77");
        assert!(message.red_dot && !message.no_persist && !message.sync_once);
        assert_eq!(message.expire, if version >= 3 { 9 } else { 0 });
        assert_eq!(message.timestamp, 1_700_000_000);

        // The automatic RECVACK copies the RECV's flags, as JS does.
        let Some(Packet::Recvack(recvack)) = server.read().await else { panic!("v{version}: no RECVACK") };
        assert_eq!((recvack.message_id, recvack.message_seq, recvack.flags.red_dot), (77, 77, true));

        client.ping().await.unwrap();
        assert_eq!(server.read().await, Some(Packet::Ping));
        server.write(Packet::Pong).await;
        assert_eq!(client.next().await.unwrap(), Incoming::Pong);

        client.close().await.unwrap();
        assert_eq!(server.read().await, None, "v{version}: the server sees the end of the stream");
    }
}

#[tokio::test]
async fn send_bytes_match_the_js_sdk_vector() {
    // wkproto.md §6.2: RFC 7748 keys (client = Alice, server = Bob), salt "abcdefghijklmnop".
    let client_secret = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let server_secret = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let options =
        ConnectOptions { key_seed: Some(client_secret), ..ConnectOptions::new("u1", "t1").with_version(2) };
    let (client_end, server_end) = tokio::io::duplex(DUPLEX_BYTES);
    let (client, (_server, connect, _)) =
        tokio::join!(Client::login(client_end, options), FakeServer::accept(server_end, server_secret));
    assert_eq!(connect.client_key, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
    let mut client = client.unwrap();
    let mut options = SendOptions::new("u2", ChannelType::PERSON, &br#"{"content":"hi","type":1}"#[..]);
    options.client_msg_no = "cmn1".into();
    let send = client.build_send(options);
    let mut frame = BytesMut::new();
    Packet::Send(send).encode(Version::V2, &mut frame);
    let expected = "325e0000000001000463 6d6e31000275320100203461356432303033316535663861303836633134373163623562393066633734\
                    6f7a75684a31484549616f7630674a7357324f366976315470464945634150676874624968446e355063453d";
    assert_eq!(hex(&frame), expected.replace(' ', ""));
}

#[tokio::test]
async fn a_refused_login_is_an_error_with_the_reason() {
    for version in [2u8, 5] {
        let (client_end, mut server_end) = tokio::io::duplex(DUPLEX_BYTES);
        let server = async move {
            let mut decoder = Decoder::new(Version::LATEST);
            let mut inbound = BytesMut::new();
            while decoder.decode(&mut inbound).unwrap().is_none() {
                server_end.read_buf(&mut inbound).await.unwrap();
            }
            let mut frame = BytesMut::new();
            let failure = Connack::failure(Version::negotiate(version), 0, ReasonCode::AUTH_FAIL, 1);
            Packet::Connack(failure).encode(Version::negotiate(version), &mut frame);
            server_end.write_all(&frame).await.unwrap();
            server_end
        };
        let options = ConnectOptions::new("u1", "wrong").with_version(version);
        let (result, _server_end) = tokio::join!(Client::login(client_end, options), server);
        assert!(matches!(result, Err(ClientError::Refused(ReasonCode::AUTH_FAIL))), "v{version}");
    }
}

#[tokio::test]
async fn a_close_without_connack_is_closed() {
    let (client_end, server_end) = tokio::io::duplex(DUPLEX_BYTES);
    drop(server_end);
    let result = Client::login(client_end, ConnectOptions::new("u1", "t1")).await;
    assert!(matches!(result, Err(ClientError::Io(_) | ClientError::Closed)), "{:?}", result.err());
}

#[tokio::test]
async fn disconnect_is_surfaced_then_the_end_of_stream() {
    let (mut client, mut server, _) = logged_in(5).await;
    let kick = Disconnect { reason_code: ReasonCode::CONNECT_KICK, reason: "login in other device".into() };
    server.write(Packet::Disconnect(kick)).await;
    drop(server);
    assert_eq!(
        client.next().await.unwrap(),
        Incoming::Disconnect {
            reason_code: ReasonCode::CONNECT_KICK,
            reason: "login in other device".into()
        }
    );
    assert!(matches!(client.next().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn a_recv_with_a_bad_msg_key_is_an_error_and_not_acknowledged() {
    let (mut client, mut server, _) = logged_in(5).await;
    let mut forged = server.recv(1, br#"{"type":1}"#);
    forged.msg_key = "0".repeat(32);
    server.write(Packet::Recv(forged)).await;
    server.write(Packet::Recv(server.recv(2, br#"{"type":1}"#))).await;
    assert!(matches!(client.next().await, Err(ClientError::Crypto(protocol::Error::MsgKeyMismatch))));
    let Incoming::Recv(message) = client.next().await.unwrap() else { panic!("the stream stays in step") };
    assert_eq!(message.message_id, 2);
    let Some(Packet::Recvack(ack)) = server.read().await else { panic!("no RECVACK") };
    assert_eq!(ack.message_id, 2, "only the good RECV is acknowledged");
}

#[tokio::test]
async fn wait_sendack_parks_what_comes_first() {
    let (mut client, mut server, _) = logged_in(4).await;
    let first = client.send(SendOptions::text("u2", ChannelType::PERSON, "a")).await.unwrap();
    let second = client.send(SendOptions::text("u2", ChannelType::PERSON, "b")).await.unwrap();
    assert_eq!((first, second), (1, 2));
    let ack = |client_seq| {
        Packet::Sendack(Sendack { client_seq, message_id: i64::from(client_seq), ..Sendack::default() })
    };
    server.write(Packet::Pong).await;
    server.write(Packet::Recv(server.recv(5, b"{}"))).await;
    server.write(ack(2)).await;
    server.write(ack(1)).await;
    assert_eq!(client.wait_sendack(1).await.unwrap().message_id, 1);
    assert_eq!(client.next().await.unwrap(), Incoming::Pong);
    assert!(matches!(client.next().await.unwrap(), Incoming::Recv(m) if m.message_id == 5));
    assert!(matches!(client.next().await.unwrap(), Incoming::Sendack(a) if a.client_seq == 2));
    assert_eq!(client.next_timeout(Duration::from_millis(1)).await.unwrap(), None);
}

#[tokio::test]
async fn split_halves_send_and_receive_independently() {
    let options = ConnectOptions { auto_recvack: false, ..ConnectOptions::new("u1", "t1") };
    let (client, mut server, _) = logged_in_with(options).await;
    let (mut writer, mut reader) = client.into_split();
    let sender = tokio::spawn(async move {
        for i in 0..3 {
            writer.send(SendOptions::text("g1", ChannelType::GROUP, &i.to_string())).await.unwrap();
        }
        writer
    });
    for expected_seq in 1..=3u32 {
        let Some(Packet::Send(send)) = server.read().await else { panic!("no SEND") };
        assert_eq!(send.client_seq, expected_seq);
        assert_eq!(send.channel_type, ChannelType::GROUP);
        server.write(Packet::Sendack(Sendack { client_seq: send.client_seq, ..Sendack::default() })).await;
        server.write(Packet::Recv(server.recv(i64::from(expected_seq), b"{}"))).await;
    }
    let mut writer = sender.await.unwrap();
    for expected_seq in 1..=3u32 {
        assert!(matches!(reader.next().await.unwrap(), Incoming::Sendack(a) if a.client_seq == expected_seq));
        assert!(matches!(reader.next().await.unwrap(), Incoming::Recv(_)));
    }
    // With auto_recvack off, nothing was acknowledged until asked.
    reader.recvack(3, 3).await.unwrap();
    let Some(Packet::Recvack(ack)) = server.read().await else { panic!("no RECVACK") };
    assert_eq!((ack.message_id, ack.flags), (3, Flags::default()));
    writer.write_bytes(&[0x70]).await.unwrap();
    assert_eq!(server.read().await, Some(Packet::Ping));
}

#[tokio::test]
async fn send_options_reach_the_wire() {
    let (mut client, mut server, _) = logged_in(5).await;
    let mut options = SendOptions::new("g1", ChannelType::GROUP, &b"plain"[..]);
    options.no_persist = true;
    options.red_dot = false;
    options.sync_once = true;
    options.topic = "t".into();
    options.client_seq = Some(99);
    options.client_msg_no = "mine".into();
    options.no_encrypt = true;
    assert_eq!(client.send(options).await.unwrap(), 99);
    let Some(Packet::Send(send)) = server.read().await else { panic!("no SEND") };
    assert_eq!(send.flags, Flags { no_persist: true, sync_once: true, ..Flags::default() });
    assert!(send.setting.contains(Setting::TOPIC) && send.setting.contains(Setting::NO_ENCRYPT));
    assert_eq!((send.topic.as_str(), send.client_msg_no.as_str()), ("t", "mine"));
    assert_eq!(send.payload.as_ref(), b"plain");
    // The counter is untouched by an explicit client_seq.
    assert_eq!(client.send(SendOptions::text("g1", ChannelType::GROUP, "x")).await.unwrap(), 1);
    let raw = Send { client_seq: 5, channel_id: "g1".into(), ..Send::default() };
    client.send_raw(&Packet::Send(raw.clone())).await.unwrap();
    let Some(Packet::Send(_)) = server.read().await else { panic!() };
    assert_eq!(server.read().await, Some(Packet::Send(raw)));
}

fn unhex(text: &str) -> [u8; 32] {
    let bytes: Vec<u8> =
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

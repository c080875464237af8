//! The WebSocket listener: WKProto in binary messages, with a small client written here
//! (the JS SDK's habits: sealed SENDs, RECVACK for every RECV). Every message the server
//! sends carries exactly one packet (wkproto.md §8.1); inbound, messages form one byte
//! stream (two SENDs in one message, a packet split over two).

mod common;
mod gateway_util;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use gateway_util::{content, Gateway, READS_MAX, WAIT};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use wkclient::protocol::crypto::{KeyPair, Session};
use wkclient::protocol::{Connect, Decoder, Flags, Recvack, Version};
use wkclient::{ChannelType, DeviceFlag, Packet, ReasonCode, SendOptions};

struct WsClient {
    ws: WebSocketStream<TcpStream>,
    version: Version,
    session: Session,
    next_client_seq: u32,
}

/// One packet, encoded in `version`.
fn encode(packet: &Packet, version: Version) -> Vec<u8> {
    let mut frame = BytesMut::new();
    packet.encode(version, &mut frame);
    frame.to_vec()
}

impl WsClient {
    /// Opens the WebSocket and logs in with protocol `version`.
    async fn login(addr: &str, uid: &str, version: u8) -> WsClient {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream).await.unwrap();
        let keys = KeyPair::from_secret_bytes([version; 32]);
        let connect = Connect {
            version,
            device_flag: DeviceFlag::WEB,
            device_id: format!("{uid}-web"),
            uid: uid.into(),
            token: format!("t-{uid}"),
            client_timestamp: 1,
            client_key: keys.public_key_base64(),
        };
        let mut client = WsClient {
            ws,
            version: Version::negotiate(version),
            // Replaced once CONNACK brings the server's key.
            session: Session::new(&[0; 32], "0123456789abcdef").unwrap(),
            next_client_seq: 1,
        };
        client.write(&[Packet::Connect(connect)]).await;
        let connack = match client.read().await {
            Packet::Connack(connack) => connack,
            other => panic!("CONNACK first, got {other:?}"),
        };
        assert_eq!(connack.reason_code, ReasonCode::SUCCESS);
        let shared = keys.shared_secret(&connack.server_key).unwrap();
        client.session = Session::new(&shared, &connack.salt).unwrap();
        client
    }

    /// Packets in one binary message.
    async fn write(&mut self, packets: &[Packet]) {
        let bytes: Vec<u8> = packets.iter().flat_map(|p| encode(p, self.version)).collect();
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    /// A sealed SEND (not yet written) with the next client_seq.
    fn seal(&mut self, channel_id: &str, text: &str) -> Packet {
        let payload = json!({"type": 1, "content": text}).to_string();
        let mut send = wkclient::protocol::Send {
            flags: Flags { red_dot: true, ..Flags::default() },
            client_seq: self.next_client_seq,
            client_msg_no: format!("ws-{}-{text}", self.next_client_seq),
            channel_id: channel_id.into(),
            channel_type: ChannelType::PERSON,
            ..wkclient::protocol::Send::default()
        };
        self.next_client_seq += 1;
        self.session.seal_send(&mut send, payload.as_bytes());
        Packet::Send(send)
    }

    /// The next binary message, which must hold exactly one whole packet. RECVs are opened
    /// (msgKey checked) and acknowledged.
    async fn read(&mut self) -> Packet {
        for _ in 0..READS_MAX {
            let message = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a message in time");
            let bytes: Bytes = match message.expect("the socket open").unwrap() {
                Message::Binary(bytes) => bytes,
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("a binary message, got {other:?}"),
            };
            let mut buffer = BytesMut::from(&bytes[..]);
            let packet = Decoder::new(self.version)
                .decode(&mut buffer)
                .unwrap()
                .unwrap_or_else(|| panic!("a whole packet in {} bytes", bytes.len()));
            assert!(buffer.is_empty(), "{} bytes after one {:?}", buffer.len(), packet.packet_type());
            if let Packet::Recv(recv) = &packet {
                self.session.open_recv(recv).expect("the RECV's msgKey is right");
                let ack =
                    Recvack { flags: recv.flags, message_id: recv.message_id, message_seq: recv.message_seq };
                self.write(&[Packet::Recvack(ack)]).await;
            }
            return packet;
        }
        panic!("only control messages");
    }

    fn open(&self, packet: &Packet) -> String {
        let Packet::Recv(recv) = packet else { panic!("a RECV, got {packet:?}") };
        let plain = self.session.open_recv(recv).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        value["content"].as_str().unwrap().to_string()
    }
}

fn sendack_of(packet: &Packet) -> (u32, u32, ReasonCode) {
    let Packet::Sendack(ack) = packet else { panic!("a SENDACK, got {packet:?}") };
    (ack.client_seq, ack.message_seq, ack.reason_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_over_websocket_one_packet_per_message() {
    let gw = Gateway::start().await;
    for version in [5u8, 2] {
        let uid = format!("web{version}");
        gw.token(&uid, DeviceFlag::WEB).await;
        let mut alice = gw.login(&format!("alice{version}")).await;
        let alice_uid = format!("alice{version}");
        let mut web = WsClient::login(&gw.ws_addr(), &uid, version).await;
        assert_eq!(web.version.get(), version.max(2));

        // TCP → WS.
        let ack = alice.send_and_ack(SendOptions::text(&uid, ChannelType::PERSON, "to ws")).await.unwrap();
        let packet = web.read().await;
        assert_eq!(web.open(&packet), "to ws");
        let Packet::Recv(recv) = &packet else { unreachable!() };
        assert_eq!((recv.channel_id.as_str(), recv.message_seq), (alice_uid.as_str(), ack.message_seq));

        // WS → TCP.
        let send = web.seal(&alice_uid, "from ws");
        web.write(&[send]).await;
        assert_eq!(sendack_of(&web.read().await), (1, 2, ReasonCode::SUCCESS));
        let got = alice.wait_recv().await.unwrap();
        assert_eq!((content(&got), got.channel_id.as_str()), ("from ws".to_string(), uid.as_str()));

        // Two SENDs in one message (JS 1.3 batches), then one split over two messages: one
        // SENDACK per message back, in order.
        let (one, two) = (web.seal(&alice_uid, "one"), web.seal(&alice_uid, "two"));
        web.write(&[one, two]).await;
        let three = encode(&web.seal(&alice_uid, "three"), web.version);
        let (head, tail) = three.split_at(three.len() / 2);
        web.ws.send(Message::Binary(head.to_vec().into())).await.unwrap();
        web.ws.send(Message::Binary(tail.to_vec().into())).await.unwrap();
        for (client_seq, message_seq) in [(2, 3), (3, 4), (4, 5)] {
            assert_eq!(sendack_of(&web.read().await), (client_seq, message_seq, ReasonCode::SUCCESS));
        }
        for text in ["one", "two", "three"] {
            assert_eq!(content(&alice.wait_recv().await.unwrap()), text);
        }

        web.write(&[Packet::Ping]).await;
        assert_eq!(web.read().await, Packet::Pong);
        let online = gw.online(&[&uid]).await;
        assert_eq!(online, [(uid.clone(), 1)]);
        let connz = gw.http.get(&format!("/connz?uid={uid}")).await.unwrap().body;
        assert_eq!(connz["connections"][0]["transport"], "ws");
        assert_eq!(connz["connections"][0]["version"], version);
    }
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_websocket_message_closes_only_its_connection() {
    let gw = Gateway::start().await;
    gw.token("web", DeviceFlag::WEB).await;
    gw.token("other", DeviceFlag::WEB).await;
    let mut other = WsClient::login(&gw.ws_addr(), "other", 5).await;
    let mut web = WsClient::login(&gw.ws_addr(), "web", 5).await;
    // Above a frame's 1 MiB: the server ends the WebSocket.
    let _ = web.ws.send(Message::Binary(vec![0x30; (1 << 20) + 64].into())).await;
    let mut ended = false;
    for _ in 0..READS_MAX {
        match tokio::time::timeout(WAIT, web.ws.next()).await.expect("the server ends the socket") {
            // The end of the TCP stream, after any Close frame: the server has forgotten it.
            None | Some(Err(_)) => {
                ended = true;
                break;
            }
            Some(Ok(Message::Binary(bytes))) => panic!("a packet after an oversized message: {bytes:?}"),
            Some(Ok(_)) => {}
        }
    }
    assert!(ended, "the socket ends");
    assert_eq!(gw.online(&["web"]).await, []);
    // The other connection carries on.
    let mut alice = gw.login("alice").await;
    let send = other.seal("alice", "still here");
    other.write(&[send]).await;
    assert_eq!(sendack_of(&other.read().await), (1, 1, ReasonCode::SUCCESS));
    assert_eq!(content(&alice.wait_recv().await.unwrap()), "still here");
    gw.server.stop().await;
}

//! Bad input closes only the connection that sent it (with DISCONNECT and a reason where
//! the protocol has one): garbage, an oversized frame, a wrong msgKey, SEND before CONNECT,
//! an unknown packet type; a bad token is refused; a client that never reads is closed at
//! its bound. Meanwhile the server and another client carry on, and what was acknowledged
//! before is still in history.

mod common;
mod gateway_util;

use bytes::BytesMut;
use gateway_util::{content, content_of, read_to_end, Gateway, WAIT};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wkclient::protocol::{Decoder, Version};
use wkclient::{ChannelType, Client, ClientError, ConnectOptions, Incoming, Packet, ReasonCode, SendOptions};

/// Everything the server writes to a raw socket until it closes it, decoded.
async fn raw_replies(stream: &mut TcpStream) -> Vec<Packet> {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut bytes)).await;
    match read {
        Ok(Ok(_)) => {}
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(error)) => panic!("reading: {error}"),
        Err(_) => panic!("the server keeps the connection open"),
    }
    let mut buffer = BytesMut::from(&bytes[..]);
    let mut decoder = Decoder::new(Version::LATEST);
    let mut packets = Vec::new();
    while let Some(packet) = decoder.decode(&mut buffer).expect("the server's bytes decode") {
        packets.push(packet);
    }
    assert!(buffer.is_empty(), "a partial packet at the end");
    packets
}

/// The server is still fine: `bob` gets a message from a new connection of `carol`.
async fn still_serving(gw: &Gateway, bob: &mut Client, text: &str) {
    let mut carol = gw.connect("carol", wkclient::DeviceFlag::APP).await;
    let ack = carol.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, text)).await.unwrap();
    assert!(ack.is_success(), "{ack:?}");
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.from_uid.as_str()), (text.to_string(), "carol"));
    // carol leaves; the server's end of the stream says it has forgotten her.
    let (writer, mut reader) = carol.into_split();
    writer.close().await.unwrap();
    let end = reader.next_timeout(WAIT).await;
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_its_own_connection() {
    let gw = Gateway::start().await;
    gw.token("carol", wkclient::DeviceFlag::APP).await;
    gw.token("mallory", wkclient::DeviceFlag::APP).await;
    let mut bob = gw.login("bob").await;
    still_serving(&gw, &mut bob, "before").await;
    assert_eq!(gw.varz().await["connections"], 1);

    // Garbage: a SEND header whose body is no SEND.
    let mut bad = gw.connect("mallory", wkclient::DeviceFlag::APP).await;
    bad.write_bytes(&[0x30, 0x04, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
    let ending = read_to_end(&mut bad).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::PAYLOAD_DECODE_ERROR), "{ending:?}");
    still_serving(&gw, &mut bob, "after garbage").await;

    // A frame above 1 MiB, refused from its length alone.
    let mut bad = gw.connect("mallory", wkclient::DeviceFlag::APP).await;
    bad.write_bytes(&[0x30, 0x80, 0x80, 0x80, 0x01]).await.unwrap();
    let ending = read_to_end(&mut bad).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::PAYLOAD_DECODE_ERROR), "{ending:?}");
    still_serving(&gw, &mut bob, "after oversized").await;

    // A wrong msgKey: SENDACK refused, then DISCONNECT; nothing stored or delivered.
    let mut bad = gw.connect("mallory", wkclient::DeviceFlag::APP).await;
    let mut send = bad.build_send(SendOptions::text("bob", ChannelType::PERSON, "forged"));
    send.msg_key = "0".repeat(32);
    bad.send_raw(&Packet::Send(send.clone())).await.unwrap();
    let ending = read_to_end(&mut bad).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::MSG_KEY_ERROR), "{ending:?}");
    match &ending.before[..] {
        [Incoming::Sendack(ack)] => {
            assert_eq!(
                (ack.client_seq, ack.reason_code, ack.message_seq),
                (send.client_seq, ReasonCode::MSG_KEY_ERROR, 0)
            )
        }
        other => panic!("one refused SENDACK, got {other:?}"),
    }
    still_serving(&gw, &mut bob, "after msgKey").await;

    // An unknown packet type (15).
    let mut bad = gw.connect("mallory", wkclient::DeviceFlag::APP).await;
    bad.write_bytes(&[0xf0, 0x00]).await.unwrap();
    let ending = read_to_end(&mut bad).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::NOT_SUPPORT_HEADER), "{ending:?}");

    // A second CONNECT on a logged-in connection.
    let mut bad = gw.connect("mallory", wkclient::DeviceFlag::APP).await;
    let connect = wkclient::protocol::Connect {
        uid: "mallory".into(),
        token: "t-mallory".into(),
        ..Default::default()
    };
    bad.send_raw(&Packet::Connect(connect)).await.unwrap();
    let ending = read_to_end(&mut bad).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::NOT_SUPPORT_HEADER), "{ending:?}");

    // SEND before CONNECT, on a raw socket.
    let mut raw = TcpStream::connect(gw.tcp_addr()).await.unwrap();
    let mut frame = BytesMut::new();
    Packet::Send(send).encode(Version::LATEST, &mut frame);
    raw.write_all(&frame).await.unwrap();
    let replies = raw_replies(&mut raw).await;
    match &replies[..] {
        [Packet::Disconnect(disconnect)] => assert_ne!(disconnect.reason_code, ReasonCode::SUCCESS),
        other => panic!("a DISCONNECT and the end, got {other:?}"),
    }
    // Garbage before CONNECT.
    let mut raw = TcpStream::connect(gw.tcp_addr()).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let replies = raw_replies(&mut raw).await;
    assert!(replies.iter().all(|p| matches!(p, Packet::Disconnect(_))), "{replies:?}");

    // A bad token: CONNACK refused.
    let refused = Client::connect(gw.tcp_addr(), ConnectOptions::new("mallory", "wrong")).await;
    assert!(matches!(refused, Err(ClientError::Refused(ReasonCode::AUTH_FAIL))), "{:?}", refused.err());
    let refused = Client::connect(gw.tcp_addr(), ConnectOptions::new("nobody", "t-nobody")).await;
    assert!(matches!(refused, Err(ClientError::Refused(ReasonCode::AUTH_FAIL))), "{:?}", refused.err());

    still_serving(&gw, &mut bob, "at the end").await;
    let history = gw.history("bob", "carol", 1).await;
    let texts: Vec<String> = history.iter().map(content_of).collect();
    assert_eq!(texts, ["before", "after garbage", "after oversized", "after msgKey", "at the end"]);
    assert_eq!(gw.varz().await["connections"], 1, "only bob");
    bob.ping().await.unwrap();
    assert_eq!(bob.next_timeout(WAIT).await.unwrap(), Some(Incoming::Pong));
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_at_its_bound() {
    let gw = Gateway::start().await;
    let mut bob = gw.login("bob").await;
    gw.token("carol", wkclient::DeviceFlag::APP).await;
    let mut slow = gw.login("slow").await;
    let before = gw.varz().await["slow_clients"].as_u64().unwrap();

    // Far more than the server queues for one connection plus what sockets buffer: 200
    // messages of 100 KiB (about 27 MiB on the wire, encrypted and base64).
    const MESSAGES: usize = 200;
    let big = json!({"type": 1, "content": "x".repeat(100 << 10)}).to_string();
    let payload = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&big)
    };
    for _ in 0..MESSAGES {
        let body = json!({"from_uid": "alice", "channel_id": "slow", "channel_type": 1, "payload": payload});
        gw.http.post_ok("/message/send", &body).await.unwrap();
    }
    // Now it reads: what the sockets held, then the end, well before all of them.
    let ending = read_to_end(&mut slow).await;
    let received = ending.before.iter().filter(|p| matches!(p, Incoming::Recv(_))).count();
    assert!(received < MESSAGES, "closed before everything was queued: got {received}");
    assert_eq!(gw.online(&["slow"]).await, [], "forgotten once closed");
    let after = gw.varz().await["slow_clients"].as_u64().unwrap();
    assert_eq!(after, before + 1, "counted as a slow client");
    // Everything was stored all the same, and the server carries on.
    assert_eq!(gw.history("slow", "alice", 1).await.len(), MESSAGES);
    still_serving(&gw, &mut bob, "still here").await;
    gw.server.stop().await;
}

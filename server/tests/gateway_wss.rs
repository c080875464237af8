//! The WSS listener (`wssAddr` with `wssConfig.certFile/keyFile`): a self-signed certificate
//! made here, a WebSocket client over TLS that trusts it, WKProto in binary messages as over
//! plain WebSocket; and a start that fails, naming the file, when the certificate cannot be
//! read.

mod common;
mod gateway_util;

use std::sync::Arc;

use bytes::BytesMut;
use common::{test_config, TestServer};
use futures_util::{SinkExt, StreamExt};
use gateway_util::{content, Gateway, READS_MAX, WAIT};
use serde_json::json;
use server::config::Config;
use server::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use wkclient::http::HttpClient;
use wkclient::protocol::crypto::{KeyPair, Session};
use wkclient::protocol::{Connect, Decoder, Flags, Recvack, Version};
use wkclient::{ChannelType, DeviceFlag, Packet, ReasonCode, SendOptions};

const VERSION: u8 = 5;

/// A server with WSS on a free loopback port, its certificate (DER) for the clients to trust.
async fn start_wss() -> (Gateway, CertificateDer<'static>) {
    let dir = tempfile::tempdir().unwrap();
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, generated.cert.pem()).unwrap();
    std::fs::write(&key_file, generated.key_pair.serialize_pem()).unwrap();
    let mut config = test_config(dir.path());
    config.wss_addr = "wss://127.0.0.1:0".into();
    config.wss_config.cert_file = cert_file;
    config.wss_config.key_file = key_file;
    let server = TestServer::start_with(dir, config).await;
    let http = HttpClient::new(server.http_addr().to_string());
    (Gateway { server, http }, generated.cert.der().clone())
}

fn wss_port(gw: &Gateway) -> u16 {
    gw.server.server.as_ref().unwrap().wss_addr.expect("WSS is on").port()
}

struct WssClient {
    ws: WebSocketStream<TlsStream<TcpStream>>,
    version: Version,
    session: Session,
    next_client_seq: u32,
}

impl WssClient {
    /// TLS to `localhost:port` trusting only `cert`, the WebSocket handshake, then a login.
    async fn login(port: u16, cert: &CertificateDer<'static>, uid: &str) -> WssClient {
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls_config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(tls_config)).connect(name, stream).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{port}/"), tls).await.unwrap();
        let keys = KeyPair::from_secret_bytes([7; 32]);
        let connect = Connect {
            version: VERSION,
            device_flag: DeviceFlag::WEB,
            device_id: format!("{uid}-web"),
            uid: uid.into(),
            token: format!("t-{uid}"),
            client_timestamp: 1,
            client_key: keys.public_key_base64(),
        };
        let mut client = WssClient {
            ws,
            version: Version::negotiate(VERSION),
            // Replaced once CONNACK brings the server's key.
            session: Session::new(&[0; 32], "0123456789abcdef").unwrap(),
            next_client_seq: 1,
        };
        client.write(Packet::Connect(connect)).await;
        let Packet::Connack(connack) = client.read().await else { panic!("CONNACK first") };
        assert_eq!(connack.reason_code, ReasonCode::SUCCESS);
        let shared = keys.shared_secret(&connack.server_key).unwrap();
        client.session = Session::new(&shared, &connack.salt).unwrap();
        client
    }

    async fn write(&mut self, packet: Packet) {
        let mut frame = BytesMut::new();
        packet.encode(self.version, &mut frame);
        self.ws.send(Message::Binary(frame.freeze())).await.unwrap();
    }

    /// A sealed SEND of `text` to the person `channel_id`.
    async fn send(&mut self, channel_id: &str, text: &str) {
        let payload = json!({"type": 1, "content": text}).to_string();
        let mut send = wkclient::protocol::Send {
            flags: Flags { red_dot: true, ..Flags::default() },
            client_seq: self.next_client_seq,
            client_msg_no: format!("wss-{}", self.next_client_seq),
            channel_id: channel_id.into(),
            channel_type: ChannelType::PERSON,
            ..wkclient::protocol::Send::default()
        };
        self.next_client_seq += 1;
        self.session.seal_send(&mut send, payload.as_bytes());
        self.write(Packet::Send(send)).await;
    }

    /// The next packet (one per binary message); a RECV is acknowledged.
    async fn read(&mut self) -> Packet {
        for _ in 0..READS_MAX {
            let message = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a message in time");
            let bytes = match message.expect("the socket open").unwrap() {
                Message::Binary(bytes) => bytes,
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("a binary message, got {other:?}"),
            };
            let mut buffer = BytesMut::from(&bytes[..]);
            let packet = Decoder::new(self.version).decode(&mut buffer).unwrap().expect("a whole packet");
            if let Packet::Recv(recv) = &packet {
                let ack =
                    Recvack { flags: recv.flags, message_id: recv.message_id, message_seq: recv.message_seq };
                self.write(Packet::Recvack(ack)).await;
            }
            return packet;
        }
        panic!("only control messages");
    }

    /// The content of a RECV.
    fn open(&self, packet: &Packet) -> String {
        let Packet::Recv(recv) = packet else { panic!("a RECV, got {packet:?}") };
        let plain = self.session.open_recv(recv).expect("the RECV's msgKey is right");
        let value: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        value["content"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_over_wss_with_a_configured_certificate() {
    let (gw, cert) = start_wss().await;
    let port = wss_port(&gw);
    let route = gw.http.get("/route").await.unwrap().body;
    assert_eq!(route["wss_addr"], format!("wss://127.0.0.1:{port}"));

    // Plain HTTP on the TLS port: that connection fails its handshake and is closed.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut rest)).await.expect("the server closes it");

    gw.token("web", DeviceFlag::WEB).await;
    let mut alice = gw.login("alice").await;
    let mut web = WssClient::login(port, &cert, "web").await;

    // TCP → WSS.
    let ack = alice.send_and_ack(SendOptions::text("web", ChannelType::PERSON, "to wss")).await.unwrap();
    let packet = web.read().await;
    assert_eq!(web.open(&packet), "to wss");
    let Packet::Recv(recv) = &packet else { unreachable!() };
    assert_eq!((recv.channel_id.as_str(), recv.message_seq), ("alice", ack.message_seq));

    // WSS → TCP.
    web.send("alice", "from wss").await;
    let Packet::Sendack(sendack) = web.read().await else { panic!("a SENDACK") };
    assert_eq!((sendack.client_seq, sendack.message_seq, sendack.reason_code), (1, 2, ReasonCode::SUCCESS));
    let got = alice.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.channel_id.as_str()), ("from wss".to_string(), "web"));

    let connz = gw.http.get("/connz?uid=web").await.unwrap().body;
    assert_eq!(connz["connections"][0]["transport"], "ws");
    gw.server.stop().await;
}

/// The error of a start that must fail.
async fn start_error(config: Config) -> String {
    match Server::start(config).await {
        Ok(server) => {
            server.stop().await;
            panic!("the server started");
        }
        Err(error) => error.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_without_a_readable_certificate_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.wss_addr = "wss://127.0.0.1:0".into();
    let error = start_error(config.clone()).await;
    assert!(error.contains("wssConfig.certFile"), "{error}");

    config.wss_config.cert_file = dir.path().join("no-such-cert.pem");
    config.wss_config.key_file = dir.path().join("no-such-key.pem");
    let error = start_error(config.clone()).await;
    assert!(error.contains("no-such-cert.pem"), "{error}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n").unwrap();
    config.wss_config.cert_file = garbage;
    let error = start_error(config).await;
    assert!(error.contains("garbage.pem"), "{error}");
}

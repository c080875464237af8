//! What the gateway tests share: a server with its HTTP client, logins, history reads, and
//! bounded reads of a connection until it closes.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use wkclient::http::HttpClient;
use wkclient::{Client, ClientError, ConnectOptions, DeviceFlag, Incoming, ReasonCode, Received};

use crate::common::TestServer;

/// Packets read at most while waiting for something in particular: a bound for every loop.
pub const READS_MAX: usize = 10_000;
/// How long a read waits for the next packet when one is expected: only bounds a broken test.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Gateway {
    pub server: TestServer,
    pub http: HttpClient,
}

impl Gateway {
    pub async fn start() -> Gateway {
        let server = TestServer::start().await;
        let http = HttpClient::new(server.http_addr().to_string());
        Gateway { server, http }
    }

    /// After [`TestServer::restart`]: new ports.
    pub async fn restart(&mut self) {
        self.server.restart().await;
        self.http = HttpClient::new(self.server.http_addr().to_string());
    }

    pub fn tcp_addr(&self) -> String {
        self.server.server.as_ref().unwrap().tcp_addr.to_string()
    }

    pub fn ws_addr(&self) -> String {
        self.server.server.as_ref().unwrap().ws_addr.to_string()
    }

    /// Registers `uid`'s master token `t-<uid>` for `device_flag`.
    pub async fn token(&self, uid: &str, device_flag: DeviceFlag) {
        self.http.user_token(uid, &format!("t-{uid}"), device_flag.0, 1).await.unwrap();
    }

    /// Registers the APP token and logs in on it.
    pub async fn login(&self, uid: &str) -> Client {
        self.token(uid, DeviceFlag::APP).await;
        self.connect(uid, DeviceFlag::APP).await
    }

    /// Logs in with the token [`Gateway::token`] registered.
    pub async fn connect(&self, uid: &str, device_flag: DeviceFlag) -> Client {
        let options = ConnectOptions { device_flag, ..ConnectOptions::new(uid, format!("t-{uid}")) };
        Client::connect(self.tcp_addr(), options).await.unwrap_or_else(|e| panic!("{uid} logs in: {e}"))
    }

    /// `POST /channel` of a group with `members`.
    pub async fn group(&self, channel_id: &str, members: &[&str]) {
        let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        self.http.create_channel(channel_id, 2, &members).await.unwrap();
    }

    /// `/channel/messagesync` from seq 1 up, as `login_uid` sees the channel.
    pub async fn history(&self, login_uid: &str, channel_id: &str, channel_type: u8) -> Vec<Value> {
        let body = json!({
            "login_uid": login_uid, "channel_id": channel_id, "channel_type": channel_type,
            "start_message_seq": 0, "end_message_seq": 0, "limit": 1000, "pull_mode": 1,
        });
        let response = self.http.post("/channel/messagesync", &body).await.unwrap();
        assert_eq!(response.status, 200, "{body} → {:?}", response.body);
        response.body["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("messages in {}", response.body))
            .clone()
    }

    /// `/conversation/sync` of `uid`.
    pub async fn conversations(&self, uid: &str) -> Vec<Value> {
        let response =
            self.http.post("/conversation/sync", &json!({"uid": uid, "msg_count": 1})).await.unwrap();
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.body.as_array().unwrap_or_else(|| panic!("a bare array: {}", response.body)).clone()
    }

    /// `/user/onlinestatus` of `uids`: (uid, device_flag) per online connection, sorted.
    pub async fn online(&self, uids: &[&str]) -> Vec<(String, u64)> {
        let response = self.http.post("/user/onlinestatus", &json!(uids)).await.unwrap();
        assert_eq!(response.status, 200, "{:?}", response.body);
        let mut rows: Vec<(String, u64)> = response
            .body
            .as_array()
            .unwrap_or_else(|| panic!("a bare array: {}", response.body))
            .iter()
            .map(|row| (row["uid"].as_str().unwrap().to_string(), row["device_flag"].as_u64().unwrap()))
            .collect();
        rows.sort();
        rows
    }

    /// `GET /varz`.
    pub async fn varz(&self) -> Value {
        let response = self.http.get("/varz").await.unwrap();
        assert_eq!(response.status, 200);
        response.body
    }
}

/// A history message's payload, decoded from base64.
pub fn payload_of(message: &Value) -> Vec<u8> {
    let text = message["payload"].as_str().unwrap_or_else(|| panic!("payload in {message}"));
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// A history message's `content` (the SDK text payload).
pub fn content_of(message: &Value) -> String {
    let payload: Value = serde_json::from_slice(&payload_of(message)).unwrap();
    payload["content"].as_str().unwrap().to_string()
}

/// A received message's `content`.
pub fn content(received: &Received) -> String {
    received.payload_json().unwrap()["content"].as_str().unwrap().to_string()
}

/// RECVs until (and including) the one whose content is `marker`; bounded.
pub async fn recv_until(client: &mut Client, marker: &str) -> Vec<Received> {
    let mut got = Vec::new();
    for _ in 0..READS_MAX {
        let received = client.wait_recv().await.unwrap_or_else(|e| panic!("waiting for {marker:?}: {e}"));
        let done = content(&received) == marker;
        got.push(received);
        if done {
            return got;
        }
    }
    panic!("no {marker:?} within {READS_MAX} messages");
}

/// How a connection ended, read to its end.
#[derive(Debug, Default)]
pub struct Ending {
    /// The DISCONNECT's reason code, if one came.
    pub disconnect: Option<ReasonCode>,
    /// Everything read before the end (DISCONNECT excluded).
    pub before: Vec<Incoming>,
}

/// Reads until the server closes the connection; panics if it stays open (nothing within
/// [`WAIT`]) or sends anything after a DISCONNECT.
pub async fn read_to_end(client: &mut Client) -> Ending {
    let mut ending = Ending::default();
    for _ in 0..READS_MAX {
        match client.next_timeout(WAIT).await {
            Ok(Some(Incoming::Disconnect { reason_code, .. })) => {
                assert!(ending.disconnect.is_none(), "two DISCONNECTs");
                ending.disconnect = Some(reason_code);
            }
            Ok(Some(other)) => {
                assert!(ending.disconnect.is_none(), "{other:?} after DISCONNECT");
                ending.before.push(other);
            }
            Ok(None) => panic!("the connection stays open: {ending:?}"),
            Err(ClientError::Closed) => return ending,
            // A reset after the server closed with unread bytes of ours is an end too.
            Err(ClientError::Io(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return ending
            }
            Err(error) => panic!("reading to the end: {error} ({ending:?})"),
        }
    }
    panic!("more than {READS_MAX} packets and still open");
}

//! Kicks: a second master login of the same uid and device flag replaces the first
//! (DISCONNECT ConnectKick), `/user/device_quit` kicks, and `/user/onlinestatus` and
//! `/connz` list the live connections before and after.

mod common;
mod gateway_util;

use gateway_util::{read_to_end, Gateway};
use serde_json::{json, Value};
use wkclient::{ChannelType, Client, ClientError, ConnectOptions, DeviceFlag, ReasonCode, SendOptions};

async fn connz(gw: &Gateway, query: &str) -> Value {
    let response = gw.http.get(&format!("/connz{query}")).await.unwrap();
    assert_eq!(response.status, 200);
    response.body
}

fn ids_of(connz: &Value) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["uid"].as_str().unwrap().to_string(), c["device_flag"].as_u64().unwrap()))
        .collect();
    rows.sort();
    rows
}

fn row(uid: &str, device_flag: u64) -> (String, u64) {
    (uid.to_string(), device_flag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_master_login_kicks_the_first_and_device_quit_kicks_the_rest() {
    let gw = Gateway::start().await;
    assert_eq!(gw.online(&["alice"]).await, []);
    let mut first = gw.login("alice").await;
    gw.token("alice", DeviceFlag::WEB).await;
    let mut web = gw.connect("alice", DeviceFlag::WEB).await;
    let mut bob = gw.login("bob").await;
    assert_eq!(gw.online(&["alice", "bob"]).await, [row("alice", 0), row("alice", 1), row("bob", 0)]);
    let all = connz(&gw, "").await;
    assert_eq!(all["total"], 3);
    assert_eq!(ids_of(&all), [row("alice", 0), row("alice", 1), row("bob", 0)]);
    let transports: Vec<&str> =
        all["connections"].as_array().unwrap().iter().map(|c| c["transport"].as_str().unwrap()).collect();
    assert_eq!(transports, ["tcp"; 3]);

    // The same uid and device flag again: the older connection is told why and closed.
    let mut second = gw.connect("alice", DeviceFlag::APP).await;
    let ending = read_to_end(&mut first).await;
    assert_eq!(ending.disconnect, Some(ReasonCode::CONNECT_KICK));
    assert_eq!(gw.online(&["alice"]).await, [row("alice", 0), row("alice", 1)]);
    assert_eq!(connz(&gw, "").await["total"], 3);
    assert_eq!(ids_of(&connz(&gw, "?uid=alice").await), [row("alice", 0), row("alice", 1)]);

    // The new connection and the WEB one work.
    let ack = second.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "hi")).await.unwrap();
    assert!(ack.is_success());
    assert_eq!(bob.wait_recv().await.unwrap().message_seq, ack.message_seq);
    assert_eq!(web.wait_recv().await.unwrap().message_seq, ack.message_seq);

    // device_quit of APP kicks the APP connection only; its token no longer logs in.
    gw.http.post_ok("/user/device_quit", &json!({"uid": "alice", "device_flag": 0})).await.unwrap();
    assert_eq!(read_to_end(&mut second).await.disconnect, Some(ReasonCode::CONNECT_KICK));
    assert_eq!(gw.online(&["alice"]).await, [row("alice", 1)]);
    let again = Client::connect(gw.tcp_addr(), ConnectOptions::new("alice", "t-alice")).await;
    assert!(matches!(again, Err(ClientError::Refused(ReasonCode::AUTH_FAIL))), "{:?}", again.err());

    // device_quit of every device (-1).
    gw.http.post_ok("/user/device_quit", &json!({"uid": "alice", "device_flag": -1})).await.unwrap();
    assert_eq!(read_to_end(&mut web).await.disconnect, Some(ReasonCode::CONNECT_KICK));
    assert_eq!(gw.online(&["alice", "bob"]).await, [row("bob", 0)]);
    let all = connz(&gw, "").await;
    assert_eq!((all["total"].clone(), ids_of(&all)), (json!(1), vec![row("bob", 0)]));
    // bob is untouched.
    bob.ping().await.unwrap();
    assert_eq!(bob.next_timeout(gateway_util::WAIT).await.unwrap(), Some(wkclient::Incoming::Pong));
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_login_kicks_nobody_and_a_closed_connection_goes_offline() {
    let gw = Gateway::start().await;
    gw.http.user_token("alice", "t-alice", 0, 0).await.unwrap();
    let one = gw.connect("alice", DeviceFlag::APP).await;
    let mut two = gw.connect("alice", DeviceFlag::APP).await;
    assert_eq!(gw.online(&["alice"]).await, [row("alice", 0), row("alice", 0)]);
    let levels: Vec<u64> = connz(&gw, "?uid=alice").await["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["device_level"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, [0, 0]);
    // A client that closes its side is forgotten; the server closes its own after that.
    let (writer, mut reader) = one.into_split();
    writer.close().await.unwrap();
    let end = reader.next_timeout(gateway_util::WAIT).await;
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    assert_eq!(gw.online(&["alice"]).await, [row("alice", 0)]);
    two.ping().await.unwrap();
    assert_eq!(two.next_timeout(gateway_util::WAIT).await.unwrap(), Some(wkclient::Incoming::Pong));
    let mut three = gw.connect("alice", DeviceFlag::APP).await;
    three.send_raw(&wkclient::Packet::Disconnect(Default::default())).await.unwrap();
    let ending = read_to_end(&mut three).await;
    assert!(ending.disconnect.is_none(), "{ending:?}");
    assert_eq!(gw.online(&["alice"]).await, [row("alice", 0)]);
    gw.server.stop().await;
}

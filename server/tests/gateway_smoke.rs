//! The smallest chat through the gateway: two users, one message each way.

mod common;

use common::TestServer;
use wkclient::http::HttpClient;
use wkclient::{ChannelType, Client, ConnectOptions, SendOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_both_ways() {
    let server = TestServer::start().await;
    let running = server.server.as_ref().unwrap();
    let http = HttpClient::new(running.http_addr.to_string());
    http.user_token("alice", "ta", 0, 1).await.unwrap();
    http.user_token("bob", "tb", 0, 1).await.unwrap();
    let tcp = running.tcp_addr.to_string();
    let mut alice = Client::connect(&tcp, ConnectOptions::new("alice", "ta")).await.unwrap();
    let mut bob = Client::connect(&tcp, ConnectOptions::new("bob", "tb")).await.unwrap();

    let seq = alice.send(SendOptions::text("bob", ChannelType::PERSON, "hi bob")).await.unwrap();
    let ack = alice.wait_sendack(seq).await.unwrap();
    assert!(ack.is_success(), "{ack:?}");
    assert_eq!(ack.message_seq, 1);
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((got.from_uid.as_str(), got.channel_id.as_str()), ("alice", "alice"));
    assert_eq!(got.payload_json().unwrap()["content"], "hi bob");

    let seq = bob.send(SendOptions::text("alice", ChannelType::PERSON, "hi alice")).await.unwrap();
    assert!(bob.wait_sendack(seq).await.unwrap().is_success());
    let got = alice.wait_recv().await.unwrap();
    assert_eq!((got.from_uid.as_str(), got.channel_id.as_str(), got.message_seq), ("bob", "bob", 2));
    server.stop().await;
}

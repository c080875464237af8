//! Catching up: a user offline while messages arrive finds them through
//! `/conversation/sync` and `/channel/messagesync` (also after a restart); and a resend
//! with the same client_msg_no (its SENDACK lost) is answered with the first one's numbers
//! and stored and delivered once.

mod common;
mod gateway_util;

use gateway_util::{content, content_of, recv_until, Gateway};
use serde_json::Value;
use wkclient::{ChannelType, SendOptions};

const N: u32 = 7;

fn payload(i: u32) -> String {
    format!("message {i} ✓ {}", "x".repeat(i as usize * 50))
}

fn contents(history: &[Value]) -> Vec<String> {
    history.iter().map(content_of).collect()
}

fn seqs(history: &[Value]) -> Vec<u64> {
    history.iter().map(|m| m["message_seq"].as_u64().unwrap()).collect()
}

/// bob's conversation with alice: (unread, last_msg_seq).
async fn bobs_conversation(gw: &Gateway) -> (u64, u64) {
    let rows = gw.conversations("bob").await;
    let row = rows
        .iter()
        .find(|c| c["channel_id"] == "alice" && c["channel_type"] == 1)
        .unwrap_or_else(|| panic!("bob has a conversation with alice: {rows:?}"));
    (row["unread"].as_u64().unwrap(), row["last_msg_seq"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_user_catches_up_by_sync_also_after_a_restart() {
    let mut gw = Gateway::start().await;
    gw.token("bob", wkclient::DeviceFlag::APP).await;
    let mut alice = gw.login("alice").await;
    for i in 1..=N {
        let ack =
            alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, &payload(i))).await.unwrap();
        assert!(ack.is_success() && ack.message_seq == i, "{ack:?}");
    }
    let expected: Vec<String> = (1..=N).map(payload).collect();

    let mut bob = gw.connect("bob", wkclient::DeviceFlag::APP).await;
    assert_eq!(bobs_conversation(&gw).await, (N as u64, N as u64));
    let history = gw.history("bob", "alice", 1).await;
    assert_eq!(seqs(&history), (1..=N as u64).collect::<Vec<_>>());
    assert_eq!(contents(&history), expected);
    let stored_id = server::ids::person_channel_id("alice", "bob");
    assert!(history.iter().all(|m| m["from_uid"] == "alice" && m["channel_id"] == stored_id.as_str()));
    // Live delivery works for the connection that caught up; offline messages are not pushed.
    let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "live")).await.unwrap();
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.message_seq), ("live".to_string(), ack.message_seq));
    drop((alice, bob));

    // Everything acknowledged survives a restart.
    gw.restart().await;
    let history = gw.history("bob", "alice", 1).await;
    let mut expected = expected;
    expected.push("live".into());
    assert_eq!(contents(&history), expected);
    assert_eq!(bobs_conversation(&gw).await, (N as u64 + 1, N as u64 + 1));
    // Logins and sends go on from there (the tokens survived too).
    let mut alice = gw.connect("alice", wkclient::DeviceFlag::APP).await;
    let mut bob = gw.connect("bob", wkclient::DeviceFlag::APP).await;
    let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "after")).await.unwrap();
    assert_eq!(ack.message_seq, N + 2);
    assert_eq!(bob.wait_recv().await.unwrap().message_seq, N + 2);
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_with_the_same_client_msg_no_gets_the_first_answer() {
    let gw = Gateway::start().await;
    let mut bob = gw.login("bob").await;
    let mut alice = gw.login("alice").await;
    let once = |text: &str, client_msg_no: &str| SendOptions {
        client_msg_no: client_msg_no.into(),
        ..SendOptions::text("bob", ChannelType::PERSON, text)
    };
    let first = alice.send_and_ack(once("one", "fixed-1")).await.unwrap();
    assert!(first.is_success());
    // The same SEND again, on the same connection and on a new one.
    let again = alice.send_and_ack(once("one", "fixed-1")).await.unwrap();
    assert_eq!(
        (again.message_id, again.message_seq, again.reason_code),
        (first.message_id, first.message_seq, first.reason_code)
    );
    drop(alice);
    let mut alice = gw.connect("alice", wkclient::DeviceFlag::APP).await;
    let again = alice.send_and_ack(once("one", "fixed-1")).await.unwrap();
    assert_eq!((again.message_id, again.message_seq), (first.message_id, first.message_seq));

    // The same SEND twice without waiting (one batch): one message.
    let a = alice.send(once("one-b", "fixed-b")).await.unwrap();
    let b = alice.send(once("one-b", "fixed-b")).await.unwrap();
    let (a, b) = (alice.wait_sendack(a).await.unwrap(), alice.wait_sendack(b).await.unwrap());
    assert!(a.is_success() && b.is_success(), "{a:?} {b:?}");
    assert_eq!((a.message_id, a.message_seq), (b.message_id, b.message_seq));
    assert_eq!(a.message_seq, first.message_seq + 1);

    // A SEND whose connection went away before its SENDACK was read, then resent.
    let mut lost = gw.connect("alice", wkclient::DeviceFlag::APP).await;
    lost.send(once("two", "fixed-2")).await.unwrap();
    drop(lost);
    let mut alice2 = gw.connect("alice", wkclient::DeviceFlag::APP).await;
    let resent = alice2.send_and_ack(once("two", "fixed-2")).await.unwrap();
    assert!(resent.is_success());
    let end = alice2.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "end")).await.unwrap();
    assert_eq!(end.message_seq, resent.message_seq + 1);

    let got = recv_until(&mut bob, "end").await;
    let got: Vec<(String, u32)> = got.iter().map(|m| (content(m), m.message_seq)).collect();
    assert_eq!(
        got,
        [
            ("one".to_string(), first.message_seq),
            ("one-b".to_string(), a.message_seq),
            ("two".to_string(), resent.message_seq),
            ("end".to_string(), end.message_seq)
        ],
        "bob gets each message once"
    );
    let history = gw.history("bob", "alice", 1).await;
    assert_eq!(contents(&history), ["one", "one-b", "two", "end"]);
    let numbers: Vec<(i64, u64)> = history
        .iter()
        .map(|m| (m["message_id"].as_i64().unwrap(), m["message_seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(numbers[0], (first.message_id, first.message_seq as u64));
    assert_eq!(numbers[2], (resent.message_id, resent.message_seq as u64));
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_closes_connections_without_a_disconnect() {
    let mut gw = Gateway::start().await;
    let mut alice = gw.login("alice").await;
    let mut bob = gw.login("bob").await;
    let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "before")).await.unwrap();
    assert_eq!(bob.wait_recv().await.unwrap().message_seq, ack.message_seq);
    gw.restart().await;
    // A DISCONNECT would stop the SDKs from reconnecting (wkproto.md §4.5): a plain close.
    for client in [&mut alice, &mut bob] {
        let ending = gateway_util::read_to_end(client).await;
        assert_eq!(ending.disconnect, None, "{ending:?}");
    }
    let mut alice = gw.connect("alice", wkclient::DeviceFlag::APP).await;
    let mut bob = gw.connect("bob", wkclient::DeviceFlag::APP).await;
    let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "after")).await.unwrap();
    assert_eq!(ack.message_seq, 2);
    assert_eq!(content(&bob.wait_recv().await.unwrap()), "after");
    gw.server.stop().await;
}

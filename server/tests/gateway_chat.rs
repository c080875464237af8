//! Chat through the gateway: person channels both ways, a group of three (each message to
//! the other two exactly once, never back to its sender, seqs dense), a non-member refused,
//! and one uid on two devices (the sender's other device gets its own message).

mod common;
mod gateway_util;

use std::collections::BTreeMap;

use gateway_util::{content, recv_until, Gateway};
use serde_json::json;
use wkclient::{ChannelType, DeviceFlag, ReasonCode, SendOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_chat_both_ways_with_person_channel_ids_rewritten() {
    let gw = Gateway::start().await;
    let mut alice = gw.login("alice").await;
    let mut bob = gw.login("bob").await;
    for round in 0..3u32 {
        let text = format!("a{round}");
        let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, &text)).await.unwrap();
        assert!(ack.is_success(), "{ack:?}");
        assert_eq!(ack.message_seq, 2 * round + 1);
        let got = bob.wait_recv().await.unwrap();
        assert_eq!((got.from_uid.as_str(), got.channel_id.as_str()), ("alice", "alice"));
        assert_eq!((got.message_id, got.message_seq, content(&got)), (ack.message_id, ack.message_seq, text));
        assert!(got.red_dot);

        let text = format!("b{round}");
        let ack = bob.send_and_ack(SendOptions::text("alice", ChannelType::PERSON, &text)).await.unwrap();
        assert_eq!(ack.message_seq, 2 * round + 2);
        let got = alice.wait_recv().await.unwrap();
        assert_eq!((got.from_uid.as_str(), got.channel_id.as_str()), ("bob", "bob"));
        assert_eq!((got.message_seq, content(&got)), (ack.message_seq, text));
    }
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_message_reaches_the_other_members_once_and_a_stranger_is_refused() {
    let gw = Gateway::start().await;
    let members = ["alice", "bob", "carol"];
    gw.group("g1", &members).await;
    let mut clients = Vec::new();
    for uid in members {
        clients.push(gw.login(uid).await);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let ack = client.send_and_ack(SendOptions::text("g1", ChannelType::GROUP, members[i])).await.unwrap();
        assert!(ack.is_success(), "{ack:?}");
        assert_eq!(ack.message_seq, i as u32 + 1, "seqs are dense in send order");
    }
    // A stranger's send is refused as WuKongIM refuses it, and stored nowhere.
    let mut dave = gw.login("dave").await;
    let ack = dave.send_and_ack(SendOptions::text("g1", ChannelType::GROUP, "let me in")).await.unwrap();
    assert_eq!(ack.reason_code, ReasonCode::SUBSCRIBER_NOT_EXIST, "{ack:?}");
    assert_eq!((ack.message_id, ack.message_seq), (0, 0));
    // A marker from the API (no sending connection) comes to all three after the rest: in
    // channel order, so whatever came before it is all each member gets.
    let body = json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2,
        "payload": base64_text("end")});
    gw.http.post_ok("/message/send", &body).await.unwrap();
    for (i, client) in clients.iter_mut().enumerate() {
        let got = recv_until(client, "end").await;
        let mut from: BTreeMap<String, usize> = BTreeMap::new();
        let mut seqs = Vec::new();
        for message in &got[..got.len() - 1] {
            assert_eq!((message.channel_id.as_str(), message.channel_type), ("g1", ChannelType::GROUP));
            assert_eq!(content(message), message.from_uid, "payload intact");
            *from.entry(message.from_uid.clone()).or_default() += 1;
            seqs.push(message.message_seq);
        }
        let others: BTreeMap<String, usize> =
            members.iter().filter(|m| **m != members[i]).map(|m| (m.to_string(), 1)).collect();
        assert_eq!(from, others, "{} gets each other member's message once, never its own", members[i]);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in seq order: {seqs:?}");
        assert_eq!(got.last().unwrap().message_seq, 4);
    }
    let history = gw.history("alice", "g1", 2).await;
    let seqs: Vec<u64> = history.iter().map(|m| m["message_seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_one_device_reaches_the_peer_and_the_senders_other_device() {
    let gw = Gateway::start().await;
    gw.token("alice", DeviceFlag::APP).await;
    gw.token("alice", DeviceFlag::WEB).await;
    let mut app = gw.connect("alice", DeviceFlag::APP).await;
    let mut web = gw.connect("alice", DeviceFlag::WEB).await;
    let mut bob = gw.login("bob").await;
    assert_eq!(gw.online(&["alice"]).await, [("alice".to_string(), 0), ("alice".to_string(), 1)]);

    let ack = app.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "from app")).await.unwrap();
    assert!(ack.is_success());
    let peer = bob.wait_recv().await.unwrap();
    assert_eq!((peer.channel_id.as_str(), peer.from_uid.as_str(), peer.red_dot), ("alice", "alice", true));
    let mine = web.wait_recv().await.unwrap();
    assert_eq!(
        (mine.channel_id.as_str(), mine.from_uid.as_str(), mine.message_seq, mine.red_dot),
        ("bob", "alice", ack.message_seq, false),
        "the sender's other device sees the peer's channel, without a red dot"
    );
    assert_eq!(content(&mine), "from app");

    // bob's answer is the APP connection's first RECV: its own message never came back.
    let ack = bob.send_and_ack(SendOptions::text("alice", ChannelType::PERSON, "from bob")).await.unwrap();
    let first = app.wait_recv().await.unwrap();
    assert_eq!(
        (content(&first), first.message_seq, first.channel_id.as_str()),
        ("from bob".into(), ack.message_seq, "bob")
    );
    let on_web = web.wait_recv().await.unwrap();
    assert_eq!((content(&on_web), on_web.red_dot), ("from bob".into(), true));

    // In a group as well: the other device gets it without a red dot, the peer with one.
    gw.group("g1", &["alice", "bob"]).await;
    let ack = web.send_and_ack(SendOptions::text("g1", ChannelType::GROUP, "to the group")).await.unwrap();
    let mine = app.wait_recv().await.unwrap();
    assert_eq!((mine.channel_id.as_str(), mine.message_seq, mine.red_dot), ("g1", ack.message_seq, false));
    let peer = bob.wait_recv().await.unwrap();
    assert_eq!((peer.channel_id.as_str(), peer.from_uid.as_str(), peer.red_dot), ("g1", "alice", true));
    gw.server.stop().await;
}

fn base64_text(text: &str) -> String {
    use base64::Engine;
    let payload = json!({"type": 1, "content": text}).to_string();
    base64::engine::general_purpose::STANDARD.encode(payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_sends_keep_the_senders_order() {
    let gw = Gateway::start().await;
    let members = ["alice", "bob", "carol"];
    gw.group("g1", &members).await;
    let mut alice = gw.login("alice").await;
    let mut bob = gw.login("bob").await;
    let mut carol = gw.login("carol").await;
    const SENDS: u32 = 200;
    // Without waiting for SENDACKs, half to bob, half to the group, interleaved, while
    // carol sends to the group too: each channel stores alice's messages in her order.
    let mut seqs = Vec::new();
    for i in 0..SENDS {
        let options = if i % 2 == 0 {
            SendOptions::text("bob", ChannelType::PERSON, &format!("p{i}"))
        } else {
            SendOptions::text("g1", ChannelType::GROUP, &format!("g{i}"))
        };
        seqs.push(alice.send(options).await.unwrap());
        if i % 10 == 0 {
            carol.send(SendOptions::text("g1", ChannelType::GROUP, &format!("c{i}"))).await.unwrap();
        }
    }
    let mut last = [0u32; 2];
    for (i, client_seq) in seqs.into_iter().enumerate() {
        let ack = alice.wait_sendack(client_seq).await.unwrap();
        assert!(ack.is_success(), "{ack:?}");
        assert!(ack.message_seq > last[i % 2], "send {i}: seq {} after {}", ack.message_seq, last[i % 2]);
        last[i % 2] = ack.message_seq;
    }
    assert_eq!(last[0], SENDS / 2, "the person channel's seqs are dense");
    let marker =
        json!({"from_uid": "alice", "channel_id": "bob", "channel_type": 1, "payload": base64_text("end-p")});
    gw.http.post_ok("/message/send", &marker).await.unwrap();
    let marker =
        json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": base64_text("end-g")});
    gw.http.post_ok("/message/send", &marker).await.unwrap();

    // bob sees alice's messages in the order she sent them, each once, seqs rising per channel.
    let mut got = recv_until(&mut bob, "end-g").await;
    if !got.iter().any(|m| content(m) == "end-p") {
        got.extend(recv_until(&mut bob, "end-p").await);
    }
    // Per channel, in the order sent (across channels, sends proceed independently).
    for (channel, prefix, first) in [("alice", "p", 0), ("g1", "g", 1)] {
        let from_alice: Vec<String> = got
            .iter()
            .filter(|m| m.from_uid == "alice" && m.channel_id == channel)
            .map(content)
            .filter(|c| !c.starts_with("end"))
            .collect();
        let sent: Vec<String> = (first..SENDS).step_by(2).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(from_alice, sent, "{channel}");
    }
    for channel in ["alice", "g1"] {
        let seqs: Vec<u32> = got.iter().filter(|m| m.channel_id == channel).map(|m| m.message_seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{channel}: dense and in order: {seqs:?}");
    }
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_messages_of_new_channels_are_all_delivered() {
    let gw = Gateway::start().await;
    const GROUPS: usize = 20;
    let senders = ["s1", "s2", "s3", "s4"];
    let mut members = vec!["reader"];
    members.extend(senders);
    for g in 0..GROUPS {
        gw.group(&format!("fresh{g}"), &members).await;
    }
    let mut reader = gw.login("reader").await;
    let mut clients = Vec::new();
    for uid in senders {
        clients.push(gw.login(uid).await);
    }
    // Every sender's first message to every group, none waiting for another: the reports
    // of a channel's first commits reach the fan-out in any order.
    let mut pending = Vec::new();
    for g in 0..GROUPS {
        for (client, uid) in clients.iter_mut().zip(senders) {
            let text = format!("{uid}-fresh{g}");
            pending.push(
                client.send(SendOptions::text(format!("fresh{g}"), ChannelType::GROUP, &text)).await.unwrap(),
            );
        }
    }
    for (i, client_seq) in pending.into_iter().enumerate() {
        let ack = clients[i % senders.len()].wait_sendack(client_seq).await.unwrap();
        assert!(ack.is_success(), "{ack:?}");
    }
    let mut got: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for g in 0..GROUPS {
        let body = json!({"from_uid": "s1", "channel_id": format!("fresh{g}"), "channel_type": 2,
            "payload": base64_text(&format!("end{g}"))});
        gw.http.post_ok("/message/send", &body).await.unwrap();
    }
    let mut ends = 0;
    for _ in 0..gateway_util::READS_MAX {
        let message = reader.wait_recv().await.unwrap();
        got.entry(message.channel_id.clone()).or_default().push(message.message_seq);
        ends += usize::from(content(&message).starts_with("end"));
        if ends == GROUPS {
            break;
        }
    }
    // Each group's marker comes after its first messages: all of them are here.
    for (channel, seqs) in &got {
        assert_eq!(seqs, &(1..=senders.len() as u32 + 1).collect::<Vec<_>>(), "{channel}");
    }
    assert_eq!(got.len(), GROUPS);
    gw.server.stop().await;
}

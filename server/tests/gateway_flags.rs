//! Header flags through the gateway: a `no_persist` message is delivered live with seq 0 and
//! stored nowhere; a `sync_once` (CMD) message is delivered live and stored in the channel's
//! CMD twin (`<id>____cmd`), not in its history, and leaves conversations alone.

mod common;
mod gateway_util;

use gateway_util::{content, content_of, recv_until, Gateway};
use wkclient::{ChannelType, SendOptions};

fn flagged(
    channel_id: &str,
    channel_type: ChannelType,
    text: &str,
    no_persist: bool,
    sync_once: bool,
) -> SendOptions {
    SendOptions { no_persist, sync_once, ..SendOptions::text(channel_id, channel_type, text) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_persist_message_is_delivered_with_seq_0_and_not_stored() {
    let gw = Gateway::start().await;
    let mut alice = gw.login("alice").await;
    let mut bob = gw.login("bob").await;
    let ack = alice.send_and_ack(flagged("bob", ChannelType::PERSON, "gone", true, false)).await.unwrap();
    assert!(ack.is_success(), "{ack:?}");
    assert_eq!(ack.message_seq, 0);
    assert!(ack.message_id > 0);
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.message_seq, got.message_id), ("gone".to_string(), 0, ack.message_id));
    assert!(got.no_persist);
    assert_eq!(got.channel_id, "alice");
    let ack = alice.send_and_ack(SendOptions::text("bob", ChannelType::PERSON, "kept")).await.unwrap();
    assert_eq!(ack.message_seq, 1, "the no_persist message took no seq");
    assert_eq!(bob.wait_recv().await.unwrap().message_seq, 1);
    let history = gw.history("bob", "alice", 1).await;
    assert_eq!(history.iter().map(content_of).collect::<Vec<_>>(), ["kept"]);

    // In a group too, to every member but the sender.
    gw.group("g1", &["alice", "bob"]).await;
    let ack = alice.send_and_ack(flagged("g1", ChannelType::GROUP, "g-gone", true, false)).await.unwrap();
    assert_eq!(ack.message_seq, 0);
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.message_seq, got.channel_id.as_str()), ("g-gone".to_string(), 0, "g1"));
    assert!(gw.history("bob", "g1", 2).await.is_empty());
    gw.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_once_message_is_delivered_and_stored_in_the_cmd_twin() {
    let gw = Gateway::start().await;
    gw.group("g1", &["alice", "bob"]).await;
    let mut alice = gw.login("alice").await;
    let mut bob = gw.login("bob").await;
    let normal = alice.send_and_ack(SendOptions::text("g1", ChannelType::GROUP, "normal")).await.unwrap();
    assert_eq!(normal.message_seq, 1);
    let cmd = alice.send_and_ack(flagged("g1", ChannelType::GROUP, "cmd", false, true)).await.unwrap();
    assert!(cmd.is_success(), "{cmd:?}");
    assert_eq!(cmd.message_seq, 1, "the first message of the CMD twin");
    let got = recv_until(&mut bob, "cmd").await;
    assert_eq!(got.len(), 2);
    let cmd_recv = &got[1];
    assert!(cmd_recv.sync_once);
    assert_eq!(
        (cmd_recv.channel_id.as_str(), cmd_recv.message_id, cmd_recv.message_seq),
        ("g1", cmd.message_id, cmd.message_seq),
        "shown under the original channel's id"
    );
    let history = gw.history("bob", "g1", 2).await;
    assert_eq!(history.iter().map(content_of).collect::<Vec<_>>(), ["normal"]);
    let twin = gw.history("bob", "g1____cmd", 2).await;
    assert_eq!(twin.iter().map(content_of).collect::<Vec<_>>(), ["cmd"]);
    assert_eq!(twin[0]["header"]["sync_once"], 1);

    // Person channel: delivered, not in the history, no unread.
    let ack = alice.send_and_ack(flagged("bob", ChannelType::PERSON, "p-cmd", false, true)).await.unwrap();
    assert!(ack.is_success(), "{ack:?}");
    let got = bob.wait_recv().await.unwrap();
    assert_eq!((content(&got), got.channel_id.as_str(), got.sync_once), ("p-cmd".to_string(), "alice", true));
    assert!(gw.history("bob", "alice", 1).await.is_empty());
    let person_rows: Vec<_> =
        gw.conversations("bob").await.into_iter().filter(|c| c["channel_type"] == 1).collect();
    assert!(person_rows.is_empty(), "a CMD message makes no conversation: {person_rows:?}");
    gw.server.stop().await;
}

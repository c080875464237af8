//! Conversations: rows for group members and for both sides of a person channel, unread
//! counts computed from read cursors (a sender's own messages count as read),
//! clearUnread, setUnread (forward only), delete, and /conversation/sync's filters.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use server::ids::person_channel_id;

const HELLO: &str = "aGVsbG8=";

async fn join(server: &TestServer, channel_id: &str, uids: &[&str]) {
    let body = json!({"channel_id": channel_id, "channel_type": 2, "subscribers": uids});
    let (status, answer) = server.post("/channel/subscriber_add", body).await;
    assert_eq!((status, answer), (200, json!({"status": 200})));
}

async fn send(server: &TestServer, from_uid: &str, channel_id: &str, channel_type: u8) -> u64 {
    let body = json!({"from_uid": from_uid, "channel_id": channel_id, "channel_type": channel_type, "payload": HELLO});
    let (status, answer) = server.post("/message/send", body).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"]["message_seq"].as_u64().unwrap()
}

async fn conversations(server: &TestServer, body: Value) -> Vec<Value> {
    let (status, answer) = server.post("/conversation/sync", body.clone()).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer.as_array().unwrap_or_else(|| panic!("a bare array: {answer}")).clone()
}

/// `uid`'s conversations as (channel id, type, unread, last seq, readed_to).
async fn unread(server: &TestServer, uid: &str) -> Vec<(String, u64, u64, u64, u64)> {
    let list = conversations(server, json!({"uid": uid, "msg_count": 1})).await;
    let mut rows: Vec<_> = list
        .iter()
        .map(|c| {
            let number = |field: &str| c[field].as_u64().unwrap_or_else(|| panic!("{field} in {c}"));
            let id = c["channel_id"].as_str().unwrap().to_string();
            (
                id,
                number("channel_type"),
                number("unread"),
                number("last_msg_seq"),
                number("readed_to_msg_seq"),
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn post_ok(server: &TestServer, path: &str, body: Value) {
    let (status, answer) = server.post(path, body.clone()).await;
    assert_eq!((status, answer), (200, json!({"status": 200})), "{path} {body}");
}

fn g1(unread: u64, last: u64, readed_to: u64) -> (String, u64, u64, u64, u64) {
    ("g1".to_string(), 2, unread, last, readed_to)
}

#[tokio::test]
async fn group_members_count_unread_from_their_cursor_and_senders_have_read_their_own() {
    let server = TestServer::start().await;
    join(&server, "g1", &["alice", "bob"]).await;
    for _ in 0..3 {
        send(&server, "alice", "g1", 2).await;
    }
    assert_eq!(unread(&server, "bob").await, [g1(3, 3, 0)]);
    assert_eq!(unread(&server, "alice").await, [g1(0, 3, 3)]);

    // Without msg_count the list is empty, as WuKongIM.
    assert!(conversations(&server, json!({"uid": "bob"})).await.is_empty());

    // The full shape of one conversation.
    let list = conversations(&server, json!({"uid": "bob", "msg_count": 2})).await;
    let conversation = &list[0];
    assert_eq!(conversation["recents"].as_array().unwrap().len(), 2);
    assert_eq!(conversation["recents"][0]["message_seq"], 3, "newest first");
    assert_eq!(conversation["recents"][0]["channel_id"], "g1");
    assert_eq!(conversation["last_client_msg_no"], conversation["recents"][0]["client_msg_no"]);
    assert_eq!(conversation["offset_msg_seq"], 0);
    let timestamp = conversation["timestamp"].as_i64().unwrap();
    assert_eq!(timestamp, conversation["recents"][0]["timestamp"].as_i64().unwrap());
    assert!(conversation["version"].as_i64().unwrap() / 1_000_000_000 >= timestamp, "nanoseconds");

    // Someone joining later has read what came before.
    join(&server, "g1", &["carol"]).await;
    assert_eq!(unread(&server, "carol").await, [g1(0, 3, 3)]);
    send(&server, "bob", "g1", 2).await;
    assert_eq!(unread(&server, "carol").await, [g1(1, 4, 3)]);
    assert_eq!(unread(&server, "bob").await, [g1(0, 4, 4)], "bob's own message reads the rest");
    assert_eq!(unread(&server, "alice").await, [g1(1, 4, 3)]);

    // Leaving removes the conversation.
    post_ok(
        &server,
        "/channel/subscriber_remove",
        json!({"channel_id": "g1", "channel_type": 2, "subscribers": ["carol"]}),
    )
    .await;
    assert!(unread(&server, "carol").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn clear_unread_and_set_unread_move_the_cursor_forward_only() {
    let mut server = TestServer::start().await;
    join(&server, "g1", &["alice", "bob"]).await;
    for _ in 0..5 {
        send(&server, "alice", "g1", 2).await;
    }
    let conversation = json!({"uid": "bob", "channel_id": "g1", "channel_type": 2});
    post_ok(
        &server,
        "/conversations/setUnread",
        json!({"uid": "bob", "channel_id": "g1", "channel_type": 2, "unread": 2}),
    )
    .await;
    assert_eq!(unread(&server, "bob").await, [g1(2, 5, 3)]);
    // More unread than now: the cursor does not move back (WuKongIM issue #460).
    post_ok(
        &server,
        "/conversations/setUnread",
        json!({"uid": "bob", "channel_id": "g1", "channel_type": 2, "unread": 4}),
    )
    .await;
    assert_eq!(unread(&server, "bob").await, [g1(2, 5, 3)]);
    post_ok(&server, "/conversations/clearUnread", conversation.clone()).await;
    assert_eq!(unread(&server, "bob").await, [g1(0, 5, 5)]);

    // Cursors are raft state: they survive a restart.
    server.restart().await;
    assert_eq!(unread(&server, "bob").await, [g1(0, 5, 5)]);
    send(&server, "alice", "g1", 2).await;
    assert_eq!(unread(&server, "bob").await, [g1(1, 6, 5)]);

    // only_unread (or a version) shows only conversations with messages after the cursor.
    post_ok(&server, "/conversations/clearUnread", conversation).await;
    assert!(conversations(&server, json!({"uid": "bob", "msg_count": 5, "only_unread": 1})).await.is_empty());
    assert!(conversations(&server, json!({"uid": "bob", "msg_count": 5, "version": 1})).await.is_empty());
    send(&server, "alice", "g1", 2).await;
    let list = conversations(&server, json!({"uid": "bob", "msg_count": 5, "only_unread": 1})).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["recents"].as_array().unwrap().len(), 1, "only what is unread");
    server.stop().await;
}

#[tokio::test]
async fn a_person_channel_gives_both_sides_a_conversation_named_by_the_peer() {
    let server = TestServer::start().await;
    assert_eq!(send(&server, "alice", "bob", 1).await, 1);
    assert_eq!(unread(&server, "bob").await, [("alice".to_string(), 1, 1, 1, 0)]);
    assert_eq!(unread(&server, "alice").await, [("bob".to_string(), 1, 0, 1, 1)]);
    send(&server, "bob", "alice", 1).await;
    send(&server, "bob", "alice", 1).await;
    assert_eq!(unread(&server, "alice").await, [("bob".to_string(), 1, 2, 3, 1)]);
    assert_eq!(unread(&server, "bob").await, [("alice".to_string(), 1, 0, 3, 3)]);

    let list = conversations(&server, json!({"uid": "alice", "msg_count": 1})).await;
    assert_eq!(
        list[0]["recents"][0]["channel_id"],
        person_channel_id("alice", "bob"),
        "messages keep the stored id"
    );
    let (status, channels) = server.post("/conversation/channels", json!({"uid": "alice"})).await;
    assert_eq!(status, 200);
    assert_eq!(channels, json!([{"channel_id": person_channel_id("alice", "bob"), "channel_type": 1}]));

    // Messages from the system uid make no conversation with it.
    let body = json!({"channel_id": "alice", "channel_type": 1, "payload": HELLO});
    let (status, _) = server.post("/message/send", body).await;
    assert_eq!(status, 200);
    assert_eq!(unread(&server, "alice").await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_conversation_comes_back_with_the_next_message_only() {
    let server = TestServer::start().await;
    send(&server, "alice", "bob", 1).await;
    send(&server, "alice", "bob", 1).await;
    post_ok(
        &server,
        "/conversations/delete",
        json!({"uid": "bob", "channel_id": "alice", "channel_type": 1}),
    )
    .await;
    assert!(unread(&server, "bob").await.is_empty());
    assert_eq!(unread(&server, "alice").await.len(), 1, "only bob's is deleted");
    send(&server, "alice", "bob", 1).await;
    let list = conversations(&server, json!({"uid": "bob", "msg_count": 10})).await;
    assert_eq!(list.len(), 1);
    let recents: Vec<_> =
        list[0]["recents"].as_array().unwrap().iter().map(|m| m["message_seq"].clone()).collect();
    assert_eq!(recents, [json!(3)]);
    server.stop().await;
}

#[tokio::test]
async fn sync_filters_by_client_seqs_excluded_types_and_pages() {
    let server = TestServer::start().await;
    join(&server, "g1", &["alice", "bob"]).await;
    join(&server, "g2", &["alice", "bob"]).await;
    send(&server, "alice", "g1", 2).await;
    send(&server, "alice", "g2", 2).await;
    send(&server, "alice", "bob", 1).await;
    let ids = |list: Vec<Value>| {
        let mut ids: Vec<String> =
            list.iter().map(|c| c["channel_id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids
    };
    let all = ids(conversations(&server, json!({"uid": "bob", "msg_count": 1})).await);
    assert_eq!(all, ["alice", "g1", "g2"]);
    // What the client has already is left out.
    let body = json!({"uid": "bob", "msg_count": 1, "last_msg_seqs": "g1:2:1|alice:1:0"});
    assert_eq!(ids(conversations(&server, body).await), ["alice", "g2"]);
    // Excluded types show only when the client names them.
    let body = json!({"uid": "bob", "msg_count": 1, "exclude_channel_types": [1]});
    assert_eq!(ids(conversations(&server, body).await), ["g1", "g2"]);
    let body =
        json!({"uid": "bob", "msg_count": 1, "exclude_channel_types": [1], "last_msg_seqs": "alice:1:0"});
    assert_eq!(ids(conversations(&server, body).await), ["alice", "g1", "g2"]);
    // Pages of the conversation rows.
    let mut paged = Vec::new();
    for page in 1..=3 {
        let list =
            conversations(&server, json!({"uid": "bob", "msg_count": 1, "page": page, "page_size": 1})).await;
        assert_eq!(list.len(), 1, "page {page}");
        paged.extend(list);
    }
    assert_eq!(ids(paged), all);
    assert!(conversations(&server, json!({"uid": "bob", "msg_count": 1, "page": 4, "page_size": 1}))
        .await
        .is_empty());
    server.stop().await;
}

#[tokio::test]
async fn bad_conversation_requests_are_400_with_a_message() {
    let server = TestServer::start().await;
    let cases = [
        ("/conversation/sync", json!({"msg_count": 1}), "uid"),
        ("/conversation/sync", json!({"uid": "bob", "msg_count": "one"}), "invalid"),
        ("/conversation/channels", json!({}), "uid"),
        ("/conversations/clearUnread", json!({"channel_id": "g1", "channel_type": 2}), "uid"),
        ("/conversations/clearUnread", json!({"uid": "bob", "channel_id": "g1"}), "channel_type"),
        ("/conversations/setUnread", json!({"uid": "bob", "channel_type": 2, "unread": 1}), "channel_id"),
        (
            "/conversations/setUnread",
            json!({"uid": "bob", "channel_id": "g1", "channel_type": 2, "unread": "x"}),
            "invalid",
        ),
        ("/conversations/delete", json!({"uid": "", "channel_id": "g1", "channel_type": 2}), "uid"),
    ];
    for (path, body, needle) in cases {
        let (status, answer) = server.post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} → {answer}");
        let msg = answer["msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{path} {body}: {msg:?} lacks {needle:?}");
    }
    // Clearing a conversation with a channel that has no messages is a no-op.
    post_ok(
        &server,
        "/conversations/clearUnread",
        json!({"uid": "bob", "channel_id": "nobody", "channel_type": 2}),
    )
    .await;
    server.stop().await;
}

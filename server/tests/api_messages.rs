//! The message routes: send (durable before the answer, idempotent by client_msg_no),
//! sendbatch, history sync in every pull mode, lookups, person channels from both sides,
//! and messages surviving a restart.

mod common;

use bytes::Bytes;
use common::TestServer;
use serde_json::{json, Value};
use server::ids::person_channel_id;
use server::service::messages::{SendOrigin, SendRequest};
use server::service::ServiceError;

/// "hello" in base64.
const HELLO: &str = "aGVsbG8=";

async fn send(server: &TestServer, body: Value) -> Value {
    let (status, answer) = server.post("/message/send", body.clone()).await;
    assert_eq!(status, 200, "{body} → {answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    answer["data"].clone()
}

/// Sends `count` messages to group `g1` as `alice`, numbered from 1 in their payloads.
async fn send_numbered(server: &TestServer, count: u64) {
    for i in 1..=count {
        let payload = base64_of(&format!("m{i}"));
        let data = send(
            server,
            json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": payload}),
        )
        .await;
        assert_eq!(data["message_seq"], json!(i));
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn sync(server: &TestServer, start: u64, end: u64, limit: i64, pull_mode: u8) -> (Vec<u64>, u64) {
    let body = json!({
        "login_uid": "alice", "channel_id": "g1", "channel_type": 2,
        "start_message_seq": start, "end_message_seq": end, "limit": limit, "pull_mode": pull_mode,
    });
    let (status, answer) = server.post("/channel/messagesync", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["start_message_seq"].as_u64(), answer["end_message_seq"].as_u64()),
        (Some(start), Some(end))
    );
    let seqs =
        answer["messages"].as_array().unwrap().iter().map(|m| m["message_seq"].as_u64().unwrap()).collect();
    (seqs, answer["more"].as_u64().unwrap())
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

#[tokio::test]
async fn a_sent_message_reads_back_as_wukongim_message_resp() {
    let server = TestServer::start().await;
    let data = send(
        &server,
        json!({
            "header": {"no_persist": 0, "red_dot": 1, "sync_once": 0},
            "from_uid": "alice", "channel_id": "g1", "channel_type": 2,
            "client_msg_no": "c-1", "expire": 60, "topic": "news", "payload": HELLO,
        }),
    )
    .await;
    assert_eq!(data["message_seq"], 1);
    assert_eq!(data["client_msg_no"], "c-1");
    let message_id = data["message_id"].as_i64().unwrap();
    assert!(message_id > 0);

    let (status, found) = server
        .post("/message", json!({"channel_id": "g1", "channel_type": 2, "message_id": message_id}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["header"], json!({"no_persist": 0, "red_dot": 1, "sync_once": 0}));
    assert_eq!(found["setting"], 0x08, "the topic bit");
    assert_eq!(found["message_id"], message_id);
    assert_eq!(found["message_idstr"], message_id.to_string());
    assert_eq!(found["client_msg_no"], "c-1");
    assert_eq!(found["message_seq"], 1);
    assert_eq!(found["from_uid"], "alice");
    assert_eq!(found["channel_id"], "g1");
    assert_eq!(found["channel_type"], 2);
    assert_eq!(found["topic"], "news");
    assert_eq!(found["expire"], 60);
    assert_eq!(found["payload"], HELLO);
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let timestamp = found["timestamp"].as_u64().unwrap();
    assert!(timestamp <= now_s && timestamp + 3600 > now_s, "seconds, not milliseconds: {timestamp}");

    // The system uid reads back as "", topic is left out when empty, client_msg_no is made.
    let data = send(&server, json!({"channel_id": "g1", "channel_type": 2, "payload": HELLO})).await;
    assert!(!data["client_msg_no"].as_str().unwrap().is_empty());
    let (_, last) = server.get("/channel/last_message?channel_id=g1&channel_type=2").await;
    assert_eq!(last["message_seq"], 2);
    assert_eq!(last["from_uid"], "");
    assert!(last.get("topic").is_none(), "{last}");
    assert_eq!(last["client_msg_no"], data["client_msg_no"]);
    server.stop().await;
}

#[tokio::test]
async fn the_same_client_msg_no_twice_is_one_message() {
    let server = TestServer::start().await;
    let body = json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "client_msg_no": "once", "payload": HELLO});
    let first = send(&server, body.clone()).await;
    let second = send(&server, body).await;
    assert_eq!(first, second);
    // Another sender may use the same client_msg_no.
    let bob = send(&server, json!({"from_uid": "bob", "channel_id": "g1", "channel_type": 2, "client_msg_no": "once", "payload": HELLO})).await;
    assert_eq!(bob["message_seq"], 2);
    let (_, max) = server.get("/channel/max_message_seq?channel_id=g1&channel_type=2").await;
    assert_eq!(max, json!({"message_seq": 2}));
    let (seqs, _) = sync(&server, 0, 0, 100, 1).await;
    assert_eq!(seqs, [1, 2]);
    server.stop().await;
}

#[tokio::test]
async fn no_persist_messages_are_not_stored() {
    let server = TestServer::start().await;
    let data = send(
        &server,
        json!({"header": {"no_persist": 1}, "from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": HELLO}),
    )
    .await;
    assert_eq!(data["message_seq"], 0);
    assert!(data["message_id"].as_i64().unwrap() > 0);
    let (_, max) = server.get("/channel/max_message_seq?channel_id=g1&channel_type=2").await;
    assert_eq!(max["message_seq"], 0);
    let (_, last) = server.get("/channel/last_message?channel_id=g1&channel_type=2").await;
    assert_eq!(last, json!({"status": 404}));
    server.stop().await;
}

#[tokio::test]
async fn history_pages_up_and_down_with_wukongim_more_rules() {
    let server = TestServer::start().await;
    send_numbered(&server, 25).await;

    // start = end = 0: the last `limit`.
    assert_eq!(sync(&server, 0, 0, 10, 0).await, (range(16, 25), 1));
    assert_eq!(sync(&server, 0, 0, 30, 0).await, (range(1, 25), 0));

    // Up: [start, end), end 0 = open; pages of 10 from the start.
    assert_eq!(sync(&server, 1, 0, 10, 1).await, (range(1, 10), 1));
    assert_eq!(sync(&server, 11, 0, 10, 1).await, (range(11, 20), 1));
    assert_eq!(sync(&server, 21, 0, 10, 1).await, (range(21, 25), 0));
    assert_eq!(sync(&server, 26, 0, 10, 1).await, (vec![], 0));
    assert_eq!(sync(&server, 5, 9, 10, 1).await, (range(5, 8), 0));
    assert_eq!(sync(&server, 5, 9, 4, 1).await, (range(5, 8), 1));

    // Down: (end, start], the newest `limit` of them; end > start is nothing.
    assert_eq!(sync(&server, 25, 0, 10, 0).await, (range(16, 25), 1));
    assert_eq!(sync(&server, 15, 0, 10, 0).await, (range(6, 15), 1));
    assert_eq!(sync(&server, 5, 0, 10, 0).await, (range(1, 5), 0));
    assert_eq!(sync(&server, 20, 17, 10, 0).await, (range(18, 20), 0));
    assert_eq!(sync(&server, 3, 10, 10, 0).await, (vec![], 0));

    // A limit above 10000 is 10000; 0 means the maximum.
    assert_eq!(sync(&server, 1, 0, 1_000_000, 1).await, (range(1, 25), 0));
    assert_eq!(sync(&server, 1, 0, 0, 1).await, (range(1, 25), 0));

    // An unknown channel is an empty result.
    let body = json!({"login_uid": "alice", "channel_id": "nobody", "channel_type": 2, "limit": 10});
    let (status, answer) = server.post("/channel/messagesync", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["messages"], json!([]));
    assert_eq!(answer["more"], 0);
    server.stop().await;
}

#[tokio::test]
async fn person_channels_are_stored_under_the_fake_id_from_both_sides() {
    let server = TestServer::start().await;
    let fake = person_channel_id("alice", "bob");
    send(&server, json!({"from_uid": "alice", "channel_id": "bob", "channel_type": 1, "payload": HELLO}))
        .await;
    let data =
        send(&server, json!({"from_uid": "bob", "channel_id": "alice", "channel_type": 1, "payload": HELLO}))
            .await;
    assert_eq!(data["message_seq"], 2, "one channel for both directions");

    for (login_uid, peer) in [("alice", "bob"), ("bob", "alice")] {
        let body = json!({"login_uid": login_uid, "channel_id": peer, "channel_type": 1, "limit": 10});
        let (_, answer) = server.post("/channel/messagesync", body).await;
        let messages = answer["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2, "{answer}");
        assert_eq!(messages[0]["from_uid"], "alice");
        assert_eq!(messages[1]["from_uid"], "bob");
        assert_eq!(messages[0]["channel_id"], fake.as_str());
        let (_, max) = server
            .get(&format!("/channel/max_message_seq?channel_id={peer}&channel_type=1&login_uid={login_uid}"))
            .await;
        assert_eq!(max["message_seq"], 2);
    }
    let client_msg_no = data["client_msg_no"].as_str().unwrap();
    let (status, found) = server
        .get(&format!(
            "/message/byclientmsgno?channel_id={fake}&channel_type=1&client_msg_no={client_msg_no}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["message_seq"], 2);
    let (_, last) = server.get("/channel/last_message?channel_id=bob&channel_type=1&login_uid=alice").await;
    assert_eq!(last["message_seq"], 2);
    // A person read needs the caller.
    let (status, answer) =
        server.post("/messages", json!({"channel_id": "bob", "channel_type": 1, "message_seqs": [1]})).await;
    assert_eq!(status, 400, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn lookups_by_seq_id_and_client_msg_no() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let body = json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "client_msg_no": format!("n{i}"), "payload": HELLO});
        ids.push(send(&server, body).await["message_id"].as_i64().unwrap());
    }
    let body = json!({
        "login_uid": "alice", "channel_id": "g1", "channel_type": 2,
        "message_seqs": [3, 99], "message_ids": [ids[0], 12345], "client_msg_nos": ["n2", "missing"],
    });
    let (status, answer) = server.post("/messages", body).await;
    assert_eq!(status, 200);
    let seqs: Vec<u64> =
        answer["messages"].as_array().unwrap().iter().map(|m| m["message_seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 1, 2]);
    assert_eq!((answer["start_message_seq"].clone(), answer["more"].clone()), (json!(0), json!(0)));

    let (_, found) =
        server.post("/message", json!({"channel_id": "g1", "channel_type": 2, "client_msg_no": "n3"})).await;
    assert_eq!(found["message_id"], ids[2]);
    let (status, missing) =
        server.post("/message", json!({"channel_id": "g1", "channel_type": 2, "message_id": 1})).await;
    assert_eq!((status, missing), (200, json!({"status": 404})));
    let (status, missing) =
        server.get("/message/byclientmsgno?channel_id=g1&channel_type=2&client_msg_no=zzz").await;
    assert_eq!((status, missing), (200, json!({"status": 404})));
    let (status, missing) = server.get("/channel/last_message?channel_id=empty&channel_type=2").await;
    assert_eq!((status, missing), (200, json!({"status": 404})));
    server.stop().await;
}

#[tokio::test]
async fn sync_once_goes_to_the_cmd_twin_and_subscribers_to_a_temp_channel() {
    let server = TestServer::start().await;
    let data = send(
        &server,
        json!({"header": {"sync_once": 1}, "from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": HELLO}),
    )
    .await;
    assert_eq!(data["message_seq"], 1);
    let (_, max) = server.get("/channel/max_message_seq?channel_id=g1&channel_type=2").await;
    assert_eq!(max["message_seq"], 0, "not in the channel itself");
    let (_, max) = server.get("/channel/max_message_seq?channel_id=g1____cmd&channel_type=2").await;
    assert_eq!(max["message_seq"], 1);

    let body = json!({"header": {"sync_once": 1}, "subscribers": ["u1", "u2"], "payload": HELLO});
    let (status, answer) = server.post("/message/send", body).await;
    assert_eq!((status, answer), (200, json!({"status": 200})));
    let temp = server::service::messages::temp_channel_id(&["u1".into(), "u2".into()]);
    let (_, max) = server.get(&format!("/channel/max_message_seq?channel_id={temp}&channel_type=8")).await;
    assert_eq!(max["message_seq"], 1);
    server.stop().await;
}

#[tokio::test]
async fn sendbatch_sends_one_person_message_per_uid() {
    let server = TestServer::start().await;
    let body = json!({"from_uid": "admin", "subscribers": ["u1", "u2", "bad@uid"], "payload": HELLO});
    let (status, answer) = server.post("/message/sendbatch", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["fail_uids"], json!(["bad@uid"]));
    assert_eq!(answer["reason"].as_array().unwrap().len(), 1);
    for uid in ["u1", "u2"] {
        let (_, max) = server
            .get(&format!("/channel/max_message_seq?channel_id={uid}&channel_type=1&login_uid=admin"))
            .await;
        assert_eq!(max["message_seq"], 1, "{uid}");
    }
    for (body, needs) in [
        (json!({"subscribers": ["u1"], "payload": HELLO}), "from_uid"),
        (json!({"from_uid": "admin", "payload": HELLO}), "subscribers"),
        (json!({"from_uid": "admin", "subscribers": ["u1"]}), "payload"),
    ] {
        let (status, answer) = server.post("/message/sendbatch", body).await;
        assert_eq!(status, 400);
        assert!(answer["msg"].as_str().unwrap().contains(needs), "{answer}");
    }
    server.stop().await;
}

#[tokio::test]
async fn api_sends_are_refused_by_a_banned_channel_and_client_sends_by_membership() {
    let server = TestServer::start().await;
    // The API sends as WuKongIM's system device: a non-subscriber may send...
    send(&server, json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": HELLO}))
        .await;
    // ...but not to a banned channel.
    let (status, _) =
        server.post("/channel/info", json!({"channel_id": "g1", "channel_type": 2, "ban": 1})).await;
    assert_eq!(status, 200);
    let body = json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": HELLO});
    let (status, answer) = server.post("/message/send", body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["reason_code"], 19, "Ban: {answer}");
    let (_, max) = server.get("/channel/max_message_seq?channel_id=g1&channel_type=2").await;
    assert_eq!(max["message_seq"], 1);

    // A client's send is checked as its sender's: alice is no subscriber of g2.
    let node = server.server.as_ref().unwrap().node.clone();
    let request = SendRequest {
        origin: SendOrigin::Client,
        from_uid: "alice".into(),
        channel_id: "g2".into(),
        channel_type: 2,
        payload: Bytes::from_static(b"hi"),
        ..SendRequest::default()
    };
    let refused = node.send_message(request).await;
    assert!(matches!(refused, Err(ServiceError::Denied { reason_code: 3, .. })), "{refused:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_sends_and_reads_are_400_with_a_message() {
    let server = TestServer::start().await;
    let cases = [
        ("/message/send", json!({"channel_id": "g1", "channel_type": 2}), "payload"),
        ("/message/send", json!({"channel_id": "g1", "channel_type": 2, "payload": "%%%"}), "base64"),
        ("/message/send", json!({"channel_id": "g1", "channel_type": 0, "payload": HELLO}), "channel_type"),
        ("/message/send", json!({"channel_id": "g@1", "channel_type": 2, "payload": HELLO}), "channel_id"),
        (
            "/message/send",
            json!({"from_uid": "a&b", "channel_id": "g1", "channel_type": 2, "payload": HELLO}),
            "from_uid",
        ),
        ("/message/send", json!({"channel_type": 2, "payload": HELLO}), "channel_id"),
        ("/message/send", json!({"channel_id": "g1", "channel_type": "two", "payload": HELLO}), "invalid"),
        ("/message/send", json!({"channel_id": "g1", "channel_type": 300, "payload": HELLO}), "invalid"),
        (
            "/message/send",
            json!({"header": {"sync_once": 1}, "channel_id": "g1", "channel_type": 2, "subscribers": ["u1"], "payload": HELLO}),
            "both",
        ),
        ("/message/send", json!({"subscribers": ["u1"], "payload": HELLO}), "sync_once"),
        ("/channel/messagesync", json!({"login_uid": "a", "channel_type": 2}), "channel_id"),
        ("/channel/messagesync", json!({"channel_id": "g1", "channel_type": 2}), "login_uid"),
        ("/channel/messagesync", json!({"login_uid": "a", "channel_id": "g1", "limit": -1}), "limit"),
        (
            "/channel/messagesync",
            json!({"login_uid": "a", "channel_id": "g1", "start_message_seq": -1}),
            "invalid",
        ),
        ("/message", json!({"channel_id": "g1", "channel_type": 0, "message_id": 1}), "channel_type"),
        ("/message", json!({"channel_id": "g1", "channel_type": 2}), "client_msg_no"),
        ("/messages", json!({"channel_type": 2}), "channel_id"),
    ];
    for (path, body, needle) in cases {
        let (status, answer) = server.post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} → {answer}");
        assert_eq!(answer["status"], 400);
        let msg = answer["msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{path} {body}: {msg:?} lacks {needle:?}");
    }
    let (status, _) = server.post_raw("/message/send", "{not json").await;
    assert_eq!(status, 400);
    for path in [
        "/message/byclientmsgno?channel_type=2&client_msg_no=x",
        "/message/byclientmsgno?channel_id=g1&client_msg_no=x",
        "/message/byclientmsgno?channel_id=g1&channel_type=2",
        "/channel/max_message_seq?channel_type=2",
        "/channel/max_message_seq?channel_id=g1&channel_type=x",
    ] {
        let (status, answer) = server.get(path).await;
        assert_eq!(status, 400, "{path} → {answer}");
        assert!(answer["msg"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    server.stop().await;
}

#[tokio::test]
async fn messages_survive_a_restart_and_seqs_continue() {
    let mut server = TestServer::start().await;
    send_numbered(&server, 5).await;
    let body = json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "client_msg_no": "m5-again", "payload": HELLO});
    let before = send(&server, body.clone()).await;
    server.restart().await;
    assert_eq!(sync(&server, 0, 0, 100, 0).await, (range(1, 6), 0));
    let (_, first) =
        server.post("/messages", json!({"channel_id": "g1", "channel_type": 2, "message_seqs": [1]})).await;
    assert_eq!(first["messages"][0]["payload"], base64_of("m1"));
    // The idempotency index survived too, and new messages continue the seqs.
    assert_eq!(send(&server, body).await, before);
    let data =
        send(&server, json!({"from_uid": "alice", "channel_id": "g1", "channel_type": 2, "payload": HELLO}))
            .await;
    assert_eq!(data["message_seq"], 7);
    server.stop().await;
}

//! Channels over HTTP: create/update/delete, subscribers, deny and allow lists, their bad
//! input, the send permission they make (`Node::check_send_permission`), and persistence
//! across a restart.

mod common;

use common::TestServer;
use protocol::ReasonCode;
use serde_json::{json, Value};
use server::ids::person_channel_id;
use server::service::{Node, ServiceError};

fn node(server: &TestServer) -> &Node {
    &server.server.as_ref().unwrap().node
}

/// A 400 whose message mentions `needle`.
fn assert_bad(response: (u16, Value), needle: &str) {
    let (status, body) = response;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], json!(400), "{body}");
    let message = body["msg"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {body}");
}

async fn post_ok(server: &TestServer, path: &str, body: Value) {
    let (status, answer) = server.post(path, body.clone()).await;
    assert_eq!((status, &answer), (200, &json!({"status": 200})), "{path} {body}");
}

async fn get_ok(server: &TestServer, path: &str) -> Value {
    let (status, body) = server.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The reason code `check_send_permission` answers (SUCCESS when it lets the send go).
async fn permission(server: &TestServer, from: &str, channel_id: &str, channel_type: u8) -> ReasonCode {
    match node(server).check_send_permission(from, channel_id, channel_type).await {
        Ok(()) => ReasonCode::SUCCESS,
        Err(ServiceError::Denied { reason_code, .. }) => ReasonCode(reason_code),
        Err(error) => panic!("check_send_permission failed: {error}"),
    }
}

#[tokio::test]
async fn a_channel_is_created_updated_and_read_back() {
    let server = TestServer::start().await;
    let body = json!({"channel_id": "g1", "channel_type": 2, "large": 1, "subscribers": ["a", "b", "a"]});
    post_ok(&server, "/channel", body).await;
    let info = get_ok(&server, "/channel/info?channel_id=g1&channel_type=2").await;
    assert_eq!(info["large"], json!(1), "{info}");
    assert_eq!(info["ban"], json!(0), "{info}");
    assert_eq!(info["subscriber_count"], json!(2), "{info}");
    let created_at = info["created_at"].clone();
    assert!(created_at.as_str().unwrap().ends_with('Z'), "{info}");
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g1&channel_type=2").await, json!(["a", "b"]));

    // Flags are overwritten, not patched; subscribers are added.
    post_ok(
        &server,
        "/channel",
        json!({"channel_id": "g1", "channel_type": 2, "ban": true, "subscribers": ["c"]}),
    )
    .await;
    let info = get_ok(&server, "/channel/info?channel_id=g1&channel_type=2").await;
    assert_eq!((info["large"].clone(), info["ban"].clone()), (json!(0), json!(1)), "{info}");
    assert_eq!(info["created_at"], created_at);
    assert_eq!(info["subscriber_count"], json!(3), "{info}");

    // reset=1 replaces the subscribers.
    post_ok(
        &server,
        "/channel",
        json!({"channel_id": "g1", "channel_type": 2, "reset": 1, "subscribers": ["d"]}),
    )
    .await;
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g1&channel_type=2").await, json!(["d"]));

    // /channel/info sets flags only.
    post_ok(&server, "/channel/info", json!({"channel_id": "g1", "channel_type": 2, "send_ban": 1})).await;
    let info = get_ok(&server, "/channel/info?channel_id=g1&channel_type=2").await;
    assert_eq!((info["ban"].clone(), info["send_ban"].clone()), (json!(0), json!(1)), "{info}");
    assert_eq!(info["subscriber_count"], json!(1), "{info}");

    // A person channel takes flags (its id is the owner's uid).
    post_ok(&server, "/channel", json!({"channel_id": "alice", "channel_type": 1, "send_ban": 1})).await;
    assert_eq!(get_ok(&server, "/channel/info?channel_id=alice&channel_type=1").await["send_ban"], json!(1));

    assert_eq!(
        server.get("/channel/info?channel_id=nope&channel_type=2").await,
        (200, json!({"status": 404}))
    );
    assert_eq!(server.get("/channel/info?channel_id=g1&channel_type=4").await, (200, json!({"status": 404})));
    server.stop().await;
}

#[tokio::test]
async fn bad_channel_requests_are_400s_with_a_message() {
    let server = TestServer::start().await;
    for path in ["/channel", "/channel/info"] {
        assert_bad(server.post(path, json!({"channel_type": 2})).await, "channel_id must not be empty");
        assert_bad(server.post(path, json!({"channel_id": " ", "channel_type": 2})).await, "channel_id");
        assert_bad(server.post(path, json!({"channel_id": "g"})).await, "channel_type must not be 0");
        assert_bad(server.post(path, json!({"channel_id": "g", "channel_type": 0})).await, "channel_type");
        for id in ["g@1", "g#1", "g&1"] {
            assert_bad(
                server.post(path, json!({"channel_id": id, "channel_type": 2})).await,
                "must not contain",
            );
        }
        assert_bad(
            server.post(path, json!({"channel_id": "g", "channel_type": 2, "ban": 2})).await,
            "0 or 1",
        );
        assert_bad(
            server.post(path, json!({"channel_id": "g", "channel_type": 2, "ban": "1"})).await,
            "0 or 1",
        );
        assert_bad(server.post(path, json!({"channel_id": "g", "channel_type": "2"})).await, "invalid");
        assert_bad(server.post(path, json!({"channel_id": "g", "channel_type": 256})).await, "invalid");
        assert_bad(server.post(path, json!({"channel_id": 7, "channel_type": 2})).await, "invalid");
        assert_bad(server.post_raw(path, "[1,2").await, "invalid JSON");
    }
    let person = json!({"channel_id": "alice", "channel_type": 1, "subscribers": ["bob"]});
    assert_bad(server.post("/channel", person).await, "person channel");
    let bad_uid = json!({"channel_id": "g", "channel_type": 2, "subscribers": ["x@y"]});
    assert_bad(server.post("/channel", bad_uid).await, "must not contain");
    let wrong = json!({"channel_id": "g", "channel_type": 2, "subscribers": "a"});
    assert_bad(server.post("/channel", wrong).await, "invalid");
    let wrong = json!({"channel_id": "g", "channel_type": 2, "subscribers": [1]});
    assert_bad(server.post("/channel", wrong).await, "invalid");

    assert_bad(
        server.post("/channel/delete", json!({"channel_id": "alice", "channel_type": 1})).await,
        "person",
    );
    assert_bad(
        server.post("/channel/delete", json!({"channel_id": "g", "channel_type": 0})).await,
        "channel_type",
    );
    assert_bad(server.post("/channel/delete", json!({"channel_type": 2})).await, "channel_id");

    assert_bad(server.get("/channel/whitelist?channel_type=2").await, "channel_id");
    assert_bad(server.get("/channel/whitelist?channel_id=g&channel_type=abc").await, "invalid query");
    assert_bad(server.get("/channel/whitelist?channel_id=g").await, "channel_type");
    assert_bad(server.get("/channel/info?channel_id=g&channel_type=0").await, "channel_type");
    // Nothing of the above was written.
    assert_eq!(server.get("/channel/info?channel_id=g&channel_type=2").await, (200, json!({"status": 404})));
    server.stop().await;
}

#[tokio::test]
async fn subscribers_are_added_removed_and_reset() {
    let server = TestServer::start().await;
    // subscriber_add creates the channel; a missing type is a group.
    post_ok(&server, "/channel/subscriber_add", json!({"channel_id": "g2", "subscribers": ["a", "b", " "]}))
        .await;
    assert_eq!(
        get_ok(&server, "/channel/info?channel_id=g2&channel_type=2").await["subscriber_count"],
        json!(2)
    );
    let add = json!({"channel_id": "g2", "channel_type": 2, "subscribers": ["b", "c"]});
    post_ok(&server, "/channel/subscriber_add", add).await;
    assert_eq!(
        get_ok(&server, "/channel/subscribers?channel_id=g2&channel_type=2").await,
        json!(["a", "b", "c"])
    );

    let remove = json!({"channel_id": "g2", "channel_type": 2, "subscribers": ["a", "zed"]});
    post_ok(&server, "/channel/subscriber_remove", remove).await;
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g2&channel_type=2").await, json!(["b", "c"]));
    assert_eq!(
        get_ok(&server, "/channel/info?channel_id=g2&channel_type=2").await["subscriber_count"],
        json!(2)
    );

    let reset = json!({"channel_id": "g2", "channel_type": 2, "reset": 1, "subscribers": ["x", "y"]});
    post_ok(&server, "/channel/subscriber_add", reset).await;
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g2&channel_type=2").await, json!(["x", "y"]));

    post_ok(&server, "/channel/subscriber_remove_all", json!({"channel_id": "g2", "channel_type": 2})).await;
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g2&channel_type=2").await, json!([]));
    assert_eq!(
        get_ok(&server, "/channel/info?channel_id=g2&channel_type=2").await["subscriber_count"],
        json!(0)
    );

    // A person channel's subscribers are its two sides.
    let person = person_channel_id("alice", "bob");
    let mut sides = node(&server).subscribers(&person, 1).await.unwrap();
    sides.sort();
    assert_eq!(sides, vec!["alice".to_string(), "bob".to_string()]);
    server.stop().await;
}

#[tokio::test]
async fn bad_subscriber_requests_are_400s() {
    let server = TestServer::start().await;
    let path = "/channel/subscriber_add";
    assert_bad(
        server.post(path, json!({"channel_id": "g", "channel_type": 2})).await,
        "subscribers must not be empty",
    );
    assert_bad(server.post(path, json!({"channel_id": "g", "subscribers": [" "]})).await, "subscribers");
    assert_bad(
        server.post(path, json!({"channel_id": "g", "channel_type": 1, "subscribers": ["a"]})).await,
        "person",
    );
    let temp = json!({"channel_id": "g", "temp_subscriber": 1, "subscribers": ["a"]});
    assert_bad(server.post(path, temp).await, "temp_subscriber");
    assert_bad(server.post(path, json!({"subscribers": ["a"]})).await, "channel_id");
    assert_bad(
        server.post(path, json!({"channel_id": "g&", "subscribers": ["a"]})).await,
        "must not contain",
    );
    assert_bad(
        server.post(path, json!({"channel_id": "g", "subscribers": ["a#"]})).await,
        "must not contain",
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("u{i}")).collect();
    assert_bad(server.post(path, json!({"channel_id": "g", "subscribers": many})).await, "at most 10000");

    let path = "/channel/subscriber_remove";
    assert_bad(server.post(path, json!({"channel_id": "g", "channel_type": 2})).await, "subscribers");
    assert_bad(
        server.post(path, json!({"channel_id": "g", "channel_type": 1, "subscribers": ["a"]})).await,
        "person",
    );
    assert_bad(server.post(path, json!({"channel_id": "g", "subscribers": ["a"]})).await, "channel_type");

    let path = "/channel/subscriber_remove_all";
    assert_bad(server.post(path, json!({"channel_id": "alice", "channel_type": 1})).await, "person");
    assert_bad(server.post(path, json!({"channel_id": "g"})).await, "channel_type");
    assert_eq!(server.get("/channel/info?channel_id=g&channel_type=2").await, (200, json!({"status": 404})));
    server.stop().await;
}

#[tokio::test]
async fn deny_and_allow_lists_are_added_set_removed_and_listed() {
    let server = TestServer::start().await;
    for (name, query) in [("blacklist", "/channel/blacklist"), ("whitelist", "/channel/whitelist")] {
        let url = format!("{query}?channel_id=g3&channel_type=2");
        assert_eq!(get_ok(&server, &url).await, json!([]), "{name} of an unknown channel");
        let add = json!({"channel_id": "g3", "channel_type": 2, "uids": ["b", "a"]});
        post_ok(&server, &format!("/channel/{name}_add"), add).await;
        let members = get_ok(&server, &url).await;
        let uids: Vec<&str> =
            members.as_array().unwrap().iter().map(|m| m["uid"].as_str().unwrap()).collect();
        assert_eq!(uids, ["a", "b"], "{name}: {members}");
        // WuKongIM's wkdb.Member: id is FNV-1a 64 of the uid.
        assert_eq!(members[0]["id"], json!(0xaf63_dc4c_8601_ec8c_u64), "{members}");
        assert!(members[0]["created_at"].as_str().unwrap().ends_with('Z'), "{members}");
        assert!(members[0]["updated_at"].is_string(), "{members}");

        let set = json!({"channel_id": "g3", "channel_type": 2, "uids": ["c", "d"]});
        post_ok(&server, &format!("/channel/{name}_set"), set).await;
        let remove = json!({"channel_id": "g3", "channel_type": 2, "uids": ["c"]});
        post_ok(&server, &format!("/channel/{name}_remove"), remove).await;
        let members = get_ok(&server, &url).await;
        assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
        assert_eq!(members[0]["uid"], json!("d"), "{members}");

        let set_empty = json!({"channel_id": "g3", "channel_type": 2, "uids": []});
        post_ok(&server, &format!("/channel/{name}_set"), set_empty).await;
        assert_eq!(get_ok(&server, &url).await, json!([]));
        post_ok(
            &server,
            &format!("/channel/{name}_add"),
            json!({"channel_id": "g3", "channel_type": 2, "uids": ["e"]}),
        )
        .await;
        post_ok(
            &server,
            &format!("/channel/{name}_remove_all"),
            json!({"channel_id": "g3", "channel_type": 2}),
        )
        .await;
        assert_eq!(get_ok(&server, &url).await, json!([]));

        let path = format!("/channel/{name}_add");
        assert_bad(
            server.post(&path, json!({"channel_id": "g3", "channel_type": 2})).await,
            "uids must not be empty",
        );
        assert_bad(
            server.post(&path, json!({"channel_id": "g3", "channel_type": 2, "uids": []})).await,
            "uids",
        );
        assert_bad(server.post(&path, json!({"channel_id": "g3", "uids": ["a"]})).await, "channel_type");
        assert_bad(server.post(&path, json!({"channel_type": 2, "uids": ["a"]})).await, "channel_id");
        assert_bad(
            server.post(&path, json!({"channel_id": "g3", "channel_type": 2, "uids": ["a@"]})).await,
            "contain",
        );
        assert_bad(
            server.post(&path, json!({"channel_id": "g3", "channel_type": 2, "uids": "a"})).await,
            "invalid",
        );
        let path = format!("/channel/{name}_remove");
        assert_bad(server.post(&path, json!({"channel_id": "g3", "channel_type": 2})).await, "uids");
        let path = format!("/channel/{name}_remove_all");
        assert_bad(server.post(&path, json!({"channel_id": "g3"})).await, "channel_type");
    }
    let info = get_ok(&server, "/channel/info?channel_id=g3&channel_type=2").await;
    assert_eq!(
        (info["denylist_count"].clone(), info["allowlist_count"].clone()),
        (json!(0), json!(0)),
        "{info}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_channel_loses_its_members_lists_and_messages() {
    let server = TestServer::start().await;
    let node = node(&server);
    post_ok(&server, "/channel", json!({"channel_id": "g4", "channel_type": 2, "subscribers": ["a", "b"]}))
        .await;
    post_ok(&server, "/channel/blacklist_add", json!({"channel_id": "g4", "channel_type": 2, "uids": ["c"]}))
        .await;
    post_ok(&server, "/channel/whitelist_add", json!({"channel_id": "g4", "channel_type": 2, "uids": ["a"]}))
        .await;
    let group = node.channel_group("g4", 2, true).await.unwrap();
    assert!(group.is_some());

    post_ok(&server, "/channel/delete", json!({"channel_id": "g4", "channel_type": 2})).await;
    assert_eq!(server.get("/channel/info?channel_id=g4&channel_type=2").await, (200, json!({"status": 404})));
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g4&channel_type=2").await, json!([]));
    assert_eq!(get_ok(&server, "/channel/blacklist?channel_id=g4&channel_type=2").await, json!([]));
    assert_eq!(get_ok(&server, "/channel/whitelist?channel_id=g4&channel_type=2").await, json!([]));
    assert_eq!(node.channel_group("g4", 2, false).await.unwrap(), None, "its messages are out of reach");
    assert_eq!(permission(&server, "a", "g4", 2).await, ReasonCode::SUBSCRIBER_NOT_EXIST);

    // Deleting what does not exist is fine; another channel is untouched.
    post_ok(&server, "/channel", json!({"channel_id": "g5", "channel_type": 2, "subscribers": ["a"]})).await;
    post_ok(&server, "/channel/delete", json!({"channel_id": "g4", "channel_type": 2})).await;
    post_ok(&server, "/channel/delete", json!({"channel_id": "g5", "channel_type": 3})).await;
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g5&channel_type=2").await, json!(["a"]));
    server.stop().await;
}

#[tokio::test]
async fn group_permission_follows_membership_lists_and_flags() {
    let server = TestServer::start().await;
    post_ok(
        &server,
        "/channel",
        json!({"channel_id": "g6", "channel_type": 2, "subscribers": ["a", "b", "c"]}),
    )
    .await;
    assert_eq!(permission(&server, "a", "g6", 2).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "stranger", "g6", 2).await, ReasonCode::SUBSCRIBER_NOT_EXIST);
    assert_eq!(permission(&server, "a", "unknown-group", 2).await, ReasonCode::SUBSCRIBER_NOT_EXIST);
    // The command twin has its original's members.
    assert_eq!(permission(&server, "a", "g6____cmd", 2).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "stranger", "g6____cmd", 2).await, ReasonCode::SUBSCRIBER_NOT_EXIST);

    post_ok(&server, "/channel/blacklist_add", json!({"channel_id": "g6", "channel_type": 2, "uids": ["b"]}))
        .await;
    assert_eq!(permission(&server, "b", "g6", 2).await, ReasonCode::IN_BLACKLIST);
    post_ok(
        &server,
        "/channel/blacklist_add",
        json!({"channel_id": "g6", "channel_type": 2, "uids": ["stranger"]}),
    )
    .await;
    assert_eq!(permission(&server, "stranger", "g6", 2).await, ReasonCode::IN_BLACKLIST, "deny list first");

    post_ok(&server, "/channel/whitelist_add", json!({"channel_id": "g6", "channel_type": 2, "uids": ["a"]}))
        .await;
    assert_eq!(permission(&server, "a", "g6", 2).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "c", "g6", 2).await, ReasonCode::NOT_IN_WHITELIST);
    post_ok(&server, "/channel/whitelist_remove_all", json!({"channel_id": "g6", "channel_type": 2})).await;
    assert_eq!(permission(&server, "c", "g6", 2).await, ReasonCode::SUCCESS);

    // The sender's own person channel with send_ban mutes it everywhere.
    post_ok(&server, "/channel", json!({"channel_id": "c", "channel_type": 1, "send_ban": 1})).await;
    assert_eq!(permission(&server, "c", "g6", 2).await, ReasonCode::SEND_BAN);
    assert_eq!(permission(&server, "c", &person_channel_id("c", "a"), 1).await, ReasonCode::SEND_BAN);
    post_ok(&server, "/channel/info", json!({"channel_id": "c", "channel_type": 1})).await;
    assert_eq!(permission(&server, "c", "g6", 2).await, ReasonCode::SUCCESS);

    post_ok(&server, "/channel/info", json!({"channel_id": "g6", "channel_type": 2, "ban": 1})).await;
    assert_eq!(permission(&server, "a", "g6", 2).await, ReasonCode::BAN);
    post_ok(&server, "/channel/info", json!({"channel_id": "g6", "channel_type": 2, "disband": 1})).await;
    assert_eq!(permission(&server, "a", "g6", 2).await, ReasonCode::DISBAND);

    // A system uid passes everything, even a send_ban of its own.
    assert_eq!(permission(&server, "____system", "g6", 2).await, ReasonCode::SUCCESS);
    post_ok(&server, "/user/systemuids_add", json!({"uids": ["bot"]})).await;
    post_ok(&server, "/channel", json!({"channel_id": "bot", "channel_type": 1, "send_ban": 1})).await;
    assert_eq!(permission(&server, "bot", "g6", 2).await, ReasonCode::SUCCESS);
    post_ok(&server, "/user/systemuids_remove", json!({"uids": ["bot"]})).await;
    assert_eq!(permission(&server, "bot", "g6", 2).await, ReasonCode::SEND_BAN);
    server.stop().await;
}

#[tokio::test]
async fn person_permission_follows_the_receivers_deny_list() {
    let server = TestServer::start().await;
    let channel = person_channel_id("alice", "bob");
    assert_eq!(permission(&server, "alice", &channel, 1).await, ReasonCode::SUCCESS, "strangers may write");
    assert_eq!(permission(&server, "carol", &channel, 1).await, ReasonCode::CHANNEL_ID_ERROR, "not a side");

    // bob refuses alice: alice cannot write to bob, bob can still write to alice.
    post_ok(
        &server,
        "/channel/blacklist_add",
        json!({"channel_id": "bob", "channel_type": 1, "uids": ["alice"]}),
    )
    .await;
    assert_eq!(permission(&server, "alice", &channel, 1).await, ReasonCode::IN_BLACKLIST);
    assert_eq!(permission(&server, "bob", &channel, 1).await, ReasonCode::SUCCESS);
    // The allow list of a person is not enforced (WuKongIM's whitelistOffOfPerson).
    post_ok(
        &server,
        "/channel/whitelist_add",
        json!({"channel_id": "alice", "channel_type": 1, "uids": ["dave"]}),
    )
    .await;
    assert_eq!(permission(&server, "bob", &channel, 1).await, ReasonCode::SUCCESS);

    post_ok(
        &server,
        "/channel/blacklist_remove",
        json!({"channel_id": "bob", "channel_type": 1, "uids": ["alice"]}),
    )
    .await;
    assert_eq!(permission(&server, "alice", &channel, 1).await, ReasonCode::SUCCESS);

    // A system uid receives from anyone.
    post_ok(
        &server,
        "/channel/blacklist_add",
        json!({"channel_id": "bot", "channel_type": 1, "uids": ["alice"]}),
    )
    .await;
    let to_bot = person_channel_id("alice", "bot");
    assert_eq!(permission(&server, "alice", &to_bot, 1).await, ReasonCode::IN_BLACKLIST);
    post_ok(&server, "/user/systemuids_add", json!({"uids": ["bot"]})).await;
    assert_eq!(permission(&server, "alice", &to_bot, 1).await, ReasonCode::SUCCESS);
    server.stop().await;
}

#[tokio::test]
async fn public_channel_types_let_anyone_send() {
    let server = TestServer::start().await;
    // Info (6) and CustomerService (3): anyone, ban or not.
    for channel_type in [3, 6] {
        post_ok(&server, "/channel", json!({"channel_id": "pub", "channel_type": channel_type, "ban": 1}))
            .await;
        assert_eq!(permission(&server, "anyone", "pub", channel_type).await, ReasonCode::SUCCESS);
    }
    // Visitors (10): the visitor (the channel id) always; others need membership.
    assert_eq!(permission(&server, "visitor1", "visitor1", 10).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "agent-x", "visitor1", 10).await, ReasonCode::SUBSCRIBER_NOT_EXIST);
    post_ok(
        &server,
        "/channel/subscriber_add",
        json!({"channel_id": "visitor1", "channel_type": 10, "subscribers": ["agent-x"]}),
    )
    .await;
    assert_eq!(permission(&server, "agent-x", "visitor1", 10).await, ReasonCode::SUCCESS);
    // Agent (11): `uid@agent`, both sides.
    assert_eq!(permission(&server, "u1", "u1@ai", 11).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "ai", "u1@ai", 11).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "u2", "u1@ai", 11).await, ReasonCode::SUBSCRIBER_NOT_EXIST);
    // Community (4) is group-like.
    assert_eq!(permission(&server, "u1", "c4", 4).await, ReasonCode::SUBSCRIBER_NOT_EXIST);

    // Who receives: an Agent channel's two sides; a Visitors channel's agents and visitor.
    let mut sides = node(&server).subscribers("u1@ai", 11).await.unwrap();
    sides.sort();
    assert_eq!(sides, ["ai", "u1"]);
    assert_eq!(node(&server).subscribers("visitor1", 10).await.unwrap(), ["agent-x", "visitor1"]);
    server.stop().await;
}

/// The reason code `check_api_send_permission` answers.
async fn api_permission(server: &TestServer, channel_id: &str, channel_type: u8) -> ReasonCode {
    match node(server).check_api_send_permission(channel_id, channel_type).await {
        Ok(()) => ReasonCode::SUCCESS,
        Err(ServiceError::Denied { reason_code, .. }) => ReasonCode(reason_code),
        Err(error) => panic!("check_api_send_permission failed: {error}"),
    }
}

#[tokio::test]
async fn an_api_send_is_refused_only_by_the_channels_ban_or_disband() {
    let server = TestServer::start().await;
    // WuKongIM's API sends come from its system device: no membership or list checks.
    assert_eq!(api_permission(&server, "nobody-joined", 2).await, ReasonCode::SUCCESS);
    assert_eq!(api_permission(&server, "1234____cmd", 8).await, ReasonCode::SUCCESS);
    assert_eq!(api_permission(&server, &person_channel_id("a", "b"), 1).await, ReasonCode::SUCCESS);
    post_ok(&server, "/channel", json!({"channel_id": "g8", "channel_type": 2, "ban": 1})).await;
    assert_eq!(api_permission(&server, "g8", 2).await, ReasonCode::BAN);
    assert_eq!(api_permission(&server, "g8____cmd", 2).await, ReasonCode::BAN);
    post_ok(&server, "/channel", json!({"channel_id": "g8", "channel_type": 2, "disband": 1})).await;
    assert_eq!(api_permission(&server, "g8", 2).await, ReasonCode::DISBAND);
    post_ok(&server, "/channel", json!({"channel_id": "news", "channel_type": 6, "ban": 1})).await;
    assert_eq!(api_permission(&server, "news", 6).await, ReasonCode::SUCCESS, "public types pass");
    server.stop().await;
}

#[tokio::test]
async fn channels_and_lists_survive_a_restart() {
    let mut server = TestServer::start().await;
    let body = json!({"channel_id": "g7", "channel_type": 2, "large": 1, "subscribers": ["a", "b"]});
    post_ok(&server, "/channel", body).await;
    post_ok(&server, "/channel/blacklist_add", json!({"channel_id": "g7", "channel_type": 2, "uids": ["b"]}))
        .await;
    post_ok(&server, "/channel/whitelist_add", json!({"channel_id": "g7", "channel_type": 2, "uids": ["a"]}))
        .await;
    post_ok(&server, "/channel", json!({"channel_id": "muted", "channel_type": 1, "send_ban": 1})).await;
    let before = get_ok(&server, "/channel/info?channel_id=g7&channel_type=2").await;
    let whitelist = get_ok(&server, "/channel/whitelist?channel_id=g7&channel_type=2").await;

    server.restart().await;
    assert_eq!(get_ok(&server, "/channel/info?channel_id=g7&channel_type=2").await, before);
    assert_eq!(get_ok(&server, "/channel/subscribers?channel_id=g7&channel_type=2").await, json!(["a", "b"]));
    assert_eq!(get_ok(&server, "/channel/whitelist?channel_id=g7&channel_type=2").await, whitelist);
    let blacklist = get_ok(&server, "/channel/blacklist?channel_id=g7&channel_type=2").await;
    assert_eq!(blacklist[0]["uid"], json!("b"), "{blacklist}");
    assert_eq!(permission(&server, "a", "g7", 2).await, ReasonCode::SUCCESS);
    assert_eq!(permission(&server, "b", "g7", 2).await, ReasonCode::IN_BLACKLIST);
    assert_eq!(permission(&server, "muted", "g7", 2).await, ReasonCode::SEND_BAN);
    server.stop().await;
}

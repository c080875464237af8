//! Users over HTTP: tokens per device, device quit, system uids (slot 0), their bad input
//! and their persistence across a restart.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use server::service::Node;

fn node(server: &TestServer) -> &Node {
    &server.server.as_ref().unwrap().node
}

async fn token(server: &TestServer, uid: &str, device_flag: u8, token: &str) -> (u16, Value) {
    let body = json!({"uid": uid, "token": token, "device_flag": device_flag, "device_level": 1});
    server.post("/user/token", body).await
}

/// A 400 whose message mentions `needle`.
fn assert_bad(response: (u16, Value), needle: &str) {
    let (status, body) = response;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], json!(400), "{body}");
    let message = body["msg"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {body}");
}

#[tokio::test]
async fn a_token_is_kept_per_device_and_a_device_quit_clears_it() {
    let server = TestServer::start().await;
    let node = node(&server);
    assert_eq!(token(&server, "alice", 0, "t-app").await, (200, json!({"status": 200})));
    assert_eq!(token(&server, "alice", 1, "t-web").await, (200, json!({"status": 200})));
    assert!(node.check_token("alice", 0, "t-app").await.unwrap());
    assert!(node.check_token("alice", 1, "t-web").await.unwrap());
    assert!(!node.check_token("alice", 0, "t-web").await.unwrap());
    assert!(!node.check_token("alice", 2, "t-app").await.unwrap());
    assert!(!node.check_token("bob", 0, "t-app").await.unwrap());

    // A new token replaces the old one.
    token(&server, "alice", 0, "t-app-2").await;
    assert!(!node.check_token("alice", 0, "t-app").await.unwrap());
    assert!(node.check_token("alice", 0, "t-app-2").await.unwrap());

    let (status, body) = server.post("/user/device_quit", json!({"uid": "alice", "device_flag": 0})).await;
    assert_eq!((status, body), (200, json!({"status": 200})));
    assert!(!node.check_token("alice", 0, "t-app-2").await.unwrap());
    assert!(!node.check_token("alice", 0, "").await.unwrap(), "an empty token never logs in");
    assert!(node.check_token("alice", 1, "t-web").await.unwrap(), "only the app device quit");

    token(&server, "alice", 0, "t-app-3").await;
    let (status, _) = server.post("/user/device_quit", json!({"uid": "alice", "device_flag": -1})).await;
    assert_eq!(status, 200);
    assert!(!node.check_token("alice", 0, "t-app-3").await.unwrap());
    assert!(!node.check_token("alice", 1, "t-web").await.unwrap());

    // Quitting a device never seen is fine.
    let (status, _) = server.post("/user/device_quit", json!({"uid": "nobody", "device_flag": 2})).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_token_request_is_a_400_with_a_message() {
    let server = TestServer::start().await;
    assert_bad(server.post("/user/token", json!({"token": "t"})).await, "uid");
    assert_bad(server.post("/user/token", json!({"uid": "  ", "token": "t"})).await, "uid");
    assert_bad(server.post("/user/token", json!({"uid": "alice"})).await, "token");
    assert_bad(server.post("/user/token", json!({"uid": "alice", "token": ""})).await, "token");
    for uid in ["a@b", "a#b", "a&b"] {
        assert_bad(server.post("/user/token", json!({"uid": uid, "token": "t"})).await, "must not contain");
    }
    assert_bad(server.post("/user/token", json!({"uid": "____system", "token": "t"})).await, "system uid");
    assert_bad(server.post("/user/token", json!({"uid": 5, "token": "t"})).await, "invalid type");
    assert_bad(
        server.post("/user/token", json!({"uid": "a", "token": "t", "device_flag": 300})).await,
        "invalid",
    );
    assert_bad(
        server.post("/user/token", json!({"uid": "a", "token": "t", "device_flag": "0"})).await,
        "invalid",
    );
    assert_bad(server.post_raw("/user/token", "{\"uid\": ").await, "invalid JSON");
    let long = "x".repeat(2000);
    assert_bad(server.post("/user/token", json!({"uid": "a", "token": long})).await, "token is longer");

    assert_bad(server.post("/user/device_quit", json!({"device_flag": 0})).await, "uid");
    assert_bad(server.post("/user/device_quit", json!({"uid": "a", "device_flag": -2})).await, "device_flag");
    assert_bad(
        server.post("/user/device_quit", json!({"uid": "a", "device_flag": 256})).await,
        "device_flag",
    );
    assert_bad(server.post("/user/device_quit", json!({"uid": "a", "device_flag": "all"})).await, "invalid");
    server.stop().await;
}

#[tokio::test]
async fn a_banned_or_disbanded_user_gets_the_reason_code_with_http_200() {
    let server = TestServer::start().await;
    let (status, _) =
        server.post("/channel", json!({"channel_id": "mallory", "channel_type": 1, "ban": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(token(&server, "mallory", 0, "t").await, (200, json!({"status": 19})));
    assert!(!node(&server).check_token("mallory", 0, "t").await.unwrap(), "no token was stored");

    server.post("/channel", json!({"channel_id": "mallory", "channel_type": 1, "disband": 1})).await;
    assert_eq!(token(&server, "mallory", 0, "t").await, (200, json!({"status": 24})));

    server.post("/channel/info", json!({"channel_id": "mallory", "channel_type": 1})).await;
    assert_eq!(token(&server, "mallory", 0, "t").await, (200, json!({"status": 200})));
    assert!(node(&server).check_token("mallory", 0, "t").await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn system_uids_are_added_listed_and_removed() {
    let server = TestServer::start().await;
    let node = node(&server);
    assert_eq!(server.get("/user/systemuids").await, (200, json!([])));
    assert!(node.is_system_uid("____system").await.unwrap(), "the built-in system uid");
    assert!(!node.is_system_uid("bot").await.unwrap());

    let (status, body) =
        server.post("/user/systemuids_add", json!({"uids": ["bot", "admin", "bot", ""]})).await;
    assert_eq!((status, body), (200, json!({"status": 200})));
    assert_eq!(server.get("/user/systemuids").await, (200, json!(["admin", "bot"])));
    assert!(node.is_system_uid("bot").await.unwrap());
    assert!(node.is_system_uid("admin").await.unwrap());

    let (status, _) = server.post("/user/systemuids_remove", json!({"uids": ["bot", "never-added"]})).await;
    assert_eq!(status, 200);
    assert_eq!(server.get("/user/systemuids").await, (200, json!(["admin"])));
    assert!(!node.is_system_uid("bot").await.unwrap());

    // An empty list changes nothing; the cache routes only answer.
    assert_eq!(server.post("/user/systemuids_add", json!({"uids": []})).await.0, 200);
    assert_eq!(server.post("/user/systemuids_add_to_cache", json!({"uids": ["x"]})).await.0, 200);
    assert_eq!(server.post("/user/systemuids_remove_from_cache", json!({"uids": ["x"]})).await.0, 200);
    assert_eq!(server.get("/user/systemuids").await, (200, json!(["admin"])));
    server.stop().await;
}

#[tokio::test]
async fn bad_system_uid_requests_are_400s() {
    let server = TestServer::start().await;
    assert_bad(server.post("/user/systemuids_add", json!({"uids": "bot"})).await, "invalid type");
    assert_bad(server.post("/user/systemuids_add", json!({"uids": [1, 2]})).await, "invalid type");
    assert_bad(server.post("/user/systemuids_add", json!({"uids": ["a@b"]})).await, "must not contain");
    assert_bad(server.post("/user/systemuids_remove", json!({"uids": ["a#b"]})).await, "must not contain");
    let many: Vec<String> = (0..10_001).map(|i| format!("u{i}")).collect();
    assert_bad(server.post("/user/systemuids_add", json!({"uids": many})).await, "at most 10000");
    assert_eq!(server.get("/user/systemuids").await, (200, json!([])));
    server.stop().await;
}

#[tokio::test]
async fn tokens_and_system_uids_survive_a_restart() {
    let mut server = TestServer::start().await;
    token(&server, "alice", 2, "t-pc").await;
    server.post("/user/systemuids_add", json!({"uids": ["bot"]})).await;
    server.restart().await;
    assert!(node(&server).check_token("alice", 2, "t-pc").await.unwrap());
    assert!(node(&server).is_system_uid("bot").await.unwrap());
    assert_eq!(server.get("/user/systemuids").await, (200, json!(["bot"])));
    server.stop().await;
}

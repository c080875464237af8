//! The server starts on its defaults, answers /health, /route, /varz and /metrics, guards
//! the API with managerToken, and refuses bad input with a 400 and a message.

mod common;

use common::{request, test_config, TestServer};
use serde_json::json;

#[tokio::test]
async fn health_route_varz_and_metrics() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/health").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, body) = server.get("/route").await;
    assert_eq!(status, 200);
    let running = server.server.as_ref().unwrap();
    assert_eq!(body["tcp_addr"], json!(format!("127.0.0.1:{}", running.tcp_addr.port())), "{body}");
    assert_eq!(body["ws_addr"], json!(format!("ws://127.0.0.1:{}", running.ws_addr.port())), "{body}");
    let (status, body) = server.get("/varz").await;
    assert_eq!(status, 200);
    assert_eq!(body["raft_groups"]["slot"], json!(64), "{body}");

    let manager = server.server.as_ref().unwrap().manager_addr.unwrap();
    let (status, text) = common::request_text(manager, "GET", "/metrics", None, &[]).await;
    assert_eq!(status, 200);
    assert!(text.contains("imserver_raft_groups{tier=\"slot\"} 64"), "{text}");
    assert!(text.contains("imserver_fsyncs_total"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn without_a_manager_token_the_api_listens_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http_addr = "0.0.0.0:0".into();
    let server = TestServer::start_with(dir, config).await;
    assert!(server.http_addr().ip().is_loopback(), "{}", server.http_addr());
    server.stop().await;
}

#[tokio::test]
async fn a_manager_token_guards_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.manager_token = "s3cret".into();
    let server = TestServer::start_with(dir, config).await;
    let addr = server.http_addr();
    let (status, body) = request(addr, "GET", "/health", None, &[]).await;
    assert_eq!((status, body), (401, serde_json::Value::Null));
    let (status, _) = request(addr, "GET", "/health", None, &[("token", "wrong")]).await;
    assert_eq!(status, 401);
    let (status, _) = request(addr, "GET", "/health", None, &[("token", "s3cret")]).await;
    assert_eq!(status, 200);
    server.stop().await;
}

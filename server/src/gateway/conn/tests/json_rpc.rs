//! JSON-RPC connections (wkproto.md §5): one object per text frame, no encryption.

use protocol::ReasonCode;
use serde_json::{json, Value};

use super::*;
use crate::gateway::conn::{CloseReason, SendOutcome};

/// Every queued frame, each a text frame holding one JSON object.
fn objects(conn: &mut Conn) -> Vec<Value> {
    let mut objects = Vec::new();
    while let Some(frame) = conn.poll_transmit() {
        let Frame::Text(bytes) = frame else { panic!("a binary frame on a JSON-RPC connection") };
        objects.push(serde_json::from_slice(&bytes).expect("one JSON object"));
    }
    objects
}

fn input(conn: &mut Conn, now_ms: u64, message: Value) {
    conn.handle_input(now_ms, message.to_string().as_bytes());
}

fn connected() -> Conn {
    let mut conn = new_conn(config());
    let connect = json!({"jsonrpc": "2.0", "id": "1", "method": "connect",
        "params": {"uid": "u1", "token": "t1", "deviceFlag": 1, "deviceId": "dJ", "clientTimestamp": CLIENT_TIMESTAMP}});
    conn.handle_input(T0, b"  \r\n");
    input(&mut conn, T0, connect);
    assert!(conn.is_json_rpc());
    let Some(Event::Login(login)) = conn.poll_event() else { panic!("login") };
    assert_eq!((login.uid.as_str(), login.device_id.as_str(), login.version), ("u1", "dJ", 5));
    conn.handle_login(LOGIN_AT, LoginOutcome::Accepted { device_level: 1 });
    conn
}

#[test]
fn connect_is_answered_with_a_result() {
    let mut conn = connected();
    let expected = json!({"jsonrpc": "2.0", "id": "1", "result":
        {"serverVersion": 5, "timeDiff": 15, "reasonCode": 1, "nodeId": 7}});
    assert_eq!(objects(&mut conn), [expected]);
    assert_eq!(conn.uid(), "u1");
}

#[test]
fn a_refused_connect_is_a_result_with_the_reason_then_closed() {
    let mut conn = new_conn(config());
    input(&mut conn, T0, json!({"id": "1", "method": "connect", "params": {"uid": "u1", "token": "x"}}));
    assert!(matches!(conn.poll_event(), Some(Event::Login(_))));
    conn.handle_login(LOGIN_AT, LoginOutcome::Refused(ReasonCode::AUTH_FAIL));
    let objects = objects(&mut conn);
    assert_eq!(objects[0]["result"]["reasonCode"], 2);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Refused(ReasonCode::AUTH_FAIL)));
}

#[test]
fn send_hands_out_the_plaintext_and_answers_with_the_message_id() {
    let mut conn = connected();
    objects(&mut conn);
    let payload = json!({"type": 1, "content": "hi"});
    let send = json!({"id": "2", "method": "send", "params": {"clientMsgNo": "m1", "channelId": "u2",
        "channelType": 1, "header": {"redDot": true}, "payload": payload}});
    input(&mut conn, T0 + 10, send);
    let (token, request) = take_send(&mut conn);
    assert_eq!((request.from_uid.as_str(), request.channel_id.as_str()), ("u1", "u2"));
    assert!(request.header.red_dot);
    assert_eq!(serde_json::from_slice::<Value>(&request.payload).unwrap(), payload);
    conn.handle_sendack(token, SendOutcome::Sent { message_id: 1_000_000_000_000_000_001, message_seq: 4 });
    let expected = json!({"jsonrpc": "2.0", "id": "2", "result": {"header": {"redDot": true},
        "messageId": "1000000000000000001", "messageSeq": 4, "reasonCode": 1}});
    assert_eq!(objects(&mut conn), [expected]);
}

#[test]
fn recv_is_a_notification_and_recvack_stops_its_retry() {
    let mut conn = connected();
    objects(&mut conn);
    conn.deliver(T0 + 10, &person_delivery(9, "u2"));
    let objects_now = objects(&mut conn);
    let [recv] = &objects_now[..] else { panic!("{objects_now:?}") };
    assert_eq!(recv["method"], "recv");
    let params = &recv["params"];
    assert_eq!((params["messageId"].as_str(), params["channelId"].as_str()), (Some("9"), Some("u2")));
    assert_eq!((params["fromUid"].as_str(), params["timestamp"].as_i64()), (Some("u2"), Some(1_700_000_000)));
    assert_eq!(params["header"]["redDot"], true);
    use base64::Engine as _;
    let payload =
        base64::engine::general_purpose::STANDARD.decode(params["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, PLAINTEXT);

    input(&mut conn, T0 + 20, json!({"method": "recvack", "params": {"messageId": "9", "messageSeq": 1}}));
    conn.handle_timeout(T0 + 10 + config().recv_retry_ms);
    assert!(objects(&mut conn).is_empty());
}

#[test]
fn ping_gets_an_empty_response_and_subscribe_a_result() {
    let mut conn = connected();
    objects(&mut conn);
    // Two objects in one message, as a stream.
    let bytes = format!(
        "{}{}",
        json!({"id": "3", "method": "ping"}),
        json!({"id": "4", "method": "subscribe", "params": {"subNo": "s", "channelId": "g1", "channelType": 2}})
    );
    conn.handle_input(T0 + 10, bytes.as_bytes());
    let objects = objects(&mut conn);
    assert_eq!(objects[0], json!({"jsonrpc": "2.0", "id": "3"}));
    assert_eq!(objects[1]["result"]["reasonCode"], 1);
    assert_eq!(objects[1]["result"]["channelId"], "g1");
}

#[test]
fn a_request_before_connect_or_bad_json_disconnects() {
    for bytes in [json!({"id": "1", "method": "ping"}).to_string(), "{\"id\": 1}".to_string()] {
        let mut conn = new_conn(config());
        conn.handle_input(T0, bytes.as_bytes());
        assert!(matches!(conn.close_reason(), Some(CloseReason::Protocol(_))), "{bytes}");
        let objects = objects(&mut conn);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["method"], "disconnect", "{bytes}");
    }
}

#[test]
fn a_kick_is_a_disconnect_notification() {
    let mut conn = connected();
    objects(&mut conn);
    conn.kick(ReasonCode::CONNECT_KICK, "login in other device");
    let expected = json!({"jsonrpc": "2.0", "method": "disconnect",
        "params": {"reasonCode": 12, "reason": "login in other device"}});
    assert_eq!(objects(&mut conn), [expected]);
    assert!(conn.is_closed());
}

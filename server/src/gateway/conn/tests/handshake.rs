//! CONNECT, the login answer and CONNACK in each client's layout (wkproto.md §2.2, §8.2).

use protocol::{Packet, ReasonCode, Version};

use super::*;
use crate::gateway::conn::{CloseReason, Login};

#[test]
fn v2_connack_has_no_server_version_byte_nor_node_id() {
    let mut conn = new_conn(config());
    let client = Client::new(2);
    conn.handle_input(T0, &client.connect("u1"));
    let login = match conn.poll_event() {
        Some(Event::Login(login)) => login,
        other => panic!("expected a login, got {other:?}"),
    };
    let expected =
        Login { uid: "u1".into(), token: "t1".into(), device_flag: 1, device_id: "d1W".into(), version: 2 };
    assert_eq!(login, expected);
    assert_eq!(conn.uid(), "", "not logged in before the answer");
    assert!(!conn.wants_input(), "nothing after CONNECT is decoded before the login answer");

    conn.handle_login(LOGIN_AT, LoginOutcome::Accepted { device_level: 1 });
    let frame = conn.poll_transmit().expect("CONNACK");
    let Frame::Binary(bytes) = frame else { panic!("text frame") };
    // Header 0x20 (no HasServerVersion bit), body 73 bytes: timeDiff, reason, key, salt.
    assert_eq!(bytes[..2], [0x20, 0x49]);
    assert_eq!(bytes.len(), 2 + 0x49);
    let packet = Decoder::new(Version::V2).decode(&mut BytesMut::from(&bytes[..])).unwrap().unwrap();
    let Packet::Connack(connack) = packet else { panic!("{packet:?}") };
    assert_eq!(connack.server_version, 0);
    assert_eq!(connack.node_id, 0);
    assert_eq!(connack.reason_code, ReasonCode::SUCCESS);
    assert_eq!(connack.time_diff, LOGIN_AT as i64 - CLIENT_TIMESTAMP);
    assert_eq!(connack.salt.len(), 16);
    assert_eq!((conn.uid(), conn.version(), conn.device_flag(), conn.device_id()), ("u1", 2, 1, "d1W"));
    assert!(conn.wants_input());
    assert!(!conn.is_json_rpc());
}

#[test]
fn v4_and_v5_connack_carry_the_server_version_and_node_id() {
    for (client_version, spoken) in [(4, 4), (5, 5), (9, 5)] {
        let mut conn = new_conn(config());
        let client = Client::new(client_version);
        conn.handle_input(T0, &client.connect("u1"));
        conn.handle_login(LOGIN_AT, LoginOutcome::Accepted { device_level: 0 });
        let Some(Frame::Binary(bytes)) = conn.poll_transmit() else { panic!("CONNACK") };
        assert_eq!(bytes[0], 0x21, "HasServerVersion for client version {client_version}");
        let packet = Decoder::new(client.version()).decode(&mut BytesMut::from(&bytes[..])).unwrap().unwrap();
        let Packet::Connack(connack) = packet else { panic!("{packet:?}") };
        assert_eq!((connack.server_version, connack.node_id), (spoken, 7));
        assert_eq!(conn.version(), spoken);
    }
}

#[test]
fn the_session_from_the_connack_opens_what_the_server_seals() {
    let (mut conn, client) = logged_in(2);
    conn.deliver(T0 + 10, &person_delivery(1, "u2"));
    let packets = packets(&mut conn, client.version());
    let [Packet::Recv(recv)] = &packets[..] else { panic!("{packets:?}") };
    assert_eq!(client.session().open_recv(recv).expect("msgKey and payload"), PLAINTEXT);
}

#[test]
fn a_refused_login_gets_a_failure_connack_and_closes() {
    let mut conn = new_conn(config());
    let client = Client::new(5);
    conn.handle_input(T0, &client.connect("u1"));
    assert!(matches!(conn.poll_event(), Some(Event::Login(_))));
    conn.handle_login(LOGIN_AT, LoginOutcome::Refused(ReasonCode::BAN));
    let packets = packets(&mut conn, client.version());
    let [Packet::Connack(connack)] = &packets[..] else { panic!("{packets:?}") };
    assert_eq!(connack.reason_code, ReasonCode::BAN);
    assert_eq!((connack.server_key.as_str(), connack.salt.as_str()), ("", ""));
    assert_eq!(connack.server_version, 5, "in the client's layout");
    assert!(conn.is_closed());
    assert_eq!(conn.close_reason(), Some(&CloseReason::Refused(ReasonCode::BAN)));
    assert_eq!(conn.uid(), "");
    assert!(conn.poll_event().is_none());
    assert!(conn.poll_timeout().is_none());
}

#[test]
fn a_v2_failure_connack_matches_the_reference_bytes() {
    let mut conn = new_conn(config());
    let mut connect = Client::new(2).connect_packet("u1");
    connect.client_timestamp = LOGIN_AT as i64;
    conn.handle_input(T0, &encode(&Packet::Connect(connect), Version::LATEST));
    conn.handle_login(LOGIN_AT, LoginOutcome::Refused(ReasonCode::AUTH_FAIL));
    let Some(Frame::Binary(bytes)) = conn.poll_transmit() else { panic!("CONNACK") };
    // wkproto.md §6.2: `20 0d 0000000000000000 02 0000 0000`.
    assert_eq!(&bytes[..], [0x20, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
}

#[test]
fn a_bad_uid_or_client_key_is_refused_without_a_login_event() {
    let cases = [
        ("", None, ReasonCode::AUTH_FAIL),
        ("a@b", None, ReasonCode::AUTH_FAIL),
        ("u1", Some(""), ReasonCode::CLIENT_KEY_IS_EMPTY),
        ("u1", Some("not base64!"), ReasonCode::AUTH_FAIL),
        ("u1", Some("AAAA"), ReasonCode::AUTH_FAIL),
    ];
    for (uid, client_key, code) in cases {
        let mut conn = new_conn(config());
        let client = Client::new(2);
        let mut connect = client.connect_packet(uid);
        if let Some(key) = client_key {
            connect.client_key = key.into();
        }
        conn.handle_input(T0, &encode(&Packet::Connect(connect), Version::LATEST));
        assert!(conn.poll_event().is_none(), "{uid:?} {client_key:?}");
        let packets = packets(&mut conn, client.version());
        let [Packet::Connack(connack)] = &packets[..] else { panic!("{packets:?}") };
        assert_eq!(connack.reason_code, code, "{uid:?} {client_key:?}");
        assert_eq!(conn.close_reason(), Some(&CloseReason::Refused(code)));
    }
}

#[test]
fn packets_right_after_connect_wait_for_the_login() {
    let mut conn = new_conn(config());
    let client = Client::new(5);
    let mut bytes = client.connect("u1");
    bytes.extend(encode(&Packet::Ping, Version::V5));
    conn.handle_input(T0, &bytes);
    assert!(matches!(conn.poll_event(), Some(Event::Login(_))));
    assert!(conn.poll_transmit().is_none(), "PING is not answered before the login");
    conn.handle_login(LOGIN_AT, LoginOutcome::Accepted { device_level: 1 });
    let packets = packets(&mut conn, client.version());
    assert!(matches!(&packets[..], [Packet::Connack(_), Packet::Pong]), "{packets:?}");
}

//! Streams that break the protocol: DISCONNECT with a reason, then closed.

use protocol::{Packet, ReasonCode, Recv, Version};

use super::*;
use crate::gateway::conn::CloseReason;

/// Feeds `bytes` and returns the DISCONNECT that closed the connection.
fn disconnect_after(conn: &mut Conn, version: Version, bytes: &[u8]) -> protocol::Disconnect {
    conn.handle_input(T0 + 10, bytes);
    assert!(conn.is_closed(), "closed after {bytes:02x?}");
    assert!(matches!(conn.close_reason(), Some(CloseReason::Protocol(_))), "{:?}", conn.close_reason());
    assert!(conn.poll_event().is_none());
    let packets = packets(conn, version);
    match packets.last() {
        Some(Packet::Disconnect(disconnect)) => disconnect.clone(),
        _ => panic!("expected DISCONNECT last, got {packets:?}"),
    }
}

#[test]
fn garbage_before_connect() {
    let mut conn = Conn::new(config(), Transport::Tcp, T0, server_random());
    let disconnect = disconnect_after(&mut conn, Version::V2, b"\x00\x01garbage");
    assert_eq!(disconnect.reason_code, ReasonCode::NOT_SUPPORT_HEADER);
    assert!(disconnect.reason.contains("unknown packet type"), "{}", disconnect.reason);
}

#[test]
fn a_send_before_connect() {
    let mut client = Client::new(2);
    client.session = Some(protocol::crypto::Session::from_aes_key([b'k'; 16], "abcdefghijklmnop").unwrap());
    let mut conn = new_conn(config());
    let disconnect = disconnect_after(&mut conn, Version::V2, &client.send("u2", PLAINTEXT));
    assert_eq!(disconnect.reason_code, ReasonCode::AUTH_FAIL);
}

#[test]
fn an_oversized_frame_is_refused_from_its_length() {
    let config = ConnConfig { frame_body_bytes_max: 1024, ..config() };
    let (mut conn, client) = logged_in_with(config, 2, "u1");
    // A SEND announcing 2000 body bytes: refused before they arrive.
    let disconnect = disconnect_after(&mut conn, client.version(), &[0x32, 0xd0, 0x0f]);
    assert_eq!(disconnect.reason_code, ReasonCode::PAYLOAD_DECODE_ERROR);
}

#[test]
fn an_unknown_packet_type_after_login() {
    let (mut conn, client) = logged_in(2);
    let disconnect = disconnect_after(&mut conn, client.version(), &[0xd0, 0x00]);
    assert_eq!(disconnect.reason_code, ReasonCode::NOT_SUPPORT_HEADER);
    // EVENT does not exist below version 5.
    let (mut conn, client) = logged_in(2);
    let disconnect = disconnect_after(&mut conn, client.version(), &[0xc0, 0x00]);
    assert_eq!(disconnect.reason_code, ReasonCode::NOT_SUPPORT_HEADER);
}

#[test]
fn packets_only_servers_send_and_a_second_connect() {
    let (mut conn, client) = logged_in(5);
    let recv = client.encode(&Packet::Recv(Recv::default()));
    let disconnect = disconnect_after(&mut conn, client.version(), &recv);
    assert_eq!(disconnect.reason_code, ReasonCode::NOT_SUPPORT_HEADER);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Protocol(disconnect.reason.clone())));

    let (mut conn, client) = logged_in(5);
    let disconnect = disconnect_after(&mut conn, client.version(), &client.connect("u1"));
    assert_eq!(disconnect.reason_code, ReasonCode::NOT_SUPPORT_HEADER);
    assert_eq!(disconnect.reason, "a second CONNECT");
}

#[test]
fn a_truncated_body() {
    let (mut conn, client) = logged_in(2);
    // RECVACK with a 3-byte body: ends inside message_id.
    let disconnect = disconnect_after(&mut conn, client.version(), &[0x60, 0x03, 1, 2, 3]);
    assert_eq!(disconnect.reason_code, ReasonCode::PAYLOAD_DECODE_ERROR);
}

#[test]
fn a_websocket_of_only_whitespace_waits_and_then_decides() {
    let mut conn = new_conn(config());
    conn.handle_input(T0, b"\n \n");
    assert!(!conn.is_closed());
    assert!(!conn.is_json_rpc());
    // Whitespace then a binary byte: WKProto, whose stream then starts with garbage.
    conn.handle_input(T0, &[0x10]);
    assert!(conn.is_closed());
}

//! Heartbeats, SUB, kicks, timeouts, back-pressure and the slow consumer.

use protocol::{Disconnect, Packet, ReasonCode, Sub, SubAction, Suback, Version};

use super::*;
use crate::gateway::conn::{CloseReason, SendOutcome};

#[test]
fn every_ping_gets_a_one_byte_pong() {
    let (mut conn, _client) = logged_in(2);
    conn.handle_input(T0 + 10, &[0x70, 0x70]);
    assert_eq!(conn.poll_transmit(), Some(Frame::Binary(Bytes::from_static(&[0x80]))));
    assert_eq!(conn.poll_transmit(), Some(Frame::Binary(Bytes::from_static(&[0x80]))));
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn sub_is_answered_with_a_successful_suback() {
    let (mut conn, client) = logged_in(2);
    let sub = Sub { channel_id: "g1".into(), channel_type: ChannelType::GROUP, ..Sub::default() };
    conn.handle_input(T0 + 10, &client.encode(&Packet::Sub(sub)));
    let Some(Frame::Binary(bytes)) = conn.poll_transmit() else { panic!("SUBACK") };
    // wkproto.md §6.2: `b0 09 | 0000 | 0002 6731 | 02 | 00 | 01`.
    assert_eq!(&bytes[..], [0xb0, 0x09, 0, 0, 0, 2, b'g', b'1', 2, 0, 1]);
    let expected = Suback {
        channel_id: "g1".into(),
        channel_type: ChannelType::GROUP,
        action: SubAction::SUBSCRIBE,
        reason_code: ReasonCode::SUCCESS,
        ..Suback::default()
    };
    let decoded = Decoder::new(Version::V2).decode(&mut BytesMut::from(&bytes[..])).unwrap();
    assert_eq!(decoded, Some(Packet::Suback(expected)));
}

#[test]
fn a_kick_sends_disconnect_then_closes_for_good() {
    let (mut conn, mut client) = logged_in(2);
    conn.handle_input(T0 + 10, &client.send("u2", PLAINTEXT));
    let (token, _) = take_send(&mut conn);
    conn.kick(ReasonCode::CONNECT_KICK, "login in other device");
    let Some(Frame::Binary(bytes)) = conn.poll_transmit() else { panic!("DISCONNECT") };
    // wkproto.md §6.2: `90 18 | 0c | 0015 6c6f67696e20696e206f7468657220646576696365`.
    assert_eq!(bytes[..3], [0x90, 0x18, 0x0c]);
    assert_eq!(&bytes[5..], b"login in other device");
    assert_eq!(conn.close_reason(), Some(&CloseReason::Kicked(ReasonCode::CONNECT_KICK)));

    // Nothing more happens to a closed connection.
    conn.handle_sendack(token, SendOutcome::Sent { message_id: 1, message_seq: 1 });
    conn.deliver(T0 + 20, &person_delivery(1, "u2"));
    conn.handle_input(T0 + 20, &client.send("u2", PLAINTEXT));
    conn.kick(ReasonCode::BAN, "again");
    conn.handle_timeout(u64::MAX);
    assert!(conn.poll_transmit().is_none());
    assert!(conn.poll_event().is_none());
    assert!(!conn.wants_input());
    assert_eq!(conn.close_reason(), Some(&CloseReason::Kicked(ReasonCode::CONNECT_KICK)));
}

#[test]
fn a_client_disconnect_closes_quietly() {
    let (mut conn, client) = logged_in(2);
    let disconnect = Disconnect { reason_code: ReasonCode::SUCCESS, reason: String::new() };
    conn.handle_input(T0 + 10, &client.encode(&Packet::Disconnect(disconnect)));
    assert_eq!(conn.close_reason(), Some(&CloseReason::ClientDisconnect));
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn no_connect_in_time_closes_without_a_word() {
    let connect_timeout_ms = config().connect_timeout_ms;
    let mut conn = new_conn(config());
    assert_eq!(conn.poll_timeout(), Some(T0 + connect_timeout_ms));
    conn.handle_input(T0 + 1, &[0x10]); // half a CONNECT: not a login
    conn.handle_timeout(T0 + connect_timeout_ms - 1);
    assert!(!conn.is_closed());
    conn.handle_timeout(T0 + connect_timeout_ms);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Timeout));
    assert!(conn.poll_transmit().is_none());

    // An unanswered login times out the same way.
    let mut conn = new_conn(config());
    conn.handle_input(T0, &Client::new(2).connect("u1"));
    conn.handle_timeout(T0 + connect_timeout_ms);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Timeout));
    conn.handle_login(T0 + connect_timeout_ms, LoginOutcome::Accepted { device_level: 1 });
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn an_idle_connection_closes_and_any_byte_keeps_it_open() {
    let idle_ms = config().idle_timeout_ms;
    let (mut conn, _client) = logged_in(2);
    assert_eq!(conn.poll_timeout(), Some(LOGIN_AT + idle_ms));
    let at = LOGIN_AT + idle_ms - 1;
    conn.handle_input(at, &[0x70]);
    assert_eq!(conn.poll_timeout(), Some(at + idle_ms));
    conn.handle_timeout(at + idle_ms - 1);
    assert!(!conn.is_closed());
    conn.handle_timeout(at + idle_ms);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Timeout));
}

#[test]
fn decoding_stops_at_the_bound_of_sends_in_flight() {
    let config = ConnConfig { sends_in_flight_max: 2, ..config() };
    let (mut conn, mut client) = logged_in_with(config, 5, "u1");
    let mut bytes = Vec::new();
    for _ in 0..3 {
        bytes.extend(client.send("u2", PLAINTEXT));
    }
    bytes.push(0x70);
    conn.handle_input(T0 + 10, &bytes);
    let (first, _) = take_send(&mut conn);
    let (second, _) = take_send(&mut conn);
    assert!(conn.poll_event().is_none());
    assert!(!conn.wants_input());

    conn.handle_sendack(second, SendOutcome::Sent { message_id: 2, message_seq: 2 });
    let (third, request) = take_send(&mut conn);
    assert_eq!(request.client_msg_no, "cmn3");
    assert!(!conn.wants_input(), "two in flight again; the PING waits");
    conn.handle_sendack(first, SendOutcome::Sent { message_id: 1, message_seq: 1 });
    conn.handle_sendack(third, SendOutcome::Sent { message_id: 3, message_seq: 3 });
    assert!(conn.wants_input());
    let packets = packets(&mut conn, client.version());
    let seqs: Vec<_> = packets
        .iter()
        .map(|p| match p {
            Packet::Sendack(ack) => ack.client_seq,
            Packet::Pong => 0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [2, 1, 0, 3], "the PING is decoded once a send is answered");
}

#[test]
fn a_client_that_does_not_read_is_closed_as_a_slow_consumer() {
    let config = ConnConfig { outbound_bytes_max: 1_000, ..config() };
    let (mut conn, _client) = logged_in_with(config, 2, "u1");
    for id in 1..100 {
        conn.deliver(T0 + 10, &person_delivery(id, "u2"));
        assert!(conn.outbound_bytes() <= 1_000);
        if conn.is_closed() {
            break;
        }
    }
    assert_eq!(conn.close_reason(), Some(&CloseReason::SlowConsumer));
    assert_eq!(conn.outbound_bytes(), 0);
    assert!(conn.poll_transmit().is_none(), "its queue is dropped");
}

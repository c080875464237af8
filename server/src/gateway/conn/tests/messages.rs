//! SEND → event → SENDACK, and deliveries → RECV with retries until RECVACK.

use protocol::{ChannelType, Packet, ReasonCode, Recvack, Setting};

use super::*;
use crate::gateway::conn::{CloseReason, SendOutcome};
use crate::service::messages::{MessageHeader, SendOrigin, SendRequest};
use crate::sm::message_record::{HEADER_NO_PERSIST, HEADER_RED_DOT, HEADER_SYNC_ONCE};

#[test]
fn a_send_is_handed_out_decrypted_and_answered_with_a_sendack() {
    let (mut conn, mut client) = logged_in(2);
    conn.handle_input(T0 + 10, &client.send("u2", PLAINTEXT));
    let (token, request) = take_send(&mut conn);
    let expected = SendRequest {
        origin: SendOrigin::Client,
        from_uid: "u1".into(),
        channel_id: "u2".into(),
        channel_type: 1,
        client_msg_no: "cmn1".into(),
        header: MessageHeader { red_dot: true, ..MessageHeader::default() },
        payload: Bytes::from_static(PLAINTEXT),
        ..SendRequest::default()
    };
    assert_eq!(request, expected);
    assert!(conn.poll_transmit().is_none(), "no SENDACK before the answer");

    conn.handle_sendack(token, SendOutcome::Sent { message_id: 1_000_000_000_000_000_001, message_seq: 1 });
    let Some(Frame::Binary(bytes)) = conn.poll_transmit() else { panic!("SENDACK") };
    // wkproto.md §6.2: `42 11 | 0de0b6b3a7640001 | 00000001 | 00000001 | 01`.
    let expected = [0x42, 0x11, 0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1];
    assert_eq!(&bytes[..], expected);
    conn.handle_sendack(token, SendOutcome::Refused(ReasonCode::SYSTEM_ERROR));
    assert!(conn.poll_transmit().is_none(), "a token is answered once");
}

#[test]
fn a_refused_send_gets_its_reason_and_a_v5_send_its_expire_topic_and_setting() {
    let (mut conn, mut client) = logged_in(5);
    let mut send = client.send_packet("g1", ChannelType::GROUP, PLAINTEXT);
    send.flags = Flags { no_persist: true, sync_once: true, ..Flags::default() };
    send.setting = Setting::TOPIC | Setting::RECEIPT;
    send.expire = 60;
    send.topic = "news".into();
    client.session().seal_send(&mut send, PLAINTEXT);
    conn.handle_input(T0 + 10, &client.encode(&Packet::Send(send)));
    let (token, request) = take_send(&mut conn);
    assert_eq!(request.header, MessageHeader { no_persist: true, red_dot: false, sync_once: true });
    assert_eq!((request.setting, request.expire, request.topic.as_str()), (0x88, 60, "news"));
    assert_eq!((request.channel_id.as_str(), request.channel_type), ("g1", 2));
    assert_eq!(request.payload, PLAINTEXT);

    conn.handle_sendack(token, SendOutcome::Refused(ReasonCode::SEND_BAN));
    let packets = packets(&mut conn, client.version());
    let [Packet::Sendack(ack)] = &packets[..] else { panic!("{packets:?}") };
    assert_eq!((ack.client_seq, ack.reason_code), (1, ReasonCode::SEND_BAN));
    assert_eq!(ack.flags, Flags { no_persist: true, sync_once: true, ..Flags::default() });
}

#[test]
fn a_wrong_msg_key_or_payload_gets_a_sendack_then_disconnect() {
    for broken_payload in [false, true] {
        let (mut conn, mut client) = logged_in(2);
        let mut send = client.send_packet("u2", ChannelType::PERSON, PLAINTEXT);
        let code = if broken_payload {
            // A payload that is not AES output, signed correctly.
            send.payload = Bytes::from_static(b"AAAA");
            send.msg_key = client.session().msg_key(&protocol::crypto::send_sign(&send));
            ReasonCode::PAYLOAD_DECODE_ERROR
        } else {
            send.msg_key = "0".repeat(32);
            ReasonCode::MSG_KEY_ERROR
        };
        conn.handle_input(T0 + 10, &client.encode(&Packet::Send(send)));
        assert!(conn.poll_event().is_none());
        let packets = packets(&mut conn, client.version());
        let [Packet::Sendack(ack), Packet::Disconnect(disconnect)] = &packets[..] else {
            panic!("{packets:?}")
        };
        assert_eq!((ack.client_seq, ack.reason_code), (1, code));
        assert_eq!(disconnect.reason_code, code);
        assert!(matches!(conn.close_reason(), Some(CloseReason::Protocol(_))));
    }
}

#[test]
fn a_recv_shows_the_peer_of_a_person_channel_and_no_red_dot_for_own_messages() {
    let (mut conn, client) = logged_in(3);
    conn.deliver(T0 + 10, &person_delivery(11, "u2"));
    let mut own = person_delivery(12, "u1");
    own.header |= HEADER_SYNC_ONCE;
    conn.deliver(T0 + 10, &own);
    let group = Delivery {
        channel_id: "g1".into(),
        channel_type: 2,
        expire: 30,
        setting: Setting::TOPIC.0,
        topic: "news".into(),
        ..person_delivery(13, "u2")
    };
    conn.deliver(T0 + 10, &group);
    let packets = packets(&mut conn, client.version());
    let [Packet::Recv(from_peer), Packet::Recv(own), Packet::Recv(group)] = &packets[..] else {
        panic!("{packets:?}")
    };
    assert_eq!((from_peer.channel_id.as_str(), from_peer.from_uid.as_str()), ("u2", "u2"));
    assert!(from_peer.flags.red_dot);
    assert_eq!((own.channel_id.as_str(), own.from_uid.as_str()), ("u2", "u1"));
    assert_eq!(own.flags, Flags { red_dot: false, sync_once: true, ..Flags::default() });
    assert_eq!((group.channel_id.as_str(), group.expire, group.topic.as_str()), ("g1", 30, "news"));
    for recv in [from_peer, own, group] {
        assert_eq!(recv.timestamp, 1_700_000_000, "seconds");
        assert_eq!(recv.message_seq, 1);
        assert_eq!(client.session().open_recv(recv).expect("msgKey checks"), PLAINTEXT);
    }
}

#[test]
fn a_recv_never_carries_stream_bits_below_v5() {
    let (mut conn, client) = logged_in(2);
    let streamed =
        Delivery { setting: Setting::STREAM_LEGACY.0 | Setting::RECEIPT.0, ..person_delivery(1, "u2") };
    conn.deliver(T0 + 10, &streamed);
    let packets = packets(&mut conn, client.version());
    let [Packet::Recv(recv)] = &packets[..] else { panic!("{packets:?}") };
    assert_eq!(recv.setting, Setting::RECEIPT);
    assert_eq!(client.session().open_recv(recv).unwrap(), PLAINTEXT);
}

#[test]
fn deliveries_before_login_are_ignored() {
    let mut conn = new_conn(config());
    conn.deliver(T0, &person_delivery(1, "u2"));
    conn.handle_input(T0, &Client::new(2).connect("u1"));
    conn.deliver(T0, &person_delivery(2, "u2"));
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn an_unacked_recv_is_sent_again_until_its_retries_run_out() {
    let config = ConnConfig { recv_retry_ms: 1_000, recv_retries_max: 2, ..config() };
    let (mut conn, client) = logged_in_with(config, 2, "u1");
    let at = T0 + 10;
    conn.deliver(at, &person_delivery(1, "u2"));
    let first = packets(&mut conn, client.version());
    assert_eq!(conn.poll_timeout(), Some(at + 1_000));

    conn.handle_timeout(at + 999);
    assert!(conn.poll_transmit().is_none());
    conn.handle_timeout(at + 1_000);
    assert_eq!(packets(&mut conn, client.version()), first, "the same RECV again");
    conn.handle_timeout(at + 2_000);
    assert_eq!(packets(&mut conn, client.version()), first);
    conn.handle_timeout(at + 3_000);
    conn.handle_timeout(at + 9_000);
    assert!(conn.poll_transmit().is_none(), "at most recv_retries_max times");
    assert!(!conn.is_closed());
}

#[test]
fn a_recvack_stops_the_retries_and_no_persist_messages_have_none() {
    let (mut conn, client) = logged_in(2);
    let retry_ms = config().recv_retry_ms;
    conn.deliver(T0 + 10, &person_delivery(1, "u2"));
    conn.deliver(T0 + 10, &person_delivery(2, "u2"));
    let no_persist = Delivery { header: HEADER_NO_PERSIST | HEADER_RED_DOT, ..person_delivery(3, "u2") };
    conn.deliver(T0 + 10, &no_persist);
    assert_eq!(packets(&mut conn, client.version()).len(), 3);
    let ack = Recvack { flags: Flags { red_dot: true, ..Flags::default() }, message_id: 1, message_seq: 1 };
    conn.handle_input(T0 + 20, &client.encode(&Packet::Recvack(ack)));
    conn.handle_timeout(T0 + 10 + retry_ms);
    let packets = packets(&mut conn, client.version());
    let [Packet::Recv(recv)] = &packets[..] else { panic!("{packets:?}") };
    assert_eq!(recv.message_id, 2);
}

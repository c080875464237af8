//! Payload crypto beyond the worked example: round trips, and every way a peer's key, payload or
//! msgKey can be wrong.

mod common;

use bytes::Bytes;
use common::config;
use proptest::prelude::*;
use protocol::crypto::{KeyPair, Session};
use protocol::{ChannelType, Error, Recv, Send, Setting};

fn pair() -> (Session, Session) {
    let server = KeyPair::from_secret_bytes([0x42; 32]);
    let client = KeyPair::from_secret_bytes([0x24; 32]);
    let salt = protocol::crypto::salt_from_random([9; 16]);
    let server_side = Session::accept(&server, &client.public_key_base64(), &salt).unwrap();
    let client_side =
        Session::new(&client.shared_secret(&server.public_key_base64()).unwrap(), &salt).unwrap();
    (server_side, client_side)
}

proptest! {
    #![proptest_config(config("crypto", 512))]

    #[test]
    fn encrypt_then_decrypt(plaintext in prop::collection::vec(any::<u8>(), 0..300)) {
        let (server, client) = pair();
        let wire = client.encrypt(&plaintext);
        prop_assert!(wire.iter().all(u8::is_ascii));
        // PKCS#7 always pads: 1..=16 bytes, then base64.
        let ciphertext_len = (plaintext.len() / 16 + 1) * 16;
        prop_assert_eq!(wire.len(), ciphertext_len.div_ceil(3) * 4);
        prop_assert_eq!(server.decrypt(&wire).unwrap(), plaintext);
    }

    #[test]
    fn send_and_recv_seal_then_open(
        plaintext in prop::collection::vec(any::<u8>(), 0..200),
        client_seq in any::<u32>(),
        channel in "[a-z0-9]{0,10}",
        message_id in 0i64..i64::MAX,
        timestamp in 0i32..i32::MAX,
    ) {
        let (server, client) = pair();
        let mut send = Send { client_seq, channel_id: channel.clone(), channel_type: ChannelType::GROUP, client_msg_no: "n".into(), ..Send::default() };
        client.seal_send(&mut send, &plaintext);
        prop_assert_eq!(server.open_send(&send).unwrap(), plaintext.clone());

        let mut recv = Recv { message_id, timestamp, channel_id: channel, from_uid: "u".into(), ..Recv::default() };
        server.seal_recv(&mut recv, &plaintext);
        prop_assert_eq!(recv.msg_key.len(), 32);
        prop_assert_eq!(client.open_recv(&recv).unwrap(), plaintext);
    }

    /// Arbitrary payload bytes never panic the decrypt path.
    #[test]
    fn arbitrary_payloads_do_not_panic(payload in prop::collection::vec(any::<u8>(), 0..200), msg_key in ".{0,40}") {
        let (server, _) = pair();
        let _ = server.decrypt(&payload);
        let send = Send { payload: Bytes::from(payload), msg_key, ..Send::default() };
        let _ = server.open_send(&send);
    }
}

#[test]
fn wrong_keys_and_payloads_are_refused() {
    let (server, client) = pair();
    let mut send = Send { client_msg_no: "n".into(), ..Send::default() };
    client.seal_send(&mut send, b"{\"type\":1}");

    let mut forged = send.clone();
    forged.client_seq += 1;
    assert!(matches!(server.open_send(&forged), Err(Error::MsgKeyMismatch)));
    let mut upper = send.clone();
    upper.msg_key = upper.msg_key.to_uppercase();
    assert!(matches!(server.open_send(&upper), Err(Error::MsgKeyMismatch)));

    assert!(matches!(server.decrypt(b"not base64!"), Err(Error::PayloadNotBase64)));
    assert!(matches!(server.decrypt(b"AAAA"), Err(Error::PayloadDecrypt))); // 3 bytes: not a block
    assert!(matches!(server.decrypt(b""), Err(Error::PayloadDecrypt)));
    // Another session's payload may even unpad by chance: the msgKey is what catches it.
    let other = Session::from_aes_key(*b"0123456789abcdef", "abcdefghijklmnop").unwrap();
    let mut foreign = send.clone();
    other.seal_send(&mut foreign, b"{\"type\":1}");
    assert!(matches!(server.open_send(&foreign), Err(Error::MsgKeyMismatch)));
    assert_eq!(Error::PayloadDecrypt.reason_code(), protocol::ReasonCode::PAYLOAD_DECODE_ERROR);
}

#[test]
fn bad_public_keys() {
    let server = KeyPair::from_secret_bytes([1; 32]);
    assert!(matches!(server.shared_secret("%%%"), Err(Error::KeyNotBase64)));
    assert!(matches!(server.shared_secret("AAAA"), Err(Error::KeyTooShort(3))));
    // The all-zero point is of low order: the shared secret would be zero.
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert!(matches!(server.shared_secret(zero), Err(Error::NonContributoryKey)));
    // Longer keys: the first 32 bytes are used, as in Server v2.
    let client = KeyPair::from_secret_bytes([2; 32]);
    let mut long = client.public_key().to_vec();
    long.extend_from_slice(&[0xee; 8]);
    use base64::Engine as _;
    let long = base64::engine::general_purpose::STANDARD.encode(long);
    assert_eq!(
        server.shared_secret(&long).unwrap(),
        server.shared_secret(&client.public_key_base64()).unwrap()
    );
    assert!(matches!(Session::accept(&server, "", "abcdefghijklmnop"), Err(Error::KeyTooShort(0))));
}

#[test]
fn no_encrypt_setting_passes_plaintext() {
    let (server, client) = pair();
    let mut send = Send { setting: Setting::NO_ENCRYPT, ..Send::default() };
    client.seal_send(&mut send, b"plain");
    assert_eq!((send.payload.as_ref(), send.msg_key.as_str()), (&b"plain"[..], ""));
    assert_eq!(server.open_send(&send).unwrap(), b"plain");
    let mut recv = Recv { setting: Setting::NO_ENCRYPT, ..Recv::default() };
    server.seal_recv(&mut recv, b"plain");
    assert_eq!(client.open_recv(&recv).unwrap(), b"plain");
}

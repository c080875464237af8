//! The payload crypto's decrypt path on arbitrary bytes, with the wkproto.md §6 session keys.
//! Checks: no panic; a payload that decrypts is canonical (re-encrypting the plaintext gives the
//! same bytes); SEND verification (msgKey from the first 32 bytes, payload the rest) and the
//! key exchange with an arbitrary client key never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::crypto::{KeyPair, Session};
use protocol::Send;

fuzz_target!(|data: &[u8]| {
    let session = Session::from_aes_key(*b"0c15fdbf4d09bc6c", "abcdefghijklmnop").expect("16-byte salt");
    if let Ok(plaintext) = session.decrypt(data) {
        assert_eq!(session.encrypt(&plaintext), data);
    }

    let (msg_key, payload) = data.split_at(data.len().min(32));
    let send = Send {
        msg_key: String::from_utf8_lossy(msg_key).into_owned(),
        payload: Bytes::copy_from_slice(payload),
        client_msg_no: "cmn1".into(),
        ..Send::default()
    };
    let _ = session.open_send(&send);

    let server = KeyPair::from_secret_bytes([0x5d; 32]);
    if let Ok(shared) = server.shared_secret(&String::from_utf8_lossy(data)) {
        let _ = Session::new(&shared, "abcdefghijklmnop").expect("16-byte salt");
    }
});

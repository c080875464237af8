//! The JSON-RPC decoders on arbitrary bytes. Checks: no panic; every message that decodes
//! re-encodes to JSON that decodes to the same message; the stream decoder never panics and
//! never loops.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol::jsonrpc::{JsonRpcDecoder, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let again = Message::decode(&message.to_vec()).expect("re-encoded message decodes");
        assert_eq!(again, message);
    }
    let mut decoder = JsonRpcDecoder::default();
    let mut buffer = BytesMut::from(data);
    while let Ok(Some(message)) = decoder.decode(&mut buffer) {
        assert_eq!(Message::decode(&message.to_vec()).expect("re-encoded message decodes"), message);
    }
});

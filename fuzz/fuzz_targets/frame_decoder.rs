//! The WKProto stream decoder on arbitrary bytes. Input: one byte choosing the version
//! (`byte % 6`), then the stream. Checks: no panic; every packet that decodes re-encodes to
//! exactly `encoded_len` bytes that decode to the same packet; feeding the stream in two pieces
//! (cut where the version byte says) gives the same packets and the same end as one piece.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol::{Decoder, Packet, Version};

/// Packets decoded from `pieces` fed one after another, and whether the stream ended corrupt.
fn decode_all(version: Version, pieces: &[&[u8]]) -> (Vec<Packet>, bool) {
    let mut decoder = Decoder::new(version);
    let mut buffer = BytesMut::new();
    let mut packets = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => break,
                Err(_) => return (packets, true),
            }
        }
    }
    (packets, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };
    let version = Version::negotiate(selector % 6);

    let (packets, corrupt) = decode_all(version, &[stream]);
    for packet in &packets {
        let mut encoded = Vec::new();
        packet.encode(version, &mut encoded);
        assert_eq!(encoded.len(), packet.encoded_len(version));
        let mut buffer = BytesMut::from(&encoded[..]);
        let again = Decoder::new(version).decode(&mut buffer).expect("re-encoded packet decodes");
        assert_eq!(again.as_ref(), Some(packet));
        assert!(buffer.is_empty());
    }

    let cut = usize::from(selector) * stream.len() / 255;
    let (head, tail) = stream.split_at(cut.min(stream.len()));
    let split = decode_all(version, &[head, tail]);
    assert_eq!(split.0, packets);
    assert_eq!(split.1, corrupt);
});

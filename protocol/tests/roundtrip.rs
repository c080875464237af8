//! Property tests of the codec: `decode(encode(p)) == p` for every packet type at every
//! version, `encoded_len` is exact, and the stream decoder gives the same packets however the
//! bytes are cut into reads.

mod common;

use bytes::BytesMut;
use common::{config, decode_exact, encode, packet, versioned_packet, versions};
use proptest::prelude::*;
use protocol::{Decoder, PacketType};

proptest! {
    #![proptest_config(config("roundtrip", 2048))]

    #[test]
    fn decode_inverts_encode((version, packet) in versioned_packet()) {
        let bytes = encode(&packet, version);
        prop_assert_eq!(decode_exact(&bytes, version), packet);
    }

    /// Several packets in one buffer, fed in arbitrary pieces (a packet split across reads, several
    /// in one read, one byte at a time): the same packets come out, in order, and nothing is
    /// consumed from a partial frame.
    #[test]
    fn stream_of_packets_in_any_pieces(
        (version, packets, cuts) in versions().prop_flat_map(|version| (
            Just(version),
            prop::collection::vec(packet(version), 1..8),
            prop::collection::vec(1usize..64, 1..64),
        ))
    ) {
        let mut wire = Vec::new();
        for packet in &packets {
            packet.encode(version, &mut wire);
        }
        let mut decoder = Decoder::new(version);
        let mut buffer = BytesMut::new();
        let mut decoded = Vec::new();
        let mut rest = &wire[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            buffer.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(packet) = decoder.decode(&mut buffer).unwrap() {
                decoded.push(packet);
            }
        }
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(decoded, packets);
    }
}

/// Every packet type is generated at every version where it exists (guards the strategy).
#[test]
fn strategy_covers_all_twelve_packet_types() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for version in (0..=5).map(protocol::Version::negotiate) {
        let mut seen = std::collections::HashSet::new();
        let strategy = packet(version);
        for _ in 0..2000 {
            seen.insert(strategy.new_tree(&mut runner).unwrap().current().packet_type());
        }
        let expected = if version.has_event() { 12 } else { 11 };
        assert_eq!(seen.len(), expected, "version {version}: {seen:?}");
        assert_eq!(seen.contains(&PacketType::Event), version.has_event());
    }
}

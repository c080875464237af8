//! Arbitrary bytes never panic the decoders and never make them allocate more than they were
//! given (so never more than the frame limit). A counting global allocator measures the bytes
//! allocated inside each `decode` call, per thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use common::{config, encode, hex, versioned_packet, versions};
use proptest::prelude::*;
use protocol::jsonrpc::JsonRpcDecoder;
use protocol::limits::FRAME_BODY_BYTES_MAX;
use protocol::{Decoder, Error, Version};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = ALLOCATED.try_with(|total| total.set(total.get() + bytes));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the bytes it allocated on this thread.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATED.with(|total| total.set(0));
    ARMED.with(|armed| armed.set(true));
    let result = f();
    ARMED.with(|armed| armed.set(false));
    (result, ALLOCATED.with(Cell::get))
}

/// Bookkeeping a decode may allocate beyond the strings it copies out of the input (the shared
/// header `BytesMut` creates when a frame is split off).
const DECODE_OVERHEAD_BYTES: usize = 256;

/// Decodes until the buffer is used up, needs more, or is corrupt; checks each call's
/// allocations against what the call was given.
fn drain(decoder: &mut Decoder, buffer: &mut BytesMut) -> Result<(), Error> {
    loop {
        let given = buffer.len();
        let (result, allocated) = allocated_by(|| decoder.decode(buffer));
        assert!(
            allocated <= given.min(FRAME_BODY_BYTES_MAX) + DECODE_OVERHEAD_BYTES,
            "decode of {given} bytes allocated {allocated}"
        );
        if result?.is_none() {
            return Ok(());
        }
    }
}

proptest! {
    #![proptest_config(config("hostile-input", 4096))]

    #[test]
    fn arbitrary_bytes(version in versions(), bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = drain(&mut Decoder::new(version), &mut BytesMut::from(&bytes[..]));
    }

    /// Valid frames with bytes flipped, cut short or extended: near misses reach deeper code.
    #[test]
    fn mutated_frames(
        (version, packet) in versioned_packet(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut bytes = encode(&packet, version);
        for (index, byte) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        bytes.extend_from_slice(&tail);
        let _ = drain(&mut Decoder::new(version), &mut BytesMut::from(&bytes[..]));
    }

    #[test]
    fn arbitrary_json_rpc(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut decoder = JsonRpcDecoder::default();
        let mut buffer = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = decoder.decode(&mut buffer) {}
        let _ = protocol::jsonrpc::Message::decode(&bytes);
    }

    #[test]
    fn arbitrary_json_rpc_text(text in r#"[\{\}\[\]":,a-z0-9 ]{0,200}"#) {
        let mut buffer = BytesMut::from(text.as_bytes());
        while let Ok(Some(_)) = JsonRpcDecoder::default().decode(&mut buffer) {}
    }
}

/// A header announcing a body above the limit is refused at once, with nothing allocated,
/// before the body (or even the rest of the varint) has arrived.
#[test]
fn oversized_length_is_refused_before_allocating() {
    for header in [
        "30 81 80 40",    // SEND, 1 MiB + 1, complete varint
        "50 ff ff ff 7f", // RECV, the largest varint (2^28 - 1)
        "30 80 80 c1",    // varint unfinished, already 1 MiB + 16 KiB
    ] {
        let mut buffer = BytesMut::from(&hex(header)[..]);
        let (result, allocated) = allocated_by(|| Decoder::new(Version::LATEST).decode(&mut buffer));
        assert!(matches!(result, Err(Error::FrameTooLarge { .. })), "{header}: {result:?}");
        assert_eq!(allocated, 0, "{header}");
    }
}

/// A header announcing exactly the limit waits for the body without reserving for it.
#[test]
fn length_at_the_limit_waits_without_reserving() {
    let mut buffer = BytesMut::from(&hex("30 80 80 40 00")[..]);
    let (result, allocated) = allocated_by(|| Decoder::new(Version::LATEST).decode(&mut buffer));
    assert!(matches!(result, Ok(None)));
    assert_eq!(allocated, 0);
}

/// A custom lower limit is applied the same way.
#[test]
fn custom_frame_limit() {
    let mut decoder = Decoder::new(Version::LATEST).with_frame_body_bytes_max(16);
    let mut buffer = BytesMut::from(&hex("60 11")[..]);
    assert!(matches!(decoder.decode(&mut buffer), Err(Error::FrameTooLarge { len: 17, max: 16 })));
}

/// A 5-byte varint is corrupt (Go would stop after 4 bytes and misread the fifth as body).
#[test]
fn five_byte_length_is_corrupt() {
    let mut decoder =
        Decoder::new(Version::LATEST).with_frame_body_bytes_max(protocol::limits::VARINT_VALUE_MAX);
    let mut buffer = BytesMut::from(&hex("30 80 80 80 80 01")[..]);
    assert!(matches!(decoder.decode(&mut buffer), Err(Error::LengthOverflow)));
}

/// A whole 1 MiB SEND decodes with its payload shared with the buffer, not copied.
#[test]
fn large_payload_is_not_copied() {
    let send = protocol::Send { payload: vec![b'x'; FRAME_BODY_BYTES_MAX - 64].into(), ..Default::default() };
    let bytes = encode(&protocol::Packet::Send(send), Version::LATEST);
    let mut buffer = BytesMut::from(&bytes[..]);
    let (result, allocated) = allocated_by(|| Decoder::new(Version::LATEST).decode(&mut buffer));
    assert!(matches!(result, Ok(Some(protocol::Packet::Send(_)))));
    assert!(allocated <= DECODE_OVERHEAD_BYTES, "allocated {allocated}");
}

/// JSON-RPC: an unfinished object beyond the message limit is refused.
#[test]
fn json_rpc_message_limit() {
    let mut decoder = JsonRpcDecoder::with_message_bytes_max(32);
    let mut buffer = BytesMut::from(&br#"{"method":"send","params":{"payload":"aaaaaaaaaaaa"#[..]);
    assert!(matches!(decoder.decode(&mut buffer), Err(Error::JsonRpcTooLarge { max: 32 })));
}

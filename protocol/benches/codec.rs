//! Codec throughput on one core: decode and encode of a SEND and a RECV carrying a 128-byte
//! message, without crypto (NO_ENCRYPT: the payload is the 128 plaintext bytes) and with the
//! JS SDK's crypto (payload = base64 of AES-CBC, 192 bytes; msgKey over it).
//!
//! Each row runs a batch of frames back to back through one `Decoder` (the realistic inbound
//! path: a connection's read buffer holding many frames) or appends them to one output buffer,
//! and reports packets per second of wall time and nanoseconds per packet.
//!
//! ```text
//! cargo bench -p protocol --bench codec              # ~1 s per row
//! cargo bench -p protocol --bench codec -- --smoke   # a few ms per row (CI, or checking it runs)
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::crypto::{KeyPair, Session};
use protocol::{ChannelType, Decoder, Flags, Packet, Recv, Send, Setting, Version};

/// The message body: 128 bytes of UTF-8 JSON, a typical short text message.
const PLAINTEXT_BYTES: usize = 128;
/// Frames per timed batch: large enough that timer overhead vanishes, small enough to stay in L2.
const BATCH_FRAMES: usize = 1024;

fn plaintext() -> Vec<u8> {
    let mut text = br#"{"type":1,"content":""#.to_vec();
    let close = br#""}"#;
    while text.len() < PLAINTEXT_BYTES - close.len() {
        text.push(b'a' + (text.len() % 26) as u8);
    }
    text.extend_from_slice(close);
    assert_eq!(text.len(), PLAINTEXT_BYTES);
    text
}

fn sessions() -> (Session, Session) {
    let server = KeyPair::from_secret_bytes([0x42; 32]);
    let client = KeyPair::from_secret_bytes([0x24; 32]);
    let salt = protocol::crypto::salt_from_random([7; 16]);
    let server_side = Session::accept(&server, &client.public_key_base64(), &salt).unwrap();
    let client_side =
        Session::new(&client.shared_secret(&server.public_key_base64()).unwrap(), &salt).unwrap();
    (server_side, client_side)
}

fn send(setting: Setting) -> Send {
    Send {
        flags: Flags { red_dot: true, ..Flags::default() },
        setting,
        client_seq: 1234,
        client_msg_no: "8f14e45fceea167a5a36dedd4bea2543_W_3".into(),
        channel_id: "group-000123".into(),
        channel_type: ChannelType::GROUP,
        ..Send::default()
    }
}

fn recv(setting: Setting) -> Recv {
    Recv {
        flags: Flags { red_dot: true, ..Flags::default() },
        setting,
        from_uid: "user-000042".into(),
        channel_id: "group-000123".into(),
        channel_type: ChannelType::GROUP,
        client_msg_no: "8f14e45fceea167a5a36dedd4bea2543_W_3".into(),
        message_id: 1_000_000_000_000_000_001,
        message_seq: 98_765,
        timestamp: 1_700_000_000,
        ..Recv::default()
    }
}

/// Runs `batch` (which handles `BATCH_FRAMES` packets) until `budget` has passed; returns
/// packets per second.
fn measure(budget: Duration, mut batch: impl FnMut()) -> f64 {
    batch(); // warm up
    let start = Instant::now();
    let mut batches = 0u64;
    while start.elapsed() < budget {
        batch();
        batches += 1;
    }
    (batches * BATCH_FRAMES as u64) as f64 / start.elapsed().as_secs_f64()
}

fn report(name: &str, frame_bytes: usize, packets_per_second: f64) {
    println!(
        "{name:<40} {frame_bytes:>5} B/frame {:>12.0} packets/s {:>8.1} ns/packet",
        packets_per_second,
        1e9 / packets_per_second
    );
}

fn frames_of(packet: &Packet, version: Version) -> Bytes {
    let mut wire = BytesMut::new();
    for _ in 0..BATCH_FRAMES {
        packet.encode(version, &mut wire);
    }
    wire.freeze()
}

fn decode_batch(wire: &Bytes, version: Version, mut each: impl FnMut(Packet)) {
    let mut decoder = Decoder::new(version);
    let mut buffer = BytesMut::from(&wire[..]);
    while let Some(packet) = decoder.decode(&mut buffer).unwrap() {
        each(packet);
    }
}

/// Encodes `BATCH_FRAMES` packets into `out`, reusing its buffer.
fn encode_batch(out: &mut Vec<u8>, mut encode_one: impl FnMut(&mut Vec<u8>)) {
    out.clear();
    for _ in 0..BATCH_FRAMES {
        encode_one(out);
    }
    black_box(&*out);
}

fn main() {
    let smoke =
        std::env::args().any(|arg| arg == "--smoke") || std::env::var_os("PROTOCOL_BENCH_SMOKE").is_some();
    let budget = if smoke { Duration::from_millis(5) } else { Duration::from_secs(1) };
    let version = Version::V5;
    let plaintext = plaintext();
    let (server, client) = sessions();
    let mut out = Vec::with_capacity(BATCH_FRAMES * 512);

    println!("protocol codec, one core, {PLAINTEXT_BYTES}-byte message, version {version}, batches of {BATCH_FRAMES}");

    // SEND, plaintext (NO_ENCRYPT).
    let plain_send = Send { payload: Bytes::from(plaintext.clone()), ..send(Setting::NO_ENCRYPT) };
    let packet = Packet::Send(plain_send.clone());
    let wire = frames_of(&packet, version);
    let frame = packet.encoded_len(version);
    report("SEND decode", frame, measure(budget, || decode_batch(&wire, version, |p| drop(black_box(p)))));
    report(
        "SEND encode",
        frame,
        measure(budget, || encode_batch(&mut out, |out| black_box(&packet).encode(version, out))),
    );

    // SEND, encrypted as JS does: the server verifies msgKey and decrypts.
    let mut sealed = send(Setting::default());
    client.seal_send(&mut sealed, &plaintext);
    let packet = Packet::Send(sealed.clone());
    let wire = frames_of(&packet, version);
    let frame = packet.encoded_len(version);
    report(
        "SEND decode + msgKey check + decrypt",
        frame,
        measure(budget, || {
            decode_batch(&wire, version, |p| {
                let Packet::Send(send) = p else { unreachable!() };
                black_box(server.open_send(&send).unwrap());
            })
        }),
    );
    report(
        "SEND encrypt + msgKey + encode (client)",
        frame,
        measure(budget, || {
            encode_batch(&mut out, |out| {
                let mut send = send(Setting::default());
                client.seal_send(&mut send, black_box(&plaintext));
                Packet::Send(send).encode(version, out);
            })
        }),
    );

    // RECV, plaintext.
    let packet = Packet::Recv(Recv { payload: Bytes::from(plaintext.clone()), ..recv(Setting::NO_ENCRYPT) });
    let wire = frames_of(&packet, version);
    let frame = packet.encoded_len(version);
    report("RECV decode", frame, measure(budget, || decode_batch(&wire, version, |p| drop(black_box(p)))));
    report(
        "RECV encode",
        frame,
        measure(budget, || encode_batch(&mut out, |out| black_box(&packet).encode(version, out))),
    );

    // RECV, encrypted per receiving connection: the server's per-recipient cost.
    let mut sealed = recv(Setting::default());
    server.seal_recv(&mut sealed, &plaintext);
    let packet = Packet::Recv(sealed);
    let wire = frames_of(&packet, version);
    let frame = packet.encoded_len(version);
    report(
        "RECV encrypt + msgKey + encode (server)",
        frame,
        measure(budget, || {
            encode_batch(&mut out, |out| {
                let mut recv = recv(Setting::default());
                server.seal_recv(&mut recv, black_box(&plaintext));
                Packet::Recv(recv).encode(version, out);
            })
        }),
    );
    report(
        "RECV decode + msgKey check + decrypt",
        frame,
        measure(budget, || {
            decode_batch(&wire, version, |p| {
                let Packet::Recv(recv) = p else { unreachable!() };
                black_box(client.open_recv(&recv).unwrap());
            })
        }),
    );
}

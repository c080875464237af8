//! The 12 packets (wkproto.md §2) and their encoding.
//!
//! Every packet struct carries all the fields any version has. The version and the setting
//! byte decide which of them are on the wire; a field that is not on the wire is not written
//! and decodes as its default (0 or ""). So a server builds one value and encodes it for each
//! connection's version, and `decode(encode(p, v), v) == p` for every `p` whose absent fields
//! are at their defaults. Bytes after the last field are ignored, as the Go and JS decoders do
//! (Server main's v6 SENDACK appends a `clientMsgNo` that v5 decoders skip).

mod connection;
mod event;
mod message;
mod subscription;

use bytes::{BufMut, Bytes};

pub use connection::{Connack, Connect, Disconnect};
pub use event::Event;
pub use message::{Recv, Recvack, Send, Sendack};
pub use subscription::{Sub, Suback};

use crate::error::Error;
use crate::header::{put_varint, varint_len, PacketType};
use crate::version::Version;
use crate::wire::Reader;

/// One WKProto packet, in either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    Connack(Connack),
    Send(Send),
    Sendack(Sendack),
    Recv(Recv),
    Recvack(Recvack),
    Ping,
    Pong,
    Disconnect(Disconnect),
    Sub(Sub),
    Suback(Suback),
    Event(Event),
}

/// One packet body's layout: what the header nibble holds, how long the body is and how it is
/// written and read at a version.
pub(crate) trait Body: Sized {
    const TYPE: PacketType;
    /// The header byte's low nibble.
    fn header_flags(&self) -> u8;
    /// Exactly the number of bytes `put_body` writes.
    fn body_len(&self, version: Version) -> usize;
    fn put_body(&self, version: Version, dst: &mut impl BufMut);
    fn read_body(header_flags: u8, body: &mut Reader, version: Version) -> Result<Self, Error>;
}

fn put_frame<B: Body>(body: &B, version: Version, dst: &mut impl BufMut) {
    dst.put_u8((B::TYPE as u8) << 4 | body.header_flags());
    put_varint(dst, body.body_len(version));
    body.put_body(version, dst);
}

fn frame_len<B: Body>(body: &B, version: Version) -> usize {
    let len = body.body_len(version);
    1 + varint_len(len) + len
}

fn read<B: Body>(header_flags: u8, body: Bytes, version: Version) -> Result<B, Error> {
    B::read_body(header_flags, &mut Reader::new(B::TYPE, body), version)
}

impl Packet {
    /// The header's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::Connack(_) => PacketType::Connack,
            Packet::Send(_) => PacketType::Send,
            Packet::Sendack(_) => PacketType::Sendack,
            Packet::Recv(_) => PacketType::Recv,
            Packet::Recvack(_) => PacketType::Recvack,
            Packet::Ping => PacketType::Ping,
            Packet::Pong => PacketType::Pong,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Sub(_) => PacketType::Sub,
            Packet::Suback(_) => PacketType::Suback,
            Packet::Event(_) => PacketType::Event,
        }
    }

    /// Whether a peer speaking `version` knows this packet: EVENT needs version 5 (§2.12;
    /// JS 1.0.4 reconnects on it). A gateway checks this before queueing a packet.
    pub fn exists_in(&self, version: Version) -> bool {
        !matches!(self, Packet::Event(_)) || version.has_event()
    }

    /// Appends the whole frame (header, remaining length, body) to `dst`. Infallible: every
    /// field fits by construction, except strings above `STRING_BYTES_MAX` bytes, which panic
    /// (see [`crate::limits::STRING_BYTES_MAX`]). Sending EVENT to a client below version 5
    /// is a bug in the caller and panics in debug builds.
    pub fn encode(&self, version: Version, dst: &mut impl BufMut) {
        debug_assert!(
            self.exists_in(version),
            "{:?} encoded for protocol version {version}",
            self.packet_type()
        );
        match self {
            Packet::Connect(p) => put_frame(p, version, dst),
            Packet::Connack(p) => put_frame(p, version, dst),
            Packet::Send(p) => put_frame(p, version, dst),
            Packet::Sendack(p) => put_frame(p, version, dst),
            Packet::Recv(p) => put_frame(p, version, dst),
            Packet::Recvack(p) => put_frame(p, version, dst),
            Packet::Ping | Packet::Pong => dst.put_u8((self.packet_type() as u8) << 4),
            Packet::Disconnect(p) => put_frame(p, version, dst),
            Packet::Sub(p) => put_frame(p, version, dst),
            Packet::Suback(p) => put_frame(p, version, dst),
            Packet::Event(p) => put_frame(p, version, dst),
        }
    }

    /// The number of bytes [`Packet::encode`] appends.
    pub fn encoded_len(&self, version: Version) -> usize {
        match self {
            Packet::Connect(p) => frame_len(p, version),
            Packet::Connack(p) => frame_len(p, version),
            Packet::Send(p) => frame_len(p, version),
            Packet::Sendack(p) => frame_len(p, version),
            Packet::Recv(p) => frame_len(p, version),
            Packet::Recvack(p) => frame_len(p, version),
            Packet::Ping | Packet::Pong => 1,
            Packet::Disconnect(p) => frame_len(p, version),
            Packet::Sub(p) => frame_len(p, version),
            Packet::Suback(p) => frame_len(p, version),
            Packet::Event(p) => frame_len(p, version),
        }
    }

    /// Decodes one body whose header said `packet_type` and `header_flags`.
    pub(crate) fn decode_body(
        packet_type: PacketType,
        header_flags: u8,
        body: Bytes,
        version: Version,
    ) -> Result<Packet, Error> {
        Ok(match packet_type {
            PacketType::Connect => Packet::Connect(read(header_flags, body, version)?),
            PacketType::Connack => Packet::Connack(read(header_flags, body, version)?),
            PacketType::Send => Packet::Send(read(header_flags, body, version)?),
            PacketType::Sendack => Packet::Sendack(read(header_flags, body, version)?),
            PacketType::Recv => Packet::Recv(read(header_flags, body, version)?),
            PacketType::Recvack => Packet::Recvack(read(header_flags, body, version)?),
            PacketType::Ping => Packet::Ping,
            PacketType::Pong => Packet::Pong,
            PacketType::Disconnect => Packet::Disconnect(read(header_flags, body, version)?),
            PacketType::Sub => Packet::Sub(read(header_flags, body, version)?),
            PacketType::Suback => Packet::Suback(read(header_flags, body, version)?),
            PacketType::Event => Packet::Event(read(header_flags, body, version)?),
        })
    }
}

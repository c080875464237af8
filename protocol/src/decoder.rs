//! The streaming frame decoder (wkproto.md §1.4): the connection, WebSocket messages included,
//! is one byte stream; packets are cut from it by their remaining length.

use bytes::{Buf, BytesMut};

use crate::error::Error;
use crate::header::{decode_varint, PacketType};
use crate::limits::{FRAME_BODY_BYTES_MAX, VARINT_VALUE_MAX};
use crate::packet::Packet;
use crate::version::Version;

/// Cuts packets out of a byte stream, in the shape of `tokio_util::codec::Decoder`:
/// `Ok(Some(packet))` consumes one frame from the buffer, `Ok(None)` means the buffer holds no
/// whole frame yet (nothing is consumed), `Err` means the stream is corrupt and the connection
/// must be closed (the buffer is then in an unspecified state).
///
/// The length is checked against the frame limit as soon as the varint shows it, before the
/// body is waited for; the decoder never reserves or allocates for a frame it has not got.
/// A decoded packet's payload shares the buffer's memory (no copy); only strings are copied.
#[derive(Clone, Debug)]
pub struct Decoder {
    version: Version,
    frame_body_bytes_max: usize,
}

impl Decoder {
    /// A decoder for `version` with the default frame limit ([`FRAME_BODY_BYTES_MAX`]). A server
    /// starts with [`Version::LATEST`] (CONNECT has no version-dependent field) and switches
    /// to the negotiated version with [`Decoder::set_version`].
    pub fn new(version: Version) -> Decoder {
        Decoder { version, frame_body_bytes_max: FRAME_BODY_BYTES_MAX }
    }

    /// Lowers (or raises, up to the varint's 2^28 - 1) the frame body limit.
    pub fn with_frame_body_bytes_max(mut self, frame_body_bytes_max: usize) -> Decoder {
        assert!(frame_body_bytes_max <= VARINT_VALUE_MAX, "frame limit above what the varint can express");
        self.frame_body_bytes_max = frame_body_bytes_max;
        self
    }

    /// The version packets are decoded with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Decodes every later packet with `version` (after CONNECT).
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Takes the next packet off the front of `src`, if a whole one is there.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, Error> {
        let Some(&header) = src.first() else {
            return Ok(None);
        };
        let nibble = header >> 4;
        let packet_type = PacketType::from_nibble(nibble).ok_or(Error::UnknownPacketType(nibble))?;
        if packet_type == PacketType::Event && !self.version.has_event() {
            return Err(Error::PacketNotInVersion { packet: packet_type, version: self.version.get() });
        }
        if !packet_type.has_body() {
            src.advance(1);
            return Ok(Some(if packet_type == PacketType::Ping { Packet::Ping } else { Packet::Pong }));
        }
        let Some((body_len, varint_len)) = decode_varint(&src[1..], self.frame_body_bytes_max)? else {
            return Ok(None);
        };
        let frame_len = 1 + varint_len + body_len;
        if src.len() < frame_len {
            return Ok(None);
        }
        src.advance(1 + varint_len);
        let body = src.split_to(body_len).freeze();
        Packet::decode_body(packet_type, header & 0x0f, body, self.version).map(Some)
    }
}

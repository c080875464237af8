//! EVENT (type 12, s→c, protocol version 5 only; wkproto.md §2.12).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::Error;
use crate::header::PacketType;
use crate::version::Version;
use crate::wire::{put_string, string_len, Reader};

/// EVENT: an out-of-band event (AI/stream events, `POST /message/event`). Only for clients that
/// negotiated version 5 ([`crate::Packet::exists_in`]); the decoder rejects it below 5.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// May be empty.
    pub id: String,
    /// The event's type (`type` on the wire).
    pub event_type: String,
    pub timestamp: i64,
    /// The rest of the body. JS 1.3.5 runs `JSON.parse` on it: it must be UTF-8 JSON.
    pub data: Bytes,
}

impl Body for Event {
    const TYPE: PacketType = PacketType::Event;

    fn header_flags(&self) -> u8 {
        0
    }

    fn body_len(&self, _: Version) -> usize {
        string_len(&self.id) + string_len(&self.event_type) + 8 + self.data.len()
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        put_string(dst, &self.id);
        put_string(dst, &self.event_type);
        dst.put_i64(self.timestamp);
        dst.put_slice(&self.data);
    }

    fn read_body(_: u8, r: &mut Reader, _: Version) -> Result<Event, Error> {
        Ok(Event {
            id: r.string("id")?,
            event_type: r.string("type")?,
            timestamp: r.i64("timestamp")?,
            data: r.rest(),
        })
    }
}

//! Body primitives (wkproto.md §1.1): big-endian integers, `u16`-length-prefixed UTF-8
//! strings, and the payload that runs to the end of the body.

use bytes::{Buf, BufMut, Bytes};

use crate::error::Error;
use crate::header::PacketType;
use crate::limits::STRING_BYTES_MAX;

/// Encoded size of a string: the `u16` length and the bytes.
pub(crate) const fn string_len(s: &str) -> usize {
    2 + s.len()
}

/// Writes a string. Panics above [`STRING_BYTES_MAX`] bytes, as the Go encoder does: a longer
/// string cannot be expressed, and truncating it would corrupt the stream. Strings decoded from
/// a peer are within the bound; strings from elsewhere (the HTTP API) are checked there.
pub(crate) fn put_string(dst: &mut impl BufMut, s: &str) {
    assert!(
        s.len() <= STRING_BYTES_MAX,
        "string of {} bytes exceeds the protocol maximum of {STRING_BYTES_MAX}",
        s.len()
    );
    dst.put_u16(s.len() as u16);
    dst.put_slice(s.as_bytes());
}

/// Reads one packet body front to back. Every read names the field it is for, so errors say
/// which packet and which field was short or malformed.
pub(crate) struct Reader {
    packet: PacketType,
    body: Bytes,
}

impl Reader {
    pub(crate) fn new(packet: PacketType, body: Bytes) -> Reader {
        Reader { packet, body }
    }

    fn need(&self, n: usize, field: &'static str) -> Result<(), Error> {
        if self.body.len() < n {
            return Err(Error::Truncated { packet: self.packet, field });
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        self.need(1, field)?;
        Ok(self.body.get_u8())
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        self.need(4, field)?;
        Ok(self.body.get_u32())
    }

    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, Error> {
        self.need(4, field)?;
        Ok(self.body.get_i32())
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Error> {
        self.need(8, field)?;
        Ok(self.body.get_u64())
    }

    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, Error> {
        self.need(8, field)?;
        Ok(self.body.get_i64())
    }

    /// A string: `u16` length (at most [`STRING_BYTES_MAX`], as Go's signed `int16`), then
    /// that many bytes of UTF-8. Allocates at most the length, which the body already holds.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, Error> {
        self.need(2, field)?;
        let len = usize::from(self.body.get_u16());
        if len > STRING_BYTES_MAX {
            return Err(Error::StringTooLong { packet: self.packet, field, len });
        }
        self.need(len, field)?;
        let bytes = self.body.split_to(len);
        match std::str::from_utf8(&bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Error::InvalidUtf8 { packet: self.packet, field }),
        }
    }

    /// The rest of the body, without copying.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.body)
    }
}

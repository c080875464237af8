//! The fixed header byte and the remaining-length varint (wkproto.md §1.2, §1.3).
//!
//! ```text
//! bit:  7 6 5 4 | 3   | 2        | 1      | 0
//!       type    | DUP | SyncOnce | RedDot | NoPersist          every packet but CONNACK
//!       type    | 0   | 0        | 0      | HasServerVersion   CONNACK
//! ```
//! Then the remaining length (MQTT-style base-128, least significant group first, at most 4
//! bytes), except for PING and PONG, which are the single bytes `0x70` and `0x80`.

use bytes::BufMut;

use crate::error::Error;
use crate::limits::{VARINT_BYTES_MAX, VARINT_VALUE_MAX};

/// The type nibble of the header byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// c→s, first packet of a connection.
    Connect = 1,
    /// s→c, answer to CONNECT; its layout depends on the version (§2.2).
    Connack = 2,
    /// c→s, a message.
    Send = 3,
    /// s→c, answer to SEND.
    Sendack = 4,
    /// s→c, a message.
    Recv = 5,
    /// c→s, answer to RECV.
    Recvack = 6,
    /// c→s heartbeat, one byte. Never send it to a JS client (§2.7).
    Ping = 7,
    /// s→c heartbeat answer, one byte.
    Pong = 8,
    /// Kick (s→c); defined c→s but unused by the SDKs.
    Disconnect = 9,
    /// c→s channel subscription.
    Sub = 10,
    /// s→c answer to SUB.
    Suback = 11,
    /// s→c, protocol version 5 only.
    Event = 12,
}

impl PacketType {
    /// The type for a header's high nibble, or `None` for 0 (reserved) and 13..=15.
    pub const fn from_nibble(nibble: u8) -> Option<PacketType> {
        Some(match nibble {
            1 => PacketType::Connect,
            2 => PacketType::Connack,
            3 => PacketType::Send,
            4 => PacketType::Sendack,
            5 => PacketType::Recv,
            6 => PacketType::Recvack,
            7 => PacketType::Ping,
            8 => PacketType::Pong,
            9 => PacketType::Disconnect,
            10 => PacketType::Sub,
            11 => PacketType::Suback,
            12 => PacketType::Event,
            _ => return None,
        })
    }

    /// Whether a remaining length and body follow the header byte (all but PING and PONG).
    pub const fn has_body(self) -> bool {
        !matches!(self, PacketType::Ping | PacketType::Pong)
    }
}

/// The four header flags of every packet but CONNACK (§1.2). Kept on SEND, SENDACK, RECV and
/// RECVACK, where they mean something: the server copies SEND's flags into SENDACK and RECV,
/// and JS copies RECV's into RECVACK.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Bit 3: retransmission. Nobody sets or reads it in practice.
    pub dup: bool,
    /// Bit 2: a command message, synced or consumed once.
    pub sync_once: bool,
    /// Bit 1: counts as unread. JS sets it on every SEND (header `0x32`).
    pub red_dot: bool,
    /// Bit 0: not stored.
    pub no_persist: bool,
}

impl Flags {
    /// The flags of a header byte's low nibble.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags {
            dup: bits & 0x08 != 0,
            sync_once: bits & 0x04 != 0,
            red_dot: bits & 0x02 != 0,
            no_persist: bits & 0x01 != 0,
        }
    }

    /// The low nibble of the header byte.
    pub const fn bits(self) -> u8 {
        (self.dup as u8) << 3
            | (self.sync_once as u8) << 2
            | (self.red_dot as u8) << 1
            | self.no_persist as u8
    }
}

/// CONNACK's header bit 0: the body starts with the server-version byte.
pub(crate) const CONNACK_HAS_SERVER_VERSION: u8 = 0x01;

/// Number of bytes [`put_varint`] writes for `n`.
pub const fn varint_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        _ => 4,
    }
}

/// Writes the remaining length. Unlike the Go and JS encoders, which write nothing for 0,
/// writes a single `0x00` for an empty body (every decoder accepts it; no real packet has an
/// empty body). Panics above [`VARINT_VALUE_MAX`]: the caller built a body of 256 MiB.
pub fn put_varint(dst: &mut impl BufMut, mut n: usize) {
    assert!(n <= VARINT_VALUE_MAX, "remaining length {n} does not fit the 4-byte varint");
    loop {
        let digit = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            dst.put_u8(digit);
            return;
        }
        dst.put_u8(digit | 0x80);
    }
}

/// Reads a remaining length from the start of `src`: `Ok(None)` when `src` ends inside it,
/// else the value and the number of bytes it took. Non-canonical encodings (`80 00`) are
/// accepted as the Go and JS decoders do. A fifth byte is an error (Go would silently stop
/// after four and read the fifth as body). `value_max` is checked as soon as the bytes seen
/// prove the value is larger, so a hostile length is refused before its last byte arrives.
pub fn decode_varint(src: &[u8], value_max: usize) -> Result<Option<(usize, usize)>, Error> {
    let mut value = 0usize;
    for (i, &byte) in src.iter().enumerate().take(VARINT_BYTES_MAX) {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if value > value_max {
            return Err(Error::FrameTooLarge { len: value, max: value_max });
        }
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if src.len() >= VARINT_BYTES_MAX {
        return Err(Error::LengthOverflow);
    }
    Ok(None)
}

//! CONNECT, CONNACK and DISCONNECT (wkproto.md §2.1, §2.2, §2.9).

use bytes::BufMut;

use super::Body;
use crate::codes::{DeviceFlag, ReasonCode};
use crate::error::Error;
use crate::header::{PacketType, CONNACK_HAS_SERVER_VERSION};
use crate::version::Version;
use crate::wire::{put_string, string_len, Reader};

/// CONNECT (type 1, c→s). No field depends on the version; the server decodes it before it
/// knows the client's version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    /// The client's protocol version; the server speaks `Version::negotiate(version)`.
    pub version: u8,
    pub device_flag: DeviceFlag,
    /// JS: 32 random hex chars + "W", new on every connect.
    pub device_id: String,
    pub uid: String,
    pub token: String,
    /// Client clock, milliseconds since the epoch.
    pub client_timestamp: i64,
    /// Standard padded base64 of the client's X25519 public key (44 chars).
    pub client_key: String,
}

impl Body for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn header_flags(&self) -> u8 {
        0
    }

    fn body_len(&self, _: Version) -> usize {
        1 + 1
            + string_len(&self.device_id)
            + string_len(&self.uid)
            + string_len(&self.token)
            + 8
            + string_len(&self.client_key)
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        dst.put_u8(self.version);
        dst.put_u8(self.device_flag.0);
        put_string(dst, &self.device_id);
        put_string(dst, &self.uid);
        put_string(dst, &self.token);
        dst.put_i64(self.client_timestamp);
        put_string(dst, &self.client_key);
    }

    fn read_body(_: u8, r: &mut Reader, _: Version) -> Result<Connect, Error> {
        Ok(Connect {
            version: r.u8("version")?,
            device_flag: DeviceFlag(r.u8("device_flag")?),
            device_id: r.string("device_id")?,
            uid: r.string("uid")?,
            token: r.string("token")?,
            client_timestamp: r.i64("client_timestamp")?,
            client_key: r.string("client_key")?,
        })
    }
}

/// CONNACK (type 2, s→c). **Its layout depends on the client's version** (§2.2, §8.2): for a
/// client version above 3 the header has bit 0 set, the body starts with the server-version
/// byte and ends with `node_id`; for versions 2 and 3 neither is sent (JS 1.0.4 misreads
/// every field otherwise).
///
/// The layout follows `server_version`: above 3, both extra fields are written; 0..=3, neither
/// is. Build it with [`Connack::new`], which sets `server_version` from the negotiated
/// version (0 below 4), so the layout cannot disagree with the version. Decoding reads the
/// byte when header bit 0 is set and then `node_id` (as JS 1.3.5 does); without the bit both
/// decode as 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connack {
    /// The negotiated version when it is 4 or more, else 0 (not on the wire).
    pub server_version: u8,
    /// `server_now_ms - client_timestamp`, in milliseconds.
    pub time_diff: i64,
    /// 1 (`SUCCESS`) on success. Any other code stops JS from reconnecting.
    pub reason_code: ReasonCode,
    /// Standard padded base64 of the server's X25519 public key; empty when not encrypting
    /// or on failure.
    pub server_key: String,
    /// The AES IV: 16 ASCII characters; empty on failure.
    pub salt: String,
    /// The cluster node id; on the wire only with the server-version byte.
    pub node_id: u64,
}

impl Connack {
    /// A CONNACK in the layout of a client that negotiated `version`; below 4, `node_id` is
    /// dropped (it is not on the wire).
    pub fn new(
        version: Version,
        time_diff: i64,
        reason_code: ReasonCode,
        server_key: String,
        salt: String,
        node_id: u64,
    ) -> Connack {
        let (server_version, node_id) =
            if version.has_connack_server_version() { (version.get(), node_id) } else { (0, 0) };
        Connack { server_version, time_diff, reason_code, server_key, salt, node_id }
    }

    /// A failure CONNACK (empty key and salt) in the client's layout: send it, then close.
    /// The JS SDK then reports the reason and does not reconnect (§2.2).
    pub fn failure(version: Version, time_diff: i64, reason_code: ReasonCode, node_id: u64) -> Connack {
        Connack::new(version, time_diff, reason_code, String::new(), String::new(), node_id)
    }

    fn has_server_version(&self) -> bool {
        self.server_version > 3
    }
}

impl Body for Connack {
    const TYPE: PacketType = PacketType::Connack;

    fn header_flags(&self) -> u8 {
        if self.has_server_version() {
            CONNACK_HAS_SERVER_VERSION
        } else {
            0
        }
    }

    fn body_len(&self, _: Version) -> usize {
        let extra = if self.has_server_version() { 1 + 8 } else { 0 };
        extra + 8 + 1 + string_len(&self.server_key) + string_len(&self.salt)
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        if self.has_server_version() {
            dst.put_u8(self.server_version);
        }
        dst.put_i64(self.time_diff);
        dst.put_u8(self.reason_code.0);
        put_string(dst, &self.server_key);
        put_string(dst, &self.salt);
        if self.has_server_version() {
            dst.put_u64(self.node_id);
        }
    }

    fn read_body(header_flags: u8, r: &mut Reader, _: Version) -> Result<Connack, Error> {
        let server_version = if header_flags & CONNACK_HAS_SERVER_VERSION != 0 {
            match r.u8("server_version")? {
                v @ 0..=3 => return Err(Error::InvalidServerVersion(v)),
                v => v,
            }
        } else {
            0
        };
        let time_diff = r.i64("time_diff")?;
        let reason_code = ReasonCode(r.u8("reason_code")?);
        let server_key = r.string("server_key")?;
        let salt = r.string("salt")?;
        let node_id = if server_version > 3 { r.u64("node_id")? } else { 0 };
        Ok(Connack { server_version, time_diff, reason_code, server_key, salt, node_id })
    }
}

/// DISCONNECT (type 9). From the server it is a kick: JS stops reconnecting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    pub reason_code: ReasonCode,
    pub reason: String,
}

impl Body for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn header_flags(&self) -> u8 {
        0
    }

    fn body_len(&self, _: Version) -> usize {
        1 + string_len(&self.reason)
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        dst.put_u8(self.reason_code.0);
        put_string(dst, &self.reason);
    }

    fn read_body(_: u8, r: &mut Reader, _: Version) -> Result<Disconnect, Error> {
        Ok(Disconnect { reason_code: ReasonCode(r.u8("reason_code")?), reason: r.string("reason")? })
    }
}

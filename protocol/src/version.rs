//! Protocol versions (wkproto.md §1.5). The server negotiates `V = min(client, 5)` from
//! CONNECT and then decodes every client packet and encodes every server packet with `V`.

/// A negotiated protocol version, 0..=5. Every version-dependent field asks it.
///
/// | V | what changes |
/// |---|---|
/// | 0, 1 | as 2, but never stream fields (WuKongIMGoProto; no SDK sends them) |
/// | 2 | stream fields in SEND/RECV when a stream bit is set. JS 1.0.x..1.2.5 |
/// | 3 | `expire` u32 in SEND and RECV |
/// | 4 | CONNACK: server-version byte first (header bit 0) and `nodeId` last. JS 1.2.7..1.2.11 |
/// | 5 | no stream fields in SEND/RECV; EVENT exists. JS 1.3.x |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u8);

impl Version {
    /// The newest version this codec speaks (WuKongIMGoProto `LatestVersion`).
    pub const LATEST: Version = Version(5);
    /// JS 1.0.x..1.2.5, including `wukongimjssdk@1.0.4` from npm.
    pub const V2: Version = Version(2);
    pub const V3: Version = Version(3);
    pub const V4: Version = Version(4);
    pub const V5: Version = Version(5);

    /// The version to speak with a client that sent `client_version` in CONNECT:
    /// `min(client_version, 5)`. Like Server v2, 0 stays 0.
    pub const fn negotiate(client_version: u8) -> Version {
        if client_version > Version::LATEST.0 {
            Version::LATEST
        } else {
            Version(client_version)
        }
    }

    /// The version byte.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// SEND and RECV carry `expire` (v3+).
    pub const fn has_expire(self) -> bool {
        self.0 >= 3
    }

    /// SEND and RECV carry stream fields when a stream bit is set (2 <= V < 5).
    pub const fn has_stream_fields(self) -> bool {
        self.0 >= 2 && self.0 < 5
    }

    /// CONNACK starts with the server-version byte and ends with `nodeId` (v4+: the client's
    /// version was above 3).
    pub const fn has_connack_server_version(self) -> bool {
        self.0 >= 4
    }

    /// EVENT packets exist (v5+). JS 1.0.4 reconnects on an unknown packet type.
    pub const fn has_event(self) -> bool {
        self.0 >= 5
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

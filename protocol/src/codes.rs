//! The one-byte enums of wkproto.md §2.13-2.15: reason codes, channel types, device flags and
//! levels, stream flags, SUB actions, and the message setting byte.
//!
//! Each is a newtype over the wire byte with named constants rather than a Rust `enum`: every
//! byte value must survive a decode/encode round trip (peers send codes we do not know, and
//! Server main has added codes 26..29), and matching on constants reads the same.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a `u8` newtype with named constants and a `Debug` that prints the name.
macro_rules! byte_codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$cmeta:meta])* $konst:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$cmeta])* pub const $konst: $name = $name($value);)*

            /// The constant's name, or `None` for a value this crate has no name for.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($konst)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{}::{}", stringify!($name), name),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<u8> for $name {
            fn from(byte: u8) -> Self {
                $name(byte)
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code.0
            }
        }
    };
}

byte_codes! {
    /// Result of CONNECT, SEND, SUB (§2.13). **Success is 1, not 0.** 0..=25 are WuKongIMGoProto's
    /// (0..=23 identical in JS 1.0.4); 26..=29 exist only in the unreleased Server main.
    ReasonCode {
        UNKNOWN = 0,
        SUCCESS = 1,
        AUTH_FAIL = 2,
        SUBSCRIBER_NOT_EXIST = 3,
        IN_BLACKLIST = 4,
        CHANNEL_NOT_EXIST = 5,
        USER_NOT_ON_NODE = 6,
        SENDER_OFFLINE = 7,
        MSG_KEY_ERROR = 8,
        PAYLOAD_DECODE_ERROR = 9,
        FORWARD_SEND_PACKET_ERROR = 10,
        NOT_ALLOW_SEND = 11,
        CONNECT_KICK = 12,
        NOT_IN_WHITELIST = 13,
        QUERY_TOKEN_ERROR = 14,
        SYSTEM_ERROR = 15,
        CHANNEL_ID_ERROR = 16,
        NODE_MATCH_ERROR = 17,
        NODE_NOT_MATCH = 18,
        /// Banned user or channel.
        BAN = 19,
        NOT_SUPPORT_HEADER = 20,
        CLIENT_KEY_IS_EMPTY = 21,
        RATE_LIMIT = 22,
        NOT_SUPPORT_CHANNEL_TYPE = 23,
        /// The channel was disbanded.
        DISBAND = 24,
        SEND_BAN = 25,
        /// Server main only.
        CHANNEL_DELETING = 26,
        /// Server main only.
        PROTOCOL_UPGRADE_REQUIRED = 27,
        /// Server main only.
        IDEMPOTENCY_CONFLICT = 28,
        /// Server main only.
        MESSAGE_SEQ_EXHAUSTED = 29,
    }
}

byte_codes! {
    /// Channel types (§2.15). A person channel's id is the peer's uid.
    ChannelType {
        PERSON = 1,
        GROUP = 2,
        /// Obsolete: replaced by `VISITORS`.
        CUSTOMER_SERVICE = 3,
        COMMUNITY = 4,
        COMMUNITY_TOPIC = 5,
        INFO = 6,
        DATA = 7,
        TEMP = 8,
        LIVE = 9,
        VISITORS = 10,
        AGENT = 11,
        AGENT_GROUP = 12,
    }
}

byte_codes! {
    /// CONNECT device flag (§2.1). JS sends `WEB`.
    DeviceFlag {
        APP = 0,
        WEB = 1,
        PC = 2,
        SYSTEM = 99,
    }
}

byte_codes! {
    /// Device level, given by the HTTP API's `/user/token` (not on the binary wire).
    DeviceLevel {
        SLAVE = 0,
        MASTER = 1,
    }
}

byte_codes! {
    /// Stream flag of the legacy RECV stream fields (§2.5).
    StreamFlag {
        START = 0,
        ING = 1,
        END = 2,
    }
}

byte_codes! {
    /// SUB/SUBACK action (§2.10).
    SubAction {
        SUBSCRIBE = 0,
        UNSUBSCRIBE = 1,
    }
}

/// The setting byte of SEND, RECV and SUB (§2.14). Bits this crate has no name for are kept.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Setting(pub u8);

impl Setting {
    /// Read receipts requested; no effect on the wire.
    pub const RECEIPT: Setting = Setting(0x80);
    /// Go only; no effect on the wire.
    pub const SIGNAL: Setting = Setting(0x20);
    /// Go only: the payload is plaintext and msgKey is not checked. No JS version sets it.
    pub const NO_ENCRYPT: Setting = Setting(0x10);
    /// A `topic` string is present (SEND after msgKey, RECV after timestamp).
    pub const TOPIC: Setting = Setting(0x08);
    /// Stream, legacy bit: JS <= 1.2.x and WuKongIMGoProto before 2025-02-21. For versions
    /// 2..=4 it adds `streamNo` to SEND and `streamNo, streamSeq u32, streamFlag` to RECV.
    pub const STREAM_LEGACY: Setting = Setting(0x04);
    /// Stream, current bit: WuKongIMGoProto since 2025-02-21. For versions 2..=4 it adds
    /// `streamNo` to SEND and `streamFlag, streamNo, streamId u64` to RECV (no JS decodes
    /// that). When both stream bits are set the legacy layout wins.
    pub const STREAM: Setting = Setting(0x02);

    /// Whether any bit of `other` is set.
    pub const fn contains(self, other: Setting) -> bool {
        self.0 & other.0 != 0
    }

    /// Either stream bit.
    pub const fn has_stream(self) -> bool {
        self.contains(Setting::STREAM_LEGACY) || self.contains(Setting::STREAM)
    }
}

impl std::ops::BitOr for Setting {
    type Output = Setting;
    fn bitor(self, rhs: Setting) -> Setting {
        Setting(self.0 | rhs.0)
    }
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Setting({:#04x})", self.0)
    }
}

//! The crate's one error type. Every variant is an operating error (bytes from a peer); none is
//! a bug in the caller. The gateway closes the connection on any decode error and answers a
//! crypto error with [`Error::reason_code`].

use crate::codes::ReasonCode;
use crate::header::PacketType;
use crate::limits::{STRING_BYTES_MAX, VARINT_BYTES_MAX};

/// Everything that can go wrong decoding or decrypting what a peer sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remaining length announces more than the decoder's frame limit.
    #[error("frame body of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    /// The remaining-length varint has its continuation bit set on its last allowed byte.
    #[error("remaining length is longer than {VARINT_BYTES_MAX} bytes")]
    LengthOverflow,
    /// The header's type nibble is 0 (reserved) or 13..15.
    #[error("unknown packet type {0}")]
    UnknownPacketType(u8),
    /// A packet that the negotiated protocol version does not have (EVENT below version 5).
    #[error("{packet:?} does not exist in protocol version {version}")]
    PacketNotInVersion { packet: PacketType, version: u8 },
    /// The body ends inside a field.
    #[error("{packet:?} body ends inside `{field}`")]
    Truncated { packet: PacketType, field: &'static str },
    /// A string's length prefix is above [`STRING_BYTES_MAX`] (negative for the Go decoder).
    #[error("{packet:?} `{field}`: string of {len} bytes exceeds {STRING_BYTES_MAX}")]
    StringTooLong { packet: PacketType, field: &'static str, len: usize },
    /// A string is not valid UTF-8.
    #[error("{packet:?} `{field}` is not valid UTF-8")]
    InvalidUtf8 { packet: PacketType, field: &'static str },
    /// CONNACK header bit 0 is set, but the version byte it announces is 3 or less: no server
    /// sends that (the byte exists only for client versions above 3), and the JS and Go
    /// decoders disagree about what follows it.
    #[error("CONNACK carries a server version byte of {0}; it is only sent for versions above 3")]
    InvalidServerVersion(u8),

    /// The client key (CONNECT) or server key (CONNACK) is not standard padded base64.
    #[error("public key is not standard base64")]
    KeyNotBase64,
    /// The decoded public key is shorter than 32 bytes.
    #[error("public key is {0} bytes, need 32")]
    KeyTooShort(usize),
    /// The key exchange gave the all-zero secret: the peer sent a low-order point.
    #[error("key exchange with a low-order public key")]
    NonContributoryKey,
    /// The salt (the AES IV) is not exactly 16 bytes.
    #[error("salt is {0} bytes, must be exactly 16")]
    InvalidSalt(usize),
    /// An encrypted payload is not standard padded base64.
    #[error("payload is not standard base64")]
    PayloadNotBase64,
    /// An encrypted payload has a length that is not a whole number of blocks, or bad padding.
    #[error("payload does not decrypt (block length or PKCS#7 padding)")]
    PayloadDecrypt,
    /// The msgKey does not match the packet.
    #[error("msgKey does not match the packet")]
    MsgKeyMismatch,

    /// JSON-RPC: not JSON, or a field of the wrong type.
    #[error("JSON-RPC: invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON-RPC: valid JSON that is not a valid message (field combination, version, id type).
    #[error("JSON-RPC: {0}")]
    JsonRpc(&'static str),
    /// JSON-RPC: a method this protocol does not have, or not in this role.
    #[error("JSON-RPC: unknown method {0:?}")]
    UnknownMethod(String),
    /// JSON-RPC: more than the message limit buffered without a complete object.
    #[error("JSON-RPC message exceeds {max} bytes")]
    JsonRpcTooLarge { max: usize },
}

impl Error {
    /// The reason code a server puts in its answer (SENDACK, CONNACK) for this error, as
    /// WuKongIM does: a bad msgKey or a payload that does not decrypt is
    /// `PayloadDecodeError` (Server v2 sends 9 for both; JS only tells 1 from "not 1"), a bad
    /// client key is `AuthFail`; everything else closes the connection (`SystemError` here).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Error::MsgKeyMismatch | Error::PayloadNotBase64 | Error::PayloadDecrypt => {
                ReasonCode::PAYLOAD_DECODE_ERROR
            }
            Error::KeyNotBase64 | Error::KeyTooShort(_) | Error::NonContributoryKey => ReasonCode::AUTH_FAIL,
            _ => ReasonCode::SYSTEM_ERROR,
        }
    }
}

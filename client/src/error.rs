//! The crate's error type: what can go wrong talking to a server.

use protocol::ReasonCode;

/// Everything a [`crate::Client`] call can fail with. None of these is a bug in the caller;
/// all come from the network or the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed (connect, read or write).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered CONNECT with a CONNACK whose reason code is not `SUCCESS`.
    #[error("connection refused with reason code {0:?}")]
    Refused(ReasonCode),
    /// The server's bytes do not decode: the stream is corrupt and the connection unusable.
    #[error("undecodable packet from the server: {0}")]
    Decode(protocol::Error),
    /// A RECV whose msgKey does not match or whose payload does not decrypt, or a CONNACK
    /// whose server key or salt is unusable. After a RECV, the stream is still in step: the
    /// next call reads the next packet (no RECVACK was sent, as JS does).
    #[error("payload crypto: {0}")]
    Crypto(protocol::Error),
    /// The server closed the connection (end of stream).
    #[error("the server closed the connection")]
    Closed,
    /// A bounded wait ([`crate::Client::wait_sendack`], [`crate::Client::wait_recv`], the
    /// CONNACK wait) ran out.
    #[error("no answer within the wait limit")]
    Timeout,
    /// The server sent something the client does not expect where it came (a first packet
    /// that is not CONNACK).
    #[error("unexpected from the server: {0}")]
    Unexpected(String),
    /// More packets arrived while waiting for one in particular than the client parks
    /// ([`crate::PENDING_PACKETS_MAX`]).
    #[error("more than {0} packets arrived while waiting for one")]
    PendingFull(usize),
}

/// Shorthand for this crate's results.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

//! The WuKongIM client protocol, byte-compatible with WuKongIM so that its official SDKs work
//! unchanged (`shared/reference/wkproto.md`): the WKProto binary codec for protocol versions
//! 2..=5 (all 12 packets), the payload crypto (X25519, AES-128-CBC, msgKey) and the JSON-RPC
//! codec. No I/O, no clock, no randomness: the gateway owns the socket and passes bytes in.
//!
//! # Usage: one binary connection, server side
//!
//! ```
//! use bytes::BytesMut;
//! use protocol::crypto::{KeyPair, Session};
//! use protocol::{Connack, Decoder, Packet, ReasonCode, Recv, Sendack, Version};
//! # use protocol::{ChannelType, Connect, Send};
//! # let client = KeyPair::from_secret_bytes([7; 32]);
//! # let mut wire = BytesMut::new();
//! # Packet::Connect(Connect { version: 2, client_key: client.public_key_base64(), ..Connect::default() })
//! #     .encode(Version::LATEST, &mut wire);
//!
//! // CONNECT has no version-dependent field: decode it with the latest version.
//! let mut decoder = Decoder::new(Version::LATEST);
//! let mut inbound = BytesMut::new();
//! let mut outbound = Vec::new(); // one packet per WebSocket message (wkproto.md §1.4)
//! inbound.extend_from_slice(&wire); // bytes from the socket, split or batched anyhow
//! let Some(Packet::Connect(connect)) = decoder.decode(&mut inbound)? else { panic!() };
//!
//! // Negotiate, switch the decoder, agree on keys, answer in the client's CONNACK layout.
//! let version = Version::negotiate(connect.version);
//! decoder.set_version(version);
//! let server = KeyPair::from_secret_bytes([9; 32]); // 32 bytes from the driver's seeded RNG
//! let salt = protocol::crypto::salt_from_random([3; 16]);
//! let session = Session::accept(&server, &connect.client_key, &salt)?;
//! let connack = Connack::new(version, 0, ReasonCode::SUCCESS, server.public_key_base64(), salt, 1);
//! Packet::Connack(connack).encode(version, &mut outbound);
//! # let client_session = Session::new(&client.shared_secret(&server.public_key_base64())?, &protocol::crypto::salt_from_random([3; 16]))?;
//! # let mut send = Send { channel_id: "u2".into(), channel_type: ChannelType::PERSON, ..Send::default() };
//! # client_session.seal_send(&mut send, br#"{"type":1,"content":"hi"}"#);
//! # Packet::Send(send).encode(version, &mut inbound);
//!
//! // Then, for every packet the decoder cuts out:
//! while let Some(packet) = decoder.decode(&mut inbound)? {
//!     match packet {
//!         Packet::Send(send) => {
//!             // Verify msgKey over the encrypted payload, then decrypt.
//!             let plaintext = session.open_send(&send)?;
//!             let ack = Sendack { flags: send.flags, message_id: 1, client_seq: send.client_seq,
//!                                 message_seq: 1, reason_code: ReasonCode::SUCCESS };
//!             Packet::Sendack(ack).encode(version, &mut outbound);
//!             // Each recipient connection re-encrypts with its own session:
//!             let mut recv = Recv { flags: send.flags, message_id: 1, message_seq: 1, ..Recv::default() };
//!             session.seal_recv(&mut recv, &plaintext);
//!             Packet::Recv(recv).encode(version, &mut outbound);
//!         }
//!         Packet::Ping => Packet::Pong.encode(version, &mut outbound),
//!         _ => {}
//!     }
//! }
//! # Ok::<(), protocol::Error>(())
//! ```
//!
//! JSON-RPC connections (first byte `{`) use [`jsonrpc::JsonRpcDecoder`] and
//! [`jsonrpc::Message`] instead, with no crypto.
//!
//! # Layout
//! - [`header`]: the fixed header byte and the remaining-length varint; `wire`: integers and
//!   strings; [`packet`]: the 12 packets, one file per family; [`Decoder`]: the stream.
//! - [`crypto`]: key exchange, AES key/IV, payload encryption, msgKey.
//! - [`jsonrpc`]: the JSON-RPC messages.
//! - [`limits`]: every bound and why; [`Error`]: everything a peer can get wrong.

pub mod codes;
pub mod crypto;
mod decoder;
mod error;
pub mod header;
pub mod jsonrpc;
pub mod limits;
pub mod packet;
mod version;
mod wire;

pub use codes::{ChannelType, DeviceFlag, DeviceLevel, ReasonCode, Setting, StreamFlag, SubAction};
pub use decoder::Decoder;
pub use error::Error;
pub use header::{Flags, PacketType};
pub use packet::{Connack, Connect, Disconnect, Event, Packet, Recv, Recvack, Send, Sendack, Sub, Suback};
pub use version::Version;

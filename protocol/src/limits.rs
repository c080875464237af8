//! Every bound the codec enforces, with the reason for its value (STYLE 11).

/// Largest remaining length (body bytes after the header and the varint) the decoder accepts.
/// 1 MiB is WuKongIM's own bound (`MaxRemaingLength = 1024*1024` in WuKongIMGoProto), so no
/// official client sends more and the Go SDK refuses more; a larger frame is a corrupt or
/// hostile stream. It is checked before the body is buffered or anything is allocated.
pub const FRAME_BODY_BYTES_MAX: usize = 1024 * 1024;

/// The remaining-length varint is at most 4 bytes (shifts 0, 7, 14, 21), as in MQTT and in
/// the Go and JS decoders, which stop after 4 bytes.
pub const VARINT_BYTES_MAX: usize = 4;

/// The largest value a 4-byte varint can carry: 2^28 - 1.
pub const VARINT_VALUE_MAX: usize = (1 << (7 * VARINT_BYTES_MAX)) - 1;

/// Longest string (in UTF-8 bytes). The Go decoder reads the u16 length as a signed `int16`
/// and rejects negative values, and the Go encoder panics above it, so 32767 is the most any
/// peer can exchange; the decoder rejects longer strings so that every decoded packet can be
/// encoded again.
pub const STRING_BYTES_MAX: usize = i16::MAX as usize;

/// Largest SEND payload the Go encoder will write (`PayloadMaxSize = math.MaxInt16`). The
/// decoder does not enforce it (neither does Go's); a gateway may, before storing a message.
pub const SEND_PAYLOAD_BYTES_MAX: usize = i16::MAX as usize;

/// Largest JSON-RPC message the streaming JSON decoder buffers. Same bound and reason as
/// [`FRAME_BODY_BYTES_MAX`]: the JSON-RPC connection carries the same messages.
pub const JSONRPC_MESSAGE_BYTES_MAX: usize = 1024 * 1024;

/// The AES IV is the ASCII salt from CONNACK and must be exactly one AES block (16 bytes);
/// JS CryptoJS parses it as UTF-8 and Go uses the bytes, so anything else breaks CBC.
pub const SALT_BYTES: usize = 16;

/// An X25519 public key is 32 bytes (base64: 44 characters).
pub const PUBLIC_KEY_BYTES: usize = 32;

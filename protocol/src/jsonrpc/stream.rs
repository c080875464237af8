//! Cutting JSON-RPC objects out of a byte stream (Server v2 reads a stream of concatenated
//! objects).
//!
//! A small resumable scanner finds where the top-level object ends (it tracks brackets outside
//! strings and escapes inside them) and only a whole object is handed to serde. Each byte is
//! scanned once however the stream is cut, so a peer dribbling a large object one byte per
//! WebSocket frame costs linear time, not a re-parse per byte.

use bytes::{Buf, BytesMut};

use super::{is_json_whitespace, Message};
use crate::error::Error;
use crate::limits::JSONRPC_MESSAGE_BYTES_MAX;

/// Cuts JSON-RPC messages out of a byte stream, in the same shape as [`crate::Decoder`]:
/// `Ok(Some(message))` consumes one object (and the whitespace before it), `Ok(None)` means
/// no whole object is buffered yet, `Err` means the stream is corrupt (close the connection).
#[derive(Clone, Debug)]
pub struct JsonRpcDecoder {
    message_bytes_max: usize,
    scan: Scan,
}

/// How far into the buffered, unfinished object the scanner has got.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    /// Bytes of the object already scanned.
    scanned: usize,
    /// Open `{`/`[` not yet closed.
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
}

impl Default for JsonRpcDecoder {
    fn default() -> JsonRpcDecoder {
        JsonRpcDecoder::with_message_bytes_max(JSONRPC_MESSAGE_BYTES_MAX)
    }
}

impl JsonRpcDecoder {
    /// A decoder with a message limit other than [`JSONRPC_MESSAGE_BYTES_MAX`].
    pub fn with_message_bytes_max(message_bytes_max: usize) -> JsonRpcDecoder {
        JsonRpcDecoder { message_bytes_max, scan: Scan::default() }
    }

    /// Takes the next message off the front of `src`, if a whole one is there.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Error> {
        if self.scan.scanned == 0 {
            let start = src.iter().position(|&b| !is_json_whitespace(b)).unwrap_or(src.len());
            src.advance(start);
            match src.first() {
                None => return Ok(None),
                Some(b'{') => {}
                Some(_) => return Err(Error::JsonRpc("a message must be a JSON object")),
            }
        }
        match self.scan_to_end(src) {
            Some(len) => {
                self.scan = Scan::default();
                let message = Message::decode(&src[..len]);
                src.advance(len);
                message.map(Some)
            }
            None if src.len() > self.message_bytes_max => {
                Err(Error::JsonRpcTooLarge { max: self.message_bytes_max })
            }
            None => Ok(None),
        }
    }

    /// Scans the new bytes of the object at the front of `src`; the object's length once its
    /// closing bracket has been seen.
    fn scan_to_end(&mut self, src: &[u8]) -> Option<usize> {
        let scan = &mut self.scan;
        let end = src.len().min(self.message_bytes_max.saturating_add(1));
        while scan.scanned < end {
            let byte = src[scan.scanned];
            scan.scanned += 1;
            if scan.in_string {
                match byte {
                    _ if scan.escaped => scan.escaped = false,
                    b'\\' => scan.escaped = true,
                    b'"' => scan.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => scan.in_string = true,
                b'{' | b'[' => scan.depth += 1,
                b'}' | b']' => {
                    scan.depth -= 1;
                    if scan.depth == 0 {
                        return Some(scan.scanned);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

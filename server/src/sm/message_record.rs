//! One stored message, as bytes: what a channel command carries and what the channel's
//! state keeps under the message's seq, byte for byte (applying a message copies it; it
//! never re-encodes it).
//!
//! ```text
//! format u8 (= 1) | header u8 | setting u8 | message_id i64 | timestamp_ms i64 | expire u32
//! | from_uid str | client_msg_no str | topic str | payload (the rest)
//! ```
//! Integers are big-endian; `str` is a u16 length and UTF-8 bytes, as the client protocol's
//! strings. The seq is not in the record: it is the record's key, assigned at apply.

/// The record format this module writes; a record of another format does not decode.
const FORMAT: u8 = 1;
/// The fixed part: format, header, setting, message_id, timestamp_ms, expire.
const FIXED_BYTES: usize = 1 + 1 + 1 + 8 + 8 + 4;
/// Strings are u16-length-prefixed, as in the client protocol, which could not carry longer.
pub const STRING_BYTES_MAX: usize = u16::MAX as usize;

/// The bits of `header`, as in the first byte of a WKProto frame (`reference/wukongim.md` §3.2).
pub const HEADER_NO_PERSIST: u8 = 0x01;
pub const HEADER_RED_DOT: u8 = 0x02;
pub const HEADER_SYNC_ONCE: u8 = 0x04;

/// A message record, borrowed from its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord<'a> {
    /// `HEADER_*` bits.
    pub header: u8,
    /// The client protocol's setting byte (receipt, signal, topic, stream bits), kept as sent.
    pub setting: u8,
    pub message_id: i64,
    /// When the server took the message, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Seconds; stored and echoed, never enforced (as WuKongIM v2).
    pub expire: u32,
    pub from_uid: &'a str,
    pub client_msg_no: &'a str,
    pub topic: &'a str,
    pub payload: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("message record is truncated")]
    Truncated,
    #[error("message record has format {0}, not {FORMAT}")]
    Format(u8),
    #[error("message record has a string that is not UTF-8")]
    NotUtf8,
    #[error("message record has a string longer than {STRING_BYTES_MAX} bytes")]
    StringTooLong,
}

impl<'a> MessageRecord<'a> {
    pub fn encoded_len(&self) -> usize {
        FIXED_BYTES
            + 6
            + self.from_uid.len()
            + self.client_msg_no.len()
            + self.topic.len()
            + self.payload.len()
    }

    /// Appends the record to `out`. Strings longer than [`STRING_BYTES_MAX`] are refused:
    /// callers validate them first.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        for text in [self.from_uid, self.client_msg_no, self.topic] {
            if text.len() > STRING_BYTES_MAX {
                return Err(RecordError::StringTooLong);
            }
        }
        out.reserve(self.encoded_len());
        out.push(FORMAT);
        out.push(self.header);
        out.push(self.setting);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.expire.to_be_bytes());
        for text in [self.from_uid, self.client_msg_no, self.topic] {
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(self.payload);
        Ok(())
    }

    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    pub fn decode(bytes: &'a [u8]) -> Result<MessageRecord<'a>, RecordError> {
        let fixed = bytes.get(..FIXED_BYTES).ok_or(RecordError::Truncated)?;
        if fixed[0] != FORMAT {
            return Err(RecordError::Format(fixed[0]));
        }
        let be_i64 = |at: usize| i64::from_be_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
        let mut rest = &bytes[FIXED_BYTES..];
        let from_uid = take_str(&mut rest)?;
        let client_msg_no = take_str(&mut rest)?;
        let topic = take_str(&mut rest)?;
        Ok(MessageRecord {
            header: fixed[1],
            setting: fixed[2],
            message_id: be_i64(3),
            timestamp_ms: be_i64(11),
            expire: u32::from_be_bytes(fixed[19..23].try_into().expect("4 bytes")),
            from_uid,
            client_msg_no,
            topic,
            payload: rest,
        })
    }
}

fn take_str<'a>(rest: &mut &'a [u8]) -> Result<&'a str, RecordError> {
    let len = rest.get(..2).ok_or(RecordError::Truncated)?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    let text = rest.get(2..2 + len).ok_or(RecordError::Truncated)?;
    *rest = &rest[2 + len..];
    std::str::from_utf8(text).map_err(|_| RecordError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> MessageRecord<'_> {
        MessageRecord {
            header: HEADER_RED_DOT | HEADER_SYNC_ONCE,
            setting: 0x08,
            message_id: -42,
            timestamp_ms: 1_700_000_000_123,
            expire: 3600,
            from_uid: "alice",
            client_msg_no: "c-1",
            topic: "news",
            payload,
        }
    }

    #[test]
    fn records_round_trip() {
        for payload in [&b""[..], b"x", &[0u8; 1000][..]] {
            let record = sample(payload);
            let bytes = record.encode().unwrap();
            assert_eq!(bytes.len(), record.encoded_len());
            assert_eq!(MessageRecord::decode(&bytes), Ok(record));
        }
        let empty = MessageRecord { from_uid: "", client_msg_no: "", topic: "", ..sample(b"p") };
        assert_eq!(MessageRecord::decode(&empty.encode().unwrap()), Ok(empty));
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_payload() {
        let bytes = sample(b"payload").encode().unwrap();
        let strings_end = bytes.len() - b"payload".len();
        for cut in 0..bytes.len() {
            match MessageRecord::decode(&bytes[..cut]) {
                Ok(record) => assert!(cut >= strings_end && record.payload.len() == cut - strings_end),
                Err(error) => assert_eq!(error, RecordError::Truncated, "cut at {cut}"),
            }
        }
    }

    #[test]
    fn hostile_records_are_refused() {
        let mut bytes = sample(b"p").encode().unwrap();
        bytes[0] = 9;
        assert_eq!(MessageRecord::decode(&bytes), Err(RecordError::Format(9)));
        let mut bytes = sample(b"p").encode().unwrap();
        bytes[FIXED_BYTES + 2] = 0xff; // inside "alice"
        assert_eq!(MessageRecord::decode(&bytes), Err(RecordError::NotUtf8));
        let long = "x".repeat(STRING_BYTES_MAX + 1);
        let record = MessageRecord { topic: &long, ..sample(b"") };
        assert_eq!(record.encode(), Err(RecordError::StringTooLong));
    }
}

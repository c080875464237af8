//! SEND, SENDACK, RECV and RECVACK (wkproto.md §2.3-2.6): the message path.

use bytes::{BufMut, Bytes};

use super::Body;
use crate::codes::{ChannelType, ReasonCode, Setting, StreamFlag};
use crate::error::Error;
use crate::header::{Flags, PacketType};
use crate::version::Version;
use crate::wire::{put_string, string_len, Reader};

/// SEND (type 3, c→s). JS sends header `0x32` (RedDot).
///
/// On the wire: `setting, clientSeq, clientMsgNo, [streamNo], channelId, channelType,
/// [expire], msgKey, [topic], payload`, where `streamNo` is present for versions 2..=4 when
/// either stream bit is set (JS <= 1.2.x uses 0x04, Go since 2025-02 uses 0x02; both put it
/// here), `expire` from version 3, and `topic` when the TOPIC bit is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Send {
    pub flags: Flags,
    pub setting: Setting,
    /// Per-connection counter (JS starts at 1), echoed in SENDACK.
    pub client_seq: u32,
    /// De-duplication id.
    pub client_msg_no: String,
    /// Versions 2..=4 with a stream bit only.
    pub stream_no: String,
    /// Person channel: the recipient's uid.
    pub channel_id: String,
    pub channel_type: ChannelType,
    /// Seconds, 0 = never. Version 3+.
    pub expire: u32,
    /// 32 lowercase hex chars over the encrypted payload (§3.4); empty with NO_ENCRYPT.
    pub msg_key: String,
    /// With the TOPIC bit only.
    pub topic: String,
    /// ASCII base64 of the AES ciphertext, unless NO_ENCRYPT. No length prefix.
    pub payload: Bytes,
}

fn send_has_stream_no(setting: Setting, version: Version) -> bool {
    version.has_stream_fields() && setting.has_stream()
}

impl Body for Send {
    const TYPE: PacketType = PacketType::Send;

    fn header_flags(&self) -> u8 {
        self.flags.bits()
    }

    fn body_len(&self, version: Version) -> usize {
        let mut len = 1 + 4 + string_len(&self.client_msg_no);
        if send_has_stream_no(self.setting, version) {
            len += string_len(&self.stream_no);
        }
        len += string_len(&self.channel_id) + 1;
        if version.has_expire() {
            len += 4;
        }
        len += string_len(&self.msg_key);
        if self.setting.contains(Setting::TOPIC) {
            len += string_len(&self.topic);
        }
        len + self.payload.len()
    }

    fn put_body(&self, version: Version, dst: &mut impl BufMut) {
        dst.put_u8(self.setting.0);
        dst.put_u32(self.client_seq);
        put_string(dst, &self.client_msg_no);
        if send_has_stream_no(self.setting, version) {
            put_string(dst, &self.stream_no);
        }
        put_string(dst, &self.channel_id);
        dst.put_u8(self.channel_type.0);
        if version.has_expire() {
            dst.put_u32(self.expire);
        }
        put_string(dst, &self.msg_key);
        if self.setting.contains(Setting::TOPIC) {
            put_string(dst, &self.topic);
        }
        dst.put_slice(&self.payload);
    }

    fn read_body(header_flags: u8, r: &mut Reader, version: Version) -> Result<Send, Error> {
        let setting = Setting(r.u8("setting")?);
        let client_seq = r.u32("client_seq")?;
        let client_msg_no = r.string("client_msg_no")?;
        let stream_no =
            if send_has_stream_no(setting, version) { r.string("stream_no")? } else { String::new() };
        let channel_id = r.string("channel_id")?;
        let channel_type = ChannelType(r.u8("channel_type")?);
        let expire = if version.has_expire() { r.u32("expire")? } else { 0 };
        let msg_key = r.string("msg_key")?;
        let topic = if setting.contains(Setting::TOPIC) { r.string("topic")? } else { String::new() };
        Ok(Send {
            flags: Flags::from_bits(header_flags),
            setting,
            client_seq,
            client_msg_no,
            stream_no,
            channel_id,
            channel_type,
            expire,
            msg_key,
            topic,
            payload: r.rest(),
        })
    }
}

/// SENDACK (type 4, s→c). Server v2 copies the SEND's header flags; JS ignores them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sendack {
    pub flags: Flags,
    /// Server-wide unique id, > 0 (JS reads it unsigned).
    pub message_id: i64,
    pub client_seq: u32,
    /// Per-channel sequence (u64 only in the unreleased v6).
    pub message_seq: u32,
    pub reason_code: ReasonCode,
}

impl Body for Sendack {
    const TYPE: PacketType = PacketType::Sendack;

    fn header_flags(&self) -> u8 {
        self.flags.bits()
    }

    fn body_len(&self, _: Version) -> usize {
        8 + 4 + 4 + 1
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        dst.put_i64(self.message_id);
        dst.put_u32(self.client_seq);
        dst.put_u32(self.message_seq);
        dst.put_u8(self.reason_code.0);
    }

    fn read_body(header_flags: u8, r: &mut Reader, _: Version) -> Result<Sendack, Error> {
        Ok(Sendack {
            flags: Flags::from_bits(header_flags),
            message_id: r.i64("message_id")?,
            client_seq: r.u32("client_seq")?,
            message_seq: r.u32("message_seq")?,
            reason_code: ReasonCode(r.u8("reason_code")?),
        })
    }
}

/// RECV (type 5, s→c). Flags are copied from the SEND, with RedDot cleared for the sender's
/// own other devices.
///
/// On the wire: `setting, msgKey, fromUid, channelId, channelType, [expire], clientMsgNo,
/// [stream fields], messageId, messageSeq, timestamp, [topic], payload`. Stream fields exist
/// only for versions 2..=4, in one of two incompatible layouts (§2.5):
/// legacy bit 0x04 (JS <= 1.2.x): `streamNo str, streamSeq u32, streamFlag u8`;
/// current bit 0x02 (Go since 2025-02, no JS decodes it): `streamFlag u8, streamNo str,
/// streamId u64`. Legacy wins when both bits are set. Never set a stream bit in a RECV for a
/// client below version 5 (§8.7); the fields exist so that every byte decodes and re-encodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recv {
    pub flags: Flags,
    pub setting: Setting,
    /// Computed per receiving connection over the encrypted payload (§3.4).
    pub msg_key: String,
    /// The sender ("" for system uids in Server v2).
    pub from_uid: String,
    /// Person channel as seen by the recipient: the sender's uid.
    pub channel_id: String,
    pub channel_type: ChannelType,
    /// Version 3+.
    pub expire: u32,
    pub client_msg_no: String,
    /// Stream fields, versions 2..=4 with a stream bit only.
    pub stream_no: String,
    /// Legacy stream layout only.
    pub stream_seq: u32,
    pub stream_flag: StreamFlag,
    /// Current stream layout only.
    pub stream_id: u64,
    /// The id the sender got in SENDACK; keep it positive (JS reads it unsigned).
    pub message_id: i64,
    pub message_seq: u32,
    /// Server time in seconds; keep it positive.
    pub timestamp: i32,
    /// With the TOPIC bit only.
    pub topic: String,
    /// Encrypted for this connection (§3.3). Plaintext must be UTF-8 JSON for JS (§8.5).
    pub payload: Bytes,
}

#[derive(Clone, Copy)]
enum RecvStream {
    Legacy,
    Current,
}

fn recv_stream(setting: Setting, version: Version) -> Option<RecvStream> {
    if !version.has_stream_fields() {
        None
    } else if setting.contains(Setting::STREAM_LEGACY) {
        Some(RecvStream::Legacy)
    } else if setting.contains(Setting::STREAM) {
        Some(RecvStream::Current)
    } else {
        None
    }
}

impl Body for Recv {
    const TYPE: PacketType = PacketType::Recv;

    fn header_flags(&self) -> u8 {
        self.flags.bits()
    }

    fn body_len(&self, version: Version) -> usize {
        let mut len = 1
            + string_len(&self.msg_key)
            + string_len(&self.from_uid)
            + string_len(&self.channel_id)
            + 1
            + string_len(&self.client_msg_no);
        if version.has_expire() {
            len += 4;
        }
        len += match recv_stream(self.setting, version) {
            Some(RecvStream::Legacy) => string_len(&self.stream_no) + 4 + 1,
            Some(RecvStream::Current) => 1 + string_len(&self.stream_no) + 8,
            None => 0,
        };
        len += 8 + 4 + 4;
        if self.setting.contains(Setting::TOPIC) {
            len += string_len(&self.topic);
        }
        len + self.payload.len()
    }

    fn put_body(&self, version: Version, dst: &mut impl BufMut) {
        dst.put_u8(self.setting.0);
        put_string(dst, &self.msg_key);
        put_string(dst, &self.from_uid);
        put_string(dst, &self.channel_id);
        dst.put_u8(self.channel_type.0);
        if version.has_expire() {
            dst.put_u32(self.expire);
        }
        put_string(dst, &self.client_msg_no);
        match recv_stream(self.setting, version) {
            Some(RecvStream::Legacy) => {
                put_string(dst, &self.stream_no);
                dst.put_u32(self.stream_seq);
                dst.put_u8(self.stream_flag.0);
            }
            Some(RecvStream::Current) => {
                dst.put_u8(self.stream_flag.0);
                put_string(dst, &self.stream_no);
                dst.put_u64(self.stream_id);
            }
            None => {}
        }
        dst.put_i64(self.message_id);
        dst.put_u32(self.message_seq);
        dst.put_i32(self.timestamp);
        if self.setting.contains(Setting::TOPIC) {
            put_string(dst, &self.topic);
        }
        dst.put_slice(&self.payload);
    }

    fn read_body(header_flags: u8, r: &mut Reader, version: Version) -> Result<Recv, Error> {
        let mut recv = Recv { flags: Flags::from_bits(header_flags), ..Recv::default() };
        recv.setting = Setting(r.u8("setting")?);
        recv.msg_key = r.string("msg_key")?;
        recv.from_uid = r.string("from_uid")?;
        recv.channel_id = r.string("channel_id")?;
        recv.channel_type = ChannelType(r.u8("channel_type")?);
        if version.has_expire() {
            recv.expire = r.u32("expire")?;
        }
        recv.client_msg_no = r.string("client_msg_no")?;
        match recv_stream(recv.setting, version) {
            Some(RecvStream::Legacy) => {
                recv.stream_no = r.string("stream_no")?;
                recv.stream_seq = r.u32("stream_seq")?;
                recv.stream_flag = StreamFlag(r.u8("stream_flag")?);
            }
            Some(RecvStream::Current) => {
                recv.stream_flag = StreamFlag(r.u8("stream_flag")?);
                recv.stream_no = r.string("stream_no")?;
                recv.stream_id = r.u64("stream_id")?;
            }
            None => {}
        }
        recv.message_id = r.i64("message_id")?;
        recv.message_seq = r.u32("message_seq")?;
        recv.timestamp = r.i32("timestamp")?;
        if recv.setting.contains(Setting::TOPIC) {
            recv.topic = r.string("topic")?;
        }
        recv.payload = r.rest();
        Ok(recv)
    }
}

/// RECVACK (type 6, c→s). JS copies the RECV's NoPersist/SyncOnce/RedDot into the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recvack {
    pub flags: Flags,
    pub message_id: i64,
    pub message_seq: u32,
}

impl Body for Recvack {
    const TYPE: PacketType = PacketType::Recvack;

    fn header_flags(&self) -> u8 {
        self.flags.bits()
    }

    fn body_len(&self, _: Version) -> usize {
        8 + 4
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        dst.put_i64(self.message_id);
        dst.put_u32(self.message_seq);
    }

    fn read_body(header_flags: u8, r: &mut Reader, _: Version) -> Result<Recvack, Error> {
        Ok(Recvack {
            flags: Flags::from_bits(header_flags),
            message_id: r.i64("message_id")?,
            message_seq: r.u32("message_seq")?,
        })
    }
}

//! SUB and SUBACK (wkproto.md §2.10, §2.11). JS sends SUB with setting 0 and an empty subNo;
//! Server v2 has no SUB handler at all.

use bytes::BufMut;

use super::Body;
use crate::codes::{ChannelType, ReasonCode, Setting, SubAction};
use crate::error::Error;
use crate::header::PacketType;
use crate::version::Version;
use crate::wire::{put_string, string_len, Reader};

/// SUB (type 10, c→s): subscribe to or unsubscribe from a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sub {
    pub setting: Setting,
    /// The request's number (JS calls it `clientMsgNo`; empty from JS).
    pub sub_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
    pub action: SubAction,
    pub param: String,
}

impl Body for Sub {
    const TYPE: PacketType = PacketType::Sub;

    fn header_flags(&self) -> u8 {
        0
    }

    fn body_len(&self, _: Version) -> usize {
        1 + string_len(&self.sub_no) + string_len(&self.channel_id) + 1 + 1 + string_len(&self.param)
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        dst.put_u8(self.setting.0);
        put_string(dst, &self.sub_no);
        put_string(dst, &self.channel_id);
        dst.put_u8(self.channel_type.0);
        dst.put_u8(self.action.0);
        put_string(dst, &self.param);
    }

    fn read_body(_: u8, r: &mut Reader, _: Version) -> Result<Sub, Error> {
        Ok(Sub {
            setting: Setting(r.u8("setting")?),
            sub_no: r.string("sub_no")?,
            channel_id: r.string("channel_id")?,
            channel_type: ChannelType(r.u8("channel_type")?),
            action: SubAction(r.u8("action")?),
            param: r.string("param")?,
        })
    }
}

/// SUBACK (type 11, s→c). JS matches it to its SUB by channel id and type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suback {
    pub sub_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
    pub action: SubAction,
    pub reason_code: ReasonCode,
}

impl Body for Suback {
    const TYPE: PacketType = PacketType::Suback;

    fn header_flags(&self) -> u8 {
        0
    }

    fn body_len(&self, _: Version) -> usize {
        string_len(&self.sub_no) + string_len(&self.channel_id) + 1 + 1 + 1
    }

    fn put_body(&self, _: Version, dst: &mut impl BufMut) {
        put_string(dst, &self.sub_no);
        put_string(dst, &self.channel_id);
        dst.put_u8(self.channel_type.0);
        dst.put_u8(self.action.0);
        dst.put_u8(self.reason_code.0);
    }

    fn read_body(_: u8, r: &mut Reader, _: Version) -> Result<Suback, Error> {
        Ok(Suback {
            sub_no: r.string("sub_no")?,
            channel_id: r.string("channel_id")?,
            channel_type: ChannelType(r.u8("channel_type")?),
            action: SubAction(r.u8("action")?),
            reason_code: ReasonCode(r.u8("reason_code")?),
        })
    }
}

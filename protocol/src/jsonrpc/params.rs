//! JSON-RPC parameter and result objects (wkproto.md §5; field names and optionality from
//! Server v2's `pkg/jsonrpc/types.go`). Missing fields decode as their defaults, as Go's
//! `encoding/json` does; fields Go marks `omitempty` are left out when empty.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::codes::{ChannelType, DeviceFlag, ReasonCode, Setting, StreamFlag, SubAction};
use crate::header::Flags;

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The message header flags as JSON (`header`); the binary header's four bits plus `end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Header {
    #[serde(skip_serializing_if = "is_default")]
    pub no_persist: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub red_dot: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub sync_once: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub dup: bool,
    /// Server v2.2.5 only: last chunk of a stream; no binary equivalent.
    #[serde(skip_serializing_if = "is_default")]
    pub end: bool,
}

impl From<Flags> for Header {
    fn from(flags: Flags) -> Header {
        Header {
            no_persist: flags.no_persist,
            red_dot: flags.red_dot,
            sync_once: flags.sync_once,
            dup: flags.dup,
            end: false,
        }
    }
}

impl From<Header> for Flags {
    fn from(header: Header) -> Flags {
        Flags {
            dup: header.dup,
            sync_once: header.sync_once,
            red_dot: header.red_dot,
            no_persist: header.no_persist,
        }
    }
}

/// The setting byte as JSON (`setting`). JSON-RPC has no encryption, so no NO_ENCRYPT; its
/// `stream` is the current bit (0x02), as in Server v2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingFlags {
    #[serde(skip_serializing_if = "is_default")]
    pub receipt: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub signal: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub stream: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub topic: bool,
}

impl From<Setting> for SettingFlags {
    fn from(setting: Setting) -> SettingFlags {
        SettingFlags {
            receipt: setting.contains(Setting::RECEIPT),
            signal: setting.contains(Setting::SIGNAL),
            stream: setting.has_stream(),
            topic: setting.contains(Setting::TOPIC),
        }
    }
}

impl From<SettingFlags> for Setting {
    fn from(flags: SettingFlags) -> Setting {
        let bit = |on: bool, bit: Setting| if on { bit.0 } else { 0 };
        Setting(
            bit(flags.receipt, Setting::RECEIPT)
                | bit(flags.signal, Setting::SIGNAL)
                | bit(flags.stream, Setting::STREAM)
                | bit(flags.topic, Setting::TOPIC),
        )
    }
}

/// A message payload (`payload`). The doc says a JSON object, EasySDK-JS sends an object, but
/// Server v2's Go field is `[]byte`, which `encoding/json` writes as a base64 string. Both are
/// accepted: a string is base64-decoded, anything else is kept as its exact JSON text, `null`
/// is empty. It is written as a base64 string, as Server v2 writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload(pub Bytes);

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            let encoded: String = serde_json::from_str(text).map_err(D::Error::custom)?;
            let bytes =
                BASE64.decode(encoded).map_err(|_| D::Error::custom("payload string is not base64"))?;
            Ok(Payload(Bytes::from(bytes)))
        } else if text == "null" {
            Ok(Payload::default())
        } else {
            Ok(Payload(Bytes::copy_from_slice(text.as_bytes())))
        }
    }
}

/// An `i64` written as a decimal string (`messageId`): JavaScript numbers lose precision above
/// 2^53, so WuKongIM sends ids as strings.
pub(crate) mod decimal_string {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(|_| D::Error::custom("messageId is not a decimal i64"))
    }
}

/// `connect` request params.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectParams {
    pub uid: String,
    pub token: String,
    /// 0 (or absent) means the latest version.
    #[serde(skip_serializing_if = "is_default")]
    pub version: u8,
    #[serde(skip_serializing_if = "is_default")]
    pub client_key: String,
    #[serde(skip_serializing_if = "is_default")]
    pub device_id: String,
    pub device_flag: DeviceFlag,
    #[serde(skip_serializing_if = "is_default")]
    pub client_timestamp: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
}

/// `connect` result. `reasonCode` uses the binary codes: **1 is success** (the doc's 0 is wrong).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectResult {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    #[serde(skip_serializing_if = "is_default")]
    pub server_version: u8,
    #[serde(skip_serializing_if = "is_default")]
    pub server_key: String,
    #[serde(skip_serializing_if = "is_default")]
    pub salt: String,
    #[serde(skip_serializing_if = "is_default")]
    pub time_diff: i64,
    pub reason_code: ReasonCode,
    pub node_id: u64,
}

/// `send` request params. No encryption: `payload` is the plaintext.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendParams {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    #[serde(skip_serializing_if = "is_default")]
    pub setting: SettingFlags,
    #[serde(skip_serializing_if = "is_default")]
    pub msg_key: String,
    #[serde(skip_serializing_if = "is_default")]
    pub expire: u32,
    /// Server v2 generates one when empty.
    #[serde(skip_serializing_if = "is_default")]
    pub client_msg_no: String,
    #[serde(skip_serializing_if = "is_default")]
    pub stream_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
    #[serde(skip_serializing_if = "is_default")]
    pub topic: String,
    pub payload: Payload,
}

/// `send` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendResult {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    #[serde(with = "decimal_string")]
    pub message_id: i64,
    pub message_seq: u32,
    pub reason_code: ReasonCode,
}

/// `recv` notification params (s→c).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecvParams {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    #[serde(skip_serializing_if = "is_default")]
    pub setting: SettingFlags,
    #[serde(skip_serializing_if = "is_default")]
    pub msg_key: String,
    #[serde(skip_serializing_if = "is_default")]
    pub expire: u32,
    #[serde(with = "decimal_string")]
    pub message_id: i64,
    pub message_seq: u32,
    #[serde(skip_serializing_if = "is_default")]
    pub client_msg_no: String,
    #[serde(skip_serializing_if = "is_default")]
    pub stream_no: String,
    #[serde(skip_serializing_if = "is_default")]
    pub stream_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub stream_flag: StreamFlag,
    pub timestamp: i32,
    pub channel_id: String,
    pub channel_type: ChannelType,
    #[serde(skip_serializing_if = "is_default")]
    pub topic: String,
    pub from_uid: String,
    pub payload: Payload,
}

/// `recvack` notification params (c→s).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecvAckParams {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    #[serde(with = "decimal_string")]
    pub message_id: i64,
    pub message_seq: u32,
}

/// `subscribe` request params (the doc marks it unsupported).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscribeParams {
    pub sub_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
    #[serde(skip_serializing_if = "is_default")]
    pub param: String,
}

/// `unsubscribe` request params (the doc marks it unsupported).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnsubscribeParams {
    pub sub_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
}

/// `subscribe`/`unsubscribe` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionResult {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    pub sub_no: String,
    pub channel_id: String,
    pub channel_type: ChannelType,
    pub action: SubAction,
    pub reason_code: ReasonCode,
}

/// `disconnect` params, as a request (c→s) or a notification (s→c, a kick).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DisconnectParams {
    pub reason_code: ReasonCode,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
}

/// `event` notification params (s→c).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventParams {
    #[serde(skip_serializing_if = "is_default")]
    pub header: Header,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: i64,
    /// A string (Go `string(eventPacket.Data)`), normally JSON text.
    pub data: String,
}

/// A response's `error` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorObject {
    /// Server main puts the reason code here.
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

//! The messages routes: send, sendbatch, history sync and lookups, with WuKongIM's request
//! and response shapes (`reference/wukongim.md` §1.3 #14-18) and its `MessageResp`.
//!
//! Sends through the API are checked as WuKongIM checks them (as from its system device:
//! the channel's ban and disband only). Unlike WuKongIM, `/message/send` answers after the
//! message is durable (with its seq), and a repeated `(from_uid, client_msg_no)` answers
//! the original message.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;

use super::{ok, ok_data, ApiJson, ApiQuery, ApiResult, ApiState};
use crate::ids::{CHANNEL_PERSON, SYSTEM_UID};
use crate::service::messages::{stored_channel_id, MessageHeader, PullMode, SendOrigin, SendRequest};
use crate::service::ServiceError;
use crate::sm::channel::StoredMessage;

/// The client protocol's setting bits the HTTP send sets (`reference/wukongim.md` §3.2).
const SETTING_TOPIC: u8 = 0x08;
const SETTING_STREAM: u8 = 0x02;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/message/send", post(send))
        .route("/message/sendbatch", post(send_batch))
        .route("/channel/messagesync", post(sync))
        .route("/messages", post(find_messages))
        .route("/message", post(find_message))
        .route("/message/byclientmsgno", get(by_client_msg_no))
        .route("/channel/max_message_seq", get(max_message_seq))
        .route("/channel/last_message", get(last_message))
}

/// WuKongIM's `MessageResp`: one stored message as every read answers it. `channel_id` is
/// the stored id (`a@b` for person channels); `from_uid` is empty for the system uid.
pub struct MessageJson<'a> {
    pub channel_id: &'a str,
    pub channel_type: u8,
    pub message: &'a StoredMessage,
}

impl Serialize for MessageJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.message.record();
        let header = MessageHeader::from_bits(record.header);
        let from_uid = if record.from_uid == SYSTEM_UID { "" } else { record.from_uid };
        let fields = if record.topic.is_empty() { 13 } else { 14 };
        let mut out = serializer.serialize_struct("MessageResp", fields)?;
        out.serialize_field("header", &HeaderJson::from(header))?;
        out.serialize_field("setting", &record.setting)?;
        out.serialize_field("message_id", &record.message_id)?;
        out.serialize_field("message_idstr", &record.message_id.to_string())?;
        out.serialize_field("client_msg_no", record.client_msg_no)?;
        out.serialize_field("message_seq", &self.message.seq)?;
        out.serialize_field("from_uid", from_uid)?;
        out.serialize_field("channel_id", self.channel_id)?;
        out.serialize_field("channel_type", &self.channel_type)?;
        if !record.topic.is_empty() {
            out.serialize_field("topic", record.topic)?;
        }
        out.serialize_field("expire", &record.expire)?;
        out.serialize_field("timestamp", &(record.timestamp_ms / 1000))?;
        out.serialize_field("payload", &base64::engine::general_purpose::STANDARD.encode(record.payload))?;
        out.end()
    }
}

/// Every message of a channel as `MessageResp`s.
pub fn messages_json<'a>(
    channel_id: &'a str,
    channel_type: u8,
    messages: &'a [StoredMessage],
) -> Vec<MessageJson<'a>> {
    messages.iter().map(|message| MessageJson { channel_id, channel_type, message }).collect()
}

/// `{no_persist, red_dot, sync_once}` as 0/1, as WuKongIM's `MessageHeader`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HeaderJson {
    pub no_persist: i64,
    pub red_dot: i64,
    pub sync_once: i64,
}

impl From<MessageHeader> for HeaderJson {
    fn from(header: MessageHeader) -> HeaderJson {
        HeaderJson {
            no_persist: header.no_persist as i64,
            red_dot: header.red_dot as i64,
            sync_once: header.sync_once as i64,
        }
    }
}

impl From<HeaderJson> for MessageHeader {
    fn from(header: HeaderJson) -> MessageHeader {
        MessageHeader {
            no_persist: header.no_persist == 1,
            red_dot: header.red_dot == 1,
            sync_once: header.sync_once == 1,
        }
    }
}

/// A base64 payload (Go's `[]byte` in JSON: standard alphabet; unpadded accepted too).
pub fn decode_payload(text: &str) -> Result<Bytes, ServiceError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map(Bytes::from)
        .map_err(|error| ServiceError::Invalid(format!("payload is not base64: {error}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SendBody {
    header: HeaderJson,
    client_msg_no: String,
    from_uid: String,
    channel_id: String,
    channel_type: u8,
    expire: u32,
    subscribers: Vec<String>,
    payload: String,
    topic: String,
    is_stream: i64,
}

impl SendBody {
    fn into_request(self) -> Result<(SendRequest, Vec<String>), ServiceError> {
        let mut setting = 0;
        if !self.topic.is_empty() {
            setting |= SETTING_TOPIC;
        }
        if self.is_stream == 1 {
            setting |= SETTING_STREAM;
        }
        let request = SendRequest {
            origin: SendOrigin::Api,
            from_uid: self.from_uid,
            channel_id: self.channel_id,
            channel_type: self.channel_type,
            client_msg_no: self.client_msg_no,
            header: self.header.into(),
            setting,
            expire: self.expire,
            topic: self.topic,
            payload: decode_payload(&self.payload)?,
            sender_conn: None,
        };
        Ok((request, self.subscribers))
    }
}

async fn send(State(state): State<ApiState>, ApiJson(body): ApiJson<SendBody>) -> ApiResult {
    let (request, subscribers) = body.into_request()?;
    if request.payload.is_empty() {
        return Err(ServiceError::Invalid("payload must not be empty".into()).into());
    }
    let has_channel = !request.channel_id.trim().is_empty();
    match (has_channel, subscribers.is_empty()) {
        (false, true) => Err(ServiceError::Invalid("channel_id or subscribers is required".into()).into()),
        (true, false) => {
            Err(ServiceError::Invalid("channel_id and subscribers cannot both be given".into()).into())
        }
        (false, false) => {
            state.node.send_to_subscribers(request, &subscribers).await?;
            Ok(ok())
        }
        (true, true) => {
            let sent = state.node.send_message(request).await?;
            Ok(ok_data(json!({
                "message_id": sent.message_id,
                "message_seq": sent.message_seq,
                "client_msg_no": sent.client_msg_no,
            })))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SendBatchBody {
    header: HeaderJson,
    from_uid: String,
    subscribers: Vec<String>,
    payload: String,
}

async fn send_batch(State(state): State<ApiState>, ApiJson(body): ApiJson<SendBatchBody>) -> ApiResult {
    if body.from_uid.trim().is_empty() {
        return Err(ServiceError::Invalid("from_uid must not be empty".into()).into());
    }
    if body.subscribers.is_empty() {
        return Err(ServiceError::Invalid("subscribers must not be empty".into()).into());
    }
    let payload = decode_payload(&body.payload)?;
    if payload.is_empty() {
        return Err(ServiceError::Invalid("payload must not be empty".into()).into());
    }
    let request = SendRequest {
        origin: SendOrigin::Api,
        from_uid: body.from_uid,
        header: body.header.into(),
        payload,
        ..SendRequest::default()
    };
    let failures = state.node.send_to_each(&request, &body.subscribers).await?;
    let (mut fail_uids, mut reasons) = (Vec::new(), Vec::new());
    for (uid, failure) in body.subscribers.iter().zip(failures) {
        if let Some(reason) = failure {
            fail_uids.push(uid.clone());
            reasons.push(reason);
        }
    }
    Ok(Json(json!({"fail_uids": fail_uids, "reason": reasons})).into_response())
}

/// The stored id of a read request's channel: person channels need the caller's uid.
fn read_channel_id(login_uid: &str, channel_id: &str, channel_type: u8) -> Result<String, ServiceError> {
    if channel_id.trim().is_empty() {
        return Err(ServiceError::Invalid("channel_id must not be empty".into()));
    }
    if channel_type == CHANNEL_PERSON {
        if login_uid.trim().is_empty() {
            return Err(ServiceError::Invalid("login_uid is required for a person channel".into()));
        }
        return Ok(stored_channel_id(login_uid, channel_id, channel_type));
    }
    Ok(channel_id.to_string())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SyncBody {
    login_uid: String,
    channel_id: String,
    channel_type: u8,
    start_message_seq: u64,
    end_message_seq: u64,
    limit: i64,
    pull_mode: i64,
}

async fn sync(State(state): State<ApiState>, ApiJson(body): ApiJson<SyncBody>) -> ApiResult {
    if body.channel_id.trim().is_empty() {
        return Err(ServiceError::Invalid("channel_id must not be empty".into()).into());
    }
    if body.login_uid.trim().is_empty() {
        return Err(ServiceError::Invalid("login_uid must not be empty".into()).into());
    }
    let limit = usize::try_from(body.limit)
        .map_err(|_| ServiceError::Invalid(format!("limit must not be negative: {}", body.limit)))?;
    let channel_id = read_channel_id(&body.login_uid, &body.channel_id, body.channel_type)?;
    let pull_mode = if body.pull_mode == 1 { PullMode::Up } else { PullMode::Down };
    let (start, end) = (body.start_message_seq, body.end_message_seq);
    let page = state.node.sync_messages(&channel_id, body.channel_type, start, end, limit, pull_mode).await?;
    Ok(Json(json!({
        "start_message_seq": start,
        "end_message_seq": end,
        "more": page.more as u8,
        "messages": messages_json(&channel_id, body.channel_type, &page.messages),
    }))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FindMessagesBody {
    login_uid: String,
    channel_id: String,
    channel_type: u8,
    message_seqs: Vec<u32>,
    message_ids: Vec<i64>,
    client_msg_nos: Vec<String>,
}

async fn find_messages(State(state): State<ApiState>, ApiJson(body): ApiJson<FindMessagesBody>) -> ApiResult {
    let channel_id = read_channel_id(&body.login_uid, &body.channel_id, body.channel_type)?;
    let seqs: Vec<u64> = body.message_seqs.iter().map(|&seq| seq as u64).collect();
    let found = state
        .node
        .find_messages(&channel_id, body.channel_type, &seqs, &body.message_ids, &body.client_msg_nos)
        .await?;
    Ok(Json(json!({
        "start_message_seq": 0,
        "end_message_seq": 0,
        "more": 0,
        "messages": messages_json(&channel_id, body.channel_type, &found),
    }))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FindMessageBody {
    login_uid: String,
    channel_id: String,
    channel_type: u8,
    message_id: i64,
    client_msg_no: String,
}

async fn find_message(State(state): State<ApiState>, ApiJson(body): ApiJson<FindMessageBody>) -> ApiResult {
    if body.channel_type == 0 {
        return Err(ServiceError::Invalid("channel_type must not be 0".into()).into());
    }
    let channel_id = read_channel_id(&body.login_uid, &body.channel_id, body.channel_type)?;
    let found =
        state.node.find_message(&channel_id, body.channel_type, body.message_id, &body.client_msg_no).await?;
    one_message(&channel_id, body.channel_type, found)
}

/// A `MessageResp`, or WuKongIM's HTTP 200 `{"status":404}`.
fn one_message(channel_id: &str, channel_type: u8, message: Option<StoredMessage>) -> ApiResult {
    let message = message.ok_or(ServiceError::NotFound)?;
    Ok(Json(MessageJson { channel_id, channel_type, message: &message }).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClientMsgNoQuery {
    channel_id: String,
    channel_type: u8,
    client_msg_no: String,
}

/// `channel_id` is the stored id here (`a@b` for a person channel), as in WuKongIM.
async fn by_client_msg_no(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ClientMsgNoQuery>,
) -> ApiResult {
    if query.channel_id.trim().is_empty() {
        return Err(ServiceError::Invalid("channel_id must not be empty".into()).into());
    }
    if query.channel_type == 0 {
        return Err(ServiceError::Invalid("channel_type must not be 0".into()).into());
    }
    if query.client_msg_no.trim().is_empty() {
        return Err(ServiceError::Invalid("client_msg_no must not be empty".into()).into());
    }
    let found =
        state.node.find_message(&query.channel_id, query.channel_type, 0, &query.client_msg_no).await?;
    one_message(&query.channel_id, query.channel_type, found)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChannelQuery {
    channel_id: String,
    channel_type: u8,
    login_uid: String,
}

impl ChannelQuery {
    /// The stored id: a person channel named by its peer needs `login_uid`; without it,
    /// `channel_id` is taken as the stored id `a@b`.
    fn stored_id(&self) -> Result<String, ServiceError> {
        if self.channel_type == CHANNEL_PERSON && self.login_uid.trim().is_empty() {
            return read_channel_id("", &self.channel_id, 0);
        }
        read_channel_id(&self.login_uid, &self.channel_id, self.channel_type)
    }
}

async fn max_message_seq(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ChannelQuery>,
) -> ApiResult {
    let channel_id = query.stored_id()?;
    let seq = state.node.channel_last_seq(&channel_id, query.channel_type).await?;
    Ok(Json(json!({"message_seq": seq})).into_response())
}

async fn last_message(State(state): State<ApiState>, ApiQuery(query): ApiQuery<ChannelQuery>) -> ApiResult {
    let channel_id = query.stored_id()?;
    let found = state.node.last_message(&channel_id, query.channel_type).await?;
    one_message(&channel_id, query.channel_type, found)
}

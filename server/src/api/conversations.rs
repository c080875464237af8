//! The conversations routes (`reference/wukongim.md` §1.3 #21, #23-25, §3.8).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::messages::{messages_json, MessageJson};
use super::{ok, ApiJson, ApiResult, ApiState};
use crate::service::channel_input::check_id;
use crate::service::conversations::{ConversationSync, ConversationView};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/conversation/sync", post(sync))
        .route("/conversation/channels", post(channels))
        .route("/conversations/clearUnread", post(clear_unread))
        .route("/conversations/setUnread", post(set_unread))
        .route("/conversations/delete", post(delete))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SyncBody {
    uid: String,
    version: i64,
    last_msg_seqs: String,
    msg_count: i64,
    only_unread: u8,
    exclude_channel_types: Vec<u8>,
    page: i64,
    page_size: i64,
}

/// One conversation as WuKongIM's `syncUserConversationResp`.
#[derive(Serialize)]
struct ConversationJson<'a> {
    channel_id: &'a str,
    channel_type: u8,
    unread: u64,
    timestamp: i64,
    last_msg_seq: u64,
    last_client_msg_no: &'a str,
    /// WuKongIM never fills it.
    offset_msg_seq: i64,
    readed_to_msg_seq: u64,
    version: i64,
    recents: Vec<MessageJson<'a>>,
}

impl<'a> From<&'a ConversationView> for ConversationJson<'a> {
    fn from(view: &'a ConversationView) -> ConversationJson<'a> {
        ConversationJson {
            channel_id: &view.channel_id,
            channel_type: view.channel_type,
            unread: view.unread,
            timestamp: view.timestamp,
            last_msg_seq: view.last_msg_seq,
            last_client_msg_no: &view.last_client_msg_no,
            offset_msg_seq: 0,
            readed_to_msg_seq: view.readed_to_msg_seq,
            version: view.version,
            recents: messages_json(&view.stored_channel_id, view.channel_type, &view.recents),
        }
    }
}

/// A bare array, as WuKongIM.
async fn sync(State(state): State<ApiState>, ApiJson(body): ApiJson<SyncBody>) -> ApiResult {
    let request = ConversationSync {
        uid: body.uid,
        version: body.version,
        last_msg_seqs: body.last_msg_seqs,
        msg_count: body.msg_count,
        only_unread: body.only_unread == 1,
        exclude_channel_types: body.exclude_channel_types,
        page: body.page,
        page_size: body.page_size,
    };
    let views = state.node.sync_conversations(&request).await?;
    let list: Vec<ConversationJson<'_>> = views.iter().map(ConversationJson::from).collect();
    Ok(Json(list).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UidBody {
    uid: String,
}

/// `[{channel_id, channel_type}]` of the user's conversations (stored ids, as WuKongIM).
async fn channels(State(state): State<ApiState>, ApiJson(body): ApiJson<UidBody>) -> ApiResult {
    check_id("uid", &body.uid)?;
    let rows = state.node.conversation_rows(&body.uid).await?;
    let list: Vec<_> = rows
        .iter()
        .map(|row| json!({"channel_id": row.channel_id, "channel_type": row.channel_type}))
        .collect();
    Ok(Json(list).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConversationBody {
    uid: String,
    channel_id: String,
    channel_type: u8,
    /// setUnread's.
    unread: i64,
    /// clearUnread's legacy field (large groups); the channel's last seq is used instead,
    /// as WuKongIM v2 does.
    #[allow(dead_code)]
    message_seq: u32,
}

async fn clear_unread(State(state): State<ApiState>, ApiJson(body): ApiJson<ConversationBody>) -> ApiResult {
    state.node.clear_unread(&body.uid, &body.channel_id, body.channel_type).await?;
    Ok(ok())
}

async fn set_unread(State(state): State<ApiState>, ApiJson(body): ApiJson<ConversationBody>) -> ApiResult {
    state.node.set_unread(&body.uid, &body.channel_id, body.channel_type, body.unread).await?;
    Ok(ok())
}

async fn delete(State(state): State<ApiState>, ApiJson(body): ApiJson<ConversationBody>) -> ApiResult {
    state.node.delete_conversation(&body.uid, &body.channel_id, body.channel_type).await?;
    Ok(ok())
}

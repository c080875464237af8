//! Who is connected (`reference/wukongim.md` §1.3 row 3, §4):
//! - POST `/user/onlinestatus` `["uid",...]` → `[{uid, device_flag, online:1}]`, one per
//!   online connection; an empty list → `{"status":200}`;
//! - GET `/connz?offset=&limit=(20)&uid=` → `{connections:[...], total, offset, limit, now}`.

use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, ApiJson, ApiResult, ApiState};
use crate::gateway::online::ConnEntry;
use crate::ids::now_ms;
use crate::service::channel_input::check_uids;

/// Connections one `/connz` page lists at most.
const CONNZ_LIMIT_MAX: usize = 1000;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/user/onlinestatus", post(online_status)).route("/connz", get(connz))
}

async fn online_status(State(state): State<ApiState>, ApiJson(uids): ApiJson<Vec<String>>) -> ApiResult {
    if uids.is_empty() {
        return Ok(ok());
    }
    let uids = check_uids("uids", &uids).map_err(ApiError)?;
    let mut online = Vec::new();
    for uid in &uids {
        for entry in state.node.online.connections_of(uid) {
            online.push(json!({"uid": entry.uid, "device_flag": entry.device_flag, "online": 1}));
        }
    }
    Ok(Json(online).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConnzQuery {
    offset: usize,
    limit: usize,
    uid: String,
}

pub async fn connz(State(state): State<ApiState>, Query(query): Query<ConnzQuery>) -> Response {
    let online = &state.node.online;
    let limit = if query.limit == 0 { 20 } else { query.limit.min(CONNZ_LIMIT_MAX) };
    let now = now_ms();
    let entries = if query.uid.is_empty() {
        online.list(query.offset, limit)
    } else {
        online.connections_of(&query.uid).into_iter().skip(query.offset).take(limit).collect()
    };
    let connections: Vec<Value> = entries.iter().map(|entry| connection(entry, now)).collect();
    Json(json!({
        "connections": connections,
        "total": online.count(),
        "offset": query.offset,
        "limit": limit,
        "now": now,
        "slow_clients": online.overflowed.load(Ordering::Relaxed),
    }))
    .into_response()
}

fn connection(entry: &ConnEntry, now: i64) -> Value {
    let (ip, port) = entry.remote_addr.rsplit_once(':').unwrap_or((&entry.remote_addr, ""));
    json!({
        "id": entry.id,
        "uid": entry.uid,
        "ip": ip,
        "port": port.parse::<u16>().unwrap_or(0),
        "device_flag": entry.device_flag,
        "device_level": entry.device_level,
        "device_id": entry.device_id,
        "version": entry.version,
        "transport": entry.transport,
        "uptime_ms": now.saturating_sub(entry.connected_at_ms),
    })
}

//! The users routes (`reference/wukongim.md` §1.3 rows 1, 2, 4):
//! - POST `/user/token` `{uid, token, device_flag, device_level}` → `{"status":200}`; a uid
//!   whose person channel is banned or disbanded gets HTTP 200 `{"status":<ReasonCode>}`;
//! - POST `/user/device_quit` `{uid, device_flag}` (-1 = every device) → `{"status":200}`;
//! - POST `/user/systemuids_add`, `/user/systemuids_remove` `{uids:[...]}` → `{"status":200}`;
//! - GET `/user/systemuids` → `["uid",...]`;
//! - POST `/user/systemuids_add_to_cache`, `/user/systemuids_remove_from_cache`: WuKongIM's
//!   node-to-node cache refresh; here every read goes to the slot state, so they only answer
//!   `{"status":200}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{ok, ApiJson, ApiResult, ApiState};
use crate::service::ServiceError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/user/token", post(update_token))
        .route("/user/device_quit", post(device_quit))
        .route("/user/systemuids_add", post(system_uids_add))
        .route("/user/systemuids_remove", post(system_uids_remove))
        .route("/user/systemuids", get(system_uids))
        .route("/user/systemuids_add_to_cache", post(system_uids_cache))
        .route("/user/systemuids_remove_from_cache", post(system_uids_cache))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenRequest {
    uid: String,
    token: String,
    /// 0 app, 1 web, 2 pc.
    device_flag: u8,
    /// 0 slave, 1 master.
    device_level: u8,
}

async fn update_token(State(state): State<ApiState>, ApiJson(request): ApiJson<TokenRequest>) -> ApiResult {
    let TokenRequest { uid, token, device_flag, device_level } = request;
    match state.node.update_token(&uid, &token, device_flag, device_level).await {
        Ok(()) => Ok(ok()),
        // WuKongIM answers a banned user's token with HTTP 200 and the reason code.
        Err(ServiceError::Denied { reason_code, .. }) => Ok(status(reason_code)),
        Err(error) => Err(error.into()),
    }
}

fn status(reason_code: u8) -> Response {
    Json(json!({"status": reason_code})).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeviceQuitRequest {
    uid: String,
    /// A device flag, or -1 for every device of the uid.
    device_flag: i64,
}

async fn device_quit(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<DeviceQuitRequest>,
) -> ApiResult {
    let device_flag = match request.device_flag {
        -1 => None,
        flag => match u8::try_from(flag) {
            Ok(flag) => Some(flag),
            Err(_) => {
                return Err(
                    ServiceError::Invalid(format!("device_flag must be -1 or 0..=255, not {flag}")).into()
                )
            }
        },
    };
    state.node.quit_device(&request.uid, device_flag).await?;
    Ok(ok())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UidsRequest {
    uids: Vec<String>,
}

async fn system_uids_add(State(state): State<ApiState>, ApiJson(request): ApiJson<UidsRequest>) -> ApiResult {
    state.node.add_system_uids(&request.uids).await?;
    Ok(ok())
}

async fn system_uids_remove(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<UidsRequest>,
) -> ApiResult {
    state.node.remove_system_uids(&request.uids).await?;
    Ok(ok())
}

async fn system_uids(State(state): State<ApiState>) -> ApiResult {
    Ok(Json(state.node.system_uids().await?).into_response())
}

async fn system_uids_cache(ApiJson(_request): ApiJson<UidsRequest>) -> ApiResult {
    Ok(ok())
}

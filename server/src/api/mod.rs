//! The HTTP API on `httpAddr`: WuKongIM's routes, snake_case JSON and status envelopes
//! (`reference/wukongim.md` §1), one file per area. And the manager port's routes.

pub mod channels;
pub mod connections;
pub mod conversations;
pub mod messages;
pub mod users;

use std::sync::Arc;

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::service::{Node, ServiceError};

/// Request bodies above this are refused before they are read (a message payload is far
/// smaller; WuKongIM's frames stop at 1 MiB).
pub const BODY_BYTES_MAX: usize = 4 << 20;

/// Addresses the API reports in `/route`, as bound.
#[derive(Clone, Debug, Default)]
pub struct RouteAddrs {
    pub tcp_addr: String,
    pub ws_addr: String,
    pub wss_addr: String,
}

#[derive(Clone)]
pub struct ApiState {
    pub node: Arc<Node>,
    pub route: RouteAddrs,
}

/// The business API router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/route", get(route))
        .route("/varz", get(varz))
        .merge(users::routes())
        .merge(connections::routes())
        .merge(channels::routes())
        .merge(messages::routes())
        .merge(conversations::routes())
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// The manager port: Prometheus metrics and health, open (no token), as WuKongIM's :5300.
pub fn manager_router(state: ApiState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/varz", get(varz))
        .route("/connz", get(connections::connz))
        .with_state(state)
}

/// With a `managerToken` configured, every call must carry it in the `token` header;
/// otherwise 401 with an empty body, as WuKongIM.
async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let metrics = state.node.metrics.clone();
    metrics.api_requests.inc();
    let expected = &state.node.config.manager_token;
    if !expected.is_empty() {
        let given = request.headers().get("token").and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            metrics.api_errors.inc();
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    let response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        metrics.api_errors.inc();
    }
    response
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

#[derive(Deserialize)]
struct RouteQuery {
    #[allow(dead_code)]
    intranet: Option<String>,
}

async fn route(State(state): State<ApiState>, Query(_query): Query<RouteQuery>) -> Response {
    let route = &state.route;
    Json(json!({"tcp_addr": route.tcp_addr, "ws_addr": route.ws_addr, "wss_addr": route.wss_addr}))
        .into_response()
}

async fn varz(State(state): State<ApiState>) -> Response {
    let node = &state.node;
    let [node_groups, slot_groups, channel_groups] = node.metrics.groups();
    Json(json!({
        "server_id": node.config.cluster.node_id.to_string(),
        "server_name": "imserver",
        "version": env!("CARGO_PKG_VERSION"),
        "tcp_addr": state.route.tcp_addr,
        "ws_addr": state.route.ws_addr,
        "raft_groups": {"node": node_groups, "slot": slot_groups, "channel": channel_groups},
        "proposals": node.metrics.proposals.get(),
        "fsyncs": node.metrics.fsyncs.get(),
        "connections": node.online.count(),
        "deliveries": node.online.delivered.load(std::sync::atomic::Ordering::Relaxed),
        "slow_clients": node.online.overflowed.load(std::sync::atomic::Ordering::Relaxed),
    }))
    .into_response()
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let body = state.node.metrics.render();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// `{"status":200}`
pub fn ok() -> Response {
    Json(json!({"status": 200})).into_response()
}

/// `{"status":200,"data":data}`
pub fn ok_data(data: impl serde::Serialize) -> Response {
    Json(json!({"status": 200, "data": data})).into_response()
}

/// A failed call as WuKongIM answers it.
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self.0 {
            ServiceError::Invalid(message) => {
                (StatusCode::BAD_REQUEST, json!({"msg": message, "status": 400}))
            }
            ServiceError::Denied { reason_code, message } => {
                (StatusCode::BAD_REQUEST, json!({"msg": message, "status": 400, "reason_code": reason_code}))
            }
            ServiceError::NotFound => (StatusCode::OK, json!({"status": 404})),
            ServiceError::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"msg": message, "status": 503}))
            }
            ServiceError::Internal(message) => {
                tracing::error!(%message, "API call failed");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({"msg": message, "status": 500}))
            }
        };
        (status, Json(body)).into_response()
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// A JSON body; one that does not parse (or has a field of the wrong type) is a 400 with
/// serde's message, in WuKongIM's envelope.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ServiceError::Invalid(format!("cannot read the body: {rejection}")))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|error| ApiError(ServiceError::Invalid(format!("invalid JSON body: {error}"))))
    }
}

/// A query string; one that does not parse is a 400 with the reason.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<ApiQuery<T>, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| ApiQuery(query))
            .map_err(|rejection| ApiError(ServiceError::Invalid(format!("invalid query: {rejection}"))))
    }
}

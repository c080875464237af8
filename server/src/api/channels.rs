//! The channels routes (`reference/wukongim.md` §1.3 rows 6-13). Flags are bool01 (`0`/`1`,
//! `true`/`false` accepted too); every write answers `{"status":200}`.
//! - POST `/channel` `{channel_id, channel_type, large, ban, disband, send_ban,
//!   allow_stranger, reset, subscribers}`; POST `/channel/info` (flags only);
//!   POST `/channel/delete` `{channel_id, channel_type}`;
//! - POST `/channel/subscriber_add` `{channel_id, channel_type (0 → 2), reset,
//!   temp_subscriber (must be 0), subscribers}`, `/channel/subscriber_remove`,
//!   `/channel/subscriber_remove_all`;
//! - POST `/channel/blacklist_{add,set,remove}` and `/channel/whitelist_{add,set,remove}`
//!   `{channel_id, channel_type, uids}`, and their `_remove_all` `{channel_id, channel_type}`;
//! - GET `/channel/whitelist?channel_id=&channel_type=` → `[{id, uid, created_at,
//!   updated_at}]` (WuKongIM's `wkdb.Member`: `id` is FNV-1a 64 of the uid, times RFC 3339).
//!
//! Reads of ours (WuKongIM has them only on its cluster API), same query:
//! - GET `/channel/info` → `{channel_id, channel_type, large, ban, disband, send_ban,
//!   allow_stranger, subscriber_count, denylist_count, allowlist_count, created_at,
//!   updated_at}`, or `{"status":404}`;
//! - GET `/channel/subscribers` → `["uid",...]`; GET `/channel/blacklist` → as the whitelist.

use std::fmt;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiJson, ApiQuery, ApiResult, ApiState};
use crate::ids::CHANNEL_GROUP;
use crate::service::channel_input::check_channel;
use crate::service::channels::{ChannelFlags, ChannelInfo, Member, MemberList};
use crate::service::ServiceError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/channel", post(create_or_update))
        .route("/channel/info", post(update_info).get(info))
        .route("/channel/delete", post(delete))
        .route("/channel/subscriber_add", post(subscriber_add))
        .route("/channel/subscriber_remove", post(subscriber_remove))
        .route("/channel/subscriber_remove_all", post(|s, b| remove_all(MemberList::Subscribers, s, b)))
        .route("/channel/subscribers", get(subscribers))
        .route("/channel/blacklist_add", post(|s, b| list_add(MemberList::Denylist, false, s, b)))
        .route("/channel/blacklist_set", post(|s, b| list_add(MemberList::Denylist, true, s, b)))
        .route("/channel/blacklist_remove", post(|s, b| list_remove(MemberList::Denylist, s, b)))
        .route("/channel/blacklist_remove_all", post(|s, b| remove_all(MemberList::Denylist, s, b)))
        .route("/channel/blacklist", get(|s, q| list_get(MemberList::Denylist, s, q)))
        .route("/channel/whitelist_add", post(|s, b| list_add(MemberList::Allowlist, false, s, b)))
        .route("/channel/whitelist_set", post(|s, b| list_add(MemberList::Allowlist, true, s, b)))
        .route("/channel/whitelist_remove", post(|s, b| list_remove(MemberList::Allowlist, s, b)))
        .route("/channel/whitelist_remove_all", post(|s, b| remove_all(MemberList::Allowlist, s, b)))
        .route("/channel/whitelist", get(|s, q| list_get(MemberList::Allowlist, s, q)))
}

/// A bool01 flag: `0`, `1`, `true`, `false`; `null` is `0` (Go's zero value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bool01(bool);

impl<'de> Deserialize<'de> for Bool01 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bool01, D::Error> {
        struct Bool01Visitor;

        impl Visitor<'_> for Bool01Visitor {
            type Value = Bool01;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0 or 1")
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Bool01, E> {
                Ok(Bool01(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Bool01, E> {
                match value {
                    0 => Ok(Bool01(false)),
                    1 => Ok(Bool01(true)),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(value), &self)),
                }
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Bool01, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(value), &self)),
                }
            }

            fn visit_unit<E: de::Error>(self) -> Result<Bool01, E> {
                Ok(Bool01(false))
            }
        }

        deserializer.deserialize_any(Bool01Visitor)
    }
}

fn bool01(value: bool) -> u8 {
    u8::from(value)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FlagsRequest {
    channel_id: String,
    channel_type: u8,
    large: Bool01,
    ban: Bool01,
    disband: Bool01,
    send_ban: Bool01,
    allow_stranger: Bool01,
}

impl FlagsRequest {
    fn flags(&self) -> ChannelFlags {
        ChannelFlags {
            ban: self.ban.0,
            large: self.large.0,
            disband: self.disband.0,
            send_ban: self.send_ban.0,
            allow_stranger: self.allow_stranger.0,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateRequest {
    #[serde(flatten)]
    info: FlagsRequest,
    reset: Bool01,
    subscribers: Vec<String>,
}

async fn create_or_update(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let CreateRequest { info, reset, subscribers } = request;
    let node = &state.node;
    node.create_or_update_channel(&info.channel_id, info.channel_type, info.flags(), &subscribers, reset.0)
        .await?;
    Ok(ok())
}

async fn update_info(State(state): State<ApiState>, ApiJson(request): ApiJson<FlagsRequest>) -> ApiResult {
    state.node.update_channel_info(&request.channel_id, request.channel_type, request.flags()).await?;
    Ok(ok())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChannelRequest {
    channel_id: String,
    channel_type: u8,
}

async fn delete(State(state): State<ApiState>, ApiJson(request): ApiJson<ChannelRequest>) -> ApiResult {
    state.node.delete_channel(&request.channel_id, request.channel_type).await?;
    Ok(ok())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SubscribersRequest {
    channel_id: String,
    channel_type: u8,
    reset: Bool01,
    temp_subscriber: Bool01,
    subscribers: Vec<String>,
}

async fn subscriber_add(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<SubscribersRequest>,
) -> ApiResult {
    if request.temp_subscriber.0 {
        return Err(ServiceError::Invalid("temp_subscriber is no longer supported".into()).into());
    }
    // WuKongIM: a subscriber_add without a type is for a group.
    let channel_type = if request.channel_type == 0 { CHANNEL_GROUP } else { request.channel_type };
    state
        .node
        .add_subscribers(&request.channel_id, channel_type, &request.subscribers, request.reset.0)
        .await?;
    Ok(ok())
}

async fn subscriber_remove(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<SubscribersRequest>,
) -> ApiResult {
    state.node.remove_subscribers(&request.channel_id, request.channel_type, &request.subscribers).await?;
    Ok(ok())
}

async fn remove_all(
    list: MemberList,
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<ChannelRequest>,
) -> ApiResult {
    state.node.remove_all_members(list, &request.channel_id, request.channel_type).await?;
    Ok(ok())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListRequest {
    channel_id: String,
    channel_type: u8,
    uids: Vec<String>,
}

async fn list_add(
    list: MemberList,
    reset: bool,
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<ListRequest>,
) -> ApiResult {
    state
        .node
        .add_list_members(list, &request.channel_id, request.channel_type, &request.uids, reset)
        .await?;
    Ok(ok())
}

async fn list_remove(
    list: MemberList,
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<ListRequest>,
) -> ApiResult {
    state.node.remove_list_members(list, &request.channel_id, request.channel_type, &request.uids).await?;
    Ok(ok())
}

async fn list_get(
    list: MemberList,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ChannelRequest>,
) -> ApiResult {
    check_channel(&query.channel_id, query.channel_type)?;
    let members = state.node.members(list, &query.channel_id, query.channel_type).await?;
    let members: Vec<Value> = members.iter().map(|(uid, member)| member_json(uid, member)).collect();
    Ok(Json(members).into_response())
}

async fn subscribers(State(state): State<ApiState>, ApiQuery(query): ApiQuery<ChannelRequest>) -> ApiResult {
    check_channel(&query.channel_id, query.channel_type)?;
    Ok(Json(state.node.subscribers(&query.channel_id, query.channel_type).await?).into_response())
}

async fn info(State(state): State<ApiState>, ApiQuery(query): ApiQuery<ChannelRequest>) -> ApiResult {
    check_channel(&query.channel_id, query.channel_type)?;
    let info = state
        .node
        .channel_info(&query.channel_id, query.channel_type)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(Json(info_json(&query.channel_id, query.channel_type, &info)).into_response())
}

fn info_json(channel_id: &str, channel_type: u8, info: &ChannelInfo) -> Value {
    let flags = &info.flags;
    json!({
        "channel_id": channel_id,
        "channel_type": channel_type,
        "large": bool01(flags.large),
        "ban": bool01(flags.ban),
        "disband": bool01(flags.disband),
        "send_ban": bool01(flags.send_ban),
        "allow_stranger": bool01(flags.allow_stranger),
        "subscriber_count": info.subscriber_count,
        "denylist_count": info.denylist_count,
        "allowlist_count": info.allowlist_count,
        "created_at": rfc3339_ms(info.created_at_ms),
        "updated_at": rfc3339_ms(info.updated_at_ms),
    })
}

/// A member as WuKongIM's `wkdb.Member` serializes: `id` is the FNV-1a 64 hash of the uid
/// (`key.HashWithString`).
fn member_json(uid: &str, member: &Member) -> Value {
    json!({
        "id": fnv1a_64(uid.as_bytes()),
        "uid": uid,
        "created_at": rfc3339_ms(member.created_at_ms),
        "updated_at": rfc3339_ms(member.updated_at_ms),
    })
}

fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME))
}

/// Unix milliseconds as RFC 3339 in UTC, `2024-05-01T12:30:00.123Z` (Go's `time.Time`
/// JSON is RFC 3339 too).
fn rfc3339_ms(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_714_566_600_123), "2024-05-01T12:30:00.123Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn fnv1a_64_matches_go() {
        // Go: fnv.New64a() over "" and "a".
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn bool01_takes_ints_and_bools() {
        let parse = |text: &str| serde_json::from_str::<Bool01>(text).map(|flag| flag.0);
        assert!(parse("1").unwrap());
        assert!(!parse("0").unwrap());
        assert!(parse("true").unwrap());
        assert!(!parse("null").unwrap());
        assert!(parse("2").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("\"1\"").is_err());
    }
}

//! Channels in the slot state: each channel's info and flags, and its three member lists
//! (subscribers, deny list, allow list), with their counts kept in the info.
//!
//! Keys (`<part>` = [`channel_key_part`]):
//! - `channel/<part>` → [`ChannelInfo`] (JSON);
//! - `sub/<part><uid>`, `deny/<part><uid>`, `allow/<part><uid>` → [`Member`] (JSON).
//!
//! A person channel's info and lists are kept under the **uid** that owns them (its ban,
//! send_ban, and the uids it refuses), as WuKongIM keys them; messages use the fake id.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Applied, Tx};

/// Members one list of one channel may hold. WuKongIM's big groups have thousands to tens
/// of thousands of members; a reset or delete of 100,000 is one write batch of a few MB,
/// which one driver iteration still writes and fsyncs in well under a second.
pub const CHANNEL_MEMBERS_MAX: u64 = 100_000;

/// The three member lists of a channel.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MemberList {
    Subscribers,
    Denylist,
    Allowlist,
}

impl MemberList {
    pub const ALL: [MemberList; 3] = [MemberList::Subscribers, MemberList::Denylist, MemberList::Allowlist];

    fn key_prefix(self) -> &'static str {
        match self {
            MemberList::Subscribers => "sub/",
            MemberList::Denylist => "deny/",
            MemberList::Allowlist => "allow/",
        }
    }

    /// How messages name the list.
    pub fn name(self) -> &'static str {
        match self {
            MemberList::Subscribers => "subscribers",
            MemberList::Denylist => "deny list",
            MemberList::Allowlist => "allow list",
        }
    }
}

/// The flags a channel is created or updated with (`reference/wukongim.md` §2.3).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelFlags {
    pub ban: bool,
    pub large: bool,
    pub disband: bool,
    pub send_ban: bool,
    pub allow_stranger: bool,
}

/// A channel's stored info. Its id and type are in its key.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelInfo {
    #[serde(flatten)]
    pub flags: ChannelFlags,
    pub subscriber_count: u64,
    pub denylist_count: u64,
    pub allowlist_count: u64,
    /// Unix milliseconds (from the commands): when the info was created, and when its
    /// flags were last set.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl ChannelInfo {
    fn new(now_ms: i64) -> ChannelInfo {
        ChannelInfo { created_at_ms: now_ms, updated_at_ms: now_ms, ..ChannelInfo::default() }
    }

    pub fn count(&self, list: MemberList) -> u64 {
        match list {
            MemberList::Subscribers => self.subscriber_count,
            MemberList::Denylist => self.denylist_count,
            MemberList::Allowlist => self.allowlist_count,
        }
    }

    fn count_mut(&mut self, list: MemberList) -> &mut u64 {
        match list {
            MemberList::Subscribers => &mut self.subscriber_count,
            MemberList::Denylist => &mut self.denylist_count,
            MemberList::Allowlist => &mut self.allowlist_count,
        }
    }
}

/// One member of a list.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// `<type>/<len>:<id>/`: a channel's part of its keys. The id's length makes the part
/// unambiguous whatever the id holds (`/` included): one channel's prefix never covers
/// another channel's keys.
pub fn channel_key_part(channel_id: &str, channel_type: u8) -> String {
    format!("{channel_type}/{}:{channel_id}/", channel_id.len())
}

pub fn channel_info_key(channel_id: &str, channel_type: u8) -> Vec<u8> {
    format!("channel/{}", channel_key_part(channel_id, channel_type)).into_bytes()
}

/// The prefix of every key of one list of one channel; a member's key is this plus its uid.
pub fn members_prefix(list: MemberList, channel_id: &str, channel_type: u8) -> Vec<u8> {
    format!("{}{}", list.key_prefix(), channel_key_part(channel_id, channel_type)).into_bytes()
}

pub fn member_key(list: MemberList, channel_id: &str, channel_type: u8, uid: &str) -> Vec<u8> {
    let mut key = members_prefix(list, channel_id, channel_type);
    key.extend_from_slice(uid.as_bytes());
    key
}

/// A JSON record of this module's, or `Corrupt`: values are written here and checksummed
/// by the store, so one that does not parse is damage, not input.
pub fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> storage::Result<T> {
    serde_json::from_slice(value).map_err(|error| storage::Error::Corrupt {
        cf: "kv",
        key: String::from_utf8_lossy(key).into_owned(),
        reason: error.to_string(),
    })
}

pub fn encode<T: Serialize>(record: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(record).expect("records serialize"))
}

fn load_info(tx: &Tx<'_>, channel_id: &str, channel_type: u8) -> storage::Result<Option<ChannelInfo>> {
    let key = channel_info_key(channel_id, channel_type);
    tx.get(&key)?.map(|value| decode(&key, &value)).transpose()
}

fn store_info(tx: &mut Tx<'_>, channel_id: &str, channel_type: u8, info: &ChannelInfo) {
    tx.put(channel_info_key(channel_id, channel_type), encode(info));
}

/// Creates the channel or overwrites its flags (not a patch: WuKongIM's `/channel` and
/// `/channel/info` set every flag). Counts and the creation time stay.
pub fn set_info(
    tx: &mut Tx<'_>,
    channel_id: &str,
    channel_type: u8,
    flags: ChannelFlags,
    now_ms: i64,
) -> storage::Result<Applied> {
    let mut info = load_info(tx, channel_id, channel_type)?.unwrap_or_else(|| ChannelInfo::new(now_ms));
    info.flags = flags;
    info.updated_at_ms = now_ms;
    store_info(tx, channel_id, channel_type, &info);
    Ok(Applied::Done)
}

/// Removes the channel's info and every member of its lists.
pub fn delete(tx: &mut Tx<'_>, channel_id: &str, channel_type: u8) -> storage::Result<Applied> {
    for list in MemberList::ALL {
        delete_members(tx, list, channel_id, channel_type)?;
    }
    tx.delete(channel_info_key(channel_id, channel_type));
    Ok(Applied::Done)
}

fn delete_members(
    tx: &mut Tx<'_>,
    list: MemberList,
    channel_id: &str,
    channel_type: u8,
) -> storage::Result<()> {
    for (key, _) in tx.scan_prefix(&members_prefix(list, channel_id, channel_type))? {
        tx.delete(key);
    }
    Ok(())
}

/// Adds `uids` to a list (after removing everyone with `reset`), creating the channel if it
/// has no info yet. Members already there keep their creation time. Refused, with nothing
/// written, if the list would hold more than [`CHANNEL_MEMBERS_MAX`].
pub fn add_members(
    tx: &mut Tx<'_>,
    list: MemberList,
    channel_id: &str,
    channel_type: u8,
    uids: &[String],
    reset: bool,
    now_ms: i64,
) -> storage::Result<Applied> {
    let uids: BTreeSet<&str> = uids.iter().map(String::as_str).collect();
    let mut info = load_info(tx, channel_id, channel_type)?.unwrap_or_else(|| ChannelInfo::new(now_ms));
    let mut fresh = Vec::with_capacity(uids.len());
    for uid in uids {
        if reset || tx.get(&member_key(list, channel_id, channel_type, uid))?.is_none() {
            fresh.push(uid);
        }
    }
    let kept = if reset { 0 } else { info.count(list) };
    let count = kept + fresh.len() as u64;
    if count > CHANNEL_MEMBERS_MAX {
        return Ok(Applied::Refused(format!(
            "the {} of a channel hold at most {CHANNEL_MEMBERS_MAX} uids ({count} asked)",
            list.name()
        )));
    }
    if reset {
        delete_members(tx, list, channel_id, channel_type)?;
    }
    let member = encode(&Member { created_at_ms: now_ms, updated_at_ms: now_ms });
    for uid in fresh {
        tx.put(member_key(list, channel_id, channel_type, uid), member.clone());
    }
    *info.count_mut(list) = count;
    store_info(tx, channel_id, channel_type, &info);
    Ok(Applied::Done)
}

/// Removes `uids` from a list; uids not in it are ignored.
pub fn remove_members(
    tx: &mut Tx<'_>,
    list: MemberList,
    channel_id: &str,
    channel_type: u8,
    uids: &[String],
) -> storage::Result<Applied> {
    let uids: BTreeSet<&str> = uids.iter().map(String::as_str).collect();
    let mut removed = 0;
    for uid in uids {
        let key = member_key(list, channel_id, channel_type, uid);
        if tx.get(&key)?.is_some() {
            tx.delete(key);
            removed += 1;
        }
    }
    if removed > 0 {
        if let Some(mut info) = load_info(tx, channel_id, channel_type)? {
            *info.count_mut(list) = info.count(list).saturating_sub(removed);
            store_info(tx, channel_id, channel_type, &info);
        }
    }
    Ok(Applied::Done)
}

/// Empties a list.
pub fn remove_all_members(
    tx: &mut Tx<'_>,
    list: MemberList,
    channel_id: &str,
    channel_type: u8,
) -> storage::Result<Applied> {
    delete_members(tx, list, channel_id, channel_type)?;
    if let Some(mut info) = load_info(tx, channel_id, channel_type)? {
        *info.count_mut(list) = 0;
        store_info(tx, channel_id, channel_type, &info);
    }
    Ok(Applied::Done)
}

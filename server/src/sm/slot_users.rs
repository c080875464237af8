//! Users, their devices' tokens, and the system uids, in the slot state.
//!
//! Keys:
//! - `user/<uid>` → [`User`] (JSON), in the uid's slot;
//! - `device/<len>:<uid>/<device_flag>` → [`Device`] (JSON), in the uid's slot;
//! - `sysuid/<uid>` → [`Member`] (JSON), in slot 0 only (WuKongIM keeps them there).

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::slot_channels::{decode, encode, Member};
use super::{Applied, Tx};

/// System uids at most. WuKongIM deployments name a handful (bots, admin accounts); every
/// node reads them all to answer `GET /user/systemuids`.
pub const SYSTEM_UIDS_MAX: usize = 10_000;

pub const SYSTEM_UIDS_PREFIX: &[u8] = b"sysuid/";

/// A user: created by its first token.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One device of a user (per device flag: 0 app, 1 web, 2 pc).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Device {
    /// Empty after a device quit: an empty token never logs in.
    pub token: String,
    /// 0 slave, 1 master.
    pub device_level: u8,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub fn user_key(uid: &str) -> Vec<u8> {
    format!("user/{uid}").into_bytes()
}

/// The prefix of a user's device keys; the length keeps one uid's prefix off another's keys.
pub fn devices_prefix(uid: &str) -> Vec<u8> {
    format!("device/{}:{uid}/", uid.len()).into_bytes()
}

pub fn device_key(uid: &str, device_flag: u8) -> Vec<u8> {
    let mut key = devices_prefix(uid);
    key.extend_from_slice(device_flag.to_string().as_bytes());
    key
}

pub fn system_uid_key(uid: &str) -> Vec<u8> {
    let mut key = SYSTEM_UIDS_PREFIX.to_vec();
    key.extend_from_slice(uid.as_bytes());
    key
}

/// Stores the token of one device of `uid`, creating the user if it is new.
pub fn set_token(
    tx: &mut Tx<'_>,
    uid: &str,
    device_flag: u8,
    device_level: u8,
    token: &str,
    now_ms: i64,
) -> storage::Result<Applied> {
    let key = user_key(uid);
    if tx.get(&key)?.is_none() {
        tx.put(key, encode(&User { created_at_ms: now_ms, updated_at_ms: now_ms }));
    }
    let key = device_key(uid, device_flag);
    let created_at_ms = match tx.get(&key)? {
        Some(value) => decode::<Device>(&key, &value)?.created_at_ms,
        None => now_ms,
    };
    let device = Device { token: token.to_string(), device_level, created_at_ms, updated_at_ms: now_ms };
    tx.put(key, encode(&device));
    Ok(Applied::Done)
}

/// Clears the token of one device of `uid`, or of all of them (`None`).
pub fn quit_devices(
    tx: &mut Tx<'_>,
    uid: &str,
    device_flag: Option<u8>,
    now_ms: i64,
) -> storage::Result<Applied> {
    let devices = match device_flag {
        Some(flag) => {
            let key = device_key(uid, flag);
            tx.get(&key)?.map(|value| (Bytes::from(key), value)).into_iter().collect()
        }
        None => tx.scan_prefix(&devices_prefix(uid))?,
    };
    for (key, value) in devices {
        let mut device: Device = decode(&key, &value)?;
        device.token.clear();
        device.updated_at_ms = now_ms;
        tx.put(key, encode(&device));
    }
    Ok(Applied::Done)
}

/// Adds system uids; refused, with nothing written, past [`SYSTEM_UIDS_MAX`].
pub fn add_system_uids(tx: &mut Tx<'_>, uids: &[String], now_ms: i64) -> storage::Result<Applied> {
    let stored = tx.scan_prefix(SYSTEM_UIDS_PREFIX)?.len();
    let mut fresh = BTreeSet::new();
    for uid in uids {
        if tx.get(&system_uid_key(uid))?.is_none() {
            fresh.insert(uid.as_str());
        }
    }
    if stored + fresh.len() > SYSTEM_UIDS_MAX {
        return Ok(Applied::Refused(format!(
            "at most {SYSTEM_UIDS_MAX} system uids ({} asked)",
            stored + fresh.len()
        )));
    }
    let member = encode(&Member { created_at_ms: now_ms, updated_at_ms: now_ms });
    for uid in fresh {
        tx.put(system_uid_key(uid), member.clone());
    }
    Ok(Applied::Done)
}

pub fn remove_system_uids(tx: &mut Tx<'_>, uids: &[String]) -> storage::Result<Applied> {
    for uid in uids {
        tx.delete(system_uid_key(uid));
    }
    Ok(Applied::Done)
}

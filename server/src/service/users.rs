//! Users and devices: tokens, device quit, system uids.
//!
//! Tokens live in the uid's slot; system uids in slot 0, as WuKongIM keeps them. Reads go
//! to the store directly; writes through the slot's raft group.

use std::time::Instant;

use bytes::Bytes;
use protocol::ReasonCode;
use storage::{GroupId, Order, Tier};

use super::channel_input::{check_id, check_uids, TOKEN_BYTES_MAX};
use super::{Node, ServiceError, ServiceResult};
use crate::gateway::online::DEVICE_LEVEL_MASTER;
use crate::ids::{now_ms, CHANNEL_PERSON, SYSTEM_UID};
use crate::sm::slot::SlotCommand;
use crate::sm::slot_channels::decode;
use crate::sm::slot_users::{device_key, system_uid_key, Device, SYSTEM_UIDS_MAX, SYSTEM_UIDS_PREFIX};
use crate::sm::Applied;

/// The slot that keeps the system uids (WuKongIM: "system uids live in slot 0").
const SYSTEM_UIDS_SLOT: u64 = 0;

impl Node {
    /// Stores the token `uid` logs in with from `device_flag` (`/user/token`). Refused with
    /// `Denied` (ban or disband reason) when the uid's person channel is banned or
    /// disbanded. Kicking the device's older connections is the client gateway's.
    pub async fn update_token(
        &self,
        uid: &str,
        token: &str,
        device_flag: u8,
        device_level: u8,
    ) -> ServiceResult<()> {
        check_id("uid", uid)?;
        if token.is_empty() {
            return Err(ServiceError::Invalid("token must not be empty".into()));
        }
        if token.len() > TOKEN_BYTES_MAX {
            return Err(ServiceError::Invalid(format!("token is longer than {TOKEN_BYTES_MAX} bytes")));
        }
        if uid == SYSTEM_UID {
            return Err(ServiceError::Invalid("the system uid cannot have a token".into()));
        }
        if let Some(info) = self.channel_info(uid, CHANNEL_PERSON).await? {
            if info.flags.ban {
                return Err(denied(ReasonCode::BAN, "the user is banned"));
            }
            if info.flags.disband {
                return Err(denied(ReasonCode::DISBAND, "the user's channel is disbanded"));
            }
        }
        let command = SlotCommand::SetToken {
            uid: uid.to_string(),
            device_flag,
            device_level,
            token: token.to_string(),
            now_ms: now_ms(),
        };
        self.propose_slot(uid, &command).await?;
        Ok(())
    }

    /// Clears the token of one device of `uid`, or of all (`None`), so that it must log in
    /// again (`/user/device_quit`). Devices never seen are ignored.
    pub async fn quit_device(&self, uid: &str, device_flag: Option<u8>) -> ServiceResult<()> {
        check_id("uid", uid)?;
        let command = SlotCommand::QuitDevices { uid: uid.to_string(), device_flag, now_ms: now_ms() };
        self.propose_slot(uid, &command).await?;
        self.online.kick_user(uid, device_flag, ReasonCode::CONNECT_KICK, "device quit");
        Ok(())
    }

    /// A client's login (CONNECT): the device level it logs in with, or why it may not.
    /// Refused when the uid's person channel is banned; with `tokenAuthOn`, unless `token`
    /// is the device's stored token. Without token auth every device is a master.
    pub async fn login(&self, uid: &str, device_flag: u8, token: &str) -> Result<u8, ReasonCode> {
        if check_id("uid", uid).is_err() || uid == SYSTEM_UID {
            return Err(ReasonCode::AUTH_FAIL);
        }
        let info = self.channel_info(uid, CHANNEL_PERSON).await.map_err(|_| ReasonCode::SYSTEM_ERROR)?;
        if info.is_some_and(|info| info.flags.ban) {
            return Err(ReasonCode::BAN);
        }
        if !self.config.token_auth_on {
            return Ok(DEVICE_LEVEL_MASTER);
        }
        let key = device_key(uid, device_flag);
        let stored = self.state.get(self.slot_group(uid), &key).map_err(|_| ReasonCode::SYSTEM_ERROR)?;
        let Some(value) = stored else { return Err(ReasonCode::AUTH_FAIL) };
        let device: Device = decode(&key, &value).map_err(|_| ReasonCode::SYSTEM_ERROR)?;
        if device.token.is_empty() || device.token != token {
            return Err(ReasonCode::AUTH_FAIL);
        }
        Ok(device.device_level)
    }

    /// Whether `token` is the stored, non-empty token of `uid`'s device `device_flag`.
    pub async fn check_token(&self, uid: &str, device_flag: u8, token: &str) -> ServiceResult<bool> {
        let key = device_key(uid, device_flag);
        let Some(value) = self.state.get(self.slot_group(uid), &key)? else {
            return Ok(false);
        };
        let device: Device = decode(&key, &value)?;
        Ok(!device.token.is_empty() && device.token == token)
    }

    pub async fn add_system_uids(&self, uids: &[String]) -> ServiceResult<()> {
        let uids = check_uids("uids", uids)?;
        if uids.is_empty() {
            return Ok(());
        }
        self.propose_system_uids(&SlotCommand::AddSystemUids { uids, now_ms: now_ms() }).await
    }

    pub async fn remove_system_uids(&self, uids: &[String]) -> ServiceResult<()> {
        let uids = check_uids("uids", uids)?;
        if uids.is_empty() {
            return Ok(());
        }
        self.propose_system_uids(&SlotCommand::RemoveSystemUids { uids }).await
    }

    /// The system uids added through the API, in uid order (the built-in `____system` is
    /// not listed, as in WuKongIM).
    pub async fn system_uids(&self) -> ServiceResult<Vec<String>> {
        let end = storage::prefix_end(SYSTEM_UIDS_PREFIX);
        let pairs = self.state.scan(
            system_uids_group(),
            SYSTEM_UIDS_PREFIX,
            end.as_deref(),
            SYSTEM_UIDS_MAX,
            Order::Ascending,
        )?;
        Ok(pairs
            .into_iter()
            .map(|(key, _)| String::from_utf8_lossy(&key[SYSTEM_UIDS_PREFIX.len()..]).into_owned())
            .collect())
    }

    /// Whether `uid` passes every send permission check: the built-in system uid, or one
    /// added with `/user/systemuids_add`. Read from slot 0's state each time (one point
    /// read; there is no cache to fall out of date).
    pub async fn is_system_uid(&self, uid: &str) -> ServiceResult<bool> {
        if uid == SYSTEM_UID {
            return Ok(true);
        }
        Ok(self.state.get(system_uids_group(), &system_uid_key(uid))?.is_some())
    }

    async fn propose_system_uids(&self, command: &SlotCommand) -> ServiceResult<()> {
        let bytes = Bytes::from(serde_json::to_vec(command).expect("commands serialize"));
        let started = Instant::now();
        let applied = self.driver.propose(system_uids_group(), bytes).await?;
        self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        match applied {
            Applied::Refused(reason) => Err(ServiceError::Invalid(reason)),
            _ => Ok(()),
        }
    }
}

fn system_uids_group() -> GroupId {
    GroupId::new(Tier::Slot, SYSTEM_UIDS_SLOT)
}

pub(crate) fn denied(code: ReasonCode, message: &str) -> ServiceError {
    ServiceError::Denied { reason_code: code.0, message: message.to_string() }
}

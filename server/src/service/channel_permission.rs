//! The send permission: may this uid send to this channel? WuKongIM's order
//! (`reference/wukongim.md` §2.4, `internal/service/permission.go`), read from the slot
//! state of the sender, the channel and, for a person channel, the receiver.

use protocol::{ChannelType, ReasonCode};

use super::channels::MemberList;
use super::users::denied;
use super::{Node, ServiceError, ServiceResult};
use crate::ids::{person_peer, CHANNEL_PERSON};

/// The suffix of a channel's command twin (WuKongIM's `channel.cmdSuffix` default): the
/// twin has its original's members and lists.
pub const CMD_CHANNEL_SUFFIX: &str = "____cmd";

/// The channel whose members and lists a channel has: itself, or the original of a
/// command twin.
pub fn original_channel_id(channel_id: &str) -> &str {
    channel_id.strip_suffix(CMD_CHANNEL_SUFFIX).unwrap_or(channel_id)
}

/// Types whose ban and disband flags are not checked (WuKongIM's `IsPublicChannelType`).
fn is_public(channel_type: ChannelType) -> bool {
    matches!(
        channel_type,
        ChannelType::CUSTOMER_SERVICE | ChannelType::INFO | ChannelType::VISITORS | ChannelType::AGENT
    )
}

impl Node {
    /// Whether `from_uid` may send to the channel (`channel_id` is the fake id `a@b` for
    /// person channels), by WuKongIM's rules (`reference/wukongim.md` §2.4): system uids
    /// pass; ban, disband, the sender's send_ban, deny and allow lists, membership.
    /// A refusal is `ServiceError::Denied` with the reason code.
    ///
    /// In order: a system uid passes; the sender's own person channel with `send_ban` →
    /// SEND_BAN; the channel banned → BAN, disbanded → DISBAND (public types skip this);
    /// then by type: Info and CustomerService pass, an Agent channel's two sides pass, a
    /// Visitors channel's visitor passes; a person channel refuses a sender in the
    /// receiver's deny list → IN_BLACKLIST (the allow list is not enforced: WuKongIM's
    /// `whitelistOffOfPerson` defaults to true); every other channel refuses a denied
    /// sender → IN_BLACKLIST, a non-subscriber → SUBSCRIBER_NOT_EXIST, and, when it has an
    /// allow list, a sender not in it → NOT_IN_WHITELIST.
    pub async fn check_send_permission(
        &self,
        from_uid: &str,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        // Every read below is slot state: the verdict holds while the slot epoch does.
        let epoch = self.permissions.epoch();
        let mut key = Vec::with_capacity(from_uid.len() + channel_id.len() + 3);
        key.extend_from_slice(from_uid.as_bytes());
        key.push(0);
        key.extend_from_slice(channel_id.as_bytes());
        key.push(0);
        key.push(channel_type);
        if let Some(verdict) = self.permissions.get(epoch, &key) {
            return verdict;
        }
        let verdict = self.decide_send_permission(from_uid, channel_id, channel_type).await;
        // A failed read is not a verdict.
        if matches!(verdict, Ok(()) | Err(ServiceError::Denied { .. })) {
            self.permissions.put(epoch, key, verdict.clone());
        }
        verdict
    }

    async fn decide_send_permission(
        &self,
        from_uid: &str,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        if self.is_system_uid(from_uid).await? {
            return Ok(());
        }
        let sender = self.channel_info(from_uid, CHANNEL_PERSON).await?;
        if sender.is_some_and(|info| info.flags.send_ban) {
            return Err(denied(ReasonCode::SEND_BAN, "the sender is banned from sending"));
        }
        let channel_id = original_channel_id(channel_id);
        let channel_type = ChannelType(channel_type);
        self.check_channel_open(channel_id, channel_type).await?;
        self.check_sender(from_uid, channel_id, channel_type).await
    }

    /// The permission of a send through the HTTP API (`/message/send` and the like).
    /// WuKongIM sends those from its system device, which passes every sender check
    /// (`HasPermissionForSender`), and checks the sender's send_ban only on client
    /// connections: what remains is the channel's ban → BAN and disband → DISBAND
    /// (public types not even those). `channel_id` as for [`Node::check_send_permission`].
    pub async fn check_api_send_permission(&self, channel_id: &str, channel_type: u8) -> ServiceResult<()> {
        self.check_channel_open(original_channel_id(channel_id), ChannelType(channel_type)).await
    }

    async fn check_channel_open(&self, channel_id: &str, channel_type: ChannelType) -> ServiceResult<()> {
        if is_public(channel_type) {
            return Ok(());
        }
        match self.channel_info(channel_id, channel_type.0).await? {
            Some(info) if info.flags.ban => Err(denied(ReasonCode::BAN, "the channel is banned")),
            Some(info) if info.flags.disband => Err(denied(ReasonCode::DISBAND, "the channel is disbanded")),
            _ => Ok(()),
        }
    }

    async fn check_sender(
        &self,
        from_uid: &str,
        channel_id: &str,
        channel_type: ChannelType,
    ) -> ServiceResult<()> {
        match channel_type {
            ChannelType::INFO | ChannelType::CUSTOMER_SERVICE => return Ok(()),
            ChannelType::AGENT if channel_id.split('@').any(|side| side == from_uid) => return Ok(()),
            ChannelType::VISITORS if channel_id == from_uid => return Ok(()),
            ChannelType::PERSON => return self.check_person_sender(from_uid, channel_id).await,
            _ => {}
        }
        let channel_type = channel_type.0;
        if self.is_member(MemberList::Denylist, channel_id, channel_type, from_uid)? {
            return Err(denied(ReasonCode::IN_BLACKLIST, "the sender is in the channel's deny list"));
        }
        if !self.is_member(MemberList::Subscribers, channel_id, channel_type, from_uid)? {
            return Err(denied(
                ReasonCode::SUBSCRIBER_NOT_EXIST,
                "the sender is not a subscriber of the channel",
            ));
        }
        if self.has_members(MemberList::Allowlist, channel_id, channel_type)?
            && !self.is_member(MemberList::Allowlist, channel_id, channel_type, from_uid)?
        {
            return Err(denied(
                ReasonCode::NOT_IN_WHITELIST,
                "the sender is not in the channel's allow list",
            ));
        }
        Ok(())
    }

    /// A person channel: the receiver's deny list (kept under the receiver's uid). A
    /// system uid receives from anyone.
    async fn check_person_sender(&self, from_uid: &str, channel_id: &str) -> ServiceResult<()> {
        let Some(receiver) = person_peer(channel_id, from_uid) else {
            return Err(denied(
                ReasonCode::CHANNEL_ID_ERROR,
                &format!("{from_uid:?} is not a side of the person channel {channel_id:?}"),
            ));
        };
        if self.is_system_uid(receiver).await? {
            return Ok(());
        }
        if self.is_member(MemberList::Denylist, receiver, CHANNEL_PERSON, from_uid)? {
            return Err(denied(ReasonCode::IN_BLACKLIST, "the receiver has the sender in its deny list"));
        }
        Ok(())
    }
}

//! Channels: info and flags, subscribers, deny and allow lists (the send permission that
//! reads them is in `channel_permission.rs`).
//!
//! Everything of a channel lives in the slot of its id; a person channel's info and lists
//! under its owner's uid (`reference/wukongim.md` §2.3). Conversations follow membership
//! as in WuKongIM: added subscribers, un-denied uids and (person channels) allowed uids
//! join; removed subscribers and denied uids leave; Data, Temp and Live channels have none.

use protocol::ChannelType;
use storage::Order;

use super::channel_input::{check_channel, check_some_uids, check_uids};
use super::channel_permission::original_channel_id;
use super::{Node, ServiceError, ServiceResult};
use crate::ids::{now_ms, person_channel_id, CHANNEL_PERSON};
use crate::sm::slot::SlotCommand;
use crate::sm::slot_channels::{channel_info_key, decode, member_key, members_prefix, CHANNEL_MEMBERS_MAX};
pub use crate::sm::slot_channels::{ChannelFlags, ChannelInfo, Member, MemberList};

/// Channel types whose members have no conversations: Data (7), Temp (8), Live (9).
fn has_conversations(channel_type: u8) -> bool {
    !matches!(channel_type, 7..=9)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Conversations {
    Join,
    Leave,
}

impl Node {
    /// A channel's info; `None` if it was never created (or was deleted).
    pub async fn channel_info(
        &self,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Option<ChannelInfo>> {
        let key = channel_info_key(channel_id, channel_type);
        let value = self.state.get(self.slot_group(channel_id), &key)?;
        Ok(value.map(|value| decode(&key, &value)).transpose()?)
    }

    /// `/channel`: creates the channel or overwrites its flags, then adds `subscribers`
    /// (after removing everyone with `reset`). A person channel (`channel_id` = its owner's
    /// uid) takes flags only.
    pub async fn create_or_update_channel(
        &self,
        channel_id: &str,
        channel_type: u8,
        flags: ChannelFlags,
        subscribers: &[String],
        reset: bool,
    ) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        let subscribers = check_uids("subscribers", subscribers)?;
        if channel_type == CHANNEL_PERSON && !subscribers.is_empty() {
            return Err(ServiceError::Invalid("a person channel has no subscribers".into()));
        }
        self.set_flags(channel_id, channel_type, flags).await?;
        if channel_type != CHANNEL_PERSON && (reset || !subscribers.is_empty()) {
            self.add_subscribers_checked(channel_id, channel_type, subscribers, reset).await?;
        }
        Ok(())
    }

    /// `/channel/info`: creates the channel or overwrites its flags.
    pub async fn update_channel_info(
        &self,
        channel_id: &str,
        channel_type: u8,
        flags: ChannelFlags,
    ) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        self.set_flags(channel_id, channel_type, flags).await
    }

    async fn set_flags(&self, channel_id: &str, channel_type: u8, flags: ChannelFlags) -> ServiceResult<()> {
        let command = SlotCommand::SetChannelInfo {
            channel_id: channel_id.to_string(),
            channel_type,
            flags,
            now_ms: now_ms(),
        };
        self.propose_slot(channel_id, &command).await?;
        Ok(())
    }

    /// `/channel/delete`: the channel's info, members and lists go, and so do its messages
    /// (its raft group is forgotten: the next message starts a new one at seq 1). A channel
    /// that does not exist is deleted already.
    pub async fn delete_channel(&self, channel_id: &str, channel_type: u8) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        if channel_type == CHANNEL_PERSON {
            return Err(ServiceError::Invalid("a person channel cannot be deleted".into()));
        }
        let command = SlotCommand::DeleteChannel { channel_id: channel_id.to_string(), channel_type };
        self.propose_slot(channel_id, &command).await?;
        self.subscribers_changed();
        self.unplace_channel(channel_id, channel_type).await
    }

    /// `/channel/subscriber_add`: creates the channel if needed.
    pub async fn add_subscribers(
        &self,
        channel_id: &str,
        channel_type: u8,
        subscribers: &[String],
        reset: bool,
    ) -> ServiceResult<()> {
        check_not_person(channel_id, channel_type)?;
        let subscribers = check_some_uids("subscribers", subscribers)?;
        self.add_subscribers_checked(channel_id, channel_type, subscribers, reset).await
    }

    async fn add_subscribers_checked(
        &self,
        channel_id: &str,
        channel_type: u8,
        subscribers: Vec<String>,
        reset: bool,
    ) -> ServiceResult<()> {
        let list = MemberList::Subscribers;
        // Only newcomers join: a member's read cursor stays where it is.
        let mut fresh = Vec::with_capacity(subscribers.len());
        for uid in &subscribers {
            if reset || !self.is_member(list, channel_id, channel_type, uid)? {
                fresh.push(uid.clone());
            }
        }
        let command = SlotCommand::AddMembers {
            list,
            channel_id: channel_id.to_string(),
            channel_type,
            uids: subscribers,
            reset,
            now_ms: now_ms(),
        };
        self.propose_slot(channel_id, &command).await?;
        self.subscribers_changed();
        self.follow_conversations(Conversations::Join, &fresh, channel_id, channel_type).await
    }

    /// `/channel/subscriber_remove`: their conversations with the channel go too.
    pub async fn remove_subscribers(
        &self,
        channel_id: &str,
        channel_type: u8,
        subscribers: &[String],
    ) -> ServiceResult<()> {
        check_not_person(channel_id, channel_type)?;
        let subscribers = check_some_uids("subscribers", subscribers)?;
        self.remove_members(MemberList::Subscribers, channel_id, channel_type, subscribers.clone()).await?;
        self.follow_conversations(Conversations::Leave, &subscribers, channel_id, channel_type).await
    }

    /// `/channel/subscriber_remove_all` and the lists' `_remove_all`. Conversations stay,
    /// as in WuKongIM.
    pub async fn remove_all_members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        if list == MemberList::Subscribers && channel_type == CHANNEL_PERSON {
            return Err(ServiceError::Invalid("a person channel has no subscribers".into()));
        }
        let command =
            SlotCommand::RemoveAllMembers { list, channel_id: channel_id.to_string(), channel_type };
        self.propose_slot(channel_id, &command).await?;
        self.subscribers_changed();
        Ok(())
    }

    /// `/channel/blacklist_add`, `/channel/whitelist_add`, and with `reset` their `_set`
    /// (which may empty the list). Denied uids leave their conversation with the channel;
    /// uids allowed by a person join theirs with that person.
    pub async fn add_list_members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
        uids: &[String],
        reset: bool,
    ) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        let uids = if reset { check_uids("uids", uids)? } else { check_some_uids("uids", uids)? };
        let command = SlotCommand::AddMembers {
            list,
            channel_id: channel_id.to_string(),
            channel_type,
            uids: uids.clone(),
            reset,
            now_ms: now_ms(),
        };
        self.propose_slot(channel_id, &command).await?;
        self.subscribers_changed();
        match list {
            MemberList::Denylist => {
                self.follow_conversations(Conversations::Leave, &uids, channel_id, channel_type).await
            }
            MemberList::Allowlist if channel_type == CHANNEL_PERSON && !reset => {
                self.follow_conversations(Conversations::Join, &uids, channel_id, channel_type).await
            }
            _ => Ok(()),
        }
    }

    /// `/channel/blacklist_remove`, `/channel/whitelist_remove`. Un-denied uids get their
    /// conversation back.
    pub async fn remove_list_members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
        uids: &[String],
    ) -> ServiceResult<()> {
        check_channel(channel_id, channel_type)?;
        let uids = check_some_uids("uids", uids)?;
        self.remove_members(list, channel_id, channel_type, uids.clone()).await?;
        if list == MemberList::Denylist {
            self.follow_conversations(Conversations::Join, &uids, channel_id, channel_type).await?;
        }
        Ok(())
    }

    async fn remove_members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
        uids: Vec<String>,
    ) -> ServiceResult<()> {
        let command =
            SlotCommand::RemoveMembers { list, channel_id: channel_id.to_string(), channel_type, uids };
        self.propose_slot(channel_id, &command).await?;
        self.subscribers_changed();
        Ok(())
    }

    /// The members of one list of a channel, in uid order (at most
    /// [`CHANNEL_MEMBERS_MAX`], all a list may hold).
    pub async fn members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Vec<(String, Member)>> {
        let prefix = members_prefix(list, channel_id, channel_type);
        let end = storage::prefix_end(&prefix);
        let pairs = self.state.scan(
            self.slot_group(channel_id),
            &prefix,
            end.as_deref(),
            CHANNEL_MEMBERS_MAX as usize,
            Order::Ascending,
        )?;
        let mut members = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let uid = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            members.push((uid, decode(&key, &value)?));
        }
        Ok(members)
    }

    /// Who receives the channel's messages: its subscribers; for a person channel (the
    /// fake id `a@b`) and an Agent channel (`uid@agent`) their two sides; for a Visitors
    /// channel its subscribers (the agents) and the visitor, whose uid is the channel id.
    /// A command twin (`…____cmd`) has its original's.
    pub async fn subscribers(&self, channel_id: &str, channel_type: u8) -> ServiceResult<Vec<String>> {
        let channel_id = original_channel_id(channel_id);
        match ChannelType(channel_type) {
            ChannelType::PERSON | ChannelType::AGENT => {
                return Ok(match channel_id.split_once('@') {
                    Some((a, b)) if a == b => vec![a.to_string()],
                    Some((a, b)) => vec![a.to_string(), b.to_string()],
                    None => Vec::new(),
                });
            }
            _ => {}
        }
        let members = self.members(MemberList::Subscribers, channel_id, channel_type).await?;
        let mut uids: Vec<String> = members.into_iter().map(|(uid, _)| uid).collect();
        if ChannelType(channel_type) == ChannelType::VISITORS && !uids.iter().any(|uid| uid == channel_id) {
            uids.push(channel_id.to_string());
        }
        Ok(uids)
    }

    /// Whether `uid` is in one list of a channel (one point read).
    pub(crate) fn is_member(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
        uid: &str,
    ) -> ServiceResult<bool> {
        let key = member_key(list, channel_id, channel_type, uid);
        Ok(self.state.get(self.slot_group(channel_id), &key)?.is_some())
    }

    /// Whether one list of a channel has anyone in it.
    pub(crate) fn has_members(
        &self,
        list: MemberList,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<bool> {
        let prefix = members_prefix(list, channel_id, channel_type);
        let end = storage::prefix_end(&prefix);
        let first =
            self.state.scan(self.slot_group(channel_id), &prefix, end.as_deref(), 1, Order::Ascending)?;
        Ok(!first.is_empty())
    }

    /// Conversations follow a membership change. For a person channel (`channel_id` = the
    /// owner) each uid's conversation is the one with the owner.
    async fn follow_conversations(
        &self,
        change: Conversations,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        if uids.is_empty() || !has_conversations(channel_type) {
            return Ok(());
        }
        if channel_type != CHANNEL_PERSON {
            return self.change_conversations(change, uids, channel_id, channel_type).await;
        }
        for uid in uids.iter().filter(|uid| *uid != channel_id) {
            let person = person_channel_id(uid, channel_id);
            self.change_conversations(change, std::slice::from_ref(uid), &person, channel_type).await?;
        }
        Ok(())
    }

    async fn change_conversations(
        &self,
        change: Conversations,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        match change {
            Conversations::Join => self.conversations_join(uids, channel_id, channel_type).await,
            Conversations::Leave => self.conversations_leave(uids, channel_id, channel_type).await,
        }
    }
}

fn check_not_person(channel_id: &str, channel_type: u8) -> ServiceResult<()> {
    check_channel(channel_id, channel_type)?;
    if channel_type == CHANNEL_PERSON {
        return Err(ServiceError::Invalid("a person channel has no subscribers".into()));
    }
    Ok(())
}

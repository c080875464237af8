//! The slot state machine: users and devices, channels and their members and lists,
//! system uids, conversations, and where each channel's raft group is (DESIGN §4).
//!
//! Commands are JSON (`serde`); a command that does not parse is refused, never applied
//! half-way. Keys are `<kind>/<...>` strings inside the slot group's state.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::slot_channels::{self, ChannelFlags, MemberList};
use super::slot_users;
use super::{Applied, StateMachine, Tx};

/// What a slot group replicates. Timestamps (`now_ms`, Unix milliseconds) come in the
/// command, so that every replica stores the same.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum SlotCommand {
    /// Gives the channel a raft group of its own, once: a second placement of the same
    /// channel returns the first one's group.
    PlaceChannel {
        channel_id: String,
        channel_type: u8,
    },
    /// Forgets where the channel's group is: the next placement starts a new, empty group.
    UnplaceChannel {
        channel_id: String,
        channel_type: u8,
    },
    /// Stores a device's token; the user is created on its first token.
    SetToken {
        uid: String,
        device_flag: u8,
        device_level: u8,
        token: String,
        now_ms: i64,
    },
    /// Clears the token of one device of the user, or of every device (`None`).
    QuitDevices {
        uid: String,
        device_flag: Option<u8>,
        now_ms: i64,
    },
    /// Slot 0 only.
    AddSystemUids {
        uids: Vec<String>,
        now_ms: i64,
    },
    /// Slot 0 only.
    RemoveSystemUids {
        uids: Vec<String>,
    },
    /// Creates the channel or overwrites all its flags.
    SetChannelInfo {
        channel_id: String,
        channel_type: u8,
        flags: ChannelFlags,
        now_ms: i64,
    },
    /// Removes the channel's info and lists (its placement is `UnplaceChannel`'s).
    DeleteChannel {
        channel_id: String,
        channel_type: u8,
    },
    /// Adds uids to a list, after emptying it with `reset`; creates the channel if needed.
    AddMembers {
        list: MemberList,
        channel_id: String,
        channel_type: u8,
        uids: Vec<String>,
        reset: bool,
        now_ms: i64,
    },
    RemoveMembers {
        list: MemberList,
        channel_id: String,
        channel_type: u8,
        uids: Vec<String>,
    },
    RemoveAllMembers {
        list: MemberList,
        channel_id: String,
        channel_type: u8,
    },
    /// A user's conversation cursors (`sm::conversation_sm`).
    Conversation(crate::sm::conversation_sm::ConversationCommand),
}

/// The key of a channel's placement: its channel group number, 8 bytes big-endian.
pub fn placement_key(channel_id: &str, channel_type: u8) -> Vec<u8> {
    format!("place/{channel_type}/{channel_id}").into_bytes()
}

const NEXT_GROUP_KEY: &[u8] = b"place_next";

/// Channel group numbers: the slot in the high bits, a counter kept by the slot below, so
/// that slots never hand out the same number.
const GROUP_SLOT_SHIFT: u32 = 40;

pub struct SlotSm {
    slot: u32,
}

impl SlotSm {
    pub fn new(slot: u32) -> SlotSm {
        SlotSm { slot }
    }

    fn place(&self, channel_id: &str, channel_type: u8, tx: &mut Tx<'_>) -> storage::Result<Applied> {
        let key = placement_key(channel_id, channel_type);
        if let Some(group) = tx.get(&key)? {
            return Ok(Applied::Placed { group: be_u64(&group) });
        }
        let next = tx.get(NEXT_GROUP_KEY)?.map_or(1, |v| be_u64(&v));
        tx.put(Bytes::from_static(NEXT_GROUP_KEY), (next + 1).to_be_bytes().to_vec());
        let group = ((self.slot as u64) << GROUP_SLOT_SHIFT) | next;
        tx.put(key, group.to_be_bytes().to_vec());
        Ok(Applied::Placed { group })
    }
}

/// A big-endian u64 from the first 8 bytes (0 if shorter: values are written by this
/// module, and checksummed by the store).
pub fn be_u64(bytes: &[u8]) -> u64 {
    bytes.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

impl StateMachine for SlotSm {
    fn apply(&mut self, command: &[u8], tx: &mut Tx<'_>) -> storage::Result<Applied> {
        let command: SlotCommand = match serde_json::from_slice(command) {
            Ok(command) => command,
            Err(error) => return Ok(Applied::Refused(format!("slot command does not parse: {error}"))),
        };
        match command {
            SlotCommand::PlaceChannel { channel_id, channel_type } => {
                self.place(&channel_id, channel_type, tx)
            }
            SlotCommand::UnplaceChannel { channel_id, channel_type } => {
                tx.delete(placement_key(&channel_id, channel_type));
                Ok(Applied::Done)
            }
            SlotCommand::SetToken { uid, device_flag, device_level, token, now_ms } => {
                slot_users::set_token(tx, &uid, device_flag, device_level, &token, now_ms)
            }
            SlotCommand::QuitDevices { uid, device_flag, now_ms } => {
                slot_users::quit_devices(tx, &uid, device_flag, now_ms)
            }
            SlotCommand::AddSystemUids { uids, now_ms } => slot_users::add_system_uids(tx, &uids, now_ms),
            SlotCommand::RemoveSystemUids { uids } => slot_users::remove_system_uids(tx, &uids),
            SlotCommand::SetChannelInfo { channel_id, channel_type, flags, now_ms } => {
                slot_channels::set_info(tx, &channel_id, channel_type, flags, now_ms)
            }
            SlotCommand::DeleteChannel { channel_id, channel_type } => {
                slot_channels::delete(tx, &channel_id, channel_type)
            }
            SlotCommand::AddMembers { list, channel_id, channel_type, uids, reset, now_ms } => {
                slot_channels::add_members(tx, list, &channel_id, channel_type, &uids, reset, now_ms)
            }
            SlotCommand::RemoveMembers { list, channel_id, channel_type, uids } => {
                slot_channels::remove_members(tx, list, &channel_id, channel_type, &uids)
            }
            SlotCommand::RemoveAllMembers { list, channel_id, channel_type } => {
                slot_channels::remove_all_members(tx, list, &channel_id, channel_type)
            }
            SlotCommand::Conversation(command) => crate::sm::conversation_sm::apply_conversation(command, tx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use storage::{GroupId, MemStore, Order, Tier, WriteBatch};

    use super::*;
    use crate::sm::slot_channels::{
        channel_info_key, decode, member_key, members_prefix, ChannelInfo, CHANNEL_MEMBERS_MAX,
    };
    use crate::sm::slot_users::{device_key, system_uid_key, Device, SYSTEM_UIDS_MAX, SYSTEM_UIDS_PREFIX};

    /// A slot state machine over an in-memory store; every command's writes are committed
    /// before the next, as the driver does at the end of an iteration.
    struct Slot {
        store: MemStore,
        sm: SlotSm,
    }

    const GROUP: GroupId = GroupId { tier: Tier::Slot, id: 0 };

    impl Slot {
        fn new() -> Slot {
            Slot { store: MemStore::in_memory(), sm: SlotSm::new(0) }
        }

        fn apply(&mut self, command: SlotCommand) -> Applied {
            self.apply_bytes(&serde_json::to_vec(&command).unwrap())
        }

        fn apply_bytes(&mut self, command: &[u8]) -> Applied {
            let (mut batch, mut written) = (WriteBatch::new(), BTreeMap::new());
            let mut tx = Tx::new(&self.store, GROUP, &mut batch, &mut written);
            let applied = self.sm.apply(command, &mut tx).unwrap();
            self.store.commit(&batch).unwrap();
            applied
        }

        fn get(&self, key: &[u8]) -> Option<Bytes> {
            self.store.get(GROUP, key).unwrap()
        }

        fn info(&self, channel_id: &str) -> Option<ChannelInfo> {
            let key = channel_info_key(channel_id, 2);
            self.get(&key).map(|value| decode(&key, &value).unwrap())
        }

        fn uids(&self, list: MemberList, channel_id: &str) -> Vec<String> {
            let prefix = members_prefix(list, channel_id, 2);
            let end = storage::prefix_end(&prefix);
            let pairs =
                self.store.scan(GROUP, &prefix, end.as_deref(), usize::MAX, Order::Ascending).unwrap();
            pairs.iter().map(|(key, _)| String::from_utf8_lossy(&key[prefix.len()..]).into_owned()).collect()
        }
    }

    fn uids(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn add(list: MemberList, channel_id: &str, names: &[&str], reset: bool, now_ms: i64) -> SlotCommand {
        let (channel_id, uids) = (channel_id.to_string(), uids(names));
        SlotCommand::AddMembers { list, channel_id, channel_type: 2, uids, reset, now_ms }
    }

    #[test]
    fn member_lists_keep_their_counts() {
        let mut slot = Slot::new();
        let subscribers = MemberList::Subscribers;
        assert_eq!(slot.apply(add(subscribers, "g", &["b", "a", "b"], false, 10)), Applied::Done);
        assert_eq!(slot.uids(subscribers, "g"), ["a", "b"]);
        assert_eq!(slot.info("g").unwrap().subscriber_count, 2);
        assert_eq!(slot.info("g").unwrap().created_at_ms, 10);

        // A member added again keeps its creation time.
        slot.apply(add(subscribers, "g", &["a", "c"], false, 20));
        let key = member_key(subscribers, "g", 2, "a");
        let member: slot_channels::Member = decode(&key, &slot.get(&key).unwrap()).unwrap();
        assert_eq!(member.created_at_ms, 10);
        assert_eq!(slot.info("g").unwrap().subscriber_count, 3);

        let remove = SlotCommand::RemoveMembers {
            list: subscribers,
            channel_id: "g".into(),
            channel_type: 2,
            uids: uids(&["a", "zed", "a"]),
        };
        slot.apply(remove);
        assert_eq!(slot.uids(subscribers, "g"), ["b", "c"]);
        assert_eq!(slot.info("g").unwrap().subscriber_count, 2);

        slot.apply(add(subscribers, "g", &["c", "d"], true, 30));
        assert_eq!(slot.uids(subscribers, "g"), ["c", "d"]);
        assert_eq!(slot.info("g").unwrap().subscriber_count, 2);

        slot.apply(add(MemberList::Denylist, "g", &["x"], false, 40));
        let remove_all =
            SlotCommand::RemoveAllMembers { list: subscribers, channel_id: "g".into(), channel_type: 2 };
        slot.apply(remove_all);
        let info = slot.info("g").unwrap();
        assert_eq!((info.subscriber_count, info.denylist_count), (0, 1));
        assert!(slot.uids(subscribers, "g").is_empty());
        assert_eq!(slot.uids(MemberList::Denylist, "g"), ["x"]);
    }

    #[test]
    fn flags_are_overwritten_and_delete_clears_everything() {
        let mut slot = Slot::new();
        let flags = ChannelFlags { ban: true, large: true, ..ChannelFlags::default() };
        let set = |flags, now_ms| SlotCommand::SetChannelInfo {
            channel_id: "g".into(),
            channel_type: 2,
            flags,
            now_ms,
        };
        slot.apply(set(flags, 1));
        slot.apply(add(MemberList::Allowlist, "g", &["a"], false, 2));
        slot.apply(set(ChannelFlags { send_ban: true, ..ChannelFlags::default() }, 3));
        let info = slot.info("g").unwrap();
        assert_eq!(info.flags, ChannelFlags { send_ban: true, ..ChannelFlags::default() });
        assert_eq!((info.created_at_ms, info.updated_at_ms, info.allowlist_count), (1, 3, 1));

        slot.apply(add(MemberList::Subscribers, "g", &["a"], false, 4));
        slot.apply(add(MemberList::Subscribers, "g2", &["a"], false, 4));
        slot.apply(SlotCommand::DeleteChannel { channel_id: "g".into(), channel_type: 2 });
        assert_eq!(slot.info("g"), None);
        for list in MemberList::ALL {
            assert!(slot.uids(list, "g").is_empty());
        }
        assert_eq!(slot.uids(MemberList::Subscribers, "g2"), ["a"], "another channel keeps its members");
    }

    #[test]
    fn a_channel_id_with_slashes_does_not_reach_into_another_channels_keys() {
        let mut slot = Slot::new();
        slot.apply(add(MemberList::Subscribers, "a", &["b/x"], false, 1));
        slot.apply(add(MemberList::Subscribers, "a/b", &["x"], false, 1));
        assert_eq!(slot.uids(MemberList::Subscribers, "a"), ["b/x"]);
        assert_eq!(slot.uids(MemberList::Subscribers, "a/b"), ["x"]);
        slot.apply(SlotCommand::RemoveAllMembers {
            list: MemberList::Subscribers,
            channel_id: "a".into(),
            channel_type: 2,
        });
        assert_eq!(slot.uids(MemberList::Subscribers, "a/b"), ["x"]);
    }

    #[test]
    fn a_list_past_its_limit_is_refused_and_nothing_is_written() {
        let mut slot = Slot::new();
        slot.apply(add(MemberList::Subscribers, "g", &["first"], false, 1));
        let many: Vec<String> = (0..CHANNEL_MEMBERS_MAX).map(|i| format!("u{i}")).collect();
        let command = SlotCommand::AddMembers {
            list: MemberList::Subscribers,
            channel_id: "g".into(),
            channel_type: 2,
            uids: many.clone(),
            reset: false,
            now_ms: 2,
        };
        assert!(matches!(slot.apply(command), Applied::Refused(reason) if reason.contains("at most")));
        assert_eq!(slot.uids(MemberList::Subscribers, "g"), ["first"]);
        assert_eq!(slot.info("g").unwrap().subscriber_count, 1);
        // With reset the old member goes, so the same list fits.
        let command = SlotCommand::AddMembers {
            list: MemberList::Subscribers,
            channel_id: "g".into(),
            channel_type: 2,
            uids: many,
            reset: true,
            now_ms: 3,
        };
        assert_eq!(slot.apply(command), Applied::Done);
        assert_eq!(slot.info("g").unwrap().subscriber_count, CHANNEL_MEMBERS_MAX);
    }

    #[test]
    fn tokens_are_per_device_and_quit_clears_them() {
        let mut slot = Slot::new();
        let token = |flag: u8, token: &str, now_ms| SlotCommand::SetToken {
            uid: "alice".into(),
            device_flag: flag,
            device_level: 1,
            token: token.into(),
            now_ms,
        };
        let device = |slot: &Slot, flag| {
            let key = device_key("alice", flag);
            decode::<Device>(&key, &slot.get(&key).unwrap()).unwrap()
        };
        slot.apply(token(0, "t0", 1));
        slot.apply(token(1, "t1", 2));
        slot.apply(token(0, "t0b", 3));
        assert_eq!(
            device(&slot, 0),
            Device { token: "t0b".into(), device_level: 1, created_at_ms: 1, updated_at_ms: 3 }
        );
        assert!(slot.get(b"user/alice").is_some());

        slot.apply(SlotCommand::QuitDevices { uid: "alice".into(), device_flag: Some(1), now_ms: 4 });
        assert_eq!((device(&slot, 0).token.as_str(), device(&slot, 1).token.as_str()), ("t0b", ""));
        slot.apply(SlotCommand::QuitDevices { uid: "alice".into(), device_flag: Some(2), now_ms: 5 });
        assert!(slot.get(&device_key("alice", 2)).is_none(), "quitting an unknown device creates nothing");
        slot.apply(SlotCommand::QuitDevices { uid: "alice".into(), device_flag: None, now_ms: 6 });
        assert_eq!(device(&slot, 0).token, "");
    }

    #[test]
    fn system_uids_are_bounded() {
        let mut slot = Slot::new();
        slot.apply(SlotCommand::AddSystemUids { uids: uids(&["bot", "bot", "admin"]), now_ms: 1 });
        assert!(slot.get(&system_uid_key("bot")).is_some());
        slot.apply(SlotCommand::RemoveSystemUids { uids: uids(&["bot"]) });
        assert!(slot.get(&system_uid_key("bot")).is_none());

        let many: Vec<String> = (0..SYSTEM_UIDS_MAX).map(|i| format!("s{i}")).collect();
        let applied = slot.apply(SlotCommand::AddSystemUids { uids: many, now_ms: 2 });
        assert!(matches!(applied, Applied::Refused(_)), "{applied:?}");
        let end = storage::prefix_end(SYSTEM_UIDS_PREFIX);
        let stored =
            slot.store.scan(GROUP, SYSTEM_UIDS_PREFIX, end.as_deref(), usize::MAX, Order::Ascending).unwrap();
        assert_eq!(stored.len(), 1, "only admin");
    }

    #[test]
    fn a_command_that_does_not_parse_is_refused() {
        let mut slot = Slot::new();
        assert!(matches!(slot.apply_bytes(b"{\"Nope\":{}}"), Applied::Refused(_)));
    }
}

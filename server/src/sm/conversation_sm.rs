//! Conversations in the slot state machine: each user's read cursor per channel, in the
//! slot that owns the uid (`reference/wukongim.md` §3.8).
//!
//! A row is only cursors; the conversation list (last message, unread count, recents) is
//! computed when it is read, from the channel's messages: read diffusion, so a message to
//! a large group writes nothing per member.
//!
//! Keys: `conv/<len u16><uid><channel_type u8><channel_id>` → row (32 bytes:
//! `readed_to_msg_seq u64 | deleted_at_msg_seq u64 | created_at_ms i64 | updated_at_ms i64`).
//! `channel_id` is the stored id: the fake id `a@b` for person channels.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use storage::{GroupId, Order};

use super::{Applied, StateRead, Tx};

const CONVERSATION_PREFIX: &[u8] = b"conv/";
const ROW_BYTES: usize = 32;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ConversationCommand {
    /// Each of `uids` without a conversation with the channel gets one, read up to
    /// `readed_to_msg_seq`; existing rows are left as they are.
    Ensure { uids: Vec<String>, channel_id: String, channel_type: u8, readed_to_msg_seq: u64, at_ms: i64 },
    /// Moves the read cursor forward to `readed_to_msg_seq` (never back: WuKongIM's
    /// clearUnread and setUnread), creating the row if it is missing.
    Read { uid: String, channel_id: String, channel_type: u8, readed_to_msg_seq: u64, at_ms: i64 },
    /// Hides the messages up to `deleted_at_msg_seq`; the conversation shows again with the
    /// next message. A missing row stays missing.
    Delete { uid: String, channel_id: String, channel_type: u8, deleted_at_msg_seq: u64, at_ms: i64 },
    /// Removes the rows (the uids left the channel).
    Remove { uids: Vec<String>, channel_id: String, channel_type: u8 },
}

/// One user's conversation with one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRow {
    pub channel_id: String,
    pub channel_type: u8,
    pub readed_to_msg_seq: u64,
    pub deleted_at_msg_seq: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl ConversationRow {
    fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(ROW_BYTES);
        value.extend_from_slice(&self.readed_to_msg_seq.to_be_bytes());
        value.extend_from_slice(&self.deleted_at_msg_seq.to_be_bytes());
        value.extend_from_slice(&self.created_at_ms.to_be_bytes());
        value.extend_from_slice(&self.updated_at_ms.to_be_bytes());
        value
    }

    fn decode(channel_id: String, channel_type: u8, value: &[u8]) -> Option<ConversationRow> {
        let word =
            |at: usize| value.get(at..at + 8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
        Some(ConversationRow {
            channel_id,
            channel_type,
            readed_to_msg_seq: word(0)?,
            deleted_at_msg_seq: word(8)?,
            created_at_ms: word(16)? as i64,
            updated_at_ms: word(24)? as i64,
        })
    }
}

fn user_prefix(uid: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(CONVERSATION_PREFIX.len() + 2 + uid.len() + 1 + 32);
    key.extend_from_slice(CONVERSATION_PREFIX);
    key.extend_from_slice(&(uid.len() as u16).to_be_bytes());
    key.extend_from_slice(uid.as_bytes());
    key
}

fn row_key(uid: &str, channel_id: &str, channel_type: u8) -> Vec<u8> {
    let mut key = user_prefix(uid);
    key.push(channel_type);
    key.extend_from_slice(channel_id.as_bytes());
    key
}

/// Applies a conversation command to the slot's state.
pub fn apply_conversation(command: ConversationCommand, tx: &mut Tx<'_>) -> storage::Result<Applied> {
    match command {
        ConversationCommand::Ensure { uids, channel_id, channel_type, readed_to_msg_seq, at_ms } => {
            for uid in &uids {
                let key = row_key(uid, &channel_id, channel_type);
                if tx.get(&key)?.is_none() {
                    let row = new_row(&channel_id, channel_type, readed_to_msg_seq, at_ms);
                    tx.put(key, row.encode());
                }
            }
        }
        ConversationCommand::Read { uid, channel_id, channel_type, readed_to_msg_seq, at_ms } => {
            let key = row_key(&uid, &channel_id, channel_type);
            match load_row(tx.get(&key)?, &channel_id, channel_type) {
                Some(row) if row.readed_to_msg_seq >= readed_to_msg_seq => {}
                Some(mut row) => {
                    row.readed_to_msg_seq = readed_to_msg_seq;
                    row.updated_at_ms = at_ms;
                    tx.put(key, row.encode());
                }
                None => tx.put(key, new_row(&channel_id, channel_type, readed_to_msg_seq, at_ms).encode()),
            }
        }
        ConversationCommand::Delete { uid, channel_id, channel_type, deleted_at_msg_seq, at_ms } => {
            let key = row_key(&uid, &channel_id, channel_type);
            if let Some(mut row) = load_row(tx.get(&key)?, &channel_id, channel_type) {
                row.deleted_at_msg_seq = deleted_at_msg_seq;
                row.updated_at_ms = at_ms;
                tx.put(key, row.encode());
            }
        }
        ConversationCommand::Remove { uids, channel_id, channel_type } => {
            for uid in &uids {
                tx.delete(row_key(uid, &channel_id, channel_type));
            }
        }
    }
    Ok(Applied::Done)
}

fn new_row(channel_id: &str, channel_type: u8, readed_to_msg_seq: u64, at_ms: i64) -> ConversationRow {
    ConversationRow {
        channel_id: channel_id.to_string(),
        channel_type,
        readed_to_msg_seq,
        deleted_at_msg_seq: 0,
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    }
}

fn load_row(value: Option<Bytes>, channel_id: &str, channel_type: u8) -> Option<ConversationRow> {
    ConversationRow::decode(channel_id.to_string(), channel_type, &value?)
}

/// `uid`'s conversation with the channel, if it has one. `group` is the uid's slot.
pub fn conversation(
    state: &dyn StateRead,
    group: GroupId,
    uid: &str,
    channel_id: &str,
    channel_type: u8,
) -> storage::Result<Option<ConversationRow>> {
    Ok(load_row(state.get(group, &row_key(uid, channel_id, channel_type))?, channel_id, channel_type))
}

/// `uid`'s conversations, at most `limit`, in key order (channel type, then id). `group`
/// is the uid's slot.
pub fn conversations(
    state: &dyn StateRead,
    group: GroupId,
    uid: &str,
    limit: usize,
) -> storage::Result<Vec<ConversationRow>> {
    let prefix = user_prefix(uid);
    let end = storage::prefix_end(&prefix);
    let found = state.scan(group, &prefix, end.as_deref(), limit, Order::Ascending)?;
    let mut rows = Vec::with_capacity(found.len());
    for (key, value) in found {
        let Some((&channel_type, channel_id)) = key[prefix.len()..].split_first() else { continue };
        let channel_id = String::from_utf8_lossy(channel_id).into_owned();
        let row = ConversationRow::decode(channel_id, channel_type, &value).ok_or_else(|| {
            storage::Error::Corrupt {
                cf: "kv",
                key: format!("{group:?} conversation of {uid}"),
                reason: format!("a conversation row is {} bytes, not {ROW_BYTES}", value.len()),
            }
        })?;
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use storage::{MemEngine, Store, Tier, WriteBatch};

    use super::*;

    fn apply(store: &Store<MemEngine>, group: GroupId, command: ConversationCommand) {
        let mut batch = WriteBatch::new();
        let mut written = BTreeMap::new();
        let mut tx = Tx::new(store, group, &mut batch, &mut written);
        assert_eq!(apply_conversation(command, &mut tx).unwrap(), Applied::Done);
        store.commit(&batch).unwrap();
    }

    fn cursor(store: &Store<MemEngine>, group: GroupId, uid: &str) -> Option<(u64, u64)> {
        conversation(store, group, uid, "g1", 2)
            .unwrap()
            .map(|row| (row.readed_to_msg_seq, row.deleted_at_msg_seq))
    }

    #[test]
    fn cursors_are_created_once_move_forward_only_and_go_on_remove() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Slot, 3);
        let (channel_id, channel_type) = ("g1".to_string(), 2);
        let ensure = |uids: &[&str], seq| ConversationCommand::Ensure {
            uids: uids.iter().map(|u| u.to_string()).collect(),
            channel_id: channel_id.clone(),
            channel_type,
            readed_to_msg_seq: seq,
            at_ms: 1,
        };
        apply(&store, group, ensure(&["alice", "bob"], 5));
        apply(&store, group, ensure(&["alice"], 9));
        assert_eq!(cursor(&store, group, "alice"), Some((5, 0)));
        let read = |uid: &str, seq| ConversationCommand::Read {
            uid: uid.into(),
            channel_id: channel_id.clone(),
            channel_type,
            readed_to_msg_seq: seq,
            at_ms: 2,
        };
        apply(&store, group, read("alice", 7));
        apply(&store, group, read("alice", 6));
        assert_eq!(cursor(&store, group, "alice"), Some((7, 0)));
        apply(&store, group, read("carol", 3));
        assert_eq!(cursor(&store, group, "carol"), Some((3, 0)));
        let delete = |uid: &str| ConversationCommand::Delete {
            uid: uid.into(),
            channel_id: channel_id.clone(),
            channel_type,
            deleted_at_msg_seq: 8,
            at_ms: 3,
        };
        apply(&store, group, delete("bob"));
        apply(&store, group, delete("dave"));
        assert_eq!(cursor(&store, group, "bob"), Some((5, 8)));
        assert_eq!(cursor(&store, group, "dave"), None);
        apply(
            &store,
            group,
            ConversationCommand::Remove { uids: vec!["bob".into()], channel_id, channel_type },
        );
        assert_eq!(cursor(&store, group, "bob"), None);
    }

    #[test]
    fn a_users_rows_are_listed_apart_from_a_user_whose_uid_extends_it() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Slot, 0);
        for (uid, channel_id) in [("al", "x@al"), ("alice", "g1"), ("al", "g2")] {
            let channel_type = if channel_id.contains('@') { 1 } else { 2 };
            let command = ConversationCommand::Ensure {
                uids: vec![uid.into()],
                channel_id: channel_id.into(),
                channel_type,
                readed_to_msg_seq: 0,
                at_ms: 0,
            };
            apply(&store, group, command);
        }
        let rows = conversations(&store, group, "al", 100).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| (r.channel_type, r.channel_id.as_str())).collect();
        assert_eq!(ids, [(1, "x@al"), (2, "g2")]);
        assert_eq!(conversations(&store, group, "al", 1).unwrap().len(), 1);
    }
}

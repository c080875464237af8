//! Fan-out: once a message is durable, RECV to every online device of its channel
//! (DESIGN §5).
//!
//! The driver notes, once a batch is durable, which seqs each channel group appended, in
//! the order it applied them, with the messages themselves when they fit its bounds
//! (`driver::Committed`). A dispatcher finds each group's channel and hands the note to the
//! channel's worker, which gives the messages (read from the channel's state when the note
//! has none, or to catch up) to the connections of the channel's subscribers. So every
//! channel is delivered in seq order, whoever sent and whether or not the sender is still
//! waiting; a note lost to a full queue is covered by the channel's next one. Channels are
//! spread over a few workers, so a large group's fan-out does not hold up the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use storage::{GroupId, Order};
use tokio::sync::mpsc;

use super::{ConnId, Delivery};
use crate::driver::{Committed, NoteMessages};
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
    /// The channel (its stored id, a command twin's included) appended these seqs.
    Committed {
        group: GroupId,
        channel_id: String,
        channel_type: u8,
        first_seq: u64,
        last_seq: u64,
        messages: Option<NoteMessages>,
    },
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
    /// Starts the dispatcher of the driver's commit notes and the workers. They hold the
    /// node weakly and stop when it is dropped.
    pub fn start(node: &Arc<Node>, committed: mpsc::Receiver<Committed>) -> Arc<Fanout> {
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
        tokio::spawn(dispatch(Arc::downgrade(node), fanout.clone(), committed));
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

/// Routes the driver's notes to the workers of their channels.
async fn dispatch(node: Weak<Node>, fanout: Arc<Fanout>, mut committed: mpsc::Receiver<Committed>) {
    while let Some(note) = committed.recv().await {
        let Some(node) = node.upgrade() else { return };
        let Some((channel_id, channel_type)) = node.channel_of_group(note.group) else {
            tracing::debug!(group = ?note.group, "a committed group's channel is not known here; not delivered");
            continue;
        };
        let job = Job::Committed {
            group: note.group,
            channel_id: channel_id.clone(),
            channel_type,
            first_seq: note.first_seq,
            last_seq: note.last_seq,
            messages: note.messages,
        };
        fanout.push(&channel_id, job).await;
    }
}

async fn run(node: Weak<Node>, mut inbox: mpsc::Receiver<Job>) {
    let mut delivered: HashMap<GroupId, u64> = HashMap::new();
    while let Some(job) = inbox.recv().await {
        let Some(node) = node.upgrade() else { return };
        let Some(fanout) = node.fanout() else { continue };
        let result = match job {
            Job::Committed { group, channel_id, channel_type, first_seq, last_seq, messages } => {
                let range = (first_seq, last_seq);
                let channel = (channel_id.as_str(), channel_type);
                deliver_committed(&node, &fanout, &mut delivered, group, channel, range, messages).await
            }
            Job::Direct { delivery, uids } => deliver_direct(&node, &fanout, delivery, uids).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "fan-out failed; the channel's clients catch up by sync");
        }
    }
}

/// Delivers a group's appended seqs `first..=last`, and any before them that a dropped note
/// left undelivered (at most [`CATCH_UP_MAX`] in all). The note's own messages, when it
/// carries them, are not read back from the store.
async fn deliver_committed(
    node: &Node,
    fanout: &Fanout,
    delivered: &mut HashMap<GroupId, u64>,
    group: GroupId,
    (channel_id, channel_type): (&str, u8),
    (first, last): (u64, u64),
    carried: Option<NoteMessages>,
) -> ServiceResult<()> {
    let done = delivered.get(&group).copied().unwrap_or(first.saturating_sub(1));
    if last <= done {
        return Ok(());
    }
    let from = (done + 1).max(last.saturating_sub(CATCH_UP_MAX as u64 - 1));
    let messages = match carried {
        Some(mut carried) if from >= first => {
            let mut list = std::mem::take(&mut carried.list);
            list.retain(|message| message.seq >= from);
            list
        }
        _ => channel::messages(&*node.state, group, from, last, CATCH_UP_MAX, Order::Ascending)?,
    };
    let uids = fanout.subscribers_of(node, channel_id, channel_type).await?;
    for message in &messages {
        let mut delivery = delivery_of(channel_id, channel_type, message);
        delivery.sender = fanout.take_sender(delivery.message_id);
        node.online.deliver(&uids, &Arc::new(delivery));
    }
    if delivered.len() >= CHANNELS_REMEMBERED_MAX {
        delivered.clear();
    }
    delivered.insert(group, last);
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

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
use std::time::Duration;

use storage::{GroupId, Order};
use tokio::sync::{mpsc, Notify};

use super::online::Recipient;
use super::{ConnId, Delivery};
use crate::driver::{Committed, NoteMessages};
use crate::ids::shard_of;
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
/// Deliveries (messages times online receivers) a channel's fan-out may be behind its
/// appends before the next append to it waits: its senders are pushed back, not other
/// channels'. Most of a second of this node's fan-out, whatever the group's size.
const LAG_DELIVERIES_MAX: u64 = 256 << 10;
/// Messages a channel's fan-out may be behind at most, however few its receivers: within
/// `CATCH_UP_MAX`, so a channel that keeps within it skips nothing.
const LAG_MAX: u64 = CATCH_UP_MAX as u64 / 2;
/// The longest an append waits for its channel's fan-out to catch up. Past it, it goes
/// on: the bound on waiting senders, should the fan-out be stuck.
const LAG_WAIT_MAX: Duration = Duration::from_secs(2);
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
    /// Per channel group: how far its fan-out got.
    progress: Mutex<HashMap<GroupId, Progress>>,
    /// Told when a worker delivered a note.
    caught_up: Notify,
}

/// How far a channel's fan-out got.
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// The last seq noted to the workers, and the last they delivered.
    noted: u64,
    delivered: u64,
    /// Messages let through [`Fanout::keep_up`] and not noted yet: without them, every
    /// sender that waited would go at once when the fan-out caught up.
    admitted: u64,
    /// Connections the last message went to.
    receivers: u64,
}

impl Progress {
    /// Whether the fan-out is behind by more than the channel's senders may get ahead.
    fn behind(&self) -> bool {
        let allowed = (LAG_DELIVERIES_MAX / self.receivers.max(1)).clamp(1, LAG_MAX);
        (self.noted + self.admitted).saturating_sub(self.delivered) > allowed
    }
}

/// A channel's subscribers, as read under a subscriber epoch, and their connections, as
/// found under a registry epoch ([`super::online::Online::epoch`]).
struct CachedSubscribers {
    epoch: u64,
    uids: Arc<Vec<String>>,
    online_epoch: u64,
    recipients: Arc<Vec<Recipient>>,
}

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
            progress: Mutex::new(HashMap::new()),
            caught_up: Notify::new(),
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

    /// Waits while the fan-out of `group` is further behind its appends than its receivers
    /// allow (`LAG_DELIVERIES_MAX`, `LAG_MAX`), at most `LAG_WAIT_MAX`; then counts the
    /// `messages` about to be appended. A sender to a channel whose receivers cannot be
    /// written to as fast as it sends waits, instead of its messages skipping their live
    /// delivery or overrunning its receivers' inboxes.
    pub async fn keep_up(&self, group: GroupId, messages: usize) {
        let deadline = tokio::time::Instant::now() + LAG_WAIT_MAX;
        loop {
            let notified = self.caught_up.notified();
            let waited_enough = {
                let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
                let Some(entry) = progress.get_mut(&group) else { return };
                if !entry.behind() {
                    entry.admitted += messages as u64;
                    return;
                }
                tokio::time::Instant::now() >= deadline
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if waited_enough || tokio::time::timeout(left, notified).await.is_err() {
                return;
            }
        }
    }

    /// Seqs `first..=last` of `group` are on their way to the workers.
    fn noted(&self, group: GroupId, first_seq: u64, last_seq: u64) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if progress.len() >= CHANNELS_REMEMBERED_MAX && !progress.contains_key(&group) {
            // Forgetting only lets senders go on.
            progress.clear();
        }
        let start = Progress { noted: 0, delivered: first_seq.saturating_sub(1), admitted: 0, receivers: 1 };
        let entry = progress.entry(group).or_insert(start);
        entry.admitted = entry.admitted.saturating_sub(last_seq.saturating_sub(entry.noted));
        entry.noted = entry.noted.max(last_seq);
    }

    /// Seqs up to `last_seq` of `group` are delivered (or given up), the last of them to
    /// `receivers` connections (`None`: as many as before).
    fn delivered(&self, group: GroupId, last_seq: u64, receivers: Option<usize>) {
        if let Some(entry) = self.progress.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&group) {
            entry.delivered = entry.delivered.max(last_seq);
            if entry.delivered >= entry.noted {
                // Caught up: admissions that never became messages (refused, duplicates)
                // must not hold senders back.
                entry.admitted = 0;
            }
            if let Some(receivers) = receivers {
                entry.receivers = receivers as u64;
            }
        }
        self.caught_up.notify_waiters();
    }

    /// Any channel's subscribers changed.
    pub fn subscribers_changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    async fn push(&self, channel_id: &str, job: Job) {
        let worker = shard_of(original_channel_id(channel_id).as_bytes(), WORKERS);
        // Fails only when the workers stopped with the node.
        let _ = self.workers[worker].send(job).await;
    }

    /// The online connections of a channel's subscribers. Kept per channel until its
    /// subscribers change or anyone logs in or out: a message to a group of a hundred then
    /// looks up no uid, where it looked up every member.
    async fn recipients_of(
        &self,
        node: &Node,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Arc<Vec<Recipient>>> {
        let key = (original_channel_id(channel_id).to_string(), channel_type);
        let epoch = self.epoch.load(Ordering::Acquire);
        let online_epoch = node.online.epoch();
        let known = {
            let cache = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(&key) {
                Some(cached) if cached.epoch == epoch && cached.online_epoch == online_epoch => {
                    return Ok(cached.recipients.clone());
                }
                Some(cached) if cached.epoch == epoch => Some(cached.uids.clone()),
                _ => None,
            }
        };
        let uids = match known {
            Some(uids) => uids,
            None => Arc::new(node.subscribers(&key.0, channel_type).await?),
        };
        let recipients = Arc::new(node.online.recipients(&uids));
        let mut cache = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= SUBSCRIBER_LISTS_CACHED_MAX {
            cache.clear();
        }
        let cached = CachedSubscribers { epoch, uids, online_epoch, recipients: recipients.clone() };
        cache.insert(key, cached);
        Ok(recipients)
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
        fanout.noted(note.group, note.first_seq, note.last_seq);
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
                let result =
                    deliver_committed(&node, &fanout, &mut delivered, group, channel, range, messages).await;
                // Failed or not, senders to the channel must not wait for these seqs.
                fanout.delivered(group, last_seq, result.as_ref().ok().copied().flatten());
                result.map(|_| ())
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
) -> ServiceResult<Option<usize>> {
    let done = delivered.get(&group).copied().unwrap_or(first.saturating_sub(1));
    if last <= done {
        return Ok(None);
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
    let recipients = fanout.recipients_of(node, channel_id, channel_type).await?;
    let mut receivers = None;
    for message in &messages {
        node.online.backlog.room().await;
        let mut delivery = delivery_of(channel_id, channel_type, message);
        delivery.sender = fanout.take_sender(delivery.message_id);
        receivers = Some(node.online.deliver_to(&recipients, &Arc::new(delivery)));
    }
    if delivered.len() >= CHANNELS_REMEMBERED_MAX {
        delivered.clear();
    }
    delivered.insert(group, last);
    Ok(receivers)
}

async fn deliver_direct(
    node: &Node,
    fanout: &Fanout,
    mut delivery: Arc<Delivery>,
    uids: Option<Arc<Vec<String>>>,
) -> ServiceResult<()> {
    let recipients = match uids {
        Some(uids) => Arc::new(node.online.recipients(&uids)),
        None => fanout.recipients_of(node, &delivery.channel_id, delivery.channel_type).await?,
    };
    if let Some(sender) = fanout.take_sender(delivery.message_id) {
        Arc::make_mut(&mut delivery).sender = Some(sender);
    }
    node.online.backlog.room().await;
    let shown = original_channel_id(&delivery.channel_id).to_string();
    if shown != delivery.channel_id {
        Arc::make_mut(&mut delivery).channel_id = shown;
    }
    node.online.deliver_to(&recipients, &delivery);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::Tier;

    fn fanout() -> Fanout {
        Fanout {
            workers: Vec::new(),
            senders: Mutex::new(BTreeMap::new()),
            epoch: AtomicU64::new(0),
            subscribers: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            caught_up: Notify::new(),
        }
    }

    fn behind(fanout: &Fanout, group: GroupId) -> bool {
        fanout.progress.lock().unwrap().get(&group).is_some_and(Progress::behind)
    }

    #[test]
    fn a_channel_may_lag_fewer_messages_the_more_receivers_it_has() {
        let (fanout, big, small) = (fanout(), GroupId::new(Tier::Channel, 1), GroupId::new(Tier::Channel, 2));
        fanout.noted(big, 1, 1);
        fanout.delivered(big, 1, Some(5_000));
        fanout.noted(small, 1, 1);
        fanout.delivered(small, 1, Some(2));
        let allowed_big = LAG_DELIVERIES_MAX / 5_000;
        fanout.noted(big, 2, 1 + allowed_big);
        fanout.noted(small, 2, 1 + allowed_big + 1);
        assert!(!behind(&fanout, big), "at its bound");
        assert!(!behind(&fanout, small), "a small channel may lag up to LAG_MAX");
        fanout.noted(big, 2 + allowed_big, 2 + allowed_big);
        assert!(behind(&fanout, big));
        fanout.noted(small, 1, 1 + LAG_MAX + 1);
        assert!(behind(&fanout, small));
    }

    #[tokio::test(start_paused = true)]
    async fn senders_are_let_through_as_the_fan_out_catches_up_and_count_until_noted() {
        let (fanout, group) = (fanout(), GroupId::new(Tier::Channel, 1));
        fanout.keep_up(group, 1).await; // unknown channel: no wait
        fanout.noted(group, 1, 1);
        fanout.delivered(group, 1, Some(LAG_DELIVERIES_MAX as usize / 4)); // 4 messages of lag allowed
        for _ in 0..4 {
            fanout.keep_up(group, 1).await;
        }
        assert_eq!(fanout.progress.lock().unwrap()[&group].admitted, 4);
        assert!(!behind(&fanout, group));
        fanout.keep_up(group, 1).await; // the fifth is admitted at the bound
        assert!(behind(&fanout, group), "admitted sends count before they are noted");

        // A stuck fan-out holds a sender back at most LAG_WAIT_MAX (tokio's paused clock
        // jumps there), and one let through that way is not counted.
        fanout.keep_up(group, 1).await;
        assert_eq!(fanout.progress.lock().unwrap()[&group].admitted, 5);

        // Their notes replace the admissions; delivering them lets the next sender through.
        fanout.noted(group, 2, 7);
        assert_eq!(fanout.progress.lock().unwrap()[&group].admitted, 0);
        fanout.delivered(group, 7, None);
        assert!(!behind(&fanout, group));
    }
}

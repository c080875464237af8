//! The multi-raft driver: every raft group of every tier on this node, in one task.
//!
//! One iteration: take the requests that arrived (bounded), tick if the tick is due, then
//! for every group with work (those with entries to apply first): take its `Ready`, add
//! its log writes to a `WriteBatch`, apply its committed entries into the same batch (with
//! the group's applied index); whenever the batch holds `OPS_PER_WRITE` writes, and at the
//! end, write it and answer the proposers whose entries it applied (after such a write,
//! the groups of an fsync that ended meanwhile join the iteration). Then start **one**
//! fsync for all groups, and `advance` every group once its Ready is durable. A group's
//! Ready is never split between two writes.
//!
//! The fsync runs on the [`Syncer`]'s thread while the next iterations go on with the
//! groups that are not waiting for it (a group has one Ready out at a time; proposals to it
//! meanwhile queue in its log and ride on its next Ready). So the driver's CPU work and the
//! disk's fsync overlap instead of taking turns. In the simulator the fsync runs inline.
//!
//! Nothing is answered before its entry is durable: an entry is applied only once it is
//! committed, which is after its fsync (on a quorum). What applying it wrote (the state
//! machine's keys and the applied index) only has to be readable before the answer, not
//! durable: a crash that loses it loses the applied index with it, and the restart applies
//! the entry again from the log, to the same result (commands carry their ids and times).
//! So an iteration that only applies (and moves the commit index) writes without an fsync;
//! the next fsync makes it durable with that iteration's entries.
//!
//! Idle groups are quiescent (not ticked); channel groups idle for `evict_after_ticks` are
//! dropped from memory and reloaded from the store when next used.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use consensus::{
    Config, Entry, LogIndex, Membership, NodeId, Payload, ProposeError, RawNode, Ready, Role, Snapshot,
    SnapshotMeta, Term,
};
use storage::{Engine, GroupId, GroupLog, GroupMap, OnSynced, Store, Syncer, Tier, WriteBatch};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::sm::channel::StoredMessage;
use crate::sm::{Applied, StateMachine, Tx};

/// The key, in every group's state, of the last applied log index.
pub const APPLIED_KEY: &[u8] = b"\0applied";

/// Requests waiting for the driver. A full inbox makes callers wait: back-pressure.
pub const INBOX_MAX: usize = 8192;
/// An iteration writes its batch once the batch holds this many writes, before it takes
/// the next group's Ready, and answers the proposers of the groups in it then, not after
/// every group of a long iteration (applying 50 channels' messages takes 1-2 ms). One more
/// write call per this many ops is cheap beside the ops themselves.
const OPS_PER_WRITE: usize = 128;
/// Requests taken per iteration, so that ticks and fsyncs keep their pace under load.
const REQUESTS_PER_ITERATION_MAX: usize = 4096;

#[derive(Clone, Debug)]
pub struct DriverConfig {
    pub node_id: u64,
    pub tick: Duration,
    /// Ticks a quiescent channel group stays in memory before it is evicted.
    pub evict_after_ticks: u32,
    /// Whether fsyncs run on a thread of their own, overlapping the next iterations (a real
    /// node), or inside the iteration (the simulator, whose nodes must not spawn threads).
    pub sync_on_thread: bool,
}

/// Why a proposal did not get applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeFailure {
    #[error("this node does not lead the group (leader: {0:?})")]
    NotLeader(Option<u64>),
    #[error("the group's proposal queue is full")]
    Busy,
    #[error("the entry was replaced by a new leader before it committed")]
    Dropped,
    #[error("the node is shutting down")]
    Stopped,
    #[error("refused: {0}")]
    Refused(String),
}

pub type ProposeResult = Result<Applied, ProposeFailure>;

/// Messages a channel group appended, durable now: for the fan-out, in apply order.
#[derive(Debug)]
pub struct Committed {
    pub group: GroupId,
    pub first_seq: u64,
    pub last_seq: u64,
    /// The messages themselves, when the state machine kept them and the queue's byte
    /// budget had room; otherwise the fan-out reads them from the store.
    pub messages: Option<NoteMessages>,
}

/// Commit notes waiting for the fan-out at most. The driver never waits for it: a note
/// that finds the queue full is dropped, and the channel's next note covers its messages.
pub const COMMITTED_QUEUE_MAX: usize = 65_536;
/// Bytes of messages the queued commit notes carry at most: past this a note carries only
/// its seqs. Enough for every note of a busy second; small beside the memtables.
pub const COMMITTED_MESSAGES_BYTES_MAX: usize = 64 << 20;

/// A note's messages, holding their bytes against [`COMMITTED_MESSAGES_BYTES_MAX`] until
/// they are dropped (delivered, or lost with a note the queue had no room for).
#[derive(Debug)]
pub struct NoteMessages {
    pub list: Vec<StoredMessage>,
    bytes: usize,
    budget: Arc<AtomicUsize>,
}

impl NoteMessages {
    /// `list` if `budget` has room for its bytes.
    fn lease(list: Vec<StoredMessage>, budget: &Arc<AtomicUsize>) -> Option<NoteMessages> {
        let bytes: usize = list.iter().map(StoredMessage::record_bytes).sum();
        let held = budget.fetch_add(bytes, Ordering::AcqRel);
        let messages = NoteMessages { list, bytes, budget: budget.clone() };
        // Over the budget: dropping it gives the bytes back.
        (held + bytes <= COMMITTED_MESSAGES_BYTES_MAX).then_some(messages)
    }
}

impl Drop for NoteMessages {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

pub enum Request {
    Propose { group: GroupId, command: Bytes, reply: oneshot::Sender<ProposeResult> },
}

/// Makes the state machine of a group: the driver knows groups, not what they replicate.
pub type SmFactory = Box<dyn Fn(GroupId) -> Box<dyn StateMachine> + Send>;

/// The handle the rest of the server uses to reach the driver.
#[derive(Clone)]
pub struct DriverHandle {
    inbox: mpsc::Sender<Request>,
    slot_epoch: Arc<AtomicU64>,
}

impl DriverHandle {
    /// Bumped after every iteration in which a slot group applied an entry, once its
    /// writes are in the store: caches of slot state read under an older value are stale.
    pub fn slot_epoch(&self) -> Arc<AtomicU64> {
        self.slot_epoch.clone()
    }

    /// Proposes `command` to `group` (created on first use) and waits until it is applied,
    /// which is after it is durable on a quorum.
    pub async fn propose(&self, group: GroupId, command: Bytes) -> ProposeResult {
        let (reply, answer) = oneshot::channel();
        let request = Request::Propose { group, command, reply };
        self.inbox.send(request).await.map_err(|_| ProposeFailure::Stopped)?;
        answer.await.map_err(|_| ProposeFailure::Stopped)?
    }
}

/// A proposal waiting for its entry: the term it was proposed in, when the driver took it,
/// and where its answer goes.
struct Waiter {
    term: Term,
    taken: Instant,
    reply: oneshot::Sender<ProposeResult>,
}

struct Hosted<E: Engine> {
    node: RawNode<GroupLog<E>>,
    sm: Box<dyn StateMachine>,
    /// Proposals waiting for their entry to be applied: by index, with the term the entry
    /// was proposed in (another leader's entry may take the index).
    waiters: BTreeMap<LogIndex, Waiter>,
    idle_ticks: u32,
    /// The term and vote of the last hard state written: a Ready that changes them must be
    /// fsynced before the group acts on it (a vote is a promise); one that moves only the
    /// commit index need not be.
    term_vote_written: (Term, Option<NodeId>),
    /// Its Ready is written and waits for an fsync: the group stays in memory until then.
    syncing: bool,
}

pub struct Driver<E: Engine> {
    config: DriverConfig,
    store: Arc<Store<E>>,
    make_sm: SmFactory,
    groups: GroupMap<Hosted<E>>,
    /// Groups that may have a Ready: touched since they last had none.
    dirty: BTreeSet<GroupId>,
    inbox: mpsc::Receiver<Request>,
    metrics: Arc<Metrics>,
    slot_epoch: Arc<AtomicU64>,
    /// Where commit notes go, if anyone listens.
    committed: Option<mpsc::Sender<Committed>>,
    /// Bytes of messages the queued notes carry (see [`NoteMessages`]).
    committed_bytes: Arc<AtomicUsize>,
    syncer: Syncer<E>,
    /// Told when a sync ends.
    synced: Arc<Notify>,
    /// Readys written that wait for an fsync, with the number of the batch that must be
    /// durable first; oldest first.
    unsynced: VecDeque<(u64, Vec<(GroupId, Ready)>)>,
}

impl<E: Engine> Driver<E> {
    pub fn new(
        config: DriverConfig,
        store: Arc<Store<E>>,
        make_sm: SmFactory,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Driver<E>, DriverHandle)> {
        let (tx, inbox) = mpsc::channel(INBOX_MAX);
        let slot_epoch = Arc::new(AtomicU64::new(0));
        let synced = Arc::new(Notify::new());
        let on_synced: OnSynced = {
            let (metrics, synced) = (metrics.clone(), synced.clone());
            Box::new(move |took| {
                metrics.fsyncs.inc();
                metrics.fsync_seconds.observe(took.as_secs_f64());
                synced.notify_one();
            })
        };
        let syncer = if config.sync_on_thread {
            Syncer::spawn(store.clone(), on_synced)?
        } else {
            Syncer::inline(store.clone(), on_synced)
        };
        let driver = Driver {
            config,
            store,
            make_sm,
            groups: GroupMap::default(),
            dirty: BTreeSet::new(),
            inbox,
            metrics,
            slot_epoch: slot_epoch.clone(),
            committed: None,
            committed_bytes: Arc::new(AtomicUsize::new(0)),
            syncer,
            synced,
            unsynced: VecDeque::new(),
        };
        Ok((driver, DriverHandle { inbox: tx, slot_epoch }))
    }

    /// Notes of every message appended from now on, sent once durable
    /// ([`COMMITTED_QUEUE_MAX`] bounds the queue).
    pub fn notify_committed(&mut self) -> mpsc::Receiver<Committed> {
        let (tx, rx) = mpsc::channel(COMMITTED_QUEUE_MAX);
        self.committed = Some(tx);
        rx
    }

    /// Loads (or creates) `groups` and runs them until they have settled: a one-node group
    /// elects itself and applies what it had committed before a restart.
    pub fn open_groups(&mut self, groups: &[GroupId]) -> storage::Result<()> {
        for group in groups {
            self.ensure(*group)?;
        }
        self.run_until_settled()
    }

    /// Serves requests until `stop` fires or every handle is dropped.
    ///
    /// While groups have work in flight, each iteration first takes whatever requests are
    /// waiting, so that one batch and one fsync carry both the new entries and the
    /// application of the previous ones: proposals arriving during an fsync ride on the
    /// next one instead of waiting for the groups to settle.
    pub async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let synced = self.synced.clone();
        loop {
            if self.dirty.is_empty() {
                tokio::select! {
                    biased;
                    _ = &mut stop => break,
                    _ = synced.notified() => {}
                    request = self.inbox.recv() => {
                        let Some(request) = request else { break };
                        self.handle(request);
                        self.take_waiting(REQUESTS_PER_ITERATION_MAX - 1);
                    }
                    _ = ticker.tick() => self.tick(),
                }
            } else {
                self.take_waiting(REQUESTS_PER_ITERATION_MAX);
                // Ticks and stops wait for a moment without work; a busy driver must not
                // starve them, so look without waiting.
                if matches!(stop.try_recv(), Ok(()) | Err(oneshot::error::TryRecvError::Closed)) {
                    break;
                }
            }
            if let Err(error) = self.iterate() {
                // The store failed: acknowledging anything more could lose it. Stop.
                tracing::error!(%error, "storage failed; the driver stops");
                break;
            }
        }
        // The last iterations may have applied without an fsync, and the last sync may not
        // have ended: a clean stop leaves everything written durable, so the next start
        // need not apply those entries again.
        if let Err(error) = self.syncer.wait(self.store.written()) {
            tracing::error!(%error, "storage failed at stop");
        }
        for hosted in self.groups.values_mut() {
            for (_, waiter) in std::mem::take(&mut hosted.waiters) {
                let _ = waiter.reply.send(Err(ProposeFailure::Stopped));
            }
        }
    }

    /// Handles up to `max` requests that are already waiting.
    fn take_waiting(&mut self, max: usize) {
        for _ in 0..max {
            match self.inbox.try_recv() {
                Ok(request) => self.handle(request),
                Err(_) => break,
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Propose { group, command, reply } => {
                if let Err(error) = self.ensure(group) {
                    tracing::error!(?group, %error, "cannot load group");
                    let _ = reply.send(Err(ProposeFailure::Refused(format!("storage: {error}"))));
                    return;
                }
                let hosted = self.groups.get_mut(&group).expect("ensured");
                hosted.idle_ticks = 0;
                self.metrics.proposals.inc();
                match hosted.node.propose(command) {
                    Ok(index) => {
                        let term = hosted.node.status().term;
                        hosted.waiters.insert(index, Waiter { term, taken: Instant::now(), reply });
                        self.dirty.insert(group);
                    }
                    Err(ProposeError::NotLeader(leader)) => {
                        let _ = reply.send(Err(ProposeFailure::NotLeader(leader.map(|l| l.0))));
                    }
                    Err(ProposeError::QueueFull) => {
                        let _ = reply.send(Err(ProposeFailure::Busy));
                    }
                    Err(other) => {
                        let _ = reply.send(Err(ProposeFailure::Refused(format!("{other:?}"))));
                    }
                }
            }
        }
    }

    fn tick(&mut self) {
        let mut evict = Vec::new();
        for (group, hosted) in &mut self.groups {
            if hosted.node.is_quiescent() && hosted.waiters.is_empty() && !hosted.syncing {
                hosted.idle_ticks += 1;
                if group.tier == Tier::Channel && hosted.idle_ticks >= self.config.evict_after_ticks {
                    evict.push(*group);
                }
                continue;
            }
            hosted.node.tick();
            self.dirty.insert(*group);
        }
        for group in evict {
            self.groups.remove(&group);
            self.store.forget(group);
            self.metrics.groups_evicted.inc();
        }
        self.count_groups();
    }

    /// Makes sure `group` is in memory: loads it from the store, or creates it with this
    /// node as its only voter.
    fn ensure(&mut self, group: GroupId) -> storage::Result<()> {
        if self.groups.contains_key(&group) {
            return Ok(());
        }
        let meta = self.store.snapshot_meta(group)?;
        if meta.membership.voters.is_empty() && self.store.memberships(group)?.is_empty() {
            let mut batch = WriteBatch::new();
            let membership = Membership::new([self.config.node_id], []);
            let meta = SnapshotMeta { index: LogIndex(0), term: Term(0), membership };
            batch.install_snapshot(group, Snapshot { meta, data: Bytes::new() });
            // Written, not synced: an fsync here would stall every group for each new one
            // (a burst of new channels, a benchmark's start). Nothing the group promises
            // is acknowledged before a later fsync, which makes this batch durable too; a
            // crash before it loses only a creation that the next use repeats.
            self.store.write(&batch)?;
            self.metrics.groups_created.inc();
        }
        let applied = match self.store.get(group, APPLIED_KEY)? {
            Some(value) => LogIndex(u64::from_be_bytes(value[..].try_into().map_err(|_| {
                storage::Error::Invalid { group, reason: "applied index is not 8 bytes".into() }
            })?)),
            None => LogIndex(0),
        };
        let mut config = Config::new(self.config.node_id);
        config.applied = applied;
        config.seed = self.config.node_id ^ (group.id << 8) ^ group.tier as u64;
        let mut node = RawNode::new(config, GroupLog::new(self.store.clone(), group));
        let status = node.status();
        let term_vote_written = (status.term, status.vote);
        if status.membership.voters.len() == 1
            && status.membership.is_voter(status.id)
            && status.role != Role::Leader
        {
            // Alone in the group: no one to wait for.
            node.campaign();
        }
        let sm = (self.make_sm)(group);
        let hosted =
            Hosted { node, sm, waiters: BTreeMap::new(), idle_ticks: 0, term_vote_written, syncing: false };
        self.groups.insert(group, hosted);
        self.dirty.insert(group);
        self.count_groups();
        Ok(())
    }

    fn count_groups(&self) {
        let mut counts = [0i64; 3];
        for group in self.groups.keys() {
            counts[group.tier as usize] += 1;
        }
        self.metrics.set_groups(counts);
    }

    /// Runs iterations until no group has a Ready or waits for an fsync.
    fn run_until_settled(&mut self) -> storage::Result<()> {
        while !self.dirty.is_empty() || !self.unsynced.is_empty() {
            if let (true, Some((upto, _))) = (self.dirty.is_empty(), self.unsynced.back()) {
                self.syncer.wait(*upto)?;
            }
            self.iterate()?;
        }
        Ok(())
    }

    /// One iteration: advance what became durable, gather Readys into batches, write and
    /// answer each, start one fsync (unless only applies and commit indexes were written),
    /// advance what need not wait for it.
    fn iterate(&mut self) -> storage::Result<()> {
        self.advance_durable()?;
        let mut batch = WriteBatch::new();
        // Readys that must be durable before `advance`, and those that need not.
        let mut to_sync: Vec<(GroupId, Ready)> = Vec::new();
        let mut readys: Vec<(GroupId, Ready)> = Vec::new();
        let mut answers: Vec<(Waiter, ProposeResult)> = Vec::new();
        let mut slot_applied = false;
        let mut notes = Vec::new();
        // Groups with entries to apply first: their proposers are answered in the first
        // writes; the new entries of the others wait for the iteration's fsync anyway.
        let mut queue = VecDeque::with_capacity(self.dirty.len());
        for group in std::mem::take(&mut self.dirty) {
            if self.groups.get(&group).is_some_and(|h| h.node.has_committed_to_apply()) {
                queue.push_front(group);
            } else {
                queue.push_back(group);
            }
        }
        while let Some(group) = queue.pop_front() {
            let Some(hosted) = self.groups.get_mut(&group) else { continue };
            if !hosted.node.has_ready() {
                continue;
            }
            let ready = hosted.node.ready();
            let must_sync = must_sync_before_advance(&ready, hosted.term_vote_written);
            if let Some(hard_state) = ready.hard_state {
                hosted.term_vote_written = (hard_state.term, hard_state.vote);
            }
            batch.add_ready(group, &ready);
            if let Some(soft) = &ready.soft_state {
                if soft.role != Role::Leader {
                    // Entries this node proposed may never commit now; their proposers
                    // learn it when another entry is applied at their index.
                    tracing::info!(?group, role = ?soft.role, "group lost leadership");
                }
            }
            let entries = &ready.committed_entries;
            apply(&*self.store, group, hosted, entries, &mut batch, &mut answers)?;
            slot_applied |= group.tier == Tier::Slot && !ready.committed_entries.is_empty();
            if let Some(new) = hosted.sm.take_appended() {
                let messages = new.messages.and_then(|list| NoteMessages::lease(list, &self.committed_bytes));
                notes.push(Committed { group, first_seq: new.first_seq, last_seq: new.last_seq, messages });
            }
            hosted.syncing = must_sync;
            if must_sync {
                to_sync.push((group, ready));
            } else {
                readys.push((group, ready));
            }
            if batch.len() >= OPS_PER_WRITE {
                self.write_and_answer(&mut batch, &mut answers, &mut notes, &mut slot_applied)?;
                // An fsync that ended meanwhile commits its groups' entries: apply them in
                // this iteration, next, instead of in the one after it.
                self.advance_durable()?;
                for group in std::mem::take(&mut self.dirty).into_iter().rev() {
                    queue.push_front(group);
                }
            }
        }
        self.write_and_answer(&mut batch, &mut answers, &mut notes, &mut slot_applied)?;
        for (group, ready) in readys {
            self.advance(group, ready);
        }
        if !to_sync.is_empty() {
            // Everything written so far, this batch included.
            self.unsynced.push_back((self.store.written(), to_sync));
            self.syncer.start()?;
        }
        // An inline sync has ended already.
        self.advance_durable()
    }

    /// Writes `batch` (whole Readys of some groups, with what applying them wrote), then
    /// answers and delivers what it applied, and empties them all.
    fn write_and_answer(
        &mut self,
        batch: &mut WriteBatch,
        answers: &mut Vec<(Waiter, ProposeResult)>,
        notes: &mut Vec<Committed>,
        slot_applied: &mut bool,
    ) -> storage::Result<()> {
        if !batch.is_empty() {
            self.store.write(batch)?;
            self.metrics.batch_ops.observe(batch.len() as f64);
            *batch = WriteBatch::new();
        }
        // What was applied is committed, so durable (see the module's doc), and now
        // readable: answer and deliver without waiting for this batch's fsync.
        if std::mem::take(slot_applied) {
            self.slot_epoch.fetch_add(1, Ordering::AcqRel);
        }
        for note in notes.drain(..) {
            let Some(committed) = &self.committed else { break };
            if committed.try_send(note).is_err() {
                self.metrics.fanout_dropped.inc();
            }
        }
        for (waiter, result) in answers.drain(..) {
            self.metrics.driver_seconds.observe(waiter.taken.elapsed().as_secs_f64());
            let _ = waiter.reply.send(result);
        }
        Ok(())
    }

    /// Advances the groups whose written Readys are durable now.
    fn advance_durable(&mut self) -> storage::Result<()> {
        if let Some(error) = self.syncer.failure() {
            return Err(error);
        }
        let durable = self.syncer.durable();
        while self.unsynced.front().is_some_and(|(upto, _)| *upto <= durable) {
            let (_, readys) = self.unsynced.pop_front().expect("looked at the front");
            for (group, ready) in readys {
                self.advance(group, ready);
            }
        }
        Ok(())
    }

    fn advance(&mut self, group: GroupId, ready: Ready) {
        let hosted = self.groups.get_mut(&group).expect("a group with a Ready out is never evicted");
        hosted.node.advance(ready);
        hosted.syncing = false;
        // A single-voter leader commits in advance(): look again.
        self.dirty.insert(group);
    }
}

/// Whether `ready` must be durable before the group is told so (`advance`) and its
/// `persisted_messages` go out: it has entries, a snapshot or a truncation, messages that
/// promise what it stores, or a new term or vote. A Ready that only moves the commit index
/// and applies need not be: the commit index is learnt again after a crash.
fn must_sync_before_advance(ready: &Ready, term_vote_written: (Term, Option<NodeId>)) -> bool {
    !ready.entries.is_empty()
        || ready.snapshot.is_some()
        || ready.truncate_from.is_some()
        || !ready.persisted_messages.is_empty()
        || ready.hard_state.is_some_and(|hard_state| (hard_state.term, hard_state.vote) != term_vote_written)
}

/// Applies committed entries of one group into `batch`, collecting the answers owed.
fn apply<E: Engine>(
    store: &Store<E>,
    group: GroupId,
    hosted: &mut Hosted<E>,
    entries: &[Entry],
    batch: &mut WriteBatch,
    answers: &mut Vec<(Waiter, ProposeResult)>,
) -> storage::Result<()> {
    let Some(last) = entries.last() else { return Ok(()) };
    let mut written = BTreeMap::new();
    let mut tx = Tx::new(store, group, batch, &mut written);
    for entry in entries {
        let result = match &entry.payload {
            Payload::Command(command) => hosted.sm.apply(command, &mut tx)?,
            Payload::Noop | Payload::Membership(_) => Applied::Done,
        };
        // Everything proposed at or before this index that is still waiting was either
        // this entry or was overwritten by another leader's entries.
        while let Some(waiter) = hosted.waiters.first_entry() {
            if *waiter.key() > entry.index {
                break;
            }
            let index = *waiter.key();
            let waiter = waiter.remove();
            let is_this = index == entry.index
                && waiter.term == entry.term
                && matches!(entry.payload, Payload::Command(_));
            let result = match (&result, is_this) {
                (Applied::Refused(reason), true) => Err(ProposeFailure::Refused(reason.clone())),
                (applied, true) => Ok(applied.clone()),
                (_, false) => Err(ProposeFailure::Dropped),
            };
            answers.push((waiter, result));
        }
    }
    tx.put(Bytes::from_static(APPLIED_KEY), Bytes::copy_from_slice(&last.index.0.to_be_bytes()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_carry_messages_within_the_byte_budget_and_give_it_back() {
        let budget = Arc::new(AtomicUsize::new(0));
        let one = StoredMessage::for_test(1, 1000);
        let held = NoteMessages::lease(vec![one.clone(), one.clone()], &budget).unwrap();
        assert_eq!(budget.load(Ordering::Acquire), 2000);

        budget.fetch_add(COMMITTED_MESSAGES_BYTES_MAX - 2500, Ordering::AcqRel);
        assert!(NoteMessages::lease(vec![one.clone()], &budget).is_none(), "over the budget");
        assert_eq!(budget.load(Ordering::Acquire), COMMITTED_MESSAGES_BYTES_MAX - 500);
        drop(held);
        assert_eq!(budget.load(Ordering::Acquire), COMMITTED_MESSAGES_BYTES_MAX - 2500);
    }
}

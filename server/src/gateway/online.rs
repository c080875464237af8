//! Who is online on this node: every logged-in connection, by uid, with the bounded inbox
//! its task reads. Fan-out and kicks go through here; nothing here blocks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::ReasonCode;
use std::collections::VecDeque;

use tokio::sync::Notify;

use super::{ConnId, Delivery, ToConn};
use crate::ids::shard_of;

/// Messages waiting in one connection's inbox at most. Its task turns each into a RECV at
/// once, so a full inbox means the task cannot keep up: the connection is closed (its
/// client catches up through `/channel/messagesync`) rather than the node buffering more.
pub const INBOX_MAX: usize = 1024;
/// Deliveries waiting in all inboxes together above which the fan-out waits for the
/// connections' tasks to take some ([`Backlog`]); it goes on once they are down to half.
/// A delivery is a pointer to a message shared by its receivers: 128 Ki of them hold a
/// few MiB.
pub const BACKLOG_HIGH: usize = 128 << 10;
/// The longest the fan-out waits for room: past it, it delivers anyway, so connections
/// that read nothing fill their inboxes and are closed instead of stalling everyone.
pub const BACKLOG_WAIT_MAX: Duration = Duration::from_millis(500);
/// Locks the registry is split over, so that fan-out to many uids and logins on other
/// uids do not wait for each other.
const SHARDS: usize = 16;
/// DISCONNECT reason of a login that replaced an older one (Server v2's words).
pub const KICK_REASON: &str = "login in other device";

/// WuKongIM's device levels.
pub const DEVICE_LEVEL_SLAVE: u8 = 0;
pub const DEVICE_LEVEL_MASTER: u8 = 1;

/// One logged-in connection, as the registry knows it.
#[derive(Clone, Debug)]
pub struct ConnEntry {
    pub id: ConnId,
    pub uid: String,
    pub device_flag: u8,
    pub device_level: u8,
    pub device_id: String,
    pub version: u8,
    /// `tcp`, `ws` or `jsonrpc`.
    pub transport: &'static str,
    pub remote_addr: String,
    pub connected_at_ms: i64,
    inbox: InboxSender,
}

/// Where a delivery to one connection goes: what the fan-out keeps of each online device
/// of a channel's subscribers ([`Online::recipients`]), so that a message to a group looks
/// up no uids.
#[derive(Clone, Debug)]
pub struct Recipient {
    id: ConnId,
    inbox: InboxSender,
}

/// Raised when the connection's inbox was full: its task must close it.
#[derive(Debug, Default)]
pub struct Overflow {
    raised: AtomicBool,
    notify: Notify,
}

impl Overflow {
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Resolves once raised.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.raised() {
                return;
            }
            notified.await;
        }
    }

    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// The deliveries waiting in the inboxes of all connections.
///
/// The fan-out hands a message to thousands of inboxes in the time a connection's task
/// takes to encrypt and write one RECV. Under more load than the node can write out, the
/// inboxes of clients that do keep up would fill and those clients be closed as slow (seen:
/// 4,823 of 5,000 receivers of a flooded group). Instead the fan-out waits while the
/// backlog is high ([`Backlog::room`]): messages wait in the store, not in memory, and its
/// queues push back in turn.
#[derive(Default)]
pub struct Backlog {
    queued: AtomicUsize,
    room: Notify,
}

impl Backlog {
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Returns once the backlog is below [`BACKLOG_HIGH`], or after [`BACKLOG_WAIT_MAX`].
    pub async fn room(&self) {
        if self.queued() < BACKLOG_HIGH {
            return;
        }
        let deadline = tokio::time::Instant::now() + BACKLOG_WAIT_MAX;
        loop {
            let notified = self.room.notified();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.queued() < BACKLOG_HIGH || tokio::time::timeout(left, notified).await.is_err() {
                return;
            }
        }
    }

    fn added(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    fn taken(&self, count: usize) {
        let before = self.queued.fetch_sub(count, Ordering::AcqRel);
        // Each value is passed once on the way down: wake the waiters when half is gone.
        let low = BACKLOG_HIGH / 2;
        if before > low && before - count <= low {
            self.room.notify_waiters();
        }
    }
}

/// A connection's inbox: a bounded queue and a wake-up. (A tokio channel would do, but it
/// costs about 1.5 KiB per connection before its first message, a third of what an idle
/// connection costs the server; this costs about a hundred bytes.)
struct Inbox {
    messages: Mutex<VecDeque<ToConn>>,
    arrived: Notify,
    /// The connection's task is gone (set under the `messages` lock).
    closed: AtomicBool,
    backlog: Arc<Backlog>,
    /// In the inbox's allocation rather than one of its own: an idle connection costs
    /// a few KiB, and every allocation counts.
    overflow: Overflow,
}

/// A connection's overflow flag, which lives in its inbox.
#[derive(Clone)]
pub struct OverflowFlag(Arc<Inbox>);

impl std::ops::Deref for OverflowFlag {
    type Target = Overflow;

    fn deref(&self) -> &Overflow {
        &self.0.overflow
    }
}

impl std::fmt::Debug for OverflowFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.overflow.fmt(f)
    }
}

/// Why a message was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum InboxFull {
    Full,
    Closed,
}

#[derive(Clone)]
struct InboxSender(Arc<Inbox>);

impl std::fmt::Debug for InboxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboxSender")
    }
}

impl InboxSender {
    /// The connection's overflow flag, which lives in its inbox.
    fn overflow(&self) -> &Overflow {
        &self.0.overflow
    }

    fn try_send(&self, message: ToConn) -> Result<(), InboxFull> {
        let mut messages = self.0.messages.lock().unwrap_or_else(|p| p.into_inner());
        if self.0.closed.load(Ordering::Acquire) {
            return Err(InboxFull::Closed);
        }
        if messages.len() >= INBOX_MAX {
            return Err(InboxFull::Full);
        }
        messages.push_back(message);
        self.0.backlog.added();
        drop(messages);
        self.0.arrived.notify_one();
        Ok(())
    }
}

/// The connection task's end of its inbox.
pub struct InboxReceiver(Arc<Inbox>);

impl InboxReceiver {
    /// The next message. Cancel-safe: a message is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<ToConn> {
        loop {
            if let Some(message) = self.try_recv() {
                return Some(message);
            }
            // A message queued after the look above leaves a permit: this returns at once.
            self.0.arrived.notified().await;
        }
    }

    pub fn try_recv(&mut self) -> Option<ToConn> {
        let mut messages = self.0.messages.lock().unwrap_or_else(|p| p.into_inner());
        let message = messages.pop_front();
        if message.is_some() {
            self.0.backlog.taken(1);
        }
        if messages.is_empty() && messages.capacity() > 64 {
            // A burst is over: give its memory back.
            *messages = VecDeque::new();
        }
        message
    }
}

impl Drop for InboxReceiver {
    fn drop(&mut self) {
        let mut messages = self.0.messages.lock().unwrap_or_else(|p| p.into_inner());
        self.0.closed.store(true, Ordering::Release);
        self.0.backlog.taken(messages.len());
        messages.clear();
    }
}

/// A connection's end of the registry: its inbox and its overflow flag.
pub struct ConnInbox {
    pub messages: InboxReceiver,
    pub overflow: OverflowFlag,
}

/// Every logged-in connection of the node.
pub struct Online {
    next_id: AtomicU64,
    shards: Vec<Mutex<HashMap<String, Vec<ConnEntry>>>>,
    connections: AtomicUsize,
    /// Bumped by every login and logout: a list of recipients made under an older value
    /// may miss a connection or hold a closed one.
    epoch: AtomicU64,
    /// RECVs handed to inboxes, and connections closed because they did not keep up (their
    /// inbox or their outbound queue was full; `slow_clients` in `/varz`).
    pub delivered: AtomicU64,
    pub overflowed: AtomicU64,
    pub backlog: Arc<Backlog>,
}

impl Default for Online {
    fn default() -> Online {
        Online {
            next_id: AtomicU64::new(1),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            connections: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            backlog: Arc::default(),
        }
    }
}

/// What a login needs registered.
#[derive(Clone, Debug, Default)]
pub struct LoginInfo {
    pub uid: String,
    pub device_flag: u8,
    pub device_level: u8,
    pub device_id: String,
    pub version: u8,
    pub transport: &'static str,
    pub remote_addr: String,
    pub connected_at_ms: i64,
}

impl Online {
    /// A number for a new connection, before it logs in.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a logged-in connection. A master device replaces the older connections of
    /// the same uid and device flag: they are kicked with DISCONNECT `ConnectKick`.
    pub fn register(&self, id: ConnId, login: LoginInfo) -> ConnInbox {
        let queue = Arc::new(Inbox {
            messages: Mutex::default(),
            arrived: Notify::new(),
            closed: AtomicBool::new(false),
            backlog: self.backlog.clone(),
            overflow: Overflow::default(),
        });
        let overflow = OverflowFlag(queue.clone());
        let (inbox, messages) = (InboxSender(queue.clone()), InboxReceiver(queue));
        let entry = ConnEntry {
            id,
            uid: login.uid,
            device_flag: login.device_flag,
            device_level: login.device_level,
            device_id: login.device_id,
            version: login.version,
            transport: login.transport,
            remote_addr: login.remote_addr,
            connected_at_ms: login.connected_at_ms,
            inbox,
        };
        let mut kicked = Vec::new();
        {
            let mut shard = self.shard(&entry.uid);
            // Most users have one connection: room for one, not the four a first push makes.
            let conns = shard.entry(entry.uid.clone()).or_insert_with(|| Vec::with_capacity(1));
            if entry.device_level == DEVICE_LEVEL_MASTER {
                conns.retain(|old| {
                    let replaced = old.device_flag == entry.device_flag;
                    if replaced {
                        kicked.push(old.clone());
                    }
                    !replaced
                });
            }
            conns.push(entry);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections.fetch_sub(kicked.len(), Ordering::Relaxed);
        for old in kicked {
            tracing::debug!(uid = %old.uid, conn = old.id, "kicked by a newer login of the same device");
            kick(&old, ReasonCode::CONNECT_KICK, KICK_REASON);
        }
        ConnInbox { messages, overflow }
    }

    /// Forgets a closed connection (a no-op if it was kicked out already).
    pub fn unregister(&self, uid: &str, id: ConnId) {
        let mut shard = self.shard(uid);
        let Some(conns) = shard.get_mut(uid) else { return };
        let before = conns.len();
        conns.retain(|entry| entry.id != id);
        let removed = before - conns.len();
        if conns.is_empty() {
            shard.remove(uid);
        }
        drop(shard);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.connections.fetch_sub(removed, Ordering::Relaxed);
    }

    /// Kicks the connections of `uid` (of one device flag, or all), e.g. after a device
    /// quit or a ban. Returns how many.
    pub fn kick_user(
        &self,
        uid: &str,
        device_flag: Option<u8>,
        reason_code: ReasonCode,
        reason: &str,
    ) -> usize {
        let conns = self.connections_of(uid);
        let mut kicked = 0;
        for entry in conns.iter().filter(|e| device_flag.is_none_or(|flag| e.device_flag == flag)) {
            kick(entry, reason_code, reason);
            kicked += 1;
        }
        kicked
    }

    /// The registry's epoch: read it before [`Online::recipients`], and the list is
    /// current while the epoch is unchanged.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Every connection of every uid in `uids`.
    pub fn recipients(&self, uids: &[String]) -> Vec<Recipient> {
        let mut recipients = Vec::new();
        for uid in uids {
            let shard = self.shard(uid);
            let Some(conns) = shard.get(uid) else { continue };
            recipients
                .extend(conns.iter().map(|entry| Recipient { id: entry.id, inbox: entry.inbox.clone() }));
        }
        recipients
    }

    /// Hands `delivery` to every connection of every uid in `uids`, except the sending
    /// connection. Never waits: a full inbox closes that connection.
    pub fn deliver(&self, uids: &[String], delivery: &Arc<Delivery>) -> usize {
        self.deliver_to(&self.recipients(uids), delivery)
    }

    /// Hands `delivery` to `recipients` (closed ones are skipped), except the sending
    /// connection. Never waits: a full inbox closes that connection.
    pub fn deliver_to(&self, recipients: &[Recipient], delivery: &Arc<Delivery>) -> usize {
        let mut handed = 0;
        for recipient in recipients {
            if delivery.sender == Some(recipient.id) {
                continue;
            }
            match recipient.inbox.try_send(ToConn::Deliver(delivery.clone())) {
                Ok(()) => handed += 1,
                Err(InboxFull::Full) => {
                    if !recipient.inbox.overflow().raised() {
                        self.overflowed.fetch_add(1, Ordering::Relaxed);
                        recipient.inbox.overflow().raise();
                    }
                }
                Err(InboxFull::Closed) => {}
            }
        }
        self.delivered.fetch_add(handed as u64, Ordering::Relaxed);
        handed
    }

    /// The connections of `uid`.
    pub fn connections_of(&self, uid: &str) -> Vec<ConnEntry> {
        self.shard(uid).get(uid).cloned().unwrap_or_default()
    }

    /// Every connection, for `/connz`: at most `limit` after skipping `offset`, by id.
    pub fn list(&self, offset: usize, limit: usize) -> Vec<ConnEntry> {
        let mut all: Vec<ConnEntry> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            all.extend(shard.values().flatten().cloned());
        }
        all.sort_by_key(|entry| entry.id);
        all.into_iter().skip(offset).take(limit).collect()
    }

    /// Logged-in connections now.
    pub fn count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    fn shard(&self, uid: &str) -> MutexGuard<'_, HashMap<String, Vec<ConnEntry>>> {
        let index = shard_of(uid.as_bytes(), SHARDS);
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Asks a connection to DISCONNECT and close. A kick must not be lost to a full inbox:
/// then the overflow flag closes it instead.
fn kick(entry: &ConnEntry, reason_code: ReasonCode, reason: &str) {
    let message = ToConn::Kick { reason_code, reason: reason.to_string() };
    if entry.inbox.try_send(message).is_err() {
        entry.inbox.overflow().raise();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(uid: &str, device_flag: u8, device_level: u8) -> LoginInfo {
        LoginInfo { uid: uid.into(), device_flag, device_level, transport: "tcp", ..LoginInfo::default() }
    }

    fn delivery(sender: Option<ConnId>) -> Arc<Delivery> {
        Arc::new(Delivery { message_id: 1, sender, ..Delivery::default() })
    }

    #[test]
    fn a_master_login_kicks_the_older_master_of_the_same_device_flag_only() {
        let online = Online::default();
        let mut web = online.register(1, login("u1", 1, DEVICE_LEVEL_MASTER));
        let mut app = online.register(2, login("u1", 0, DEVICE_LEVEL_MASTER));
        let _newer_web = online.register(3, login("u1", 1, DEVICE_LEVEL_MASTER));
        match web.messages.try_recv() {
            Some(ToConn::Kick { reason_code, .. }) => assert_eq!(reason_code, ReasonCode::CONNECT_KICK),
            other => panic!("expected a kick, got {other:?}"),
        }
        assert!(app.messages.try_recv().is_none());
        assert_eq!(online.count(), 2);
        let ids: Vec<ConnId> = online.connections_of("u1").iter().map(|e| e.id).collect();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn a_slave_login_kicks_nobody() {
        let online = Online::default();
        let mut first = online.register(1, login("u1", 1, DEVICE_LEVEL_SLAVE));
        let _second = online.register(2, login("u1", 1, DEVICE_LEVEL_SLAVE));
        assert!(first.messages.try_recv().is_none());
        assert_eq!(online.count(), 2);
    }

    #[test]
    fn delivery_skips_the_sender_and_a_full_inbox_raises_overflow() {
        let online = Online::default();
        let mut sender = online.register(1, login("u1", 1, DEVICE_LEVEL_SLAVE));
        let other = online.register(2, login("u1", 0, DEVICE_LEVEL_SLAVE));
        let uids = vec!["u1".to_string(), "nobody".to_string()];
        assert_eq!(online.deliver(&uids, &delivery(Some(1))), 1);
        assert!(sender.messages.try_recv().is_none());
        for _ in 1..INBOX_MAX {
            online.deliver(&uids, &delivery(Some(1)));
        }
        assert!(!other.overflow.raised());
        online.deliver(&uids, &delivery(Some(1)));
        assert!(other.overflow.raised());
        assert_eq!(online.overflowed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_list_of_recipients_holds_while_the_epoch_does_and_skips_closed_connections() {
        let online = Online::default();
        let uids = vec!["u1".to_string(), "u2".to_string()];
        let before = online.epoch();
        let mut first = online.register(1, login("u1", 1, DEVICE_LEVEL_SLAVE));
        let second = online.register(2, login("u2", 1, DEVICE_LEVEL_SLAVE));
        assert!(online.epoch() > before, "a login changes the epoch");
        let epoch = online.epoch();
        let recipients = online.recipients(&uids);
        assert_eq!(recipients.len(), 2);
        assert_eq!(online.deliver_to(&recipients, &delivery(Some(2))), 1, "not to the sender");
        assert!(first.messages.try_recv().is_some());

        drop(second);
        online.unregister("u2", 2);
        assert!(online.epoch() > epoch, "a logout changes the epoch");
        assert_eq!(online.deliver_to(&recipients, &delivery(None)), 1, "a stale list skips the closed one");
        assert_eq!(online.recipients(&uids).len(), 1);
    }

    #[test]
    fn the_backlog_counts_deliveries_until_taken_or_dropped_with_their_inbox() {
        let online = Online::default();
        let mut reader = online.register(1, login("u1", 1, DEVICE_LEVEL_SLAVE));
        let gone = online.register(2, login("u2", 1, DEVICE_LEVEL_SLAVE));
        let uids = vec!["u1".to_string(), "u2".to_string()];
        for _ in 0..10 {
            online.deliver(&uids, &delivery(None));
        }
        assert_eq!(online.backlog.queued(), 20);
        for _ in 0..4 {
            assert!(reader.messages.try_recv().is_some());
        }
        assert_eq!(online.backlog.queued(), 16);
        drop(gone);
        assert_eq!(online.backlog.queued(), 6, "a closed inbox's deliveries are gone");
        assert_eq!(online.deliver(&uids, &delivery(None)), 1, "none into a closed inbox");
        assert_eq!(online.backlog.queued(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn room_waits_while_the_backlog_is_high_until_half_is_taken() {
        let backlog = Arc::new(Backlog::default());
        for _ in 0..BACKLOG_HIGH {
            backlog.added();
        }
        let waiter = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.room().await }
        });
        tokio::task::yield_now().await;
        backlog.taken(BACKLOG_HIGH / 4);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "still above half");
        backlog.taken(BACKLOG_HIGH / 4);
        waiter.await.unwrap();

        // Nobody takes anything: it gives up waiting after BACKLOG_WAIT_MAX.
        for _ in 0..BACKLOG_HIGH {
            backlog.added();
        }
        backlog.room().await;
        assert!(backlog.queued() >= BACKLOG_HIGH, "returned with the backlog still high");
    }

    #[test]
    fn unregister_and_kick_user() {
        let online = Online::default();
        let mut a = online.register(1, login("u1", 1, DEVICE_LEVEL_SLAVE));
        let _b = online.register(2, login("u1", 0, DEVICE_LEVEL_SLAVE));
        assert_eq!(online.kick_user("u1", Some(1), ReasonCode::CONNECT_KICK, "quit"), 1);
        assert!(matches!(a.messages.try_recv(), Some(ToConn::Kick { .. })));
        online.unregister("u1", 1);
        online.unregister("u1", 1);
        assert_eq!(online.count(), 1);
        assert_eq!(online.list(0, 10).len(), 1);
        online.unregister("u1", 2);
        assert_eq!(online.count(), 0);
    }
}

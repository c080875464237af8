//! Messages: send (permission, idempotency, the channel's raft group, the answer after the
//! commit), history and lookups (`reference/wukongim.md` §3).
//!
//! Person channels are stored under the fake id `a@b` (§2.2); callers of the send path
//! name the peer, read paths take the stored id ([`stored_channel_id`] converts).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use storage::{GroupId, Order};

use super::channel_input::check_id;
pub use super::channel_permission::CMD_CHANNEL_SUFFIX;
use super::{Node, ServiceError, ServiceResult};
use crate::gateway::Delivery;
use crate::ids::{now_ms, person_channel_id, CHANNEL_PERSON, SYSTEM_UID};
use crate::sm::channel::{self, AppendBatch, ChannelCommand, StoredMessage, MESSAGES_PER_COMMAND_MAX};
use crate::sm::message_record::{MessageRecord, HEADER_NO_PERSIST, HEADER_RED_DOT, HEADER_SYNC_ONCE};
use crate::sm::Applied;

/// The Temp channel type: `subscribers` sends go to a temporary channel of this type.
pub const CHANNEL_TEMP: u8 = protocol::ChannelType::TEMP.0;
/// Where non-persistent `subscribers` sends go in WuKongIM (never stored).
pub const ONLINE_CMD_CHANNEL_ID: &str = "systemcmdonline";

/// Messages one history read returns at most (WuKongIM caps `limit` at 10,000); a
/// request for 0 gets this many.
pub const SYNC_LIMIT_MAX: usize = 10_000;
/// A payload above this could not be delivered: a WKProto frame carries at most 1 MiB.
pub const PAYLOAD_BYTES_MAX: usize = 1 << 20;
/// Bytes of a client_msg_no or topic at most (clients send UUIDs; topics are names).
pub const CLIENT_MSG_NO_BYTES_MAX: usize = 256;
/// Seqs, ids or client_msg_nos one lookup request names at most, as many as a sync returns.
pub const LOOKUPS_PER_REQUEST_MAX: usize = SYNC_LIMIT_MAX;
/// Sends one `/message/sendbatch` or `subscribers` request makes at most (WuKongIM has no
/// limit; this many keeps one request's work within seconds).
pub const SUBSCRIBERS_PER_SEND_MAX: usize = 10_000;
/// Sends of one request in flight at once: enough to fill a driver iteration's batch, few
/// enough that one request cannot fill the driver's inbox (`driver::INBOX_MAX`).
pub const SENDS_IN_FLIGHT_MAX: usize = 64;

/// The header flags of a message (`reference/wukongim.md` §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageHeader {
    /// Not stored: seq 0, no conversation update; delivered online only.
    pub no_persist: bool,
    pub red_dot: bool,
    /// A command message: stored in the channel's CMD twin.
    pub sync_once: bool,
}

impl MessageHeader {
    pub fn bits(self) -> u8 {
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        bit(self.no_persist, HEADER_NO_PERSIST)
            | bit(self.red_dot, HEADER_RED_DOT)
            | bit(self.sync_once, HEADER_SYNC_ONCE)
    }

    pub fn from_bits(bits: u8) -> MessageHeader {
        MessageHeader {
            no_persist: bits & HEADER_NO_PERSIST != 0,
            red_dot: bits & HEADER_RED_DOT != 0,
            sync_once: bits & HEADER_SYNC_ONCE != 0,
        }
    }
}

/// Where a send comes from, which decides the permission check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendOrigin {
    /// A client connection: every WuKongIM rule ([`Node::check_send_permission`]).
    #[default]
    Client,
    /// The HTTP API, which WuKongIM sends from its system device: the channel's ban and
    /// disband only ([`Node::check_api_send_permission`]).
    Api,
}

/// A message to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendRequest {
    pub origin: SendOrigin,
    /// Empty: the system uid.
    pub from_uid: String,
    /// The peer's uid for a person channel.
    pub channel_id: String,
    pub channel_type: u8,
    /// Empty: one is generated.
    pub client_msg_no: String,
    pub header: MessageHeader,
    /// The client protocol's setting byte.
    pub setting: u8,
    /// Seconds; stored and echoed.
    pub expire: u32,
    pub topic: String,
    pub payload: Bytes,
    /// The client connection that sent it (set by the gateway's driver): the message is not
    /// delivered back to it.
    pub sender_conn: Option<u64>,
}

/// A sent message, once its channel's group committed it (or found it sent before).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    pub message_id: i64,
    /// 0 for a `no_persist` message.
    pub message_seq: u64,
    pub client_msg_no: String,
    /// The message was sent before (same sender and client_msg_no): these are its numbers.
    pub duplicate: bool,
    /// Where it is stored: the fake id for person channels, the CMD twin for `sync_once`.
    pub channel_id: String,
}

/// One message the channel's group appended (or had).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub message_id: i64,
    pub message_seq: u64,
    pub duplicate: bool,
}

/// Which way `/channel/messagesync` pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullMode {
    /// Older messages: seqs in `(end, start]`.
    Down,
    /// Newer messages: seqs in `[start, end)`, `end = 0` open.
    Up,
}

/// A page of a channel's history, in seq order.
#[derive(Clone, Debug, Default)]
pub struct MessagePage {
    pub messages: Vec<StoredMessage>,
    pub more: bool,
}

/// The id a channel is stored under: the fake id `a@b` for person channels (`uid` is the
/// caller, `channel_id` the peer), the id itself otherwise.
pub fn stored_channel_id(uid: &str, channel_id: &str, channel_type: u8) -> String {
    if channel_type == CHANNEL_PERSON {
        person_channel_id(uid, channel_id)
    } else {
        channel_id.to_string()
    }
}

fn check_send(request: &SendRequest) -> ServiceResult<()> {
    if request.payload.is_empty() {
        return Err(ServiceError::Invalid("payload must not be empty".into()));
    }
    if request.payload.len() > PAYLOAD_BYTES_MAX {
        return Err(ServiceError::Invalid(format!("payload is longer than {PAYLOAD_BYTES_MAX} bytes")));
    }
    check_id("from_uid", &request.from_uid)?;
    check_id("channel_id", &request.channel_id)?;
    if request.channel_type == 0 {
        return Err(ServiceError::Invalid("channel_type must not be 0".into()));
    }
    if request.client_msg_no.len() > CLIENT_MSG_NO_BYTES_MAX {
        return Err(ServiceError::Invalid(format!(
            "client_msg_no is longer than {CLIENT_MSG_NO_BYTES_MAX} bytes"
        )));
    }
    if request.topic.len() > CLIENT_MSG_NO_BYTES_MAX {
        return Err(ServiceError::Invalid(format!("topic is longer than {CLIENT_MSG_NO_BYTES_MAX} bytes")));
    }
    Ok(())
}

/// A message as its RECVs need it, from the record a send builds.
fn delivery_of_record(
    record: &MessageRecord<'_>,
    message_seq: u64,
    channel_id: &str,
    request: &SendRequest,
) -> Delivery {
    Delivery {
        header: record.header,
        setting: record.setting,
        message_id: record.message_id,
        message_seq,
        timestamp_ms: record.timestamp_ms,
        expire: record.expire,
        from_uid: record.from_uid.to_string(),
        channel_id: channel_id.to_string(),
        channel_type: request.channel_type,
        client_msg_no: record.client_msg_no.to_string(),
        topic: record.topic.to_string(),
        payload: request.payload.clone(),
        sender: request.sender_conn,
    }
}

/// WuKongIM's temporary channel for a persistent `subscribers` send: the FNV-1a (64-bit)
/// hash of the uids joined by `,`, in decimal, as a CMD channel.
pub fn temp_channel_id(subscribers: &[String]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for (i, uid) in subscribers.iter().enumerate() {
        let separator: &[u8] = if i == 0 { b"" } else { b"," };
        for &byte in separator.iter().chain(uid.as_bytes()) {
            hash = (hash ^ byte as u64).wrapping_mul(PRIME);
        }
    }
    format!("{hash}{CMD_CHANNEL_SUFFIX}")
}

impl Node {
    /// Sends a message: checks it and the sender's permission, stores it in its channel's
    /// raft group and answers once that is durable on a quorum. A message its sender sent
    /// before (same `client_msg_no`) is not stored again: the answer is the original's.
    pub async fn send_message(&self, mut request: SendRequest) -> ServiceResult<SendResult> {
        if request.from_uid.trim().is_empty() {
            request.from_uid = SYSTEM_UID.to_string();
        }
        check_send(&request)?;
        let stored_id = stored_channel_id(&request.from_uid, &request.channel_id, request.channel_type);
        self.check_permission(&request, &stored_id).await?;
        let target =
            if request.header.sync_once { format!("{stored_id}{CMD_CHANNEL_SUFFIX}") } else { stored_id };
        let result = self.store_message(&request, target, None).await?;
        if request.channel_type == CHANNEL_PERSON && !request.header.sync_once && result.message_seq > 0 {
            let sides = [request.from_uid.as_str(), request.channel_id.as_str()];
            self.conversations_on_person_message(&result.channel_id, sides, result.message_seq).await?;
        }
        Ok(result)
    }

    /// Sends one sender's messages in order, as [`Node::send_message`] one after the other
    /// would, without a commit each: consecutive persistent messages to the same stored
    /// channel go in one append, so their seqs follow their order. For the gateway, which
    /// keeps a connection's sends to a channel in the order sent (`gateway::listen`).
    /// Answers each request, in order.
    pub async fn send_in_order(&self, requests: Vec<SendRequest>) -> Vec<ServiceResult<SendResult>> {
        let mut results: Vec<Option<ServiceResult<SendResult>>> = vec![None; requests.len()];
        // Checked persistent messages not yet stored: their index and stored channel.
        let mut run: Vec<(usize, SendRequest)> = Vec::new();
        let mut run_target = String::new();
        for (index, mut request) in requests.into_iter().enumerate() {
            if request.from_uid.trim().is_empty() {
                request.from_uid = SYSTEM_UID.to_string();
            }
            let target = match self.check_in_order(&request).await {
                Ok(target) => target,
                Err(error) => {
                    results[index] = Some(Err(error));
                    continue;
                }
            };
            let joins = run
                .first()
                .is_some_and(|(_, first)| run_target == target && first.channel_type == request.channel_type);
            if !joins && !run.is_empty() {
                self.store_run(std::mem::take(&mut run), &run_target, &mut results).await;
            }
            if request.header.no_persist {
                results[index] = Some(self.store_message(&request, target, None).await);
            } else {
                run_target = target;
                run.push((index, request));
            }
        }
        if !run.is_empty() {
            self.store_run(run, &run_target, &mut results).await;
        }
        results.into_iter().map(|result| result.expect("every request answered")).collect()
    }

    /// [`Node::send_message`]'s checks: the stored channel the message goes to.
    async fn check_in_order(&self, request: &SendRequest) -> ServiceResult<String> {
        check_send(request)?;
        let stored_id = stored_channel_id(&request.from_uid, &request.channel_id, request.channel_type);
        self.check_permission(request, &stored_id).await?;
        Ok(if request.header.sync_once { format!("{stored_id}{CMD_CHANNEL_SUFFIX}") } else { stored_id })
    }

    /// Stores checked persistent messages to `target` in one append (as [`Node::store_message`]
    /// stores one), then has them delivered; answers them in `results`.
    async fn store_run(
        &self,
        run: Vec<(usize, SendRequest)>,
        target: &str,
        results: &mut [Option<ServiceResult<SendResult>>],
    ) {
        let numbered: Vec<(i64, String)> = run
            .iter()
            .map(|(_, request)| {
                let message_id = self.ids.next_id();
                let client_msg_no = if request.client_msg_no.trim().is_empty() {
                    format!("{message_id:032x}0")
                } else {
                    request.client_msg_no.clone()
                };
                (message_id, client_msg_no)
            })
            .collect();
        let timestamp_ms = now_ms();
        let records: Vec<MessageRecord<'_>> = run
            .iter()
            .zip(&numbered)
            .map(|((_, request), (message_id, client_msg_no))| MessageRecord {
                header: request.header.bits(),
                setting: request.setting,
                message_id: *message_id,
                timestamp_ms,
                expire: request.expire,
                from_uid: &request.from_uid,
                client_msg_no,
                topic: &request.topic,
                payload: &request.payload,
            })
            .collect();
        let channel_type = run[0].1.channel_type;
        let fanout = self.fanout();
        if let Some(fanout) = &fanout {
            for ((_, request), (message_id, _)) in run.iter().zip(&numbered) {
                if let Some(conn) = request.sender_conn {
                    fanout.sending(*message_id, conn);
                }
            }
        }
        let appended = match self.append_messages(target, channel_type, &records).await {
            Ok(appended) => appended,
            Err(error) => {
                for ((index, _), (message_id, _)) in run.iter().zip(&numbered) {
                    if let Some(fanout) = &fanout {
                        fanout.not_sent(*message_id);
                    }
                    results[*index] = Some(Err(error.clone()));
                }
                return;
            }
        };
        // The driver's commit note has the new ones delivered.
        if let Some(fanout) = &fanout {
            for (appended, (message_id, _)) in appended.iter().zip(&numbered) {
                if appended.duplicate {
                    fanout.not_sent(*message_id);
                }
            }
        }
        let first = &run[0].1;
        let mut conversations = Ok(());
        if first.channel_type == CHANNEL_PERSON && !first.header.sync_once {
            // As for one message: the sides get a row with the run unread from its start.
            let sides = [first.from_uid.as_str(), first.channel_id.as_str()];
            conversations =
                self.conversations_on_person_message(target, sides, appended[0].message_seq).await;
        }
        for (((index, _), (_, client_msg_no)), appended) in run.into_iter().zip(numbered).zip(appended) {
            results[index] = Some(match &conversations {
                Ok(()) => Ok(SendResult {
                    message_id: appended.message_id,
                    message_seq: appended.message_seq,
                    client_msg_no,
                    duplicate: appended.duplicate,
                    channel_id: target.to_string(),
                }),
                Err(error) => Err(error.clone()),
            });
        }
    }

    /// A `subscribers` send (WuKongIM §1.3 #14): a `sync_once` message to the listed uids.
    /// Persistent, it is stored in a Temp channel named after the uids; `no_persist`, it is
    /// only delivered (to the online cmd channel), and nothing is stored.
    pub async fn send_to_subscribers(
        &self,
        mut request: SendRequest,
        subscribers: &[String],
    ) -> ServiceResult<()> {
        if !request.header.sync_once {
            return Err(ServiceError::Invalid("a send to subscribers must be a sync_once message".into()));
        }
        if subscribers.len() > SUBSCRIBERS_PER_SEND_MAX {
            return Err(ServiceError::Invalid(format!(
                "at most {SUBSCRIBERS_PER_SEND_MAX} subscribers per send"
            )));
        }
        for uid in subscribers {
            check_id("subscribers", uid)?;
        }
        if request.from_uid.trim().is_empty() {
            request.from_uid = SYSTEM_UID.to_string();
        }
        request.channel_type = CHANNEL_TEMP;
        request.channel_id = if request.header.no_persist {
            ONLINE_CMD_CHANNEL_ID.to_string()
        } else {
            temp_channel_id(subscribers)
        };
        request.client_msg_no.clear();
        check_send(&request)?;
        self.check_permission(&request, &request.channel_id).await?;
        let target = request.channel_id.clone();
        self.store_message(&request, target, Some(subscribers)).await?;
        Ok(())
    }

    /// `/message/sendbatch`: the same person message from `request.from_uid` to each uid.
    /// Answers, per uid in order, why its send failed (`None`: sent).
    pub async fn send_to_each(
        &self,
        request: &SendRequest,
        uids: &[String],
    ) -> ServiceResult<Vec<Option<String>>> {
        if uids.len() > SUBSCRIBERS_PER_SEND_MAX {
            return Err(ServiceError::Invalid(format!(
                "at most {SUBSCRIBERS_PER_SEND_MAX} subscribers per send"
            )));
        }
        let mut failures = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(SENDS_IN_FLIGHT_MAX) {
            let sends = chunk.iter().map(|uid| {
                let request = SendRequest {
                    channel_id: uid.clone(),
                    channel_type: CHANNEL_PERSON,
                    client_msg_no: String::new(),
                    ..request.clone()
                };
                self.send_message(request)
            });
            for result in join_all(sends.collect()).await {
                failures.push(result.err().map(|error| error.to_string()));
            }
        }
        Ok(failures)
    }

    /// May the request's sender send to `channel_id` (the stored id, before a CMD twin's
    /// suffix)? As its origin says.
    async fn check_permission(&self, request: &SendRequest, channel_id: &str) -> ServiceResult<()> {
        match request.origin {
            SendOrigin::Client => {
                self.check_send_permission(&request.from_uid, channel_id, request.channel_type).await
            }
            SendOrigin::Api => self.check_api_send_permission(channel_id, request.channel_type).await,
        }
    }

    /// Stores a checked message in `target` (a stored channel id) unless it is `no_persist`,
    /// then has it delivered to the online devices of `recipients` (`None`: the channel's
    /// subscribers), except the connection that sent it.
    async fn store_message(
        &self,
        request: &SendRequest,
        target: String,
        recipients: Option<&[String]>,
    ) -> ServiceResult<SendResult> {
        let message_id = self.ids.next_id();
        let client_msg_no = if request.client_msg_no.trim().is_empty() {
            // Unique as the snowflake is; WuKongIM appends "0" to a UUID.
            format!("{message_id:032x}0")
        } else {
            request.client_msg_no.clone()
        };
        let record = MessageRecord {
            header: request.header.bits(),
            setting: request.setting,
            message_id,
            timestamp_ms: now_ms(),
            expire: request.expire,
            from_uid: &request.from_uid,
            client_msg_no: &client_msg_no,
            topic: &request.topic,
            payload: &request.payload,
        };
        let fanout = self.fanout();
        if request.header.no_persist {
            if let Some(fanout) = &fanout {
                let delivery = delivery_of_record(&record, 0, &target, request);
                fanout.direct(delivery, recipients.map(<[String]>::to_vec)).await;
            }
            return Ok(SendResult {
                message_id,
                message_seq: 0,
                client_msg_no,
                duplicate: false,
                channel_id: target,
            });
        }
        if let (Some(fanout), Some(conn)) = (&fanout, request.sender_conn) {
            fanout.sending(message_id, conn);
        }
        let appended =
            self.append_messages(&target, request.channel_type, std::slice::from_ref(&record)).await;
        let appended = match appended {
            Ok(appended) => appended[0],
            Err(error) => {
                if let Some(fanout) = &fanout {
                    fanout.not_sent(message_id);
                }
                return Err(error);
            }
        };
        let Appended { message_id: stored_id, message_seq, duplicate } = appended;
        // Unless it goes to listed recipients, the driver's commit note has it delivered.
        if let Some(fanout) = &fanout {
            if duplicate {
                fanout.not_sent(message_id);
            } else if let Some(uids) = recipients {
                fanout.not_sent(message_id);
                let delivery = delivery_of_record(&record, message_seq, &target, request);
                fanout.direct(delivery, Some(uids.to_vec())).await;
            }
        }
        Ok(SendResult { message_id: stored_id, message_seq, client_msg_no, duplicate, channel_id: target })
    }

    /// Appends checked messages to a channel (`channel_id` is the stored id), in order, in
    /// as few commands as [`MESSAGES_PER_COMMAND_MAX`] allows; answers each message's
    /// numbers once they are durable. For the gateway, which batches a channel's sends.
    pub async fn append_messages(
        &self,
        channel_id: &str,
        channel_type: u8,
        records: &[MessageRecord<'_>],
    ) -> ServiceResult<Vec<Appended>> {
        let group = self.channel_group(channel_id, channel_type, true).await?;
        let group = group.ok_or_else(|| ServiceError::Internal("a created channel has no group".into()))?;
        if let Some(fanout) = self.fanout() {
            fanout.keep_up(group, records.len()).await;
        }
        let mut appended = Vec::with_capacity(records.len());
        for chunk in records.chunks(MESSAGES_PER_COMMAND_MAX) {
            let mut batch = AppendBatch::new();
            for record in chunk {
                batch.push(record).map_err(|error| ServiceError::Invalid(error.to_string()))?;
            }
            let command = Bytes::from(ChannelCommand::Append(batch).into_bytes());
            let Applied::Message { message_id, message_seq, duplicate } =
                self.propose(group, command).await?
            else {
                return Err(ServiceError::Internal("an append answered no message".into()));
            };
            if chunk.len() == 1 {
                appended.push(Appended { message_id, message_seq, duplicate });
            } else if !duplicate {
                let first = message_seq + 1 - chunk.len() as u64;
                appended.extend(chunk.iter().zip(first..).map(|(record, message_seq)| Appended {
                    message_id: record.message_id,
                    message_seq,
                    duplicate: false,
                }));
            } else {
                for record in chunk {
                    appended.push(self.appended_as(group, record)?);
                }
            }
        }
        Ok(appended)
    }

    /// What became of `record` in a batch that had duplicates: read back from its indexes.
    fn appended_as(&self, group: GroupId, record: &MessageRecord<'_>) -> ServiceResult<Appended> {
        let state = &*self.state;
        let found = if record.client_msg_no.is_empty() {
            channel::seq_of_message_id(state, group, record.message_id)?.map(|seq| (seq, record.message_id))
        } else {
            channel::find_client_msg_no(state, group, record.client_msg_no, Some(record.from_uid))?
        };
        let (message_seq, message_id) = found
            .ok_or_else(|| ServiceError::Internal("an appended message is not in its channel".into()))?;
        Ok(Appended { message_id, message_seq, duplicate: message_id != record.message_id })
    }

    /// The channel's group if it has one (`channel_id` is the stored id).
    async fn existing_channel_group(
        &self,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Option<GroupId>> {
        self.channel_group(channel_id, channel_type, false).await
    }

    /// The seq of the channel's last message; 0 for a channel without messages.
    pub async fn channel_last_seq(&self, channel_id: &str, channel_type: u8) -> ServiceResult<u64> {
        match self.existing_channel_group(channel_id, channel_type).await? {
            Some(group) => Ok(channel::last_seq(&*self.state, group)?),
            None => Ok(0),
        }
    }

    /// `/channel/messagesync` (`reference/wukongim.md` §3.6): `start = end = 0` is the last
    /// `limit` messages; `Up` is `[start, end)` (`end = 0`: open), `Down` is `(end, start]`
    /// (nothing when `end > start`). `limit` 0 or above [`SYNC_LIMIT_MAX`] is that maximum.
    /// `more` is WuKongIM's: a full page says there may be more.
    pub async fn sync_messages(
        &self,
        channel_id: &str,
        channel_type: u8,
        start: u64,
        end: u64,
        limit: usize,
        pull_mode: PullMode,
    ) -> ServiceResult<MessagePage> {
        let limit = if limit == 0 { SYNC_LIMIT_MAX } else { limit.min(SYNC_LIMIT_MAX) };
        let Some(group) = self.existing_channel_group(channel_id, channel_type).await? else {
            return Ok(MessagePage::default());
        };
        let state = &*self.state;
        let messages = if start == 0 && end == 0 {
            let mut newest = channel::messages(state, group, 1, u64::MAX, limit, Order::Descending)?;
            newest.reverse();
            newest
        } else if pull_mode == PullMode::Up {
            let to = if end == 0 { u64::MAX } else { end - 1 };
            channel::messages(state, group, start.max(1), to, limit, Order::Ascending)?
        } else if end <= start {
            let mut older = channel::messages(state, group, end + 1, start, limit, Order::Descending)?;
            older.reverse();
            older
        } else {
            Vec::new()
        };
        // WuKongIM also clears `more` when the page ends at `end`, which its exclusive
        // bounds never return.
        let more = messages.len() >= limit;
        Ok(MessagePage { messages, more })
    }

    /// The channel's newest messages from seq `from` on, at most `limit`, newest first.
    pub async fn recent_messages(
        &self,
        channel_id: &str,
        channel_type: u8,
        from: u64,
        limit: usize,
    ) -> ServiceResult<Vec<StoredMessage>> {
        match self.existing_channel_group(channel_id, channel_type).await? {
            Some(group) => {
                Ok(channel::messages(&*self.state, group, from.max(1), u64::MAX, limit, Order::Descending)?)
            }
            None => Ok(Vec::new()),
        }
    }

    pub async fn last_message(
        &self,
        channel_id: &str,
        channel_type: u8,
    ) -> ServiceResult<Option<StoredMessage>> {
        Ok(self.recent_messages(channel_id, channel_type, 1, 1).await?.pop())
    }

    /// `/messages`: the messages with these seqs, then with these ids, then with these
    /// client_msg_nos, as WuKongIM lists them (missing ones left out).
    pub async fn find_messages(
        &self,
        channel_id: &str,
        channel_type: u8,
        seqs: &[u64],
        message_ids: &[i64],
        client_msg_nos: &[String],
    ) -> ServiceResult<Vec<StoredMessage>> {
        if seqs.len() + message_ids.len() + client_msg_nos.len() > LOOKUPS_PER_REQUEST_MAX {
            return Err(ServiceError::Invalid(format!(
                "at most {LOOKUPS_PER_REQUEST_MAX} lookups per request"
            )));
        }
        let Some(group) = self.existing_channel_group(channel_id, channel_type).await? else {
            return Ok(Vec::new());
        };
        let state = &*self.state;
        let mut found = Vec::new();
        for &seq in seqs {
            found.extend(channel::message(state, group, seq)?);
        }
        for &message_id in message_ids {
            if let Some(seq) = channel::seq_of_message_id(state, group, message_id)? {
                found.extend(channel::message(state, group, seq)?);
            }
        }
        for client_msg_no in client_msg_nos {
            if let Some((seq, _)) = channel::find_client_msg_no(state, group, client_msg_no, None)? {
                found.extend(channel::message(state, group, seq)?);
            }
        }
        Ok(found)
    }

    /// `/message`: by message id if it is not 0, else by client_msg_no.
    pub async fn find_message(
        &self,
        channel_id: &str,
        channel_type: u8,
        message_id: i64,
        client_msg_no: &str,
    ) -> ServiceResult<Option<StoredMessage>> {
        let (ids, client_msg_nos) = if message_id != 0 {
            (vec![message_id], vec![])
        } else if !client_msg_no.is_empty() {
            (vec![], vec![client_msg_no.to_string()])
        } else {
            return Err(ServiceError::Invalid("message_id or client_msg_no is required".into()));
        };
        Ok(self.find_messages(channel_id, channel_type, &[], &ids, &client_msg_nos).await?.pop())
    }
}

/// Runs the futures concurrently on this task; their outputs in order. (The service also
/// builds under the simulator, so it spawns nothing.)
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|output| output.expect("every future finished")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_their_bits() {
        for bits in 0..8u8 {
            assert_eq!(MessageHeader::from_bits(bits).bits(), bits);
        }
        let header = MessageHeader { no_persist: false, red_dot: true, sync_once: true };
        assert_eq!(header.bits(), HEADER_RED_DOT | HEADER_SYNC_ONCE);
    }

    #[test]
    fn temp_channel_ids_are_fnv1a_of_the_joined_uids() {
        // FNV-1a 64 of "a,b" (computed independently).
        assert_eq!(
            temp_channel_id(&["a".into(), "b".into()]),
            format!("{}____cmd", 0xe616_9119_0460_25e6u64)
        );
        assert_ne!(temp_channel_id(&["ab".into()]), temp_channel_id(&["a".into(), "b".into()]));
    }

    #[test]
    fn sends_are_checked() {
        let good = SendRequest {
            from_uid: "alice".into(),
            channel_id: "g1".into(),
            channel_type: 2,
            payload: Bytes::from_static(b"hi"),
            ..SendRequest::default()
        };
        assert!(check_send(&good).is_ok());
        let bad = [
            SendRequest { payload: Bytes::new(), ..good.clone() },
            SendRequest { channel_id: "".into(), ..good.clone() },
            SendRequest { channel_id: "a@b".into(), ..good.clone() },
            SendRequest { from_uid: "x#y".into(), ..good.clone() },
            SendRequest { channel_type: 0, ..good.clone() },
            SendRequest { client_msg_no: "n".repeat(CLIENT_MSG_NO_BYTES_MAX + 1), ..good.clone() },
            SendRequest { payload: Bytes::from(vec![0; PAYLOAD_BYTES_MAX + 1]), ..good.clone() },
        ];
        for request in bad {
            assert!(matches!(check_send(&request), Err(ServiceError::Invalid(_))), "{request:?}");
        }
    }
}

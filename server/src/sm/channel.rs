//! The channel state machine: the channel's messages, in order, and the indexes that find
//! them (by message id, by `(from_uid, client_msg_no)`), plus each sender's last seq.
//!
//! **Seqs are dense.** `message_seq` is a counter in the channel's state, starting at 1 and
//! assigned at apply, not the raft log index (which has holes at leader no-ops and at
//! duplicates): clients page history by seq and count unread as `last - cursor`, which
//! both want WuKongIM's gap-free seqs.
//!
//! **Sends are idempotent.** A message whose `(from_uid, client_msg_no)` the channel has
//! seen is not stored again; applying it answers the original's id and seq with
//! `duplicate: true` (WuKongIM v3 does this; v2 stores retries twice).
//!
//! Everything the apply needs (message id, timestamp, ...) is in the command; the apply
//! reads no clock.
//!
//! State keys (inside the channel group's key space):
//! - `m/<seq u64>` → the message record ([`MessageRecord`] bytes, as proposed);
//! - `i/<message_id i64>` → seq;
//! - `c/<len u16><client_msg_no><from_uid>` → seq, message_id;
//! - `s/<from_uid>` → the seq of the sender's last message;
//! - `last_seq` → the channel's last seq.

use bytes::Bytes;
use serde::{Serialize, Serializer};
use storage::{GroupId, Order};

use super::message_record::{MessageRecord, RecordError};
use super::{Applied, NewMessages, StateMachine, StateRead, Tx};

/// Messages in one command. The gateway batches a driver iteration's sends to a channel
/// into one command; beyond this the batch is split, so one apply stays short (a few
/// milliseconds at most) and a command stays far below the raft entry size.
pub const MESSAGES_PER_COMMAND_MAX: usize = 1024;

/// The command tags. Never `[` (0x5b): a command that starts with `[` is the JSON array of
/// a command's bytes, as `Node::propose_channel` serializes it.
const TAG_APPEND: u8 = 0x01;

/// Messages by seq. They are never deleted, so the last one's seq is the channel's last
/// seq: no key of its own to rewrite with every append. (Stores written before kept one,
/// `last_seq`, which is left unread.)
const MESSAGE_PREFIX: &[u8] = b"m/";
const ID_PREFIX: &[u8] = b"i/";
const CLIENT_MSG_NO_PREFIX: &[u8] = b"c/";
const SENDER_PREFIX: &[u8] = b"s/";

/// A command to a channel's group, in its binary encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelCommand {
    Append(AppendBatch),
}

impl ChannelCommand {
    /// The command's bytes, as the state machine decodes them.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            ChannelCommand::Append(batch) => batch.into_bytes(),
        }
    }
}

/// `Node::propose_channel` serializes commands with serde_json: as a JSON array of the
/// binary encoding, which the state machine also accepts. The message path proposes the
/// binary encoding directly.
impl Serialize for ChannelCommand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.clone().into_bytes())
    }
}

/// Messages to append, encoded as they are built: `TAG_APPEND | count u32 | (len u32 |
/// record)*`, so that proposing them copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendBatch {
    bytes: Vec<u8>,
    count: u32,
}

impl Default for AppendBatch {
    fn default() -> AppendBatch {
        AppendBatch::new()
    }
}

impl AppendBatch {
    pub fn new() -> AppendBatch {
        let mut bytes = Vec::with_capacity(256);
        bytes.push(TAG_APPEND);
        bytes.extend_from_slice(&0u32.to_be_bytes());
        AppendBatch { bytes, count: 0 }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a message. Callers keep batches at [`MESSAGES_PER_COMMAND_MAX`] or fewer.
    pub fn push(&mut self, record: &MessageRecord<'_>) -> Result<(), RecordError> {
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&0u32.to_be_bytes());
        if let Err(error) = record.encode_into(&mut self.bytes) {
            self.bytes.truncate(len_at);
            return Err(error);
        }
        let len = (self.bytes.len() - len_at - 4) as u32;
        self.bytes[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        self.count += 1;
        Ok(())
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.bytes[1..5].copy_from_slice(&self.count.to_be_bytes());
        self.bytes
    }
}

/// The records of an append command, each with its bytes, all decoded (a command with one
/// bad record is refused whole).
fn decode_append(command: &[u8]) -> Result<Vec<(MessageRecord<'_>, &[u8])>, String> {
    let (&tag, rest) = command.split_first().ok_or("empty channel command")?;
    if tag != TAG_APPEND {
        return Err(format!("unknown channel command tag {tag}"));
    }
    let count = rest.get(..4).ok_or("truncated channel command")?;
    let count = u32::from_be_bytes(count.try_into().expect("4 bytes")) as usize;
    if count > MESSAGES_PER_COMMAND_MAX {
        return Err(format!("{count} messages in one command; at most {MESSAGES_PER_COMMAND_MAX}"));
    }
    let mut rest = &rest[4..];
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let len = rest.get(..4).ok_or("truncated channel command")?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let bytes = rest.get(4..4 + len).ok_or("truncated channel command")?;
        rest = &rest[4 + len..];
        let record = MessageRecord::decode(bytes).map_err(|error| error.to_string())?;
        records.push((record, bytes));
    }
    if !rest.is_empty() {
        return Err("trailing bytes after the channel command".into());
    }
    Ok(records)
}

/// Bytes of new messages a channel keeps for the fan-out between two looks of the driver,
/// at most. An iteration appends a few messages to a channel; past this (a burst of large
/// ones) the fan-out reads them back from the store instead.
pub const NEW_MESSAGES_BYTES_MAX: usize = 256 * 1024;

#[derive(Default)]
pub struct ChannelSm {
    /// The channel's last seq, once read: every append reads it, and only this state
    /// machine changes it while the group is loaded.
    last_seq: Option<u64>,
    /// The seqs appended since [`StateMachine::take_appended`] last looked.
    appended: Option<(u64, u64)>,
    /// Those messages, so that the fan-out need not read back what was just written...
    kept: Vec<StoredMessage>,
    kept_bytes: usize,
    /// ...unless they passed [`NEW_MESSAGES_BYTES_MAX`].
    kept_too_many: bool,
}

impl ChannelSm {
    /// Keeps a stored message for the fan-out (sharing the bytes written to the store).
    fn keep(&mut self, seq: u64, bytes: Bytes) {
        if self.kept_too_many || self.kept_bytes + bytes.len() > NEW_MESSAGES_BYTES_MAX {
            self.kept_too_many = true;
            self.kept = Vec::new();
            return;
        }
        self.kept_bytes += bytes.len();
        self.kept.push(StoredMessage { seq, bytes });
    }
}

impl StateMachine for ChannelSm {
    /// For a command of one message: that message's id and seq (the original's, with
    /// `duplicate`, for a message seen before). For a batch: the last message's id, the
    /// channel's last seq after the batch, and whether any message was a duplicate; with
    /// none, the i-th of n messages got seq `message_seq - n + 1 + i`.
    fn apply(&mut self, command: &[u8], tx: &mut Tx<'_>) -> storage::Result<Applied> {
        let json;
        let command = if command.first() == Some(&b'[') {
            json = match serde_json::from_slice::<Vec<u8>>(command) {
                Ok(bytes) => bytes,
                Err(error) => {
                    return Ok(Applied::Refused(format!("channel command does not parse: {error}")))
                }
            };
            &json[..]
        } else {
            command
        };
        let records = match decode_append(command) {
            Ok(records) => records,
            Err(reason) => return Ok(Applied::Refused(reason)),
        };
        let mut last_seq = match self.last_seq {
            Some(last_seq) => last_seq,
            None => tx.last_key(MESSAGE_PREFIX)?.map_or(0, |key| message_key_seq(&key)),
        };
        let seq_before = last_seq;
        let mut answer = Applied::Done;
        let mut any_duplicate = false;
        for (record, bytes) in &records {
            let (message_id, message_seq, stored) = append(tx, record, bytes, &mut last_seq)?;
            let duplicate = stored.is_none();
            if let Some(stored) = stored {
                self.keep(message_seq, stored);
            }
            any_duplicate |= duplicate;
            answer = Applied::Message { message_id, message_seq, duplicate };
        }
        if records.len() > 1 {
            if let Applied::Message { message_id, .. } = answer {
                answer = Applied::Message { message_id, message_seq: last_seq, duplicate: any_duplicate };
            }
        }
        if last_seq > seq_before {
            let first = self.appended.map_or(seq_before + 1, |(first, _)| first);
            self.appended = Some((first, last_seq));
        }
        self.last_seq = Some(last_seq);
        Ok(answer)
    }

    fn take_appended(&mut self) -> Option<NewMessages> {
        let (first_seq, last_seq) = self.appended.take()?;
        let kept = std::mem::take(&mut self.kept);
        let complete = !std::mem::take(&mut self.kept_too_many)
            && kept.first().is_some_and(|m| m.seq == first_seq)
            && kept.len() as u64 == last_seq - first_seq + 1;
        self.kept_bytes = 0;
        Some(NewMessages { first_seq, last_seq, messages: complete.then_some(kept) })
    }
}

/// Stores one message (unless it is a duplicate): its id, its seq, and what was stored under
/// that seq (`None` for a duplicate).
fn append(
    tx: &mut Tx<'_>,
    record: &MessageRecord<'_>,
    bytes: &[u8],
    last_seq: &mut u64,
) -> storage::Result<(i64, u64, Option<Bytes>)> {
    // An empty client_msg_no (the service always sets one) is not an identity.
    let client_key =
        (!record.client_msg_no.is_empty()).then(|| client_msg_no_key(record.client_msg_no, record.from_uid));
    if let Some(key) = &client_key {
        if let Some(seen) = tx.get(key)? {
            return Ok((be_i64(&seen, 8), load_u64(Some(&seen)), None));
        }
    }
    *last_seq += 1;
    let seq = Bytes::copy_from_slice(&last_seq.to_be_bytes());
    let stored = Bytes::copy_from_slice(bytes);
    tx.put(message_key(*last_seq), stored.clone());
    tx.put(id_key(record.message_id), seq.clone());
    if let Some(key) = client_key {
        let mut value = Vec::with_capacity(16);
        value.extend_from_slice(&last_seq.to_be_bytes());
        value.extend_from_slice(&record.message_id.to_be_bytes());
        tx.put(key, value);
    }
    tx.put(sender_key(record.from_uid), seq);
    Ok((record.message_id, *last_seq, Some(stored)))
}

fn message_key(seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(MESSAGE_PREFIX.len() + 8);
    key.extend_from_slice(MESSAGE_PREFIX);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The seq in a message's key.
fn message_key_seq(key: &[u8]) -> u64 {
    load_u64(key.get(MESSAGE_PREFIX.len()..))
}

fn id_key(message_id: i64) -> Vec<u8> {
    let mut key = Vec::with_capacity(ID_PREFIX.len() + 8);
    key.extend_from_slice(ID_PREFIX);
    key.extend_from_slice(&message_id.to_be_bytes());
    key
}

/// The length prefix keeps `("ab", "c")` and `("a", "bc")` apart, and lets a scan find every
/// sender's message with one client_msg_no.
fn client_msg_no_prefix(client_msg_no: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(CLIENT_MSG_NO_PREFIX.len() + 2 + client_msg_no.len() + 16);
    key.extend_from_slice(CLIENT_MSG_NO_PREFIX);
    key.extend_from_slice(&(client_msg_no.len() as u16).to_be_bytes());
    key.extend_from_slice(client_msg_no.as_bytes());
    key
}

fn client_msg_no_key(client_msg_no: &str, from_uid: &str) -> Vec<u8> {
    let mut key = client_msg_no_prefix(client_msg_no);
    key.extend_from_slice(from_uid.as_bytes());
    key
}

fn sender_key(from_uid: &str) -> Vec<u8> {
    [SENDER_PREFIX, from_uid.as_bytes()].concat()
}

/// A big-endian u64 from the first 8 bytes; 0 when absent or short (values are written by
/// this module and checksummed by the store).
fn load_u64(value: Option<&[u8]>) -> u64 {
    value.and_then(|v| v.get(..8)).map_or(0, |b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

fn be_i64(value: &[u8], at: usize) -> i64 {
    value.get(at..at + 8).map_or(0, |b| i64::from_be_bytes(b.try_into().expect("8 bytes")))
}

// ---- Reads, outside raft, of what the apply wrote. ----

/// A stored message: its seq and its record's bytes (checked when loaded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: u64,
    bytes: Bytes,
}

impl StoredMessage {
    fn load(group: GroupId, seq: u64, bytes: Bytes) -> storage::Result<StoredMessage> {
        match MessageRecord::decode(&bytes) {
            Ok(_) => Ok(StoredMessage { seq, bytes }),
            Err(error) => Err(storage::Error::Corrupt {
                cf: "kv",
                key: format!("{group:?} message {seq}"),
                reason: error.to_string(),
            }),
        }
    }

    /// A message of `bytes` zero bytes (not a record), for tests of what carries messages.
    #[cfg(test)]
    pub(crate) fn for_test(seq: u64, bytes: usize) -> StoredMessage {
        StoredMessage { seq, bytes: Bytes::from(vec![0; bytes]) }
    }

    /// Bytes of its record.
    pub fn record_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn record(&self) -> MessageRecord<'_> {
        MessageRecord::decode(&self.bytes).expect("records are checked when loaded")
    }

    /// The payload without a copy.
    pub fn payload(&self) -> Bytes {
        self.bytes.slice_ref(self.record().payload)
    }
}

/// The channel's last seq; 0 for a channel without messages.
pub fn last_seq(state: &dyn StateRead, group: GroupId) -> storage::Result<u64> {
    Ok(super::last_key(state, group, MESSAGE_PREFIX)?.map_or(0, |key| message_key_seq(&key)))
}

/// The seq of `uid`'s last message in the channel; 0 if it sent none.
pub fn sender_last_seq(state: &dyn StateRead, group: GroupId, uid: &str) -> storage::Result<u64> {
    Ok(load_u64(state.get(group, &sender_key(uid))?.as_deref()))
}

pub fn message(state: &dyn StateRead, group: GroupId, seq: u64) -> storage::Result<Option<StoredMessage>> {
    match state.get(group, &message_key(seq))? {
        Some(bytes) => Ok(Some(StoredMessage::load(group, seq, bytes)?)),
        None => Ok(None),
    }
}

/// The messages with seqs in `[from, to]`, at most `limit`, from the low end (`Ascending`)
/// or the high end (`Descending`), in that order.
pub fn messages(
    state: &dyn StateRead,
    group: GroupId,
    from: u64,
    to: u64,
    limit: usize,
    order: Order,
) -> storage::Result<Vec<StoredMessage>> {
    if from > to || limit == 0 {
        return Ok(Vec::new());
    }
    let end = match to.checked_add(1) {
        Some(after) => message_key(after),
        None => storage::prefix_end(MESSAGE_PREFIX).expect("the prefix has an end"),
    };
    let found = state.scan(group, &message_key(from), Some(&end), limit, order)?;
    found.into_iter().map(|(key, value)| StoredMessage::load(group, message_key_seq(&key), value)).collect()
}

pub fn seq_of_message_id(
    state: &dyn StateRead,
    group: GroupId,
    message_id: i64,
) -> storage::Result<Option<u64>> {
    Ok(state.get(group, &id_key(message_id))?.map(|value| load_u64(Some(&value))))
}

/// The seq and message id of the message `from_uid` sent as `client_msg_no`; with no
/// `from_uid`, of the first (by sender) message with that client_msg_no.
pub fn find_client_msg_no(
    state: &dyn StateRead,
    group: GroupId,
    client_msg_no: &str,
    from_uid: Option<&str>,
) -> storage::Result<Option<(u64, i64)>> {
    let value = match from_uid {
        Some(from_uid) => state.get(group, &client_msg_no_key(client_msg_no, from_uid))?,
        None => {
            let prefix = client_msg_no_prefix(client_msg_no);
            let end = storage::prefix_end(&prefix);
            state
                .scan(group, &prefix, end.as_deref(), 1, Order::Ascending)?
                .into_iter()
                .next()
                .map(|(_, v)| v)
        }
    };
    Ok(value.map(|value| (load_u64(Some(&value)), be_i64(&value, 8))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use storage::{MemEngine, Store, Tier, WriteBatch};

    use super::*;
    use crate::sm::message_record::HEADER_RED_DOT;

    fn record<'a>(message_id: i64, from_uid: &'a str, client_msg_no: &'a str) -> MessageRecord<'a> {
        MessageRecord {
            header: HEADER_RED_DOT,
            setting: 0,
            message_id,
            timestamp_ms: 1_700_000_000_000 + message_id,
            expire: 0,
            from_uid,
            client_msg_no,
            topic: "",
            payload: b"hello",
        }
    }

    fn command(records: &[MessageRecord<'_>]) -> Vec<u8> {
        let mut batch = AppendBatch::new();
        for record in records {
            batch.push(record).unwrap();
        }
        ChannelCommand::Append(batch).into_bytes()
    }

    /// Applies `command` as the driver does: into one batch, then commits it.
    fn apply(store: &Store<MemEngine>, group: GroupId, command: &[u8]) -> Applied {
        let mut batch = WriteBatch::new();
        let mut written = BTreeMap::new();
        let mut tx = Tx::new(store, group, &mut batch, &mut written);
        let applied = ChannelSm::default().apply(command, &mut tx).unwrap();
        store.commit(&batch).unwrap();
        applied
    }

    fn seqs(
        store: &Store<MemEngine>,
        group: GroupId,
        from: u64,
        to: u64,
        limit: usize,
        order: Order,
    ) -> Vec<u64> {
        messages(store, group, from, to, limit, order).unwrap().iter().map(|m| m.seq).collect()
    }

    #[test]
    fn seqs_are_dense_from_one_and_duplicates_answer_the_original() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 7);
        let first = apply(&store, group, &command(&[record(100, "alice", "a-1")]));
        assert_eq!(first, Applied::Message { message_id: 100, message_seq: 1, duplicate: false });
        let again = apply(&store, group, &command(&[record(101, "alice", "a-1")]));
        assert_eq!(again, Applied::Message { message_id: 100, message_seq: 1, duplicate: true });
        // The same client_msg_no from another sender is another message.
        let bob = apply(&store, group, &command(&[record(102, "bob", "a-1")]));
        assert_eq!(bob, Applied::Message { message_id: 102, message_seq: 2, duplicate: false });
        assert_eq!(last_seq(&store, group).unwrap(), 2);
        assert_eq!(seq_of_message_id(&store, group, 102).unwrap(), Some(2));
        assert_eq!(seq_of_message_id(&store, group, 101).unwrap(), None);
        assert_eq!(find_client_msg_no(&store, group, "a-1", Some("bob")).unwrap(), Some((2, 102)));
        assert!(find_client_msg_no(&store, group, "a-1", None).unwrap().is_some());
        assert_eq!(sender_last_seq(&store, group, "alice").unwrap(), 1);
        let stored = message(&store, group, 2).unwrap().unwrap();
        assert_eq!(stored.record(), record(102, "bob", "a-1"));
        assert_eq!(&stored.payload()[..], b"hello");
    }

    #[test]
    fn the_last_seq_is_the_last_message_even_before_it_is_stored() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 3);
        apply(&store, group, &command(&[record(1, "a", "1")]));
        // A state machine loaded in the middle of an iteration (two here, one per
        // command) reads the last seq through the iteration's own writes.
        let mut batch = WriteBatch::new();
        let mut written = BTreeMap::new();
        let mut tx = Tx::new(&store, group, &mut batch, &mut written);
        for (id, expected) in [(2, 2), (3, 3)] {
            let applied = ChannelSm::default().apply(&command(&[record(id, "a", &id.to_string())]), &mut tx);
            assert_eq!(
                applied.unwrap(),
                Applied::Message { message_id: id, message_seq: expected, duplicate: false }
            );
        }
        store.commit(&batch).unwrap();
        assert_eq!(last_seq(&store, group).unwrap(), 3);
        assert_eq!(store.get(group, b"last_seq").unwrap(), None, "no key of its own");
    }

    #[test]
    fn a_batch_numbers_its_messages_in_order_and_dedupes_within_itself() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 1);
        let batch = [record(1, "a", "1"), record(2, "a", "2"), record(3, "a", "3")];
        let applied = apply(&store, group, &command(&batch));
        assert_eq!(applied, Applied::Message { message_id: 3, message_seq: 3, duplicate: false });
        let batch = [record(4, "a", "4"), record(5, "a", "2"), record(6, "a", "4")];
        let applied = apply(&store, group, &command(&batch));
        assert_eq!(applied, Applied::Message { message_id: 4, message_seq: 4, duplicate: true });
        assert_eq!(seqs(&store, group, 1, u64::MAX, 100, Order::Ascending), [1, 2, 3, 4]);
        assert_eq!(seqs(&store, group, 2, 3, 100, Order::Descending), [3, 2]);
        assert_eq!(seqs(&store, group, 1, 4, 2, Order::Descending), [4, 3]);
        assert_eq!(seqs(&store, group, 3, 2, 2, Order::Ascending), Vec::<u64>::new());
    }

    #[test]
    fn bad_commands_are_refused_and_change_nothing() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 1);
        let good = command(&[record(1, "a", "1"), record(2, "a", "2")]);
        for bad in [&b""[..], b"\x07", &good[..good.len() - 1], &[&good[..], b"x"].concat()[..], b"[1,2"] {
            assert!(matches!(apply(&store, group, bad), Applied::Refused(_)), "{bad:?}");
        }
        assert_eq!(last_seq(&store, group).unwrap(), 0);
        let mut too_many = vec![TAG_APPEND];
        too_many.extend_from_slice(&(MESSAGES_PER_COMMAND_MAX as u32 + 1).to_be_bytes());
        assert!(matches!(apply(&store, group, &too_many), Applied::Refused(_)));
    }

    #[test]
    fn the_json_form_of_a_command_applies_like_its_bytes() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 1);
        let mut batch = AppendBatch::new();
        batch.push(&record(9, "a", "x")).unwrap();
        let json = serde_json::to_vec(&ChannelCommand::Append(batch)).unwrap();
        assert_eq!(json[0], b'[');
        assert_eq!(
            apply(&store, group, &json),
            Applied::Message { message_id: 9, message_seq: 1, duplicate: false }
        );
    }

    /// Applies `command` with `sm` (kept across calls, as the driver keeps a group's).
    fn apply_with(sm: &mut ChannelSm, store: &Store<MemEngine>, group: GroupId, command: &[u8]) {
        let mut batch = WriteBatch::new();
        let mut written = BTreeMap::new();
        let mut tx = Tx::new(store, group, &mut batch, &mut written);
        sm.apply(command, &mut tx).unwrap();
        store.commit(&batch).unwrap();
    }

    #[test]
    fn the_new_messages_come_with_their_seqs_as_stored_and_not_past_their_bound() {
        let store = Store::new(MemEngine::new());
        let group = GroupId::new(Tier::Channel, 1);
        let mut sm = ChannelSm::default();
        apply_with(&mut sm, &store, group, &command(&[record(1, "a", "1"), record(2, "a", "2")]));
        // A duplicate adds nothing; the next message continues the seqs.
        apply_with(&mut sm, &store, group, &command(&[record(3, "a", "2"), record(4, "a", "4")]));
        let new = sm.take_appended().unwrap();
        assert_eq!((new.first_seq, new.last_seq), (1, 3));
        let kept = new.messages.unwrap();
        assert_eq!(kept, messages(&store, group, 1, 3, 10, Order::Ascending).unwrap());
        assert_eq!(sm.take_appended(), None, "taken once");

        // More bytes than the bound between two looks: only the seqs.
        let mut sent = 0;
        let ids: Vec<String> = (0..=NEW_MESSAGES_BYTES_MAX / record(0, "a", "x").encoded_len())
            .map(|i| format!("big-{i}"))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            apply_with(&mut sm, &store, group, &command(&[record(10 + i as i64, "a", id)]));
            sent += 1;
        }
        let new = sm.take_appended().unwrap();
        assert_eq!((new.first_seq, new.last_seq), (4, 3 + sent));
        assert_eq!(new.messages, None);
        // And the next look starts afresh.
        apply_with(&mut sm, &store, group, &command(&[record(99_999, "a", "after")]));
        assert_eq!(sm.take_appended().unwrap().messages.map(|m| m.len()), Some(1));
    }
}

//! Keys and values as the engines store them.
//!
//! Keys are big-endian so that byte order is numeric order: a group's log entries sit next
//! to each other in index order and a range scan is one seek. Every value starts with a
//! CRC32C over the key and the body, so a flipped bit, a torn write, or a value found under
//! the wrong key reads as [`Error::Corrupt`], never as data.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes};
use consensus::{Entry, HardState, LogIndex, Membership, NodeId, Payload, SnapshotMeta, Term};

use crate::{Cf, Error, GroupId, Result};

/// Bytes of an encoded [`GroupId`]: the tier, then the id.
pub const GROUP_KEY_LEN: usize = 9;
const CRC_LEN: usize = 4;

// Tags of the per-group records in the `meta` column family.
const META_HARD_STATE: u8 = 1;
const META_SNAPSHOT: u8 = 2;
const META_MEMBERSHIP: u8 = 3;
const META_SNAPSHOT_DATA: u8 = 4;

pub fn group_prefix(group: GroupId) -> [u8; GROUP_KEY_LEN] {
    let mut key = [0; GROUP_KEY_LEN];
    key[0] = group.tier as u8;
    key[1..].copy_from_slice(&group.id.to_be_bytes());
    key
}

pub fn decode_group(key: &[u8]) -> Option<GroupId> {
    let tier = crate::Tier::from_u8(*key.first()?)?;
    let id = u64::from_be_bytes(key.get(1..GROUP_KEY_LEN)?.try_into().ok()?);
    Some(GroupId { tier, id })
}

/// The smallest key greater than every key that starts with `prefix`, or `None` when no
/// such key exists (the prefix is all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub fn log_key(group: GroupId, index: LogIndex) -> Vec<u8> {
    let mut key = Vec::with_capacity(GROUP_KEY_LEN + 8);
    key.extend_from_slice(&group_prefix(group));
    key.extend_from_slice(&index.0.to_be_bytes());
    key
}

pub fn log_key_index(key: &[u8]) -> LogIndex {
    LogIndex(u64::from_be_bytes(key[GROUP_KEY_LEN..].try_into().expect("log keys are 17 bytes")))
}

pub fn hard_state_key(group: GroupId) -> Vec<u8> {
    meta_key(group, META_HARD_STATE, &[])
}

/// The snapshot's metadata; its data is a record of its own so that reading where the log
/// starts never reads the data.
pub fn snapshot_key(group: GroupId) -> Vec<u8> {
    meta_key(group, META_SNAPSHOT, &[])
}

pub fn snapshot_data_key(group: GroupId) -> Vec<u8> {
    meta_key(group, META_SNAPSHOT_DATA, &[])
}

/// Membership entries are indexed beside the log so that a restart finds them without
/// reading the log.
pub fn membership_key(group: GroupId, index: LogIndex) -> Vec<u8> {
    meta_key(group, META_MEMBERSHIP, &index.0.to_be_bytes())
}

pub fn membership_prefix(group: GroupId) -> Vec<u8> {
    meta_key(group, META_MEMBERSHIP, &[])
}

pub fn membership_key_index(key: &[u8]) -> LogIndex {
    LogIndex(u64::from_be_bytes(key[GROUP_KEY_LEN + 1..].try_into().expect("membership keys are 18 bytes")))
}

fn meta_key(group: GroupId, tag: u8, suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(GROUP_KEY_LEN + 1 + suffix.len());
    key.extend_from_slice(&group_prefix(group));
    key.push(tag);
    key.extend_from_slice(suffix);
    key
}

pub fn kv_key(group: GroupId, user_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(GROUP_KEY_LEN + user_key.len());
    key.extend_from_slice(&group_prefix(group));
    key.extend_from_slice(user_key);
    key
}

/// `body` behind a checksum of the key and the body.
pub fn seal(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(CRC_LEN + body.len());
    value.put_u32(checksum(key, body));
    value.extend_from_slice(body);
    value
}

/// The body of a sealed value, after checking it belongs to `key` and is intact.
pub fn open<'a>(cf: Cf, key: &[u8], value: &'a [u8]) -> Result<&'a [u8]> {
    if value.len() < CRC_LEN {
        return Err(corrupt(cf, key, "value shorter than its checksum"));
    }
    let (crc, body) = value.split_at(CRC_LEN);
    if u32::from_be_bytes(crc.try_into().unwrap()) != checksum(key, body) {
        return Err(corrupt(cf, key, "checksum mismatch"));
    }
    Ok(body)
}

fn checksum(key: &[u8], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(key), body)
}

pub fn corrupt(cf: Cf, key: &[u8], reason: &str) -> Error {
    Error::Corrupt { cf: cf.name(), key: hex(key), reason: reason.to_string() }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const PAYLOAD_NOOP: u8 = 0;
const PAYLOAD_COMMAND: u8 = 1;
const PAYLOAD_MEMBERSHIP: u8 = 2;

/// An entry sealed under its key ([`seal`] of its body), in one allocation: the append
/// path's per-entry cost. The body: term, payload kind, payload; the index is the key's.
pub fn sealed_entry(key: &[u8], entry: &Entry) -> Vec<u8> {
    let mut value = Vec::with_capacity(CRC_LEN + 9 + entry.size_bytes());
    value.put_u32(0);
    put_entry(&mut value, entry);
    let crc = checksum(key, &value[CRC_LEN..]);
    value[..CRC_LEN].copy_from_slice(&crc.to_be_bytes());
    value
}

fn put_entry(body: &mut Vec<u8>, entry: &Entry) {
    body.put_u64(entry.term.0);
    match &entry.payload {
        Payload::Noop => body.put_u8(PAYLOAD_NOOP),
        Payload::Command(data) => {
            body.put_u8(PAYLOAD_COMMAND);
            body.extend_from_slice(data);
        }
        Payload::Membership(m) => {
            body.put_u8(PAYLOAD_MEMBERSHIP);
            put_membership(body, m);
        }
    }
}

/// Decodes an entry body. `body` must have passed [`open`]; a body that still does not
/// parse (a bug, or a checksum collision) is reported as corrupt all the same.
pub fn decode_entry(key: &[u8], body: &[u8]) -> Result<Entry> {
    let bad = || corrupt(Cf::Log, key, "entry does not parse");
    let mut buf = body;
    if buf.len() < 9 {
        return Err(bad());
    }
    let term = Term(buf.get_u64());
    let payload = match buf.get_u8() {
        PAYLOAD_NOOP if buf.is_empty() => Payload::Noop,
        PAYLOAD_COMMAND => Payload::Command(Bytes::copy_from_slice(buf)),
        PAYLOAD_MEMBERSHIP => Payload::Membership(get_membership(&mut buf).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    Ok(Entry { term, index: log_key_index(key), payload })
}

/// The term of an entry body without decoding its payload.
pub fn entry_term(key: &[u8], body: &[u8]) -> Result<Term> {
    let term = body.get(..8).ok_or_else(|| corrupt(Cf::Log, key, "entry does not parse"))?;
    Ok(Term(u64::from_be_bytes(term.try_into().unwrap())))
}

pub fn encode_hard_state(hs: &HardState) -> Vec<u8> {
    let mut body = Vec::with_capacity(24);
    body.put_u64(hs.term.0);
    body.put_u64(hs.vote.map_or(0, |v| v.0));
    body.put_u64(hs.commit.0);
    body
}

pub fn decode_hard_state(key: &[u8], mut body: &[u8]) -> Result<HardState> {
    if body.len() != 24 {
        return Err(corrupt(Cf::Meta, key, "hard state does not parse"));
    }
    let term = Term(body.get_u64());
    let vote = Some(NodeId(body.get_u64())).filter(|v| v.0 != 0);
    let commit = LogIndex(body.get_u64());
    Ok(HardState { term, vote, commit })
}

pub fn encode_snapshot_meta(meta: &SnapshotMeta) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    body.put_u64(meta.index.0);
    body.put_u64(meta.term.0);
    put_membership(&mut body, &meta.membership);
    body
}

pub fn decode_snapshot_meta(key: &[u8], mut body: &[u8]) -> Result<SnapshotMeta> {
    let bad = || corrupt(Cf::Meta, key, "snapshot metadata does not parse");
    if body.len() < 16 {
        return Err(bad());
    }
    let index = LogIndex(body.get_u64());
    let term = Term(body.get_u64());
    let membership = get_membership(&mut body).filter(|_| body.is_empty()).ok_or_else(bad)?;
    Ok(SnapshotMeta { index, term, membership })
}

pub fn encode_membership(m: &Membership) -> Vec<u8> {
    let mut body = Vec::new();
    put_membership(&mut body, m);
    body
}

pub fn decode_membership(key: &[u8], mut body: &[u8]) -> Result<Membership> {
    let m = get_membership(&mut body).filter(|_| body.is_empty());
    m.ok_or_else(|| corrupt(Cf::Meta, key, "membership does not parse"))
}

fn put_membership(buf: &mut Vec<u8>, m: &Membership) {
    for set in [&m.voters, &m.learners] {
        buf.put_u32(set.len() as u32);
        for id in set {
            buf.put_u64(id.0);
        }
    }
}

fn get_membership(buf: &mut &[u8]) -> Option<Membership> {
    let mut sets = [BTreeSet::new(), BTreeSet::new()];
    for set in &mut sets {
        if buf.len() < 4 {
            return None;
        }
        let n = buf.get_u32() as usize;
        if buf.len() < n.checked_mul(8)? {
            return None;
        }
        for _ in 0..n {
            set.insert(NodeId(buf.get_u64()));
        }
    }
    let [voters, learners] = sets;
    Some(Membership { voters, learners })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tier;

    #[test]
    fn keys_sort_by_group_then_index() {
        let a = GroupId::new(Tier::Slot, 1);
        let b = GroupId::new(Tier::Slot, 256);
        assert!(log_key(a, LogIndex(255)) < log_key(a, LogIndex(256)));
        assert!(log_key(a, LogIndex(u64::MAX)) < log_key(b, LogIndex(0)));
        assert_eq!(decode_group(&log_key(b, LogIndex(7))), Some(b));
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn a_value_under_another_key_is_corrupt() {
        let value = seal(b"k1", b"body");
        assert_eq!(open(Cf::Kv, b"k1", &value).unwrap(), b"body");
        assert!(open(Cf::Kv, b"k2", &value).is_err());
    }

    #[test]
    fn entries_round_trip() {
        let group = GroupId::new(Tier::Channel, 9);
        for payload in [
            Payload::Noop,
            Payload::Command(Bytes::from_static(b"hello")),
            Payload::Membership(Membership::new([1, 2, 3], [4])),
        ] {
            let entry = Entry { term: Term(3), index: LogIndex(11), payload };
            let key = log_key(group, entry.index);
            let value = sealed_entry(&key, &entry);
            assert_eq!(decode_entry(&key, open(Cf::Log, &key, &value).unwrap()).unwrap(), entry);
        }
    }
}

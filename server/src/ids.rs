//! Identifiers as WuKongIM makes them: snowflake message ids, person-channel fake ids, and
//! the slot a key belongs to.

use std::hash::Hasher;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The channel types of WuKongIM (`reference/wukongim.md` §2.1).
pub const CHANNEL_PERSON: u8 = 1;
pub const CHANNEL_GROUP: u8 = 2;

/// The uid WuKongIM sends system messages as (`from_uid` defaults to it).
pub const SYSTEM_UID: &str = "____system";

/// The slot of a channel or user key: `crc32_ieee(key) % slot_count`, as WuKongIM.
pub fn slot_of(key: &str, slot_count: u32) -> u32 {
    crc32fast::hash(key.as_bytes()) % slot_count
}

/// Which of `shards` locks (or workers) a key goes to, inside this process: a cheap hash,
/// several times faster than CRC32 on the short keys (uids) the fan-out looks up for every
/// member of a group for every message. Not WuKongIM's slot: [`slot_of`] is that.
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    let mut hasher = storage::GroupHasher::default();
    hasher.write(key);
    (hasher.finish() % shards as u64) as usize
}

/// The channel id of the person channel between `from` and `to`: the uid with the larger
/// CRC32 (IEEE) first, joined by `@`; on a tie `to` goes first (WuKongIM's
/// `GetFakeChannelIDWith`).
pub fn person_channel_id(from: &str, to: &str) -> String {
    if crc32fast::hash(from.as_bytes()) > crc32fast::hash(to.as_bytes()) {
        format!("{from}@{to}")
    } else {
        format!("{to}@{from}")
    }
}

/// The peer of `uid` in the person channel `channel_id` (`a@b`), if `uid` is one side.
pub fn person_peer<'a>(channel_id: &'a str, uid: &str) -> Option<&'a str> {
    let (a, b) = channel_id.split_once('@')?;
    match (a == uid, b == uid) {
        (true, _) => Some(b),
        (_, true) => Some(a),
        _ => None,
    }
}

/// Characters WuKongIM forbids in uids and channel ids (`options.IsSpecialChar`): `@` joins
/// person channel ids, `#` and `&` are separators elsewhere.
pub fn has_special_char(id: &str) -> bool {
    id.contains(['@', '#', '&'])
}

/// Twitter-style snowflake ids (`bwmarrin/snowflake`'s layout, as WuKongIM): 41 bits of
/// milliseconds since 2010-11-04, 10 bits of node id, 12 bits of sequence.
pub struct Snowflake {
    node: i64,
    state: Mutex<(i64, i64)>,
}

const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

impl Snowflake {
    /// `node` must be below 1024.
    pub fn new(node: u64) -> Snowflake {
        assert!(node < 1024, "snowflake node ids have 10 bits");
        Snowflake { node: node as i64, state: Mutex::new((0, 0)) }
    }

    pub fn next_id(&self) -> i64 {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last_ms, sequence) = *state;
        let now = now_ms().max(last_ms);
        let (ms, sequence) = if now == last_ms {
            if sequence == 4095 {
                // 4096 ids in this millisecond already: borrow the next one. The clock
                // catches up; ids stay unique and increasing.
                (last_ms + 1, 0)
            } else {
                (now, sequence + 1)
            }
        } else {
            (now, 0)
        };
        *state = (ms, sequence);
        ((ms - SNOWFLAKE_EPOCH_MS) << 22) | (self.node << 12) | sequence
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_channel_ids_put_the_larger_crc_first() {
        let (a, b) = ("alice", "bob");
        let id = person_channel_id(a, b);
        assert_eq!(id, person_channel_id(b, a));
        let (first, _) = id.split_once('@').unwrap();
        let other = if first == a { b } else { a };
        assert!(crc32fast::hash(first.as_bytes()) > crc32fast::hash(other.as_bytes()));
        assert_eq!(person_peer(&id, a), Some(b));
        assert_eq!(person_peer(&id, "carol"), None);
    }

    #[test]
    fn snowflakes_increase() {
        let ids = Snowflake::new(1001);
        let mut last = 0;
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert!(id > last);
            assert_eq!((id >> 12) & 1023, 1001);
            last = id;
        }
    }
}

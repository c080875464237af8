//! [`GroupMap`]: a hash map keyed by [`GroupId`] with a cheap hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::GroupId;

/// A map with an entry per group of a node, looked up for every group of every batch.
pub type GroupMap<V> = HashMap<GroupId, V, BuildHasherDefault<GroupHasher>>;

/// FxHash's multiply-and-rotate: several times cheaper than the default SipHash, which was
/// a tenth of a many-group batch's time. It does not resist chosen keys, and need not:
/// group ids are numbers the node hands out, never chosen by clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupHasher(u64);

const SEED: u64 = 0xf135_7aea_2e62_a9c5;

impl GroupHasher {
    fn add(&mut self, word: u64) {
        self.0 = self.0.wrapping_add(word).wrapping_mul(SEED);
    }
}

impl Hasher for GroupHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The product's best bits are its high ones; the table takes its bucket from the
        // low bits.
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;
    use crate::Tier;

    #[test]
    fn consecutive_groups_spread_over_buckets() {
        let build = BuildHasherDefault::<GroupHasher>::default();
        for bits in [4u32, 10, 16] {
            let buckets: HashSet<u64> = (0..1u64 << bits)
                .map(|id| build.hash_one(GroupId::new(Tier::Channel, id)) & ((1 << bits) - 1))
                .collect();
            // Random hashing fills about 63% of the buckets; sequential ids must do as well.
            assert!(buckets.len() as f64 > 0.55 * (1u64 << bits) as f64, "{bits} bits: {}", buckets.len());
        }
        let tags: HashSet<u64> =
            (0..4096u64).map(|id| build.hash_one(GroupId::new(Tier::Slot, id)) >> 57).collect();
        assert!(tags.len() > 100, "the top 7 bits vary too: {}", tags.len());
    }
}

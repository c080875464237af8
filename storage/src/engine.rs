//! What a storage engine must do: ordered bytes in a few column families, atomic batches,
//! and a sync that makes every written batch durable.

use crate::{Cf, Result};

/// One change in a [`RawBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawOp {
    Put {
        cf: Cf,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        cf: Cf,
        key: Vec<u8>,
    },
    /// Deletes every key in `[from, to)`.
    DeleteRange {
        cf: Cf,
        from: Vec<u8>,
        to: Vec<u8>,
    },
}

/// Changes applied in order, atomically: after a crash either all of a batch is there or
/// none of it (RocksDB's write-ahead log checksums each batch and drops a torn one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawBatch {
    pub ops: Vec<RawOp>,
    /// Bytes of keys and values, for metrics and bounds.
    pub bytes: usize,
}

impl RawBatch {
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.bytes += key.len() + value.len();
        self.ops.push(RawOp::Put { cf, key, value });
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.bytes += key.len();
        self.ops.push(RawOp::Delete { cf, key });
    }

    pub fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        self.bytes += from.len() + to.len();
        self.ops.push(RawOp::DeleteRange { cf, from, to });
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Ordered key-value storage in the column families of [`Cf`]. Reads see every written
/// batch, synced or not; only synced batches survive a crash.
pub trait Engine: Send + Sync + 'static {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Calls `visit` on the pairs with keys in `[from, to)` (`to: None` = no upper bound),
    /// ascending, or descending when `reverse`, until `visit` returns false.
    fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: Option<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;

    /// Applies `batch` atomically. It is visible at once and durable after the next `sync`.
    fn write(&self, batch: RawBatch) -> Result<()>;

    /// Makes every batch written so far durable (one fsync).
    fn sync(&self) -> Result<()>;
}

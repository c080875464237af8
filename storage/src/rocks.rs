//! [`RocksEngine`]: the engine of a real node, one RocksDB with a column family per [`Cf`].

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode,
    DBWithThreadMode, MemtableFactory, Options, ReadOptions, SingleThreaded, SliceTransform, WriteOptions,
};

use crate::codec::{prefix_end, GROUP_KEY_LEN};
use crate::{Cf, Engine, Error, RawBatch, RawOp, Result, Store};

type Db = DBWithThreadMode<SingleThreaded>;

/// Hash buckets of the log family's memtable: 512 KiB of pointers per memtable.
const LOG_MEMTABLE_BUCKETS: usize = 65_536;

/// Sizes a deployment may want to change; the defaults suit a laptop or a small server.
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// Shared by all column families. Reads that matter (recent messages, state lookups)
    /// are mostly of recently written data, which the memtables still hold, so the cache
    /// mostly serves history reads: 128 MiB keeps the hot data blocks in memory (index and
    /// filter blocks live beside it, in the table readers).
    pub block_cache_bytes: usize,
    /// One memtable of the `log` family. Raft entries are appended in order and deleted
    /// after compaction: a large memtable lets most of them die before they are flushed.
    pub log_write_buffer_bytes: usize,
    /// One memtable of the `kv` (state machines) and of the `meta` (hard states) family.
    /// Every applied message inserts a few keys at scattered places in the first, and
    /// each insert searches the skip list: a smaller list is searched faster, but is
    /// flushed more often, and its files are compacted more often. Measured at 24k
    /// messages/s for 20 s: 8 MiB took 5-7 us per message off the driver's thread and
    /// added as much to compaction's; 32 MiB keeps the write amplification down.
    pub state_write_buffer_bytes: usize,
    /// Bound on all memtables together, so many busy families cannot exhaust memory.
    pub total_write_buffer_bytes: usize,
}

impl Default for RocksConfig {
    fn default() -> RocksConfig {
        RocksConfig {
            block_cache_bytes: 128 << 20,
            log_write_buffer_bytes: 64 << 20,
            state_write_buffer_bytes: 32 << 20,
            total_write_buffer_bytes: 256 << 20,
        }
    }
}

pub struct RocksEngine {
    db: Db,
}

impl RocksEngine {
    pub fn open(path: impl AsRef<Path>, config: &RocksConfig) -> Result<RocksEngine> {
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        // Two cores: one flush and one compaction at a time is all they can take beside
        // the server.
        db_options.set_max_background_jobs(2);
        db_options.set_db_write_buffer_size(config.total_write_buffer_bytes);
        // Write SST files out as they grow instead of in one burst at the end, so a flush
        // does not stall the WAL fsyncs of the foreground.
        db_options.set_bytes_per_sync(1 << 20);
        // A torn last WAL record (a crash mid-write) is dropped; anything else corrupted
        // stops the open instead of silently losing a synced batch.
        db_options.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        db_options.set_paranoid_checks(true);
        // One writer (the driver), and the log's hashed memtable cannot take concurrent
        // inserts anyway.
        db_options.set_allow_concurrent_memtable_write(false);
        // A write leaves its WAL record in RocksDB's buffer; `sync` (on the syncer's thread)
        // writes the buffer out and fsyncs it, so the driver's thread makes no write(2) per
        // batch. A process that dies now loses its unsynced batches, as a power cut always
        // could: none of them was acknowledged (closing the store writes the buffer out).
        db_options.set_manual_wal_flush(true);

        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let families =
            Cf::ALL.map(|cf| ColumnFamilyDescriptor::new(cf.name(), family_options(cf, config, &cache)));
        let db = Db::open_cf_descriptors(&db_options, path, families).map_err(engine_error)?;
        Ok(RocksEngine { db })
    }

    /// Writes every memtable out to SST files (on shutdown, and for tests that look at the
    /// files).
    pub fn flush(&self) -> Result<()> {
        for cf in Cf::ALL {
            self.db.flush_cf(self.cf(cf)).map_err(engine_error)?;
        }
        Ok(())
    }

    /// Entries in `cf`'s active memtable (every write since its last switch, overwrites
    /// included).
    pub fn memtable_entries(&self, cf: Cf) -> Result<u64> {
        let entries = self.db.property_int_value_cf(self.cf(cf), "rocksdb.num-entries-active-mem-table");
        Ok(entries.map_err(engine_error)?.unwrap_or(0))
    }

    fn cf(&self, cf: Cf) -> &ColumnFamily {
        self.db.cf_handle(cf.name()).expect("every family is created on open")
    }
}

fn family_options(cf: Cf, config: &RocksConfig, cache: &Cache) -> Options {
    let mut options = Options::default();
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Index and filter blocks stay in the table readers, outside the cache: every point
    // lookup needs a file's filter, and a whole-file filter of a large SST (about a MiB)
    // churned through the LRU cache, so each lookup read and checksummed it from disk
    // again (measured: 85% of a send's time once the store held 400 MiB). They cost about
    // 1.5% of the data's size in memory.
    table.set_cache_index_and_filter_blocks(false);
    match cf {
        Cf::Log => {
            options.set_write_buffer_size(config.log_write_buffer_bytes);
            // A batch appends to many groups at once, each at the end of its own log. In one
            // skip list over all groups every insert searched a large list from the top
            // (measured: the log's memtable inserts were a third of a 10,000-group batch's
            // time); hashed by group, an insert searches only its bucket, at its end. A
            // bucket stays small while buckets outnumber busy groups; height 8 with
            // branching 4 keeps one very busy group's bucket (65,536 entries) quick too.
            // This memtable cannot seek backwards, and seeks only within one group: see
            // `scan`, and `Store::load_log_state`.
            options.set_prefix_extractor(SliceTransform::create_fixed_prefix(GROUP_KEY_LEN));
            options.set_memtable_factory(MemtableFactory::HashSkipList {
                bucket_count: LOG_MEMTABLE_BUCKETS,
                height: 8,
                branching_factor: 4,
            });
            // Entries are read by range, never looked up by absent keys: no bloom filter.
        }
        Cf::Meta | Cf::Kv => {
            options.set_write_buffer_size(config.state_write_buffer_bytes);
            // Point lookups (a message by id, an idempotency key, a user) often miss:
            // 10 bits per key answers most misses without reading a data block.
            table.set_bloom_filter(10.0, false);
            if cf == Cf::Kv {
                // The same in the state's memtable: every message's idempotency key is
                // looked up before it is stored, and is new; without a filter each such
                // miss searched the skip list (a twentieth of a driver's time). Not in
                // the meta family, whose keys (hard states) are written every batch and
                // looked up only when a group loads.
                options.set_memtable_whole_key_filtering(true);
                options.set_memtable_prefix_bloom_ratio(0.02);
            }
        }
    }
    options.set_block_based_table_factory(&table);
    // The upper levels hold young data that is rewritten soon: compressing it costs CPU
    // for nothing. Below, LZ4: with dynamic level sizes most data is written straight to
    // the bottom level, and zstd there took half a core of compaction under a sustained
    // send load on two cores (LZ4 costs a few times less CPU for a little more disk).
    options.set_compression_per_level(&[
        DBCompressionType::None,
        DBCompressionType::None,
        DBCompressionType::Lz4,
        DBCompressionType::Lz4,
        DBCompressionType::Lz4,
        DBCompressionType::Lz4,
        DBCompressionType::Lz4,
    ]);
    options.set_bottommost_compression_type(DBCompressionType::Lz4);
    options.set_level_compaction_dynamic_level_bytes(true);
    options
}

impl Engine for RocksEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = self.db.get_pinned_cf(self.cf(cf), key).map_err(engine_error)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: Option<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if to.is_some_and(|to| to <= from) {
            return Ok(());
        }
        let mut options = ReadOptions::default();
        if cf == Cf::Log {
            // The log's memtable is hashed by group: it seeks within the group of the seek
            // key, forwards only. A scan that leaves one group, or goes backwards, needs the
            // total order (which copies the memtable into one list: slow, and never done on
            // a hot path).
            let one_group = from.len() >= GROUP_KEY_LEN
                && to.is_some_and(|to| {
                    same_group(from, to) || Some(to) == prefix_end(&from[..GROUP_KEY_LEN]).as_deref()
                });
            if one_group && !reverse {
                options.set_prefix_same_as_start(true);
            } else {
                options.set_total_order_seek(true);
            }
        }
        options.set_iterate_lower_bound(from);
        if let Some(to) = to {
            options.set_iterate_upper_bound(to);
        }
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf), options);
        if reverse {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !visit(key, value) {
                return Ok(());
            }
            if reverse {
                iter.prev();
            } else {
                iter.next();
            }
        }
        iter.status().map_err(engine_error)
    }

    fn write(&self, batch: RawBatch) -> Result<()> {
        let mut rocks = rocksdb::WriteBatch::default();
        // Puts and deletes go in key order, each family's together: a memtable insert near
        // the previous one reuses its search path (measured: a driver's batch of messages to
        // many channels spent most of its write in the skip list's search). Only ops between
        // range deletes are reordered (a range delete must stay after the writes it covers
        // and before those it does not), and the sort is stable, so writes of one key keep
        // their order: the batch means what it meant.
        let mut segment: Vec<&RawOp> = Vec::with_capacity(batch.ops.len());
        for op in &batch.ops {
            if let RawOp::DeleteRange { cf, from, to } = op {
                self.put_in_key_order(&mut rocks, &mut segment);
                rocks.delete_range_cf(self.cf(*cf), from, to);
            } else {
                segment.push(op);
            }
        }
        self.put_in_key_order(&mut rocks, &mut segment);
        // Not synced here: `sync` makes every written batch durable with one fsync.
        let mut options = WriteOptions::default();
        options.set_sync(false);
        self.db.write_opt(rocks, &options).map_err(engine_error)
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(engine_error)
    }
}

impl RocksEngine {
    /// Adds `segment` (puts and deletes) to `rocks` sorted by family and key, and empties it.
    /// Of the writes of one key only the last goes in: the batch is atomic, so the earlier
    /// ones could never be read, and each is a skip-list insert and a WAL record saved (a
    /// batch of one channel's messages rewrites its sender's last seq per message).
    fn put_in_key_order(&self, rocks: &mut rocksdb::WriteBatch, segment: &mut Vec<&RawOp>) {
        segment.sort_by(|a, b| op_key(a).cmp(&op_key(b)));
        // Stable: among writes of one key, the last written sorts last.
        segment.dedup_by(|later, earlier| {
            let same = op_key(later) == op_key(earlier);
            if same {
                *earlier = *later;
            }
            same
        });
        for op in segment.drain(..) {
            match op {
                RawOp::Put { cf, key, value } => rocks.put_cf(self.cf(*cf), key, value),
                RawOp::Delete { cf, key } => rocks.delete_cf(self.cf(*cf), key),
                RawOp::DeleteRange { .. } => unreachable!("range deletes end a segment"),
            }
        }
    }
}

/// Whether two log keys (or a key and a bound) start with the same group.
fn same_group(a: &[u8], b: &[u8]) -> bool {
    a.len() >= GROUP_KEY_LEN && b.len() >= GROUP_KEY_LEN && a[..GROUP_KEY_LEN] == b[..GROUP_KEY_LEN]
}

fn op_key(op: &RawOp) -> (Cf, &[u8]) {
    match op {
        RawOp::Put { cf, key, .. } | RawOp::Delete { cf, key } | RawOp::DeleteRange { cf, from: key, .. } => {
            (*cf, key)
        }
    }
}

fn engine_error(error: rocksdb::Error) -> Error {
    Error::Engine(error.into_string())
}

impl Store<RocksEngine> {
    /// Opens (or creates) the store of a node in the directory `path`.
    pub fn open(path: impl AsRef<Path>, config: &RocksConfig) -> Result<Store<RocksEngine>> {
        Ok(Store::new(RocksEngine::open(path, config)?))
    }
}

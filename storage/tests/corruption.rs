//! A corrupted value is an error, never data: flipped bytes in memory (`MemStore`), in
//! RocksDB's files on disk, and a value found under a key it was not written for.

use bytes::Bytes;
use consensus::{Entry, LogIndex, Payload, Term};
use storage::{Cf, Engine, Error, GroupId, MemStore, RawBatch, Tier, WriteBatch};

const GROUP: GroupId = GroupId { tier: Tier::Channel, id: 42 };

fn entry(index: u64, data: &'static [u8]) -> Entry {
    Entry { term: Term(2), index: LogIndex(index), payload: Payload::Command(Bytes::from_static(data)) }
}

#[test]
fn every_flipped_byte_of_a_mem_store_value_is_caught() {
    let store = MemStore::in_memory();
    let mut batch = WriteBatch::new();
    batch.append(GROUP, vec![entry(1, b"first message"), entry(2, b"second")]);
    batch.put(GROUP, &b"user/alice"[..], &b"token"[..]);
    store.commit(&batch).unwrap();

    let log_key = store.engine().keys(Cf::Log)[0].clone();
    let kv_key = store.engine().keys(Cf::Kv)[0].clone();
    for offset in 0..17 {
        // The store keeps the entries it wrote last in memory: forgetting the group sends
        // the reads to the engine.
        store.forget(GROUP);
        assert!(store.engine().corrupt(Cf::Log, &log_key, offset));
        let read = store.entries(GROUP, LogIndex(1), LogIndex(3), usize::MAX);
        assert!(matches!(read, Err(Error::Corrupt { .. })), "byte {offset}: {read:?}");
        assert!(store.engine().corrupt(Cf::Log, &log_key, offset), "flip it back");
        assert_eq!(store.entries(GROUP, LogIndex(1), LogIndex(3), usize::MAX).unwrap().len(), 2);

        assert!(store.engine().corrupt(Cf::Kv, &kv_key, offset));
        let read = store.get(GROUP, b"user/alice");
        assert!(matches!(read, Err(Error::Corrupt { .. })), "byte {offset}: {read:?}");
        assert!(store.engine().corrupt(Cf::Kv, &kv_key, offset));
    }
}

#[test]
fn a_value_under_the_wrong_key_is_caught() {
    let store = MemStore::in_memory();
    let mut batch = WriteBatch::new();
    batch.put(GROUP, &b"a"[..], &b"value of a"[..]);
    store.commit(&batch).unwrap();
    // Copy the sealed value of `a` to `b`, below the store, as a misdirected write would.
    let key_a = store.engine().keys(Cf::Kv)[0].clone();
    let sealed = store.engine().get(Cf::Kv, &key_a).unwrap().unwrap();
    let mut key_b = key_a.clone();
    *key_b.last_mut().unwrap() = b'b';
    let mut raw = RawBatch::default();
    raw.put(Cf::Kv, key_b, sealed);
    store.engine().write(raw).unwrap();
    assert!(matches!(store.get(GROUP, b"b"), Err(Error::Corrupt { .. })));
    assert_eq!(store.get(GROUP, b"a").unwrap().as_deref(), Some(&b"value of a"[..]));
}

#[cfg(feature = "rocksdb")]
#[test]
fn a_flipped_byte_on_disk_is_an_error_not_data() {
    use storage::{RocksConfig, RocksStore};

    const MARKER: &[u8] = b"0123456789-this-entry-is-on-disk-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let config = RocksConfig::default();
    {
        let store = RocksStore::open(dir.path(), &config).unwrap();
        let mut batch = WriteBatch::new();
        batch.append(GROUP, vec![entry(1, MARKER)]);
        store.commit(&batch).unwrap();
        store.engine().flush().unwrap();
    }
    // The young levels are not compressed, so the entry's bytes are in an SST file as
    // written. Flip one in the middle of the marker.
    let mut flipped = 0;
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "sst") {
            let mut bytes = std::fs::read(&path).unwrap();
            if let Some(at) = bytes.windows(MARKER.len()).position(|w| w == MARKER) {
                bytes[at + MARKER.len() / 2] ^= 0x01;
                std::fs::write(&path, bytes).unwrap();
                flipped += 1;
            }
        }
    }
    assert_eq!(flipped, 1, "the entry is in exactly one SST file");
    // RocksDB's block checksum or ours catches it: the open or the read fails, loudly.
    match RocksStore::open(dir.path(), &config) {
        Err(error) => println!("open refused: {error}"),
        Ok(store) => {
            let read = store.entries(GROUP, LogIndex(1), LogIndex(2), usize::MAX);
            assert!(read.is_err(), "a corrupted entry was returned as data: {read:?}");
            println!("read refused: {}", read.unwrap_err());
        }
    }
}

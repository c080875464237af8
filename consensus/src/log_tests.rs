//! Model test: `RaftLog` over `MemStorage`, driven through random appends, truncations,
//! commits, write cycles and compactions, against a plain vector of terms.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::RaftLog;
use crate::storage::{MemStorage, Storage};
use crate::types::{Entry, LogIndex, Payload, Term};
use crate::Ready;

#[derive(Clone, Debug)]
enum Op {
    /// Append `n` entries of the next term.
    Append(u8),
    /// Replace the tail from `at` (a fraction of the uncommitted range) with `n` entries.
    Overwrite(u8, u8),
    /// Commit up to a fraction of the uncommitted range.
    Commit(u8),
    /// Hand the unstable entries to the store and acknowledge them.
    Write,
    /// Hand them out, then change the log, then acknowledge the stale write.
    WriteThenOverwrite(u8),
    /// Compact the store up to a fraction of what is durable and committed.
    Compact(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..5).prop_map(Op::Append),
        (any::<u8>(), 0u8..4).prop_map(|(at, n)| Op::Overwrite(at, n)),
        any::<u8>().prop_map(Op::Commit),
        Just(Op::Write),
        any::<u8>().prop_map(Op::WriteThenOverwrite),
        any::<u8>().prop_map(Op::Compact),
    ]
}

struct Model {
    /// Terms of entries 1..; index i is `terms[i - 1]`.
    terms: Vec<Term>,
    committed: LogIndex,
    term: Term,
}

impl Model {
    fn last(&self) -> LogIndex {
        LogIndex(self.terms.len() as u64)
    }

    fn entries(&mut self, from: LogIndex, n: u8) -> Vec<Entry> {
        self.term = self.term.next();
        (0..n as u64)
            .map(|i| Entry { term: self.term, index: from.plus(i), payload: Payload::Noop })
            .collect()
    }

    fn overwrite(&mut self, log: &mut RaftLog<MemStorage>, at: u8, n: u8) {
        let uncommitted = self.last().0 - self.committed.0;
        let from = self.committed.next().plus(at as u64 % (uncommitted + 1));
        let entries = self.entries(from, n);
        self.terms.truncate(from.0 as usize - 1);
        self.terms.extend(entries.iter().map(|e| e.term));
        if entries.is_empty() {
            log.truncate_from(from);
        } else {
            log.truncate_and_append(&entries);
        }
    }
}

/// What a driver does with a Ready's log writes.
fn write(log: &mut RaftLog<MemStorage>) -> Vec<Entry> {
    let ready = Ready {
        truncate_from: log.truncate_point(),
        entries: log.unstable_entries().to_vec(),
        ..Ready::default()
    };
    log.storage.write(&ready);
    ready.entries
}

fn check(log: &RaftLog<MemStorage>, model: &Model) {
    assert_eq!(log.last_index(), model.last());
    let first = log.first_index();
    for index in first.0..=model.last().0 {
        assert_eq!(log.term(LogIndex(index)), Some(model.terms[index as usize - 1]), "term at {index}");
    }
    if first <= model.last() {
        let all = log.entries(first, model.last().next(), usize::MAX);
        let terms: Vec<Term> = all.iter().map(|e| e.term).collect();
        assert_eq!(&terms[..], &model.terms[first.0 as usize - 1..]);
        let one = log.entries(first, model.last().next(), 1);
        assert_eq!(one.len(), 1, "a byte limit still yields one entry");
    }
    let stored = log.stored_index();
    assert!(stored <= log.last_index());
    for index in first.0..=stored.0 {
        // The durable prefix is part of the log.
        assert_eq!(log.storage.term(LogIndex(index)), log.term(LogIndex(index)), "stored {index}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "../proptest-regressions/consensus-log.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn raft_log_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut log = RaftLog::new(MemStorage::default(), LogIndex(0), LogIndex(0));
        let mut model = Model { terms: Vec::new(), committed: LogIndex(0), term: Term(0) };
        for op in ops {
            match op {
                Op::Append(n) => {
                    let entries = model.entries(model.last().next(), n);
                    model.terms.extend(entries.iter().map(|e| e.term));
                    for entry in entries {
                        log.append(entry);
                    }
                }
                Op::Overwrite(at, n) => model.overwrite(&mut log, at, n),
                Op::Commit(to) => {
                    let uncommitted = model.last().0 - model.committed.0;
                    model.committed = model.committed.plus(to as u64 % (uncommitted + 1));
                    log.commit_to(model.committed);
                }
                Op::Write => {
                    let written = write(&mut log);
                    log.stable_to(&written);
                    assert_eq!(log.stored_index(), log.last_index());
                }
                Op::WriteThenOverwrite(at) => {
                    let written = write(&mut log);
                    model.overwrite(&mut log, at, 1);
                    log.stable_to(&written);
                }
                Op::Compact(to) => {
                    let durable = log.stored_index().min(model.committed);
                    let first = log.storage.first_index();
                    if durable >= first {
                        let index = LogIndex(first.0 + to as u64 % (durable.0 - first.0 + 1));
                        log.storage.compact(index, Default::default());
                    }
                }
            }
            check(&log, &model);
        }
    }
}

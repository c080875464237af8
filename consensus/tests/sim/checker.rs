//! Safety checkers. They only watch: what the nodes report after each step, and what each
//! Ready wrote and applied. They never steer the workload.

use std::collections::{BTreeMap, HashMap};

use consensus::{Entry, HardState, LogIndex, NodeId, Payload, Role, Status, Term};

use crate::sim::cluster::Observed;

#[derive(Default)]
pub struct Checker {
    /// The leader of each term seen so far (election safety).
    leaders: BTreeMap<Term, NodeId>,
    /// Every `(index, term)` ever appended anywhere: its payload and the term before it.
    /// Same index and term must mean same entry and same term before it (log matching, by
    /// induction over the index).
    appended: HashMap<(LogIndex, Term), (Payload, Term)>,
    /// The committed history: index -> entry (state machine safety).
    committed: BTreeMap<LogIndex, (Term, Payload)>,
    /// Per node: the last status seen while it was up, and the last hard state written.
    last: BTreeMap<NodeId, Status>,
    written: BTreeMap<NodeId, HardState>,
    pub violations: Vec<String>,
}

impl Checker {
    fn violation(&mut self, what: String) {
        if self.violations.len() < 10 {
            self.violations.push(what);
        }
    }

    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    pub fn is_new_leader(&self, status: &Status) -> bool {
        self.leaders.get(&status.term) != Some(&status.id)
    }

    /// A node was restarted: its in-memory state may go back to what was durable.
    pub fn restarted(&mut self, id: NodeId) {
        self.last.remove(&id);
    }

    /// After every step, for the node the step touched.
    pub fn check_status(&mut self, status: &Status, entry_of: impl Fn(LogIndex) -> Option<Entry>) {
        let id = status.id;
        if let Some(before) = self.last.get(&id).cloned() {
            if status.term < before.term {
                self.violation(format!("{id}: term went back from {} to {}", before.term, status.term));
            }
            if status.commit < before.commit {
                self.violation(format!("{id}: commit went back from {} to {}", before.commit, status.commit));
            }
        }
        let newly_leader = status.role == Role::Leader
            && self.last.get(&id).is_none_or(|b| b.role != Role::Leader || b.term != status.term);
        if status.role == Role::Leader {
            match self.leaders.get(&status.term) {
                Some(other) if *other != id => {
                    let other = *other;
                    self.violation(format!("two leaders in term {}: {other} and {id}", status.term))
                }
                _ => {
                    self.leaders.insert(status.term, id);
                }
            }
        }
        if newly_leader {
            self.check_leader_completeness(status, &entry_of);
        }
        let from = self.last.get(&id).map(|b| b.commit).unwrap_or_default().next();
        let mut index = from;
        while index <= status.commit {
            if let Some(entry) = entry_of(index) {
                self.check_committed(id, &entry);
            }
            index = index.next();
        }
        self.last.insert(id, status.clone());
    }

    /// A new leader's log holds every committed entry (Raft §5.4.1). Entries it has
    /// compacted are covered by its snapshot, which only holds committed entries.
    fn check_leader_completeness(&mut self, status: &Status, entry_of: &impl Fn(LogIndex) -> Option<Entry>) {
        let mut missing = Vec::new();
        for (index, (term, _)) in &self.committed {
            let present = match entry_of(*index) {
                Some(entry) => entry.term == *term,
                None => *index <= status.commit && *index <= status.last_index,
            };
            if !present && missing.len() < 3 {
                missing.push(format!("{index}/{term}"));
            }
        }
        if !missing.is_empty() {
            self.violation(format!(
                "leader {} of term {} lacks committed entries {missing:?}",
                status.id, status.term
            ));
        }
    }

    /// `entry` is committed on `id`: it joins the committed history, or must equal it.
    fn check_committed(&mut self, id: NodeId, entry: &Entry) {
        match self.committed.get(&entry.index) {
            Some((term, payload)) if *term != entry.term || *payload != entry.payload => {
                let what = format!(
                    "{id}: committed entry {}/{} differs from the committed {}/{term}",
                    entry.index, entry.term, entry.index
                );
                self.violation(what);
            }
            Some(_) => {}
            None => {
                self.committed.insert(entry.index, (entry.term, entry.payload.clone()));
            }
        }
    }

    /// What a Ready wrote, applied and restored.
    pub fn check_observed(&mut self, id: NodeId, observed: &Observed) {
        if let Some((prev_term, entries)) = &observed.appended {
            let mut prev_term = *prev_term;
            for entry in entries {
                let key = (entry.index, entry.term);
                match self.appended.get(&key) {
                    Some((payload, prev)) if *payload != entry.payload || *prev != prev_term => {
                        let what = format!("{id}: log matching broken at {}/{}", entry.index, entry.term);
                        self.violation(what);
                    }
                    Some(_) => {}
                    None => {
                        self.appended.insert(key, (entry.payload.clone(), prev_term));
                    }
                }
                prev_term = entry.term;
            }
        }
        for entry in &observed.applied {
            self.check_committed(id, entry);
        }
        if let Some(snapshot) = &observed.snapshot {
            let meta = &snapshot.meta;
            if let Some((term, _)) = self.committed.get(&meta.index) {
                if *term != meta.term {
                    self.violation(format!(
                        "{id}: snapshot at {}/{} is not committed",
                        meta.index, meta.term
                    ));
                }
            }
        }
        if let Some(hard_state) = observed.hard_state {
            if let Some(before) = self.written.get(&id).copied() {
                if hard_state.term < before.term || hard_state.commit < before.commit {
                    self.violation(format!(
                        "{id}: durable hard state went back: {before:?} -> {hard_state:?}"
                    ));
                }
                if hard_state.term == before.term && before.vote.is_some() && hard_state.vote != before.vote {
                    self.violation(format!("{id}: changed its durable vote in term {}", hard_state.term));
                }
            }
            self.written.insert(id, hard_state);
        }
    }

    /// At the end: the last leader still holds everything committed.
    pub fn check_final_leader(&mut self, status: &Status, entry_of: impl Fn(LogIndex) -> Option<Entry>) {
        self.check_leader_completeness(status, &entry_of);
    }
}

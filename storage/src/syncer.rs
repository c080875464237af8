//! [`Syncer`]: a store's fsyncs on a thread of their own, so that the writer writes its next
//! batch while the last one is being made durable.
//!
//! The writer writes a batch, then [`start`](Syncer::start)s a sync of everything written so
//! far and goes on; what waits for durability waits for [`Store::durable`] to reach the
//! batch's number. A `start` while a sync runs is served by one more sync right after it, so
//! at most two are ever owed and a busy writer's batches share them. [`Syncer::inline`]
//! syncs inside `start` instead: the simulator's nodes must not spawn threads.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::store::lock;
use crate::{Engine, Error, Result, Store};

/// Told of every finished sync and how long it took (on the syncing thread).
pub type OnSynced = Box<dyn Fn(Duration) + Send + Sync>;

pub struct Syncer<E: Engine> {
    shared: Arc<Shared<E>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared<E: Engine> {
    store: Arc<Store<E>>,
    on_synced: OnSynced,
    state: Mutex<State>,
    /// Wakes the thread when a sync is owed or it must stop, and waiters when one ended.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// The batch number a sync was last asked to cover.
    wanted: u64,
    /// A sync failed: the store's state on disk is unknown, and stays failed.
    failed: Option<Error>,
    stopping: bool,
}

impl<E: Engine> Syncer<E> {
    /// Syncs inside [`start`](Self::start), on the caller's thread.
    pub fn inline(store: Arc<Store<E>>, on_synced: OnSynced) -> Syncer<E> {
        let shared =
            Shared { store, on_synced, state: Mutex::new(State::default()), changed: Condvar::new() };
        Syncer { shared: Arc::new(shared), thread: None }
    }

    /// Syncs on a thread of its own, named `store-sync`.
    pub fn spawn(store: Arc<Store<E>>, on_synced: OnSynced) -> std::io::Result<Syncer<E>> {
        let mut syncer = Syncer::inline(store, on_synced);
        let shared = syncer.shared.clone();
        syncer.thread =
            Some(std::thread::Builder::new().name("store-sync".into()).spawn(move || shared.run())?);
        Ok(syncer)
    }

    /// Asks for a sync of every batch written so far, if any is not durable yet; returns
    /// without waiting for it (unless inline). Fails if an earlier sync failed.
    pub fn start(&self) -> Result<()> {
        let shared = &self.shared;
        let mut state = lock(&shared.state);
        if let Some(error) = &state.failed {
            return Err(error.clone());
        }
        let written = shared.store.written();
        if written <= shared.store.durable() {
            return Ok(());
        }
        if self.thread.is_none() {
            drop(state);
            let result = shared.sync_once();
            if let Err(error) = &result {
                lock(&shared.state).failed = Some(error.clone());
            }
            return result;
        }
        if written > state.wanted {
            state.wanted = written;
            shared.changed.notify_all();
        }
        Ok(())
    }

    /// The number of the last batch known durable.
    pub fn durable(&self) -> u64 {
        self.shared.store.durable()
    }

    /// An earlier sync's failure, if one failed.
    pub fn failure(&self) -> Option<Error> {
        lock(&self.shared.state).failed.clone()
    }

    /// Blocks until batch `upto` is durable (starting a sync if none covers it).
    pub fn wait(&self, upto: u64) -> Result<()> {
        self.start()?;
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(error) = &state.failed {
                return Err(error.clone());
            }
            if self.durable() >= upto {
                return Ok(());
            }
            state = self.shared.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl<E: Engine> Shared<E> {
    fn sync_once(&self) -> Result<()> {
        let started = Instant::now();
        self.store.sync()?;
        (self.on_synced)(started.elapsed());
        Ok(())
    }

    fn run(&self) {
        let mut state = lock(&self.state);
        loop {
            if state.stopping || state.failed.is_some() {
                return;
            }
            if state.wanted <= self.store.durable() {
                state = self.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            drop(state);
            let result = self.sync_once();
            state = lock(&self.state);
            if let Err(error) = result {
                state.failed = Some(error);
            }
            self.changed.notify_all();
        }
    }
}

impl<E: Engine> Drop for Syncer<E> {
    fn drop(&mut self) {
        lock(&self.shared.state).stopping = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

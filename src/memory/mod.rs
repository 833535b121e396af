//! The embedded store: queues that live in this process, with the Redis
//! store's semantics and no Redis. Every Queue, Worker and QueueEvents of
//! the process with the same prefix and name shares one `QueueShared`.
//! `MemoryQueue` implements the engine's store traits (queue.rs, jobs.rs,
//! admin.rs), `MemoryWorkerStore` a worker's side (worker.rs, with the
//! state changes in worker_ops.rs), `MemorySubscription` the events.

mod admin;
pub mod events;
mod jobs;
mod queue;
pub mod state;
pub mod worker;
mod worker_ops;
mod zset;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::watch;

use crate::engine::keys::QueueKeys;
use crate::engine::store::{EventSubscription, Store, WorkerStore};
use state::State;

pub struct QueueShared {
    state: Mutex<State>,
    /// Bumped when a job may have become ready to start.
    ready: watch::Sender<u64>,
    /// Bumped when events were appended.
    events: watch::Sender<u64>,
    /// Names of the workers attached, for `getWorkers`.
    workers: Mutex<HashMap<u64, String>>,
}

/// A handle on one in-process queue.
#[derive(Clone)]
pub struct MemoryQueue {
    pub keys: QueueKeys,
    shared: Arc<QueueShared>,
}

impl MemoryQueue {
    /// The queue named by `keys`, created on first use. Queues stay for the
    /// life of the process, as their Redis counterparts stay in Redis.
    pub fn open(keys: QueueKeys) -> MemoryQueue {
        static QUEUES: OnceLock<Mutex<HashMap<String, Arc<QueueShared>>>> = OnceLock::new();
        let mut queues = QUEUES.get_or_init(Default::default).lock().unwrap();
        let shared = queues
            .entry(keys.base.clone())
            .or_insert_with(|| {
                Arc::new(QueueShared {
                    state: Mutex::new(State::default()),
                    ready: watch::channel(0).0,
                    events: watch::channel(0).0,
                    workers: Mutex::new(HashMap::new()),
                })
            })
            .clone();
        MemoryQueue { keys, shared }
    }

    /// Runs `f` on the queue's state, then wakes workers and event readers
    /// if it changed what they wait for.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.shared.state.lock().unwrap();
        let result = f(&mut state);
        let ready = std::mem::take(&mut state.ready_changed);
        let events = std::mem::take(&mut state.events.changed);
        drop(state);
        if ready {
            self.shared.ready.send_modify(|n| *n += 1);
        }
        if events {
            self.shared.events.send_modify(|n| *n += 1);
        }
        result
    }

    pub fn watch_ready(&self) -> watch::Receiver<u64> {
        self.shared.ready.subscribe()
    }

    pub fn attach_worker(&self, id: u64, name: &str) {
        self.shared
            .workers
            .lock()
            .unwrap()
            .insert(id, name.to_string());
    }

    pub fn detach_worker(&self, id: u64) {
        self.shared.workers.lock().unwrap().remove(&id);
    }
}

impl Store for MemoryQueue {
    fn worker_store(&self, worker_name: &str) -> Arc<dyn WorkerStore> {
        Arc::new(worker::MemoryWorkerStore::new(self.clone(), worker_name))
    }

    fn subscribe(&self, start: &str, _block_ms: u64) -> Box<dyn EventSubscription> {
        Box::new(events::MemorySubscription::open(self.clone(), start))
    }
}

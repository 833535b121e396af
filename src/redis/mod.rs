//! The Redis store: BullMQ's key layout, our own Lua scripts. `RedisQueue`
//! implements the engine's store traits (queue.rs, jobs.rs, admin.rs),
//! `RedisWorkerStore` a worker's side (worker.rs), `Subscription` the
//! events reader (events.rs).

pub mod admin;
pub mod connection;
pub mod events;
pub mod jobs;
pub mod queue;
pub mod reply;
pub mod scripts;
pub mod worker;

use std::sync::Arc;

use crate::engine::store::{EventSubscription, Store, WorkerStore};

impl Store for queue::RedisQueue {
    fn worker_store(&self, worker_name: &str) -> Arc<dyn WorkerStore> {
        Arc::new(worker::RedisWorkerStore::new(self.clone(), worker_name))
    }

    fn subscribe(&self, start: &str, block_ms: u64) -> Box<dyn EventSubscription> {
        Box::new(events::Subscription::open(
            Arc::new(self.clone()),
            start,
            block_ms,
        ))
    }
}

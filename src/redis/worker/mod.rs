//! A Worker's Redis side: fetches jobs in batches, flushes finished jobs in
//! batches (the same script call also starts the next jobs), waits on the
//! marker on a connection of its own, and renews every lock in one call.
//! JS only runs processors; it receives `Delivery` batches through `next`.

mod run;
mod timers;

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use redis::Value;

use super::queue::RedisQueue;
use super::reply;
use super::scripts::scripts;
use crate::engine::error::EngineResult;
use crate::engine::worker::{Finish, Inbox, WorkerCore, WorkerSettings};

pub struct Shared {
    core: WorkerCore,
    queue: RedisQueue,
}

impl Deref for Shared {
    type Target = WorkerCore;
    fn deref(&self) -> &WorkerCore {
        &self.core
    }
}

pub struct RedisWorker {
    shared: Arc<Shared>,
    inbox: Inbox,
}

type BlockFuture = Pin<Box<dyn Future<Output = redis::RedisResult<Value>> + Send>>;

impl RedisWorker {
    pub fn new(queue: RedisQueue, settings: WorkerSettings) -> Self {
        let (core, inbox) = WorkerCore::new(settings);
        RedisWorker {
            shared: Arc::new(Shared { core, queue }),
            inbox,
        }
    }

    pub fn core(&self) -> &WorkerCore {
        &self.shared.core
    }

    /// Starts the worker's tasks (idempotent). Must run inside the runtime.
    pub fn start(&self) {
        if !self.shared.begin() {
            return;
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            shared.clone().run().await;
            shared.ended_loop();
        });
        if !self.shared.settings.skip_lock_renewal {
            tokio::spawn(timers::renew_locks(Arc::downgrade(&self.shared)));
        }
        if !self.shared.settings.skip_stalled_check {
            tokio::spawn(timers::check_stalled(Arc::downgrade(&self.shared)));
        }
    }

    /// Manual processing (`Worker#getNextJob`): starts one job locked with
    /// `token`, if one is ready, and returns its record.
    pub async fn fetch_one(&self, token: &str) -> EngineResult<Option<String>> {
        let mut args = self.shared.worker_args(1);
        args[3] = token.to_string();
        args[4] = "-1".to_string();
        let reply: Value = self.shared.queue.eval(&scripts().fetch, &args).await?;
        let jobs = self.shared.started_jobs(&reply::items(&reply)[0]).await;
        Ok(self.shared.record_started(&jobs).pop())
    }

    /// Manual processing: finishes one job (`moveToCompleted`/`moveToFailed`),
    /// deciding retries as for processed jobs; returns the script's code.
    pub async fn finish_one(&self, finish: Finish) -> EngineResult<i64> {
        let (codes, _) = self.shared.finish_script(&[finish], 0).await?;
        Ok(codes.first().copied().unwrap_or(-1))
    }

    pub async fn next(&self) -> Option<String> {
        self.shared.core.next(&self.inbox).await
    }
}

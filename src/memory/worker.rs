//! A Worker's side of an in-process queue. No round trips: a turn stores
//! the results and starts the next jobs under one lock; the wait for work
//! is a watch on the queue's "a job may be ready" signal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::worker_ops::{FetchArgs, Fetched};
use super::MemoryQueue;
use crate::engine::error::EngineResult;
use crate::engine::store::{
    BoxFuture, Pacing, Refusal, Renewal, StalledCheck, Tokens, Turn, TurnRequest, WorkerStore,
};

pub struct MemoryWorkerStore {
    queue: MemoryQueue,
    id: u64,
    name: String,
    /// The ready signal as of the last turn: a change after it means a job
    /// may have become ready since.
    ready: Mutex<watch::Receiver<u64>>,
}

impl MemoryWorkerStore {
    pub fn new(queue: MemoryQueue, worker_name: &str) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        MemoryWorkerStore {
            ready: Mutex::new(queue.watch_ready()),
            queue,
            id: IDS.fetch_add(1, Ordering::Relaxed),
            name: worker_name.to_string(),
        }
    }
}

#[async_trait]
impl WorkerStore for MemoryWorkerStore {
    async fn turn(&self, request: TurnRequest<'_>) -> EngineResult<Turn> {
        let (core, results, fetch) = (request.core, request.results, &request.fetch);
        self.ready.lock().unwrap().borrow_and_update();
        let s = &core.settings;
        let (token_base, seq) = match fetch.tokens {
            Tokens::Sequence { base, first } => (base, Some(first)),
            Tokens::Fixed(token) => (token, None),
        };
        let args = FetchArgs {
            now: fetch.now,
            count: fetch.count,
            token_base,
            seq,
            lock_ms: s.lock_duration_ms as i64,
            name: &s.name,
            limiter: s.limiter,
        };
        let max_points = s.metrics_max_points;
        Ok(self.queue.with(|q| {
            let done = results
                .iter()
                .map(|r| {
                    let f = r.finish;
                    let code = q.finish(&f.id, &f.token, &r.action, fetch.now, max_points);
                    Refusal::from_code(code)
                })
                .collect();
            let fetched = if fetch.count > 0 {
                q.fetch(&args)
            } else {
                Fetched::default()
            };
            if fetched.jobs.is_empty() && !results.is_empty() {
                q.emit_drained_if_empty(fetch.now);
            }
            Turn {
                done,
                started: q.record_started(core, &fetched),
                limit_wait_ms: fetched.limit_wait_ms,
                next_due_ms: fetched.next_due_ms,
            }
        }))
    }

    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'static, EngineResult<()>> {
        // A clone starts from the version the last turn saw.
        let mut ready = self.ready.lock().unwrap().clone();
        Box::pin(async move {
            tokio::select! {
                _ = ready.changed() => {}
                _ = tokio::time::sleep(timeout) => {}
            }
            Ok(())
        })
    }

    async fn extend_locks(&self, renewal: &Renewal<'_>) -> EngineResult<Vec<String>> {
        let pairs: Vec<(&str, &str)> = renewal
            .held
            .iter()
            .map(|(i, t)| (i.as_str(), t.as_str()))
            .collect();
        let lock_ms = renewal.lock_ms as i64;
        Ok(self
            .queue
            .with(|q| q.extend_locks(&pairs, lock_ms, renewal.now)))
    }

    async fn check_stalled(&self, check: &StalledCheck) -> EngineResult<Vec<String>> {
        let interval = check.interval_ms as i64;
        Ok(self
            .queue
            .with(|q| q.check_stalled(check.now, check.max_stalled, interval)))
    }

    fn attach(&self) {
        self.queue.attach_worker(self.id, &self.name);
    }

    fn detach(&self) {
        self.queue.detach_worker(self.id);
    }

    fn pacing(&self) -> Pacing {
        // One turn at a time (they take the queue's lock anyway); results
        // are split only when many, so that JS runs the first half's
        // processors while this thread stores the second.
        Pacing {
            calls_in_flight: 1,
            split_from: 16,
        }
    }
}

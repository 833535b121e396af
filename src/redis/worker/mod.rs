//! A Worker's Redis side: fetches jobs in batches, flushes finished jobs in
//! batches (the same script call also starts the next jobs), waits on the
//! marker on a connection of its own, and renews every lock in one call.
//! JS only runs processors; it receives `Delivery` batches through `next`.

mod delivery;
mod run;
mod timers;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use redis::Value;
use tokio::sync::{mpsc, Notify};

use super::queue::RedisQueue;
use super::reply;
use super::scripts::scripts;
use crate::engine::error::EngineResult;
use crate::engine::job::RawJob;
use crate::engine::now_ms;
use crate::engine::options::{parse_backoff, Backoff, KeepJobs};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub name: String,
    pub concurrency: usize,
    pub lock_duration_ms: u64,
    pub lock_renew_ms: u64,
    /// How long one marker wait may block, in seconds (BullMQ's drainDelay).
    pub drain_delay_s: f64,
    pub limiter: Option<(i64, i64)>,
    pub remove_on_complete: Option<KeepJobs>,
    pub remove_on_fail: Option<KeepJobs>,
    pub skip_lock_renewal: bool,
    pub stalled_interval_ms: u64,
    pub max_stalled_count: i64,
    pub skip_stalled_check: bool,
    /// Minutes of metrics kept per finished state (0: no metrics).
    pub metrics_max_points: i64,
}

/// What a processor did with one job, as JS reports it.
pub enum Outcome {
    Completed {
        returnvalue: String,
    },
    Failed {
        reason: String,
        stacktrace: String,
        unrecoverable: bool,
        custom_delay: Option<i64>,
    },
    /// RateLimitError: back to wait without counting an attempt.
    RateLimited,
    /// The processor moved the job itself (DelayedError and friends).
    Moved,
}

pub struct Finish {
    pub id: String,
    pub token: String,
    pub outcome: Outcome,
}

/// What the engine tells JS; several are merged into one batch per `next`.
pub enum Delivery {
    Jobs(Vec<String>),
    /// Job ids whose result reached Redis, with the script's code (0: ok).
    Done(Vec<(String, i64)>),
    Drained,
    Error(String),
    LocksLost(Vec<String>),
    /// Jobs the stalled checker moved back to wait.
    Stalled(Vec<String>),
    /// Jobs whose locks were renewed.
    LocksRenewed(Vec<String>),
}

struct ActiveJob {
    token: String,
    attempts: i64,
    attempts_made: i64,
    backoff: Option<Backoff>,
    lifo: bool,
    keep_complete: Option<KeepJobs>,
    keep_fail: Option<KeepJobs>,
}

impl ActiveJob {
    /// `opts` are the job's decoded options; the names read here are the
    /// same before and after decoding.
    fn from_started(job: &RawJob, token: &str, opts: &serde_json::Value) -> Self {
        ActiveJob {
            token: token.to_string(),
            attempts: opts
                .get("attempts")
                .and_then(|a| a.as_i64())
                .unwrap_or(1)
                .max(1),
            attempts_made: job.get("atm").and_then(|a| a.parse().ok()).unwrap_or(0),
            backoff: parse_backoff(opts.get("backoff")).ok().flatten(),
            lifo: opts.get("lifo").and_then(|l| l.as_bool()).unwrap_or(false),
            keep_complete: KeepJobs::parse(opts.get("removeOnComplete"), "removeOnComplete")
                .ok()
                .flatten(),
            keep_fail: KeepJobs::parse(opts.get("removeOnFail"), "removeOnFail")
                .ok()
                .flatten(),
        }
    }
}

#[derive(Default)]
struct Flags {
    paused: bool,
    closing: bool,
    force: bool,
    running: bool,
}

pub struct Shared {
    queue: RedisQueue,
    settings: WorkerSettings,
    concurrency: AtomicUsize,
    token_base: String,
    token_seq: AtomicU64,
    /// No job is taken before this time (ms), see `hold`.
    hold_until_ms: AtomicU64,
    active: Mutex<HashMap<String, ActiveJob>>,
    pending: Mutex<Vec<Finish>>,
    flags: Mutex<Flags>,
    wake: Notify,
    out: mpsc::UnboundedSender<Delivery>,
    finished: Notify,
}

pub struct RedisWorker {
    shared: Arc<Shared>,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
}

type BlockFuture = Pin<Box<dyn Future<Output = redis::RedisResult<Value>> + Send>>;

fn unique_token_base() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}-{:x}-{:x}",
        nanos,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl RedisWorker {
    pub fn new(queue: RedisQueue, settings: WorkerSettings) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            concurrency: AtomicUsize::new(settings.concurrency.max(1)),
            queue,
            settings,
            token_base: unique_token_base(),
            token_seq: AtomicU64::new(0),
            hold_until_ms: AtomicU64::new(0),
            active: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
            flags: Mutex::new(Flags::default()),
            wake: Notify::new(),
            out: tx,
            finished: Notify::new(),
        });
        RedisWorker {
            shared,
            inbox: tokio::sync::Mutex::new(rx),
        }
    }

    /// Starts the worker's tasks (idempotent). Must run inside the runtime.
    pub fn start(&self) {
        {
            let mut flags = self.shared.flags.lock().unwrap();
            if flags.running || flags.closing {
                return;
            }
            flags.running = true;
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            shared.clone().run().await;
            shared.flags.lock().unwrap().running = false;
            shared.finished.notify_waiters();
            // Wake a pending `next` so that it sees the end.
            let _ = shared.out.send(Delivery::Done(Vec::new()));
        });
        if !self.shared.settings.skip_lock_renewal {
            tokio::spawn(timers::renew_locks(Arc::downgrade(&self.shared)));
        }
        if !self.shared.settings.skip_stalled_check {
            tokio::spawn(timers::check_stalled(Arc::downgrade(&self.shared)));
        }
    }

    pub fn finish(&self, batch: Vec<Finish>) {
        let (moved, results): (Vec<Finish>, Vec<Finish>) = batch
            .into_iter()
            .partition(|f| matches!(f.outcome, Outcome::Moved));
        if !moved.is_empty() {
            // Already out of active in Redis: only our bookkeeping is left.
            let mut active = self.shared.active.lock().unwrap();
            let done = moved
                .into_iter()
                .map(|f| {
                    active.remove(&f.id);
                    (f.id, 0)
                })
                .collect();
            let _ = self.shared.out.send(Delivery::Done(done));
        }
        self.shared.pending.lock().unwrap().extend(results);
        self.shared.wake.notify_one();
    }

    /// Manual processing (`Worker#getNextJob`): starts one job locked with
    /// `token`, if one is ready, and returns its record.
    pub async fn fetch_one(&self, token: &str) -> EngineResult<Option<String>> {
        let mut args = self.shared.worker_args(1);
        args[3] = token.to_string();
        args[4] = "-1".to_string();
        let reply: Value = self.shared.queue.eval(&scripts().fetch, &args).await?;
        let jobs = reply::started_jobs(&reply::items(&reply)[0]);
        Ok(self.shared.record_started(&jobs).pop())
    }

    /// Manual processing: finishes one job (`moveToCompleted`/`moveToFailed`),
    /// deciding retries as for processed jobs; returns the script's code.
    pub async fn finish_one(&self, finish: Finish) -> EngineResult<i64> {
        let (codes, _) = self.shared.finish_script(&[finish], 0).await?;
        Ok(codes.first().copied().unwrap_or(-1))
    }

    /// Takes no job for `ms` (after a RateLimitError, or `Worker#rateLimit`).
    pub fn hold(&self, ms: u64) {
        let until = now_ms().max(0) as u64 + ms;
        self.shared
            .hold_until_ms
            .fetch_max(until, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    pub fn set_concurrency(&self, n: usize) {
        self.shared.concurrency.store(n.max(1), Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    pub fn set_paused(&self, paused: bool) {
        self.shared.flags.lock().unwrap().paused = paused;
        self.shared.wake.notify_one();
    }

    pub fn is_running(&self) -> bool {
        self.shared.flags.lock().unwrap().running
    }

    /// Stops fetching; resolves once every result reached Redis (or at once
    /// with `force`, leaving unfinished jobs to the stalled checker).
    pub async fn close(&self, force: bool) {
        let finished = self.shared.finished.notified();
        {
            let mut flags = self.shared.flags.lock().unwrap();
            flags.closing = true;
            flags.force |= force;
            if !flags.running {
                return;
            }
        }
        self.shared.wake.notify_one();
        finished.await;
    }

    /// The next batch of deliveries as JSON, or `None` once the worker ended.
    pub async fn next(&self) -> Option<String> {
        let mut inbox = self.inbox.lock().await;
        loop {
            let mut batch = Vec::new();
            while let Ok(more) = inbox.try_recv() {
                batch.push(more);
            }
            if batch.is_empty() {
                // The end notice may have been merged into an earlier batch:
                // check before waiting for another message.
                if self.ended() {
                    return None;
                }
                batch.push(inbox.recv().await?);
                while let Ok(more) = inbox.try_recv() {
                    batch.push(more);
                }
            }
            if let Some(json) = delivery::batch_json(batch) {
                return Some(json);
            }
        }
    }

    fn ended(&self) -> bool {
        let flags = self.shared.flags.lock().unwrap();
        flags.closing && !flags.running
    }
}

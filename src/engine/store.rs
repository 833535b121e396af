//! What a store must do for the engine. `src/redis` and `src/memory` each
//! implement these traits once; the binding holds an `Arc<dyn Store>` and
//! never asks which store it has.
//!
//! The traits follow the files each store splits its work into: queue-wide
//! operations (`QueueStore`, queue.rs), moves of single jobs and bulk moves
//! (`JobStore`, jobs.rs), settings and inspection (`AdminStore`, admin.rs),
//! a worker's fetch and finish (`WorkerStore`, worker.rs) and a subscription
//! to the events (`EventSubscription`, events.rs).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::error::EngineResult;
use super::job::NewJob;
use super::worker::{Action, Finish, WorkerCore};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store refused an operation on one job: the only vocabulary for it.
/// JS receives the `name`, never a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The job does not exist.
    MissingJob,
    /// The job holds no lock, so the caller's token cannot be checked.
    MissingLock,
    /// The job is not in the state the operation needs.
    NotInState,
    /// The job still waits for children.
    PendingDependencies,
    /// Another token holds the job's lock.
    LockMismatch,
    /// A worker holds the job (for removal).
    Locked,
}

/// The outcome of an operation on one job.
pub type Done = Result<(), Refusal>;

/// A log's length after a row was appended.
pub type Logged = Result<i64, Refusal>;

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::MissingJob => "missing-job",
            Refusal::MissingLock => "missing-lock",
            Refusal::NotInState => "not-in-state",
            Refusal::PendingDependencies => "pending-dependencies",
            Refusal::LockMismatch => "lock-mismatch",
            Refusal::Locked => "locked",
        }
    }

    /// The scripts' codes, which the memory store's state functions share:
    /// 0 or more is done, -1 missing job, -2 missing lock, -3 not in state,
    /// -4 pending dependencies, -6 lock mismatch.
    pub fn from_code(code: i64) -> Done {
        match code {
            c if c >= 0 => Ok(()),
            -1 => Err(Refusal::MissingJob),
            -2 => Err(Refusal::MissingLock),
            -4 => Err(Refusal::PendingDependencies),
            -6 => Err(Refusal::LockMismatch),
            _ => Err(Refusal::NotInState),
        }
    }
}

/// The name JS receives for an outcome: `None` when it was done.
pub fn refusal_name(done: Done) -> Option<&'static str> {
    done.err().map(Refusal::name)
}

/// BullMQ's `keepLogs`: a positive count trims, anything else keeps every row.
pub fn logs_to_keep(keep: Option<i64>) -> Option<i64> {
    keep.filter(|k| *k > 0)
}

/// Job ids of some states, each state ranged on its own as BullMQ does.
pub struct JobRange<'a> {
    pub states: &'a [String],
    pub start: i64,
    pub end: i64,
    pub asc: bool,
}

/// Rows of one job's log.
pub struct LogRange<'a> {
    pub id: &'a str,
    pub start: i64,
    pub end: i64,
    pub asc: bool,
}

#[derive(Serialize)]
pub struct Logs {
    pub logs: Vec<String>,
    pub count: i64,
}

/// Moves a finished job back to wait (`Job#retry`).
pub struct Reprocess<'a> {
    pub id: &'a str,
    /// "completed" or "failed".
    pub state: &'a str,
    pub lifo: bool,
    pub reset_attempts_made: bool,
    pub reset_attempts_started: bool,
}

/// Moves every job of `state` scored at most `max_score` ("+inf" or a
/// number) back to wait, `batch` at a time.
pub struct BulkMove<'a> {
    pub state: &'a str,
    pub batch: i64,
    pub max_score: &'a str,
}

/// Removes up to `limit` (0: any number) unlocked jobs of `state` older
/// than `cutoff_ms`.
pub struct Clean<'a> {
    pub state: &'a str,
    pub cutoff_ms: i64,
    pub limit: i64,
}

/// A finished state's per-minute metrics.
#[derive(Serialize, Default)]
pub struct Metrics {
    pub count: i64,
    #[serde(rename = "prevTS")]
    pub prev_ts: i64,
    #[serde(rename = "prevCount")]
    pub prev_count: i64,
    pub data: Vec<i64>,
    /// How many data points there are in all.
    pub total: i64,
}

/// One worker attached to a queue, as `Queue#getWorkers` lists it: the
/// client's fields (Redis's CLIENT LIST ones, where the store has them).
pub type WorkerInfo = Vec<(String, String)>;

#[async_trait]
pub trait QueueStore: Send + Sync {
    async fn add(&self, jobs: &[NewJob]) -> EngineResult<Vec<String>>;
    /// Adds on the caller's thread, where the store can do so faster than
    /// a hop to the runtime and back; `None` where it cannot.
    fn add_now(&self, _jobs: &[NewJob]) -> Option<Vec<String>> {
        None
    }
    async fn counts(&self, states: &[String]) -> EngineResult<Vec<i64>>;
    async fn ranges(&self, range: &JobRange<'_>) -> EngineResult<Vec<String>>;
    /// Jobs as a JSON array of records; vanished ids are skipped.
    async fn jobs_json(&self, ids: &[String]) -> EngineResult<String>;
    async fn job_json(&self, id: &str) -> EngineResult<Option<String>>;
    async fn state(&self, id: &str) -> EngineResult<String>;
    async fn set_paused(&self, paused: bool) -> EngineResult<()>;
    async fn is_paused(&self) -> EngineResult<bool>;
    async fn drain(&self, delayed: bool) -> EngineResult<()>;
    async fn obliterate(&self, force: bool, batch: i64) -> EngineResult<()>;
    async fn remove(&self, id: &str) -> EngineResult<Done>;
    async fn reprocess(&self, request: &Reprocess<'_>) -> EngineResult<Done>;
    async fn update_progress(&self, id: &str, progress: &str) -> EngineResult<Done>;
    /// Appends a row, then keeps the newest `keep` rows (see `logs_to_keep`);
    /// the log's length after it.
    async fn add_log(&self, id: &str, row: &str, keep: Option<i64>) -> EngineResult<Logged>;
    async fn logs(&self, range: &LogRange<'_>) -> EngineResult<Logs>;
    async fn ping(&self) -> EngineResult<()>;
}

#[async_trait]
pub trait JobStore: Send + Sync {
    async fn move_to_delayed(&self, id: &str, token: &str, due_at: i64) -> EngineResult<Done>;
    async fn change_delay(&self, id: &str, delay: i64) -> EngineResult<Done>;
    async fn change_priority(&self, id: &str, priority: i64, lifo: bool) -> EngineResult<Done>;
    async fn promote(&self, id: &str) -> EngineResult<Done>;
    async fn update_data(&self, id: &str, data: &str) -> EngineResult<Done>;
    /// Whether `token` still held the lock, now extended by `duration_ms`.
    async fn extend_lock(&self, id: &str, token: &str, duration_ms: i64) -> EngineResult<bool>;
    async fn move_jobs_to_wait(&self, request: &BulkMove<'_>) -> EngineResult<()>;
    async fn clean(&self, request: &Clean<'_>) -> EngineResult<Vec<String>>;
    async fn counts_per_priority(&self, priorities: &[i64]) -> EngineResult<Vec<i64>>;
    async fn clear_logs(&self, id: &str, keep: Option<i64>) -> EngineResult<()>;
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Sets meta fields (`None` removes one); how many changed.
    async fn set_meta(&self, fields: &[(String, Option<String>)]) -> EngineResult<i64>;
    async fn meta(&self) -> EngineResult<Vec<(String, String)>>;
    async fn trim_events(&self, max_len: i64) -> EngineResult<i64>;
    /// Milliseconds until the limiter lets jobs start again for `max` jobs
    /// per window (0: the meta's global max; -2 when there is no limit).
    async fn rate_limit_ttl(&self, max: i64) -> EngineResult<i64>;
    /// Holds every worker of the queue for `ms`.
    async fn rate_limit(&self, ms: i64) -> EngineResult<()>;
    async fn remove_rate_limit_key(&self) -> EngineResult<i64>;
    async fn workers(&self) -> EngineResult<Vec<WorkerInfo>>;
    /// Appends `[event, <name>, field, value, …]`; the entry's id.
    async fn publish_event(&self, fields: &[String], max_events: i64) -> EngineResult<String>;
    async fn metrics(&self, state: &str, start: i64, end: i64) -> EngineResult<Metrics>;
}

/// Everything one queue's store does, and what it opens for workers and
/// event readers.
pub trait Store: QueueStore + JobStore + AdminStore {
    fn worker_store(&self, worker_name: &str) -> Arc<dyn WorkerStore>;
    /// Reads the events after `start` ("$": new events only).
    fn subscribe(&self, start: &str, block_ms: u64) -> Box<dyn EventSubscription>;
}

/// How a worker's lock tokens are made: `<base>:<first + i>` for a batch,
/// or one token the caller chose (manual processing).
pub enum Tokens<'a> {
    Sequence { base: &'a str, first: u64 },
    Fixed(&'a str),
}

/// A worker's request to start jobs.
pub struct Fetch<'a> {
    pub now: i64,
    pub count: usize,
    pub tokens: Tokens<'a>,
}

/// One result to store, with what the engine decided for it.
pub struct Finishing<'a> {
    pub finish: &'a Finish,
    pub action: Action,
    /// attemptsMade once this attempt counts, and whether the job carries
    /// a deduplication id, when the worker knows (it spares the store a read).
    pub facts: Option<(i64, bool)>,
}

/// What one turn of a worker did.
#[derive(Default)]
pub struct Turn {
    /// One outcome per result, in order.
    pub done: Vec<Done>,
    /// Records (JSON) of the jobs started, already recorded as active.
    pub started: Vec<String>,
    /// How long the rate limit holds (ms, 0: none).
    pub limit_wait_ms: i64,
    /// When the next delayed job is due (ms, 0: none).
    pub next_due_ms: i64,
}

/// One turn of a worker: results to store and jobs to start. Started jobs
/// are recorded in `core`.
pub struct TurnRequest<'a> {
    pub core: &'a WorkerCore,
    pub results: &'a [Finishing<'a>],
    pub fetch: Fetch<'a>,
}

/// The locks a worker holds, as (job id, token), to extend by `lock_ms`.
pub struct Renewal<'a> {
    pub held: &'a [(String, String)],
    pub lock_ms: u64,
    pub now: i64,
}

/// A stalled-job check: at most one per `interval_ms` for the whole queue;
/// a job stalled more than `max_stalled` times is failed when next taken.
pub struct StalledCheck {
    pub max_stalled: i64,
    pub interval_ms: u64,
    pub now: i64,
}

/// How a store likes its turns: how many may run at once, and from how
/// many results a batch is worth splitting into two turns.
#[derive(Clone, Copy)]
pub struct Pacing {
    pub calls_in_flight: usize,
    pub split_from: usize,
}

#[async_trait]
pub trait WorkerStore: Send + Sync {
    /// Stores the results and starts up to `fetch.count` jobs, as one call
    /// where the store can.
    async fn turn(&self, request: TurnRequest<'_>) -> EngineResult<Turn>;
    /// Resolves when a job may have become ready, or after `timeout`.
    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'static, EngineResult<()>>;
    /// Renews the held locks; the ids whose lock was lost.
    async fn extend_locks(&self, renewal: &Renewal<'_>) -> EngineResult<Vec<String>>;
    /// Returns to wait the jobs whose lock expired; their ids.
    async fn check_stalled(&self, check: &StalledCheck) -> EngineResult<Vec<String>>;
    /// The worker starts: it is listed by `AdminStore::workers` from now on.
    fn attach(&self) {}
    /// The worker ended.
    fn detach(&self) {}
    fn pacing(&self) -> Pacing;
}

#[async_trait]
pub trait EventSubscription: Send + Sync {
    /// Waits (at most `limit`) until events written from now on will be
    /// delivered.
    async fn ready(&self, limit: Duration);
    /// `{"entries":[[id,[field,value,…]],…],"errors":[…]}` with what arrived
    /// since the last call; `None` once closed.
    async fn next(&self) -> Option<String>;
    fn close(&self);
}

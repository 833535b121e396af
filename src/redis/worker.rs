//! A Worker's Redis side: fetches jobs in batches, flushes finished jobs in
//! batches (the same script call also starts the next jobs), waits on the
//! marker on a connection of its own, and renews every lock in one call.
//! JS only runs processors; it receives `Delivery` batches through `next`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

use super::queue::RedisQueue;
use super::reply::{self, StartedJob};
use super::scripts::scripts;
use crate::engine::backoff::{decide, Retry};
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
            tokio::spawn(renew_locks(Arc::downgrade(&self.shared)));
        }
        if !self.shared.settings.skip_stalled_check {
            tokio::spawn(check_stalled(Arc::downgrade(&self.shared)));
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
            if let Some(json) = batch_json(batch) {
                return Some(json);
            }
        }
    }

    fn ended(&self) -> bool {
        let flags = self.shared.flags.lock().unwrap();
        flags.closing && !flags.running
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// `{"jobs":[…],"done":[[id,code]…],"drained":true,"errors":[…],"lost":[…]}`;
/// `None` when the batch says nothing.
fn batch_json(batch: Vec<Delivery>) -> Option<String> {
    let (mut jobs, mut done, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lost, mut stalled, mut renewed) = (Vec::new(), Vec::new(), Vec::new());
    let mut drained = false;
    for d in batch {
        match d {
            Delivery::Jobs(j) => jobs.extend(j),
            Delivery::Done(d) => done.extend(d),
            Delivery::Drained => drained = true,
            Delivery::Error(e) => errors.push(e),
            Delivery::LocksLost(l) => lost.extend(l),
            Delivery::Stalled(ids) => stalled.extend(ids),
            Delivery::LocksRenewed(ids) => renewed.extend(ids),
        }
    }
    let quiet = jobs.is_empty() && done.is_empty() && errors.is_empty();
    let notices = lost.is_empty() && stalled.is_empty() && renewed.is_empty();
    if quiet && notices && !drained {
        return None;
    }
    let mut out = String::with_capacity(64 + jobs.iter().map(String::len).sum::<usize>());
    out.push_str("{\"jobs\":[");
    out.push_str(&jobs.join(","));
    out.push_str("],\"done\":[");
    for (i, (id, code)) in done.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        push_json_str(&mut out, id);
        out.push_str(&format!(",{code}]"));
    }
    out.push(']');
    push_str_list(&mut out, "errors", &errors);
    push_str_list(&mut out, "lost", &lost);
    push_str_list(&mut out, "stalled", &stalled);
    push_str_list(&mut out, "renewed", &renewed);
    out.push_str(&format!(",\"drained\":{drained}}}"));
    Some(out)
}

/// Appends `,"<key>":["…",…]`.
fn push_str_list(out: &mut String, key: &str, items: &[String]) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, item);
    }
    out.push(']');
}

/// What a fetch (alone or after a flush) reported beyond the jobs.
struct FetchReport {
    started: usize,
    limit_wait_ms: i64,
    next_due_ms: f64,
}

impl Shared {
    fn free_slots(&self) -> usize {
        let flags = self.flags.lock().unwrap();
        if flags.paused || flags.closing {
            return 0;
        }
        drop(flags);
        let active = self.active.lock().unwrap().len();
        self.concurrency
            .load(Ordering::Relaxed)
            .saturating_sub(active)
    }

    fn worker_args(&self, fetch: usize) -> Vec<String> {
        let s = &self.settings;
        let seq = self.token_seq.fetch_add(fetch as u64, Ordering::Relaxed);
        let (max, duration) = s.limiter.unwrap_or((0, 0));
        vec![
            self.queue.keys.base.clone(),
            now_ms().to_string(),
            fetch.to_string(),
            self.token_base.clone(),
            seq.to_string(),
            s.lock_duration_ms.to_string(),
            s.name.clone(),
            max.to_string(),
            duration.to_string(),
        ]
    }

    /// Records started jobs as active; returns their JSON records.
    fn record_started(&self, jobs: &[StartedJob]) -> Vec<String> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut active = self.active.lock().unwrap();
        for job in jobs {
            let raw = RawJob {
                id: &job.id,
                fields: &job.fields,
            };
            // Parsed once: the retry bookkeeping and the record for JS share it.
            let opts = raw.opts();
            active.insert(
                job.id.clone(),
                ActiveJob::from_started(&raw, &job.token, &opts),
            );
            let mut json = String::with_capacity(256);
            raw.write_json_with(&mut json, Some(&job.token), &opts);
            out.push(json);
        }
        out
    }

    /// Records started jobs as active and hands them to JS.
    fn deliver_started(&self, jobs: Vec<StartedJob>) -> usize {
        if jobs.is_empty() {
            return 0;
        }
        let out = self.record_started(&jobs);
        let n = out.len();
        let _ = self.out.send(Delivery::Jobs(out));
        n
    }

    fn report(&self, jobs: &Value, wait: &Value, due: &Value) -> FetchReport {
        let started = self.deliver_started(reply::started_jobs(jobs));
        FetchReport {
            started,
            limit_wait_ms: reply::as_i64(wait),
            next_due_ms: reply::as_f64(due),
        }
    }

    async fn fetch(&self, count: usize) -> EngineResult<FetchReport> {
        let reply: Value = self
            .queue
            .eval(&scripts().fetch, &self.worker_args(count))
            .await?;
        let parts = reply::items(&reply);
        Ok(self.report(&parts[0], &parts[1], &parts[2]))
    }

    /// Script arguments for one finished job, deciding retries on the way.
    fn finish_args(&self, f: &Finish, args: &mut Vec<String>) {
        let active = self.active.lock().unwrap();
        let job = active.get(&f.id);
        let attempts = job.map(|j| j.attempts).unwrap_or(1);
        let s = &self.settings;
        let (action, value, stack, keep, extra) = match &f.outcome {
            Outcome::RateLimited | Outcome::Moved => {
                ("wait", String::new(), String::new(), None, String::new())
            }
            Outcome::Completed { returnvalue } => {
                let keep = job.and_then(|j| j.keep_complete).or(s.remove_on_complete);
                (
                    "completed",
                    returnvalue.clone(),
                    String::new(),
                    keep,
                    String::new(),
                )
            }
            Outcome::Failed {
                reason,
                stacktrace,
                unrecoverable,
                custom_delay,
            } => {
                let made = job.map(|j| j.attempts_made).unwrap_or(0) + 1;
                let backoff = job.and_then(|j| j.backoff.as_ref());
                let keep = job.and_then(|j| j.keep_fail).or(s.remove_on_fail);
                match decide(attempts, made, backoff, *unrecoverable, *custom_delay) {
                    Retry::Fail => (
                        "failed",
                        reason.clone(),
                        stacktrace.clone(),
                        keep,
                        String::new(),
                    ),
                    Retry::After(0) => {
                        let lifo = if job.map(|j| j.lifo).unwrap_or(false) {
                            "1"
                        } else {
                            "0"
                        };
                        (
                            "retry",
                            reason.clone(),
                            stacktrace.clone(),
                            keep,
                            lifo.to_string(),
                        )
                    }
                    Retry::After(ms) => (
                        "delay",
                        reason.clone(),
                        stacktrace.clone(),
                        keep,
                        ms.to_string(),
                    ),
                }
            }
        };
        let keep = keep.unwrap_or(KeepJobs::ALL);
        args.extend([
            f.id.clone(),
            f.token.clone(),
            action.to_string(),
            value,
            stack,
            keep.count_arg().to_string(),
            keep.age_arg().to_string(),
            attempts.to_string(),
            extra,
        ]);
    }

    /// Runs the finish script for `batch` (starting up to `fetch` new jobs);
    /// returns each job's code and the script's reply.
    async fn finish_script(
        &self,
        batch: &[Finish],
        fetch: usize,
    ) -> EngineResult<(Vec<i64>, Value)> {
        let mut args = self.worker_args(fetch);
        args.push(self.settings.metrics_max_points.to_string());
        args.push(batch.len().to_string());
        for f in batch {
            self.finish_args(f, &mut args);
        }
        let reply: Value = self.queue.eval(&scripts().finish, &args).await?;
        let codes: Vec<i64> = reply::items(&reply::items(&reply)[0])
            .iter()
            .map(reply::as_i64)
            .collect();
        // A refused result (wrong token, …) leaves the job as it was.
        let mut active = self.active.lock().unwrap();
        for (f, code) in batch.iter().zip(&codes) {
            if *code == 0 {
                active.remove(&f.id);
            }
        }
        drop(active);
        Ok((codes, reply))
    }

    /// Sends finished jobs to Redis and starts up to `fetch` new ones.
    async fn flush(&self, batch: &[Finish], fetch: usize) -> EngineResult<FetchReport> {
        let (codes, reply) = self.finish_script(batch, fetch).await?;
        // The worker is done with these jobs whatever Redis said.
        let mut active = self.active.lock().unwrap();
        for f in batch {
            active.remove(&f.id);
        }
        drop(active);
        let done = batch
            .iter()
            .zip(codes)
            .map(|(f, c)| (f.id.clone(), c))
            .collect();
        let _ = self.out.send(Delivery::Done(done));
        let parts = reply::items(&reply);
        Ok(self.report(&parts[1], &parts[2], &parts[3]))
    }

    async fn blocking_conn(&self) -> EngineResult<MultiplexedConnection> {
        // BullMQ adds the worker's name only when it has one.
        let mut name = self.queue.keys.client_name();
        if !self.settings.name.is_empty() {
            name = format!("{name}:w:{}", self.settings.name);
        }
        self.queue.endpoint.dedicated(Some(&name)).await
    }

    /// Reports an error to JS (once per outage) and backs off before retrying.
    async fn back_off(&self, error: String, state: &mut LoopState) {
        if state.failures == 0 {
            let _ = self.out.send(Delivery::Error(error));
        }
        state.failures += 1;
        let ms = (50u64 << state.failures.min(5)).min(2000);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
            _ = self.wake.notified() => { self.wake.notify_one(); }
        }
    }

    fn after_fetch(&self, report: FetchReport, asked: usize, state: &mut LoopState) {
        state.failures = 0;
        if report.started > 0 {
            state.drained_told = false;
            state.need_fetch = report.started >= asked;
            return;
        }
        state.need_fetch = false;
        if report.limit_wait_ms > 0 {
            state.wait_until_ms = now_ms() as f64 + report.limit_wait_ms as f64;
        }
        state.next_due = (report.next_due_ms > 0.0).then_some(report.next_due_ms);
        if asked > 0 && report.limit_wait_ms == 0 && !state.drained_told {
            state.drained_told = true;
            let _ = self.out.send(Delivery::Drained);
        }
    }

    fn requeue(&self, batch: Vec<Finish>) {
        let mut pending = self.pending.lock().unwrap();
        let newer = std::mem::take(&mut *pending);
        *pending = batch;
        pending.extend(newer);
    }

    async fn run(self: Arc<Self>) {
        let mut state = LoopState {
            need_fetch: true,
            ..LoopState::default()
        };
        let mut blocking: Option<MultiplexedConnection> = None;
        let mut block: Option<BlockFuture> = None;
        // Finish calls in flight: while Redis runs one, the next batch of
        // results is already on its way, so client and Redis work in parallel.
        let mut calls: JoinSet<CallResult> = JoinSet::new();
        // Jobs the calls in flight are finishing, and slots they may fill.
        let (mut finishing, mut reserved) = (0usize, 0usize);
        loop {
            let (closing, force, paused) = {
                let f = self.flags.lock().unwrap();
                (f.closing, f.force, f.paused)
            };
            if force {
                return;
            }
            let held = self.hold_until_ms.load(Ordering::Relaxed) as f64;
            state.wait_until_ms = state.wait_until_ms.max(held);
            if calls.len() < MAX_CALLS_IN_FLIGHT {
                let batch = {
                    let mut pending = self.pending.lock().unwrap();
                    if calls.is_empty() && pending.len() >= 2 {
                        // Two halves, two calls: their replies come back apart,
                        // so JS works on one half while Redis runs the other.
                        let half = pending.len() / 2;
                        pending.drain(..half).collect::<Vec<Finish>>()
                    } else {
                        std::mem::take(&mut *pending)
                    }
                };
                if !batch.is_empty() {
                    // Slots this batch frees can be refilled in the same call.
                    let fetch = if closing || paused || (now_ms() as f64) < state.wait_until_ms {
                        0
                    } else {
                        let staying = self
                            .active
                            .lock()
                            .unwrap()
                            .len()
                            .saturating_sub(finishing + batch.len());
                        self.concurrency
                            .load(Ordering::Relaxed)
                            .saturating_sub(staying + reserved)
                    };
                    finishing += batch.len();
                    reserved += fetch;
                    let me = self.clone();
                    calls.spawn(async move {
                        let result = me.flush(&batch, fetch).await;
                        (batch, fetch, result)
                    });
                    continue;
                }
            }
            if calls.is_empty() {
                if closing && self.active.lock().unwrap().is_empty() {
                    return;
                }
                let free = self.free_slots();
                if free > 0 && state.need_fetch && now_ms() as f64 >= state.wait_until_ms {
                    match self.fetch(free).await {
                        Ok(report) => self.after_fetch(report, free, &mut state),
                        Err(e) => self.back_off(e.to_string(), &mut state).await,
                    }
                    continue;
                }
            }
            // Nothing to do now: sleep until results arrive, a call returns,
            // the marker says a job is ready, a delayed job falls due, or the
            // rate limit lifts.
            let now = now_ms() as f64;
            let rate_limited = now < state.wait_until_ms;
            let idle = calls.is_empty() && self.free_slots() > 0 && !rate_limited;
            if idle && block.is_none() {
                if blocking.is_none() {
                    match self.blocking_conn().await {
                        Ok(c) => blocking = Some(c),
                        Err(e) => {
                            self.back_off(e.to_string(), &mut state).await;
                            continue;
                        }
                    }
                }
                let mut timeout = self.settings.drain_delay_s;
                if let Some(due) = state.next_due {
                    timeout = timeout.min(((due - now) / 1000.0).max(0.001));
                }
                let mut conn = blocking.clone().expect("connected above");
                let cmd = redis::cmd("BZPOPMIN")
                    .arg(self.queue.keys.key("marker"))
                    .arg(timeout)
                    .clone();
                block = Some(Box::pin(async move {
                    cmd.query_async::<Value>(&mut conn).await
                }));
            }
            let sleep_for = if rate_limited {
                Duration::from_millis((state.wait_until_ms - now) as u64 + 1)
            } else {
                Duration::from_secs(3600)
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => state.need_fetch = true,
                Some(joined) = calls.join_next(), if !calls.is_empty() => {
                    let Ok((batch, fetch, result)) = joined else { continue };
                    finishing -= batch.len();
                    reserved -= fetch;
                    match result {
                        Ok(report) if fetch > 0 => self.after_fetch(report, fetch, &mut state),
                        Ok(_) => state.failures = 0,
                        Err(e) => {
                            self.requeue(batch);
                            self.back_off(e.to_string(), &mut state).await;
                        }
                    }
                }
                result = async { block.as_mut().expect("guarded").await }, if block.is_some() => {
                    block = None;
                    state.need_fetch = true;
                    if let Err(e) = result {
                        blocking = None;
                        let message = format!(
                            "Redis at {} is unreachable: {e}",
                            self.queue.endpoint.display()
                        );
                        self.back_off(message, &mut state).await;
                    }
                }
            }
        }
    }
}

/// Two finish calls at once let client and Redis overlap; more would only
/// shrink the batches.
const MAX_CALLS_IN_FLIGHT: usize = 2;

type CallResult = (Vec<Finish>, usize, EngineResult<FetchReport>);

#[derive(Default)]
struct LoopState {
    need_fetch: bool,
    drained_told: bool,
    wait_until_ms: f64,
    next_due: Option<f64>,
    failures: u32,
}

/// Runs the stalled-job check at start and every `stalled_interval_ms`; the
/// `stalled-check` key makes one worker per interval do it for the queue.
async fn check_stalled(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        if !s.flags.lock().unwrap().running {
            return;
        }
        let args = vec![
            s.queue.keys.base.clone(),
            now_ms().to_string(),
            s.settings.max_stalled_count.to_string(),
            s.settings.stalled_interval_ms.to_string(),
        ];
        match s.queue.eval::<Vec<String>>(&scripts().stalled, &args).await {
            Ok(ids) if !ids.is_empty() => {
                let _ = s.out.send(Delivery::Stalled(ids));
                // Recovered jobs are waiting: look for them now.
                s.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                let _ = s
                    .out
                    .send(Delivery::Error(format!("stalled-job check failed: {e}")));
            }
        }
        let period = Duration::from_millis(s.settings.stalled_interval_ms.max(1));
        drop(s);
        tokio::time::sleep(period).await;
    }
}

/// Renews the locks of every active job in one call per period.
async fn renew_locks(shared: std::sync::Weak<Shared>) {
    loop {
        let period = match shared.upgrade() {
            Some(s) => Duration::from_millis(s.settings.lock_renew_ms.max(1)),
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(s) = shared.upgrade() else { return };
        if !s.flags.lock().unwrap().running {
            return;
        }
        let mut args = vec![
            s.queue.keys.base.clone(),
            s.settings.lock_duration_ms.to_string(),
        ];
        {
            let active = s.active.lock().unwrap();
            if active.is_empty() {
                continue;
            }
            for (id, job) in active.iter() {
                args.push(id.clone());
                args.push(job.token.clone());
            }
        }
        match s
            .queue
            .eval::<Vec<String>>(&scripts().extend_locks, &args)
            .await
        {
            Ok(lost) => {
                let renewed: Vec<String> = args[2..]
                    .iter()
                    .step_by(2)
                    .filter(|id| !lost.contains(id))
                    .cloned()
                    .collect();
                if !renewed.is_empty() {
                    let _ = s.out.send(Delivery::LocksRenewed(renewed));
                }
                if !lost.is_empty() {
                    let _ = s.out.send(Delivery::LocksLost(lost));
                }
            }
            Err(e) => {
                let _ = s
                    .out
                    .send(Delivery::Error(format!("could not renew job locks: {e}")));
            }
        }
    }
}

//! The one Worker of every store: its settings, the jobs it holds, the
//! results JS hands back, how a failed attempt is decided (retry, delay,
//! fail), the loop that fetches and finishes jobs through a `WorkerStore`
//! (run.rs), its timers (timers.rs), and the batches of deliveries JS
//! receives through `next` (delivery.rs).

mod delivery;
mod run;
mod settings;
mod timers;

pub use settings::WorkerSettings;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;

use super::backoff::{decide, Retry};
use super::clock::Clock;
use super::error::{EngineError, EngineResult};
use super::job::RawJob;
use super::options::{parse_backoff, Backoff, KeepJobs};
use super::store::{Done, Fetch, Finishing, Tokens, TurnRequest, WorkerStore};

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

/// What JS learns of one result: whether it was stored, what became of the
/// job, when, and the backoff delay of a delayed retry (BullMQ sets
/// `finishedOn` and `delay` on the job from these).
pub struct Settled {
    pub id: String,
    pub done: Done,
    /// `Action::name`, or "moved" for a job the processor moved itself.
    pub action: &'static str,
    pub at_ms: i64,
    pub delay_ms: i64,
}

impl Settled {
    fn of(result: &Finishing, done: Done, at_ms: i64) -> Settled {
        Settled {
            id: result.finish.id.clone(),
            done,
            action: result.action.name(),
            at_ms,
            delay_ms: match result.action {
                Action::Delay { delay_ms, .. } => delay_ms,
                _ => 0,
            },
        }
    }

    /// One settled result per stored result, in order.
    pub fn all(results: &[Finishing], done: Vec<Done>, at_ms: i64) -> Vec<Settled> {
        results
            .iter()
            .zip(done.into_iter().chain(std::iter::repeat(Ok(()))))
            .map(|(r, d)| Settled::of(r, d, at_ms))
            .collect()
    }

    /// `[id, refusal or null, action, at, delay]`, as JS reads it.
    pub fn to_json(&self) -> String {
        serde_json::json!([
            self.id,
            super::store::refusal_name(self.done),
            self.action,
            self.at_ms,
            self.delay_ms
        ])
        .to_string()
    }
}

/// What becomes of a job whose result arrived, once retries are decided.
#[derive(Clone)]
pub enum Action {
    Completed {
        returnvalue: String,
        keep: KeepJobs,
    },
    Failed {
        reason: String,
        stacktrace: String,
        keep: KeepJobs,
        /// The job's attempts option, for `retries-exhausted`.
        attempts: i64,
    },
    /// Back to wait at once after a failed attempt.
    Retry {
        reason: String,
        stacktrace: String,
        lifo: bool,
    },
    /// Delayed by backoff after a failed attempt.
    Delay {
        reason: String,
        stacktrace: String,
        delay_ms: i64,
    },
    /// Rate limited: back to wait, no attempt counted.
    Wait,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Completed { .. } => "completed",
            Action::Failed { .. } => "failed",
            Action::Retry { .. } => "retry",
            Action::Delay { .. } => "delay",
            Action::Wait => "wait",
        }
    }
}

/// What the engine tells JS; several are merged into one batch per `next`.
pub enum Delivery {
    Jobs(Vec<String>),
    /// Results stored, or refused.
    Done(Vec<Settled>),
    Drained,
    /// An error of the loop or its timers, kind kept.
    Error(EngineError),
    LocksLost(Vec<String>),
    /// Jobs the stalled checker moved back to wait.
    Stalled(Vec<String>),
    /// Jobs whose locks were renewed.
    LocksRenewed(Vec<String>),
}

pub struct ActiveJob {
    pub token: String,
    attempts: i64,
    attempts_made: i64,
    /// Whether the job carries a deduplication id (set when it was added).
    dedup: bool,
    backoff: Option<Backoff>,
    lifo: bool,
    keep_complete: Option<KeepJobs>,
    keep_fail: Option<KeepJobs>,
}

impl ActiveJob {
    /// `opts` are the job's decoded options; the names read here are the
    /// same before and after decoding.
    fn from_started<K: AsRef<str>, V: AsRef<str>>(
        job: &RawJob<K, V>,
        token: &str,
        opts: &serde_json::Value,
    ) -> Self {
        ActiveJob {
            token: token.to_string(),
            attempts: opts
                .get("attempts")
                .and_then(|a| a.as_i64())
                .unwrap_or(1)
                .max(1),
            attempts_made: job.get("atm").and_then(|a| a.parse().ok()).unwrap_or(0),
            dedup: job.get("deid").is_some(),
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
pub struct Flags {
    pub paused: bool,
    pub closing: bool,
    pub force: bool,
    pub running: bool,
}

/// A started job as a backend hands it over: id, token and hash fields,
/// as text borrowed from the reply where it can be.
pub struct StartedJob<'a> {
    pub id: Cow<'a, str>,
    pub token: Cow<'a, str>,
    pub fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// What a Worker knows whatever its store: settings, held jobs, results
/// not yet stored, flags, and the channel to JS.
pub struct WorkerCore {
    pub settings: WorkerSettings,
    pub clock: Arc<dyn Clock>,
    pub concurrency: AtomicUsize,
    pub token_base: String,
    token_seq: AtomicU64,
    /// No job is taken before this time (ms), see `hold`.
    pub hold_until_ms: AtomicU64,
    /// When JS last showed it runs (see `alive`), ms.
    last_alive_ms: AtomicI64,
    pub active: Mutex<HashMap<String, ActiveJob>>,
    pub pending: Mutex<Vec<Finish>>,
    pub flags: Mutex<Flags>,
    /// Rings when results arrive or a setting changes.
    pub wake: Notify,
    pub out: mpsc::UnboundedSender<Delivery>,
    /// Rings when the loop has ended.
    pub finished: Notify,
    /// Lock renewal and the stalled check, aborted when the loop ends.
    timers: Mutex<Vec<AbortHandle>>,
}

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

/// JS's end of a worker: where `next` reads its deliveries.
pub struct Inbox(tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>);

impl WorkerCore {
    pub fn new(settings: WorkerSettings, clock: Arc<dyn Clock>) -> (WorkerCore, Inbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let core = WorkerCore {
            concurrency: AtomicUsize::new(settings.concurrency.max(1)),
            settings,
            clock,
            token_base: unique_token_base(),
            token_seq: AtomicU64::new(0),
            hold_until_ms: AtomicU64::new(0),
            last_alive_ms: AtomicI64::new(0),
            active: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
            flags: Mutex::new(Flags::default()),
            wake: Notify::new(),
            out: tx,
            finished: Notify::new(),
            timers: Mutex::new(Vec::new()),
        };
        (core, Inbox(tokio::sync::Mutex::new(rx)))
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Results with what becomes of each (retries decided here) and what
    /// the worker knows of the job.
    pub fn finishing<'f>(&self, batch: &'f [Finish]) -> Vec<Finishing<'f>> {
        batch
            .iter()
            .map(|finish| Finishing {
                action: self.action_for(finish),
                facts: self.held_facts(&finish.id),
                finish,
            })
            .collect()
    }

    /// Reserves `count` lock tokens: `token_base:seq+1` … `token_base:seq+count`.
    pub fn reserve_tokens(&self, count: usize) -> u64 {
        self.token_seq.fetch_add(count as u64, Ordering::Relaxed)
    }

    /// Marks the loop as running; false if it already runs or is closing.
    pub fn begin(&self) -> bool {
        let mut flags = self.flags.lock().unwrap();
        if flags.running || flags.closing {
            return false;
        }
        flags.running = true;
        drop(flags);
        self.alive();
        true
    }

    /// Spawns one of the worker's timers; spawn them before the loop, so
    /// that the loop's end (`ended_loop`) cannot come before they are known.
    pub fn spawn_timer(&self, timer: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(timer).abort_handle();
        self.timers.lock().unwrap().push(handle);
    }

    /// Called by the loop's task when it returns.
    pub fn ended_loop(&self) {
        self.flags.lock().unwrap().running = false;
        // A timer sleeps a whole period (stalledInterval: 30 s by default)
        // before it sees that the worker ended, and keeps its task and the
        // worker's allocation until then: a process that opens and closes
        // workers often held tens of thousands of them. The handles are
        // dropped too, as each keeps its task's memory.
        for timer in std::mem::take(&mut *self.timers.lock().unwrap()) {
            timer.abort();
        }
        self.finished.notify_waiters();
        // Wake a pending `next` so that it sees the end.
        let _ = self.out.send(Delivery::Done(Vec::new()));
    }

    pub fn free_slots(&self) -> usize {
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

    /// Records started jobs as active; returns their JSON records.
    pub fn record_started(&self, jobs: &[StartedJob]) -> Vec<String> {
        self.record_started_raw(jobs.iter().map(|job| {
            let raw = RawJob {
                id: &job.id,
                fields: &job.fields,
            };
            (raw, job.token.as_ref())
        }))
    }

    /// As `record_started`, for jobs read in place (no copy of their fields).
    pub fn record_started_raw<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
        &self,
        jobs: impl Iterator<Item = (RawJob<'a, K, V>, &'a str)>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut active = self.active.lock().unwrap();
        // Jobs of a batch mostly carry the same options text: it is parsed,
        // expanded and written out once per run of equal texts, and shared
        // by the retry bookkeeping and the records for JS.
        let mut last: Option<(String, serde_json::Value, String)> = None;
        for (raw, token) in jobs {
            let text = raw.get("opts").unwrap_or_default();
            if last.as_ref().is_none_or(|(seen, _, _)| seen != text) {
                let opts = raw.opts();
                let json = opts.to_string();
                last = Some((text.to_string(), opts, json));
            }
            let (_, opts, opts_json) = last.as_ref().expect("set above");
            active.insert(
                raw.id.to_string(),
                ActiveJob::from_started(&raw, token, opts),
            );
            let mut json = String::with_capacity(256);
            raw.write_json_with(&mut json, Some(token), opts_json);
            out.push(json);
        }
        out
    }

    /// Decides what becomes of a finished job: retries, backoff and the
    /// removeOn* options of the job, else of the worker.
    pub fn action_for(&self, f: &Finish) -> Action {
        let active = self.active.lock().unwrap();
        let job = active.get(&f.id);
        let s = &self.settings;
        match &f.outcome {
            Outcome::RateLimited | Outcome::Moved => Action::Wait,
            Outcome::Completed { returnvalue } => Action::Completed {
                returnvalue: returnvalue.clone(),
                keep: job
                    .and_then(|j| j.keep_complete)
                    .or(s.remove_on_complete)
                    .unwrap_or(KeepJobs::ALL),
            },
            Outcome::Failed {
                reason,
                stacktrace,
                unrecoverable,
                custom_delay,
            } => {
                let attempts = job.map(|j| j.attempts).unwrap_or(1);
                let made = job.map(|j| j.attempts_made).unwrap_or(0) + 1;
                let backoff = job.and_then(|j| j.backoff.as_ref());
                let (reason, stacktrace) = (reason.clone(), stacktrace.clone());
                match decide(attempts, made, backoff, *unrecoverable, *custom_delay) {
                    Retry::Fail => Action::Failed {
                        reason,
                        stacktrace,
                        keep: job
                            .and_then(|j| j.keep_fail)
                            .or(s.remove_on_fail)
                            .unwrap_or(KeepJobs::ALL),
                        attempts,
                    },
                    Retry::After(0) => Action::Retry {
                        reason,
                        stacktrace,
                        lifo: job.map(|j| j.lifo).unwrap_or(false),
                    },
                    Retry::After(delay_ms) => Action::Delay {
                        reason,
                        stacktrace,
                        delay_ms,
                    },
                }
            }
        }
    }

    /// The (id, token) of every job this worker holds, for lock renewal.
    pub fn held_locks(&self) -> Vec<(String, String)> {
        let active = self.active.lock().unwrap();
        active
            .iter()
            .map(|(id, job)| (id.clone(), job.token.clone()))
            .collect()
    }

    /// Tells JS which of the `held` locks were renewed and which were lost.
    pub fn report_renewal(&self, held: Vec<(String, String)>, lost: Vec<String>) {
        let renewed: Vec<String> = held
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !lost.contains(id))
            .collect();
        if !renewed.is_empty() {
            let _ = self.out.send(Delivery::LocksRenewed(renewed));
        }
        if !lost.is_empty() {
            let _ = self.out.send(Delivery::LocksLost(lost));
        }
    }

    /// What this worker knows of a job it holds: attemptsMade once the
    /// current attempt counts, and whether it has a deduplication id.
    pub fn held_facts(&self, id: &str) -> Option<(i64, bool)> {
        let active = self.active.lock().unwrap();
        active.get(id).map(|j| (j.attempts_made + 1, j.dedup))
    }

    /// Takes JS's results. Jobs the processor moved itself are done at once;
    /// the rest wait for the loop to store them.
    pub fn finish(&self, batch: Vec<Finish>) {
        let (moved, results): (Vec<Finish>, Vec<Finish>) = batch
            .into_iter()
            .partition(|f| matches!(f.outcome, Outcome::Moved));
        if !moved.is_empty() {
            let mut active = self.active.lock().unwrap();
            let now = self.now();
            let done = moved
                .into_iter()
                .map(|f| {
                    active.remove(&f.id);
                    Settled {
                        id: f.id,
                        done: Ok(()),
                        action: "moved",
                        at_ms: now,
                        delay_ms: 0,
                    }
                })
                .collect();
            let _ = self.out.send(Delivery::Done(done));
        }
        self.pending.lock().unwrap().extend(results);
        self.wake.notify_one();
    }

    /// Takes no job for `ms` (after a RateLimitError, or `Worker#rateLimit`).
    pub fn hold(&self, ms: u64) {
        let until = (self.now().max(0) as u64).saturating_add(ms);
        self.hold_until_ms.fetch_max(until, Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn set_concurrency(&self, n: usize) {
        self.concurrency.store(n.max(1), Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn set_paused(&self, paused: bool) {
        self.flags.lock().unwrap().paused = paused;
        self.wake.notify_one();
    }

    pub fn is_running(&self) -> bool {
        self.flags.lock().unwrap().running
    }

    /// JS's heartbeat: its thread runs. Locks are renewed only while it
    /// beats (see `js_silent_for`).
    pub fn alive(&self) {
        self.last_alive_ms.store(self.now(), Ordering::Relaxed);
    }

    /// How long JS has not beaten past the worker's bound
    /// (`eventLoopBlockLimit`), or `None` while it is within it.
    pub fn js_silent_for(&self) -> Option<i64> {
        let limit = self.settings.event_loop_block_limit_ms as i64;
        let last = self.last_alive_ms.load(Ordering::Relaxed);
        let silent = self.now() - last;
        (limit > 0 && last > 0 && silent > limit).then_some(silent)
    }

    /// Stops fetching; resolves once every result was stored (or at once
    /// with `force`, leaving unfinished jobs to the stalled checker).
    pub async fn close(&self, force: bool) {
        let finished = self.finished.notified();
        {
            let mut flags = self.flags.lock().unwrap();
            flags.closing = true;
            flags.force |= force;
            if !flags.running {
                return;
            }
        }
        self.wake.notify_one();
        finished.await;
    }

    fn ended(&self) -> bool {
        let flags = self.flags.lock().unwrap();
        flags.closing && !flags.running
    }

    /// The next batch of deliveries as JSON, or `None` once the worker ended.
    pub async fn next(&self, inbox: &Inbox) -> Option<String> {
        self.alive();
        let mut inbox = inbox.0.lock().await;
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
}

/// A Worker's core and its store: what the loop and the timers share.
pub(crate) struct Loop {
    core: WorkerCore,
    store: Arc<dyn WorkerStore>,
}

impl std::ops::Deref for Loop {
    type Target = WorkerCore;
    fn deref(&self) -> &WorkerCore {
        &self.core
    }
}

/// A Worker on any store: JS's handle on it.
pub struct Worker {
    shared: Arc<Loop>,
    inbox: Inbox,
}

impl Worker {
    pub fn new(
        store: Arc<dyn WorkerStore>,
        settings: WorkerSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (core, inbox) = WorkerCore::new(settings, clock);
        Worker {
            shared: Arc::new(Loop { core, store }),
            inbox,
        }
    }

    pub fn core(&self) -> &WorkerCore {
        &self.shared.core
    }

    /// Starts the loop and its timers (idempotent). Must run inside the runtime.
    pub fn start(&self) {
        let s = &self.shared;
        if !s.begin() {
            return;
        }
        s.store.attach();
        if !s.settings.skip_lock_renewal {
            s.spawn_timer(timers::renew_locks(Arc::downgrade(s)));
        }
        if !s.settings.skip_stalled_check {
            s.spawn_timer(timers::check_stalled(Arc::downgrade(s)));
        }
        let shared = s.clone();
        tokio::spawn(async move {
            shared.clone().run().await;
            shared.store.detach();
            shared.ended_loop();
        });
    }

    /// Manual processing (`Worker#getNextJob`): starts one job locked with
    /// `token`, if one is ready, and returns its record.
    pub async fn fetch_one(&self, token: &str) -> EngineResult<Option<String>> {
        let s = &self.shared;
        let fetch = Fetch {
            now: s.now(),
            count: 1,
            tokens: Tokens::Fixed(token),
        };
        let request = TurnRequest {
            core: &s.core,
            results: &[],
            fetch,
        };
        let turn = s.store.turn(request).await?;
        Ok(turn.started.into_iter().next())
    }

    /// Manual processing: stores one result (`moveToCompleted`/`moveToFailed`),
    /// deciding retries as for processed jobs.
    pub async fn finish_one(&self, finish: Finish) -> EngineResult<Settled> {
        let s = &self.shared;
        let batch = [finish];
        let now = s.now();
        let fetch = Fetch {
            now,
            count: 0,
            tokens: Tokens::Fixed(""),
        };
        let results = s.finishing(&batch);
        let request = TurnRequest {
            core: &s.core,
            results: &results,
            fetch,
        };
        let turn = s.store.turn(request).await?;
        let settled = Settled::all(&results, turn.done, now).remove(0);
        if settled.done.is_ok() {
            s.active.lock().unwrap().remove(&batch[0].id);
        }
        Ok(settled)
    }

    pub async fn next(&self) -> Option<String> {
        self.shared.core.next(&self.inbox).await
    }
}

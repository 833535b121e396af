//! The worker loop: fetch, flush results (two calls in flight), and wait on
//! the marker when there is nothing to do.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::task::JoinSet;

use super::{BlockFuture, Shared};
use crate::engine::error::EngineResult;
use crate::engine::job::pair_fields;
use crate::engine::now_ms;
use crate::engine::options::KeepJobs;
use crate::engine::worker::{Action, Delivery, Finish};
use crate::redis::reply::{self, StartedJob};
use crate::redis::scripts::scripts;

/// What a fetch (alone or after a flush) reported beyond the jobs.
struct FetchReport {
    started: usize,
    limit_wait_ms: i64,
    next_due_ms: f64,
}

impl Shared {
    pub(super) fn worker_args(&self, fetch: usize) -> Vec<String> {
        let s = &self.settings;
        let seq = self.reserve_tokens(fetch);
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

    /// The jobs a fetch started, with the fields of any that did not come
    /// back splittable read again. One that cannot be read now stays locked
    /// until the stalled check returns it to wait.
    pub(super) async fn started_jobs<'a>(&self, jobs: &'a Value) -> Vec<StartedJob<'a>> {
        let (mut started, reread) = reply::started_jobs(jobs);
        for mut job in reread {
            let key = self.queue.keys.key(&job.id);
            if let Ok(flat) = self
                .queue
                .query::<Vec<String>>(redis::cmd("HGETALL").arg(key))
                .await
            {
                job.fields = pair_fields(flat)
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                    .collect();
                started.push(job);
            }
        }
        started
    }

    async fn report(&self, jobs: &Value, wait: &Value, due: &Value) -> FetchReport {
        let started = self.deliver_started(self.started_jobs(jobs).await);
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
        Ok(self.report(&parts[0], &parts[1], &parts[2]).await)
    }

    /// Script arguments for one finished job, deciding retries on the way.
    /// Text the job already holds is borrowed; numbers that are almost
    /// always the same are constants.
    fn finish_args<'f>(&self, f: &'f Finish, args: &mut Vec<Cow<'f, str>>) {
        let none = KeepJobs::ALL;
        let empty = || Cow::Borrowed("");
        let (action, value, stack, keep, attempts, extra) = match self.action_for(f) {
            Action::Wait => ("wait", empty(), empty(), none, 1, empty()),
            Action::Completed { returnvalue, keep } => (
                "completed",
                Cow::Owned(returnvalue),
                empty(),
                keep,
                1,
                empty(),
            ),
            Action::Failed {
                reason,
                stacktrace,
                keep,
                attempts,
            } => (
                "failed",
                Cow::Owned(reason),
                Cow::Owned(stacktrace),
                keep,
                attempts,
                empty(),
            ),
            Action::Retry {
                reason,
                stacktrace,
                lifo,
            } => (
                "retry",
                Cow::Owned(reason),
                Cow::Owned(stacktrace),
                none,
                1,
                Cow::Borrowed(if lifo { "1" } else { "0" }),
            ),
            Action::Delay {
                reason,
                stacktrace,
                delay_ms,
            } => (
                "delay",
                Cow::Owned(reason),
                Cow::Owned(stacktrace),
                none,
                1,
                Cow::Owned(delay_ms.to_string()),
            ),
        };
        // What the worker knows spares the script a call each ("": unknown).
        let (made, dedup) = match self.held_facts(&f.id) {
            Some((made, dedup)) => (Cow::Owned(made.to_string()), if dedup { "1" } else { "0" }),
            None => (empty(), ""),
        };
        args.extend([
            Cow::Borrowed(f.id.as_str()),
            Cow::Borrowed(f.token.as_str()),
            Cow::Borrowed(action),
            value,
            stack,
            small_int(keep.count_arg()),
            small_int(keep.age_arg()),
            small_int(attempts),
            extra,
            made,
            Cow::Borrowed(dedup),
        ]);
    }

    /// Runs the finish script for `batch` (starting up to `fetch` new jobs);
    /// returns each job's code and the script's reply.
    pub(super) async fn finish_script(
        &self,
        batch: &[Finish],
        fetch: usize,
    ) -> EngineResult<(Vec<i64>, Value)> {
        let mut args: Vec<Cow<str>> = self
            .worker_args(fetch)
            .into_iter()
            .map(Cow::Owned)
            .collect();
        args.push(Cow::Owned(self.settings.metrics_max_points.to_string()));
        args.push(Cow::Owned(batch.len().to_string()));
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
        {
            let mut active = self.active.lock().unwrap();
            for f in batch {
                active.remove(&f.id);
            }
        }
        let done = batch
            .iter()
            .zip(codes)
            .map(|(f, c)| (f.id.clone(), c))
            .collect();
        let _ = self.out.send(Delivery::Done(done));
        let parts = reply::items(&reply);
        Ok(self.report(&parts[1], &parts[2], &parts[3]).await)
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

    pub(super) async fn run(self: Arc<Self>) {
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

/// An integer as script text, without an allocation for the usual -1, 0, 1.
fn small_int<'a>(n: i64) -> Cow<'a, str> {
    match n {
        -1 => Cow::Borrowed("-1"),
        0 => Cow::Borrowed("0"),
        1 => Cow::Borrowed("1"),
        n => Cow::Owned(n.to_string()),
    }
}

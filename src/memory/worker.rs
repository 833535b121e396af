//! A Worker on an in-process queue. No round trips: each turn of the loop
//! stores the results JS handed back and starts the next jobs under one
//! lock, then sleeps until results arrive, a job becomes ready, a delayed
//! job falls due or the rate limit lifts. Locks and the stalled check run
//! as on Redis, on tokio timers.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::worker_ops::{FetchArgs, Fetched};
use super::MemoryQueue;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;
use crate::engine::worker::{Delivery, Finish, Inbox, WorkerCore, WorkerSettings};

/// Result batches at least this large are stored in two turns.
const SPLIT_AT: usize = 16;

pub struct Shared {
    core: WorkerCore,
    queue: MemoryQueue,
    id: u64,
}

impl Deref for Shared {
    type Target = WorkerCore;
    fn deref(&self) -> &WorkerCore {
        &self.core
    }
}

pub struct MemoryWorker {
    shared: Arc<Shared>,
    inbox: Inbox,
}

impl Shared {
    fn fetch_args(&self, now: i64, count: usize) -> FetchArgs<'_> {
        FetchArgs {
            now,
            count,
            token_base: &self.token_base,
            seq: Some(self.reserve_tokens(count)),
            lock_ms: self.settings.lock_duration_ms as i64,
            name: &self.settings.name,
            limiter: self.settings.limiter,
        }
    }

    /// Stores `batch` and starts up to `fetch` jobs, in one turn of the lock;
    /// returns each job's code, what was fetched and the started jobs' records.
    fn turn(&self, batch: Vec<Finish>, fetch: usize) -> (Vec<(String, i64)>, Fetched, Vec<String>) {
        let now = now_ms();
        let actions: Vec<_> = batch.iter().map(|f| self.action_for(f)).collect();
        let max_points = self.settings.metrics_max_points;
        let args = self.fetch_args(now, fetch);
        let (codes, fetched, records) = self.queue.with(|s| {
            let codes: Vec<i64> = batch
                .iter()
                .zip(actions)
                .map(|(f, action)| s.finish(&f.id, &f.token, action, now, max_points))
                .collect();
            let fetched = if fetch > 0 {
                s.fetch(&args)
            } else {
                Fetched::default()
            };
            if fetched.jobs.is_empty() && !batch.is_empty() {
                s.emit_drained_if_empty(now);
            }
            let records = s.record_started(&self.core, &fetched);
            (codes, fetched, records)
        });
        let done = batch.into_iter().map(|f| f.id).zip(codes).collect();
        (done, fetched, records)
    }

    async fn run(self: Arc<Self>) {
        let mut ready = self.queue.watch_ready();
        let mut drained_told = false;
        let mut wait_until = 0i64;
        loop {
            let (closing, force, paused) = {
                let f = self.flags.lock().unwrap();
                (f.closing, f.force, f.paused)
            };
            if force {
                return;
            }
            ready.borrow_and_update();
            let batch = {
                let mut pending = self.pending.lock().unwrap();
                if pending.len() >= SPLIT_AT {
                    // Two halves, delivered apart: JS runs the first half's
                    // processors while this thread stores the second.
                    let half = pending.len() / 2;
                    pending.drain(..half).collect()
                } else {
                    std::mem::take(&mut *pending)
                }
            };
            let now = now_ms();
            let held = self.hold_until_ms.load(Ordering::Relaxed) as i64;
            let limited = now < wait_until.max(held);
            let fetch = if closing || paused || limited {
                0
            } else {
                let active = self.active.lock().unwrap().len();
                let staying = active.saturating_sub(batch.len());
                self.concurrency
                    .load(Ordering::Relaxed)
                    .saturating_sub(staying)
            };
            let had_results = !batch.is_empty();
            let (done, fetched, records) = self.turn(batch, fetch);
            if had_results {
                // The worker is done with these jobs whatever the queue said.
                let mut active = self.active.lock().unwrap();
                for (id, _) in &done {
                    active.remove(id);
                }
                drop(active);
                let _ = self.out.send(Delivery::Done(done));
            }
            let started = fetched.jobs.len();
            if started > 0 {
                drained_told = false;
                let _ = self.out.send(Delivery::Jobs(records));
            } else if fetch > 0 && fetched.limit_wait_ms == 0 && !drained_told {
                drained_told = true;
                let _ = self.out.send(Delivery::Drained);
            }
            if fetched.limit_wait_ms > 0 {
                wait_until = now + fetched.limit_wait_ms;
            }
            if closing && self.active.lock().unwrap().is_empty() {
                return;
            }
            if (started > 0 && started == fetch) || !self.pending.lock().unwrap().is_empty() {
                // More results to store, or slots it may fill at once. Yield
                // first: `next` runs on this thread too, and JS should get
                // what was just delivered while this turn goes on.
                tokio::task::yield_now().await;
                continue;
            }
            // Idle, it looks again after drainDelay at the latest, as a
            // Redis worker's marker wait does.
            let mut sleep_ms = (self.settings.drain_delay_s * 1000.0) as i64;
            let until = wait_until.max(self.hold_until_ms.load(Ordering::Relaxed) as i64);
            if until > now {
                sleep_ms = until - now + 1;
            } else if fetched.next_due_ms > 0 {
                sleep_ms = sleep_ms.min((fetched.next_due_ms - now).max(1));
            }
            let can_take = self.free_slots() > 0 && until <= now;
            tokio::select! {
                _ = self.wake.notified() => {}
                changed = ready.changed(), if can_take => {
                    if changed.is_err() { return; }
                }
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms as u64)) => {}
            }
        }
    }
}

/// Renews the locks of the worker's active jobs every `lock_renew_ms`.
async fn renew_locks(shared: Weak<Shared>) {
    loop {
        let period = match shared.upgrade() {
            Some(s) => Duration::from_millis(s.settings.lock_renew_ms.max(1)),
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(s) = shared.upgrade() else { return };
        if !s.is_running() {
            return;
        }
        let held = s.held_locks();
        if held.is_empty() {
            continue;
        }
        let pairs: Vec<(&str, &str)> = held.iter().map(|(i, t)| (i.as_str(), t.as_str())).collect();
        let lock_ms = s.settings.lock_duration_ms as i64;
        let lost = s.queue.with(|q| q.extend_locks(&pairs, lock_ms, now_ms()));
        s.report_renewal(held, lost);
    }
}

/// Runs the stalled-job check at start and every `stalled_interval_ms`.
async fn check_stalled(shared: Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        if !s.is_running() {
            return;
        }
        let (max, interval) = (
            s.settings.max_stalled_count,
            s.settings.stalled_interval_ms as i64,
        );
        let ids = s.queue.with(|q| q.check_stalled(now_ms(), max, interval));
        if !ids.is_empty() {
            let _ = s.out.send(Delivery::Stalled(ids));
        }
        let period = Duration::from_millis(s.settings.stalled_interval_ms.max(1));
        drop(s);
        tokio::time::sleep(period).await;
    }
}

impl MemoryWorker {
    pub fn new(queue: MemoryQueue, settings: WorkerSettings) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let (core, inbox) = WorkerCore::new(settings);
        MemoryWorker {
            shared: Arc::new(Shared {
                core,
                queue,
                id: IDS.fetch_add(1, Ordering::Relaxed),
            }),
            inbox,
        }
    }

    pub fn core(&self) -> &WorkerCore {
        &self.shared.core
    }

    pub fn start(&self) {
        if !self.shared.begin() {
            return;
        }
        let s = &self.shared;
        s.queue.attach_worker(s.id, &s.settings.name);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            shared.clone().run().await;
            shared.queue.detach_worker(shared.id);
            shared.ended_loop();
        });
        if !s.settings.skip_lock_renewal {
            tokio::spawn(renew_locks(Arc::downgrade(s)));
        }
        if !s.settings.skip_stalled_check {
            tokio::spawn(check_stalled(Arc::downgrade(s)));
        }
    }

    /// Manual processing: starts one job locked with `token`, if one is ready.
    pub async fn fetch_one(&self, token: &str) -> EngineResult<Option<String>> {
        let s = &self.shared;
        let mut args = s.fetch_args(now_ms(), 1);
        args.token_base = token;
        args.seq = None;
        Ok(s.queue.with(|q| {
            let fetched = q.fetch(&args);
            q.record_started(&s.core, &fetched).pop()
        }))
    }

    /// Manual processing: stores one result; returns its code.
    pub async fn finish_one(&self, finish: Finish) -> EngineResult<i64> {
        let (done, _, _) = self.shared.turn(vec![finish], 0);
        let (id, code) = done.into_iter().next().unwrap_or_default();
        if code == 0 {
            self.shared.active.lock().unwrap().remove(&id);
        }
        Ok(if id.is_empty() { -1 } else { code })
    }

    pub async fn next(&self) -> Option<String> {
        self.shared.core.next(&self.inbox).await
    }
}

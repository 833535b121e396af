//! The worker loop, the same for every store: store results and start jobs
//! in turns (up to the store's number of turns at once, so that the store
//! works on one batch while JS works on another), and wait for work when
//! there is nothing to do.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{Delivery, Finish, Loop, Settled};
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::store::{BoxFuture, Fetch, Tokens, TurnRequest};

/// What a turn reported beyond the jobs it delivered.
struct FetchReport {
    started: usize,
    limit_wait_ms: i64,
    next_due_ms: i64,
}

type CallResult = (Vec<Finish>, usize, EngineResult<FetchReport>);

/// How long `close()` keeps trying to store results while the store is
/// unreachable before it gives up and leaves their jobs to the stalled
/// checker: a shutdown must end even when Redis does not come back.
const CLOSE_GIVE_UP_MS: i64 = 5_000;

#[derive(Default)]
struct LoopState {
    closing_since: Option<i64>,
    need_fetch: bool,
    drained_told: bool,
    wait_until_ms: i64,
    next_due: Option<i64>,
    failures: u32,
}

impl Loop {
    /// Stores `batch`, starts up to `fetch` jobs, and tells JS about both.
    async fn turn(&self, batch: &[Finish], fetch: usize) -> EngineResult<FetchReport> {
        let seq = self.reserve_tokens(fetch);
        let now = self.now();
        let request = Fetch {
            now,
            count: fetch,
            tokens: Tokens::Sequence {
                base: &self.token_base,
                first: seq,
            },
        };
        let results = self.finishing(batch);
        let turn = self
            .store
            .turn(TurnRequest {
                core: &self.core,
                results: &results,
                fetch: request,
            })
            .await?;
        if !batch.is_empty() {
            // The worker is done with these jobs whatever the store said.
            let mut active = self.active.lock().unwrap();
            for f in batch {
                active.remove(&f.id);
            }
            drop(active);
            let settled = Settled::all(&results, turn.done, now);
            let _ = self.out.send(Delivery::Done(settled));
        }
        let started = turn.started.len();
        if started > 0 {
            tracing::trace!(target: "bullrush::worker", started, finished = batch.len(), "turn");
            let _ = self.out.send(Delivery::Jobs(turn.started));
        }
        Ok(FetchReport {
            started,
            limit_wait_ms: turn.limit_wait_ms,
            next_due_ms: turn.next_due_ms,
        })
    }

    /// Reports an error to JS (once per outage) and backs off before retrying.
    async fn back_off(&self, error: EngineError, state: &mut LoopState) {
        if state.failures == 0 {
            tracing::warn!(target: "bullrush::worker", %error, "worker paused by an error");
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
        if state.failures > 0 {
            tracing::info!(target: "bullrush::worker", "worker resumed");
        }
        state.failures = 0;
        // A fetch can start jobs and then hit the rate limit: the wait holds
        // either way, or the worker would wait for a marker that the
        // limiter's expiry never sets.
        if report.limit_wait_ms > 0 {
            state.wait_until_ms = self.now() + report.limit_wait_ms;
        }
        if report.started > 0 {
            state.drained_told = false;
            state.need_fetch = report.started >= asked || report.limit_wait_ms > 0;
            return;
        }
        state.need_fetch = false;
        state.next_due = (report.next_due_ms > 0).then_some(report.next_due_ms);
        if asked > 0 && report.limit_wait_ms == 0 && !state.drained_told {
            state.drained_told = true;
            let _ = self.out.send(Delivery::Drained);
        }
    }

    /// Ends a close that cannot store its results, saying what is left.
    fn give_up_closing(&self) {
        let unstored = self.pending.lock().unwrap().len();
        let active = self.active.lock().unwrap().len();
        let message = format!(
            "closed while the store is unreachable: {unstored} results were not stored and {active} jobs are still active; they go back to wait when their locks expire"
        );
        tracing::warn!(target: "bullrush::worker", "{message}");
        let _ = self
            .out
            .send(Delivery::Error(EngineError::Unavailable(message)));
    }

    fn requeue(&self, batch: Vec<Finish>) {
        let mut pending = self.pending.lock().unwrap();
        let newer = std::mem::take(&mut *pending);
        *pending = batch;
        pending.extend(newer);
    }

    /// Results to store in the next turn: all of them, or half when no
    /// turn runs and they are many, so that two turns overlap.
    fn take_results(&self, split: bool) -> Vec<Finish> {
        let mut pending = self.pending.lock().unwrap();
        if split {
            let half = pending.len() / 2;
            pending.drain(..half).collect()
        } else {
            std::mem::take(&mut *pending)
        }
    }

    pub(super) async fn run(self: Arc<Self>) {
        let pacing = self.store.pacing();
        let mut state = LoopState {
            need_fetch: true,
            ..LoopState::default()
        };
        let mut wait: Option<BoxFuture<'static, EngineResult<()>>> = None;
        let mut calls: JoinSet<CallResult> = JoinSet::new();
        // Jobs the turns in flight are finishing, and slots they may fill.
        let (mut finishing, mut reserved) = (0usize, 0usize);
        loop {
            let (closing, force, paused) = {
                let f = self.flags.lock().unwrap();
                (f.closing, f.force, f.paused)
            };
            if force {
                return;
            }
            let held = self.hold_until_ms.load(Ordering::Relaxed) as i64;
            state.wait_until_ms = state.wait_until_ms.max(held);
            let now = self.now();
            if closing {
                let since = *state.closing_since.get_or_insert(now);
                if state.failures > 0 && now - since > CLOSE_GIVE_UP_MS {
                    self.give_up_closing();
                    return;
                }
            }
            let rate_limited = now < state.wait_until_ms;
            if calls.len() < pacing.calls_in_flight {
                let many = self.pending.lock().unwrap().len() >= pacing.split_from.max(2);
                let batch = self.take_results(calls.is_empty() && many);
                let fetch = if closing || paused || rate_limited {
                    0
                } else {
                    let active = self.active.lock().unwrap().len();
                    let staying = active.saturating_sub(finishing + batch.len());
                    self.concurrency
                        .load(Ordering::Relaxed)
                        .saturating_sub(staying + reserved)
                };
                // Results always go; a fetch alone only when the last one
                // found work (or something since said there may be some).
                let fetch_alone = calls.is_empty() && state.need_fetch && fetch > 0;
                if !batch.is_empty() || fetch_alone {
                    finishing += batch.len();
                    reserved += fetch;
                    let me = self.clone();
                    calls.spawn(async move {
                        let result = me.turn(&batch, fetch).await;
                        (batch, fetch, result)
                    });
                    continue;
                }
            }
            if calls.is_empty() && closing && self.active.lock().unwrap().is_empty() {
                return;
            }
            // Nothing to do now: sleep until results arrive, a turn returns,
            // the store says a job may be ready, a delayed job falls due, or
            // the rate limit lifts.
            let idle = calls.is_empty() && self.free_slots() > 0 && !rate_limited;
            if idle && wait.is_none() {
                let mut timeout_ms = (self.settings.drain_delay_s * 1000.0) as i64;
                if let Some(due) = state.next_due {
                    timeout_ms = timeout_ms.min(due - now).max(1);
                }
                let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
                wait = Some(self.store.wait_for_work(timeout));
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
                            self.back_off(e, &mut state).await;
                        }
                    }
                }
                result = async { wait.as_mut().expect("guarded").await }, if wait.is_some() => {
                    wait = None;
                    state.need_fetch = true;
                    if let Err(e) = result {
                        self.back_off(e, &mut state).await;
                    }
                }
            }
        }
    }
}

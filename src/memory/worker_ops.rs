//! What a Worker does to an in-process queue: start jobs, store results,
//! renew locks and recover stalled jobs, with the Redis scripts' rules.

use super::state::{Lock, State};
use crate::engine::job::RawJob;
use crate::engine::worker::{Action, WorkerCore};

/// A worker's side of one fetch.
pub struct FetchArgs<'a> {
    pub now: i64,
    pub count: usize,
    /// The lock token is `<token_base>:<seq + i>`, or `token_base` itself
    /// when `seq` is `None` (manual processing picks its own token).
    pub token_base: &'a str,
    pub seq: Option<u64>,
    pub lock_ms: i64,
    pub name: &'a str,
    pub limiter: Option<(i64, i64)>,
}

/// Jobs started (id, lock token), the rate-limit wait (ms, 0: none) and
/// when the next delayed job is due (0: none).
#[derive(Default)]
pub struct Fetched {
    pub jobs: Vec<(String, String)>,
    pub limit_wait_ms: i64,
    pub next_due_ms: i64,
}

impl State {
    /// Starts up to `count` jobs, honouring pause, the global concurrency
    /// and the rate limit (the queue's, else the worker's).
    pub fn fetch(&mut self, w: &FetchArgs) -> Fetched {
        let mut fetched = Fetched::default();
        let limit_max = self.meta_int("max").or(w.limiter.map(|l| l.0));
        let limit_ms = w.limiter.map(|l| l.1).or(self.meta_int("duration"));
        let concurrency = self.meta_int("concurrency");
        self.promote_due(w.now);
        if self.is_paused() {
            // Delayed jobs still fall due into wait while paused, as on
            // Redis: the worker is told when the next one is due.
            fetched.next_due_ms = self.next_due_at().unwrap_or(0);
            return fetched;
        }
        for i in 1..=w.count as u64 {
            let wait = self.limiter_wait(limit_max, w.now);
            if wait > 0 {
                fetched.limit_wait_ms = wait;
                return fetched;
            }
            if concurrency.is_some_and(|c| self.active.len() as i64 >= c) {
                break;
            }
            let Some(id) = self.take_next_id() else { break };
            let token = match w.seq {
                Some(seq) => format!("{}:{}", w.token_base, seq + i),
                None => w.token_base.to_string(),
            };
            let deferred_failure = self.jobs.get(&id).is_some_and(|j| j.get("defa").is_some());
            if limit_max.is_some() && !deferred_failure {
                self.limiter_count(limit_ms.unwrap_or(1000), w.now);
            }
            self.emit(w.now, "active", &[("jobId", &id), ("prev", "waiting")]);
            let Some(job) = self.jobs.get_mut(&id) else {
                self.leave_active(&id);
                continue;
            };
            job.lock = Some(Lock {
                token: token.clone(),
                expires_at: w.now + w.lock_ms,
            });
            job.set("processedOn", w.now.to_string());
            if !w.name.is_empty() {
                job.set("pb", w.name);
            }
            job.incr("ats");
            fetched.jobs.push((id, token));
        }
        if fetched.jobs.is_empty() {
            fetched.next_due_ms = self.next_due_at().unwrap_or(0);
        }
        fetched
    }

    /// Hands started jobs to `core` (its active set) and returns their
    /// records for JS, read in place.
    pub fn record_started(&self, core: &WorkerCore, fetched: &Fetched) -> Vec<String> {
        core.record_started_raw(fetched.jobs.iter().filter_map(|(id, token)| {
            let job = self.jobs.get(id)?;
            Some((
                RawJob {
                    id,
                    fields: &job.fields,
                },
                token.as_str(),
            ))
        }))
    }

    /// Stores one result; returns 0 or -1 no such job, -2/-6 lock, -3 not active.
    pub fn finish(
        &mut self,
        id: &str,
        token: &str,
        action: &Action,
        now: i64,
        max_points: i64,
    ) -> i64 {
        let code = self.release_active(id, token, now);
        if code < 0 {
            return code;
        }
        if self.meta.contains_key("concurrency") {
            // A slot of the queue's global concurrency came free: workers
            // that were held back by it may take a job now.
            self.ready_changed = true;
        }
        let job = self.jobs.get_mut(id).expect("checked above");
        let priority = job.int("priority");
        let (reason, stacktrace) = match action {
            Action::Wait => {
                // Rate limited: back to the front of its line, no attempt counted.
                if priority > 0 {
                    self.prioritized
                        .insert(id, priority * super::state::PRIORITY_UNIT);
                } else {
                    self.wait.push_back(id.to_string());
                }
                self.ready_changed = true;
                self.emit(now, "waiting", &[("jobId", id), ("prev", "active")]);
                return 0;
            }
            Action::Completed { .. } => (None, None),
            Action::Failed {
                reason, stacktrace, ..
            }
            | Action::Retry {
                reason, stacktrace, ..
            }
            | Action::Delay {
                reason, stacktrace, ..
            } => (Some(reason.as_str()), Some(stacktrace.as_str())),
        };
        if let (Some(reason), Some(stacktrace)) = (reason, stacktrace) {
            job.set("failedReason", reason);
            job.set("stacktrace", stacktrace);
        }
        let attempts_made = job.incr("atm");
        match action {
            Action::Retry { lifo, .. } => {
                // Delayed jobs already due go first, as BullMQ promotes them first.
                self.promote_due(now);
                self.enqueue(id, priority, *lifo);
                self.emit(now, "waiting", &[("jobId", id), ("prev", "active")]);
            }
            Action::Delay { delay_ms, .. } => {
                job.set("delay", delay_ms.to_string());
                self.schedule_delayed(now, id, now + delay_ms);
            }
            Action::Completed { returnvalue, keep } => {
                self.store_finished(id, false, returnvalue, *keep, now);
                self.emit(
                    now,
                    "completed",
                    &[
                        ("jobId", id),
                        ("returnvalue", returnvalue),
                        ("prev", "active"),
                    ],
                );
                if max_points > 0 {
                    self.record_metric("completed", now, max_points);
                }
            }
            Action::Failed {
                reason,
                keep,
                attempts,
                ..
            } => {
                self.store_finished(id, true, reason, *keep, now);
                self.emit(
                    now,
                    "failed",
                    &[("jobId", id), ("failedReason", reason), ("prev", "active")],
                );
                if attempts_made >= *attempts {
                    let made = attempts_made.to_string();
                    self.emit(
                        now,
                        "retries-exhausted",
                        &[("jobId", id), ("attemptsMade", &made)],
                    );
                }
                if max_points > 0 {
                    self.record_metric("failed", now, max_points);
                }
            }
            Action::Wait => unreachable!("handled above"),
        }
        0
    }

    fn store_finished(
        &mut self,
        id: &str,
        failed: bool,
        value: &str,
        keep: crate::engine::options::KeepJobs,
        now: i64,
    ) {
        if keep.count_arg() == 0 {
            self.jobs.remove(id);
            return;
        }
        if let Some(job) = self.jobs.get_mut(id) {
            job.set(
                if failed {
                    "failedReason"
                } else {
                    "returnvalue"
                },
                value,
            );
            job.set("finishedOn", now.to_string());
            if failed {
                job.del("defa");
            }
        }
        self.finished_set(failed).insert(id, now);
        self.trim_finished(failed, keep.count_arg(), keep.age_arg(), now);
    }

    /// Renews the locks `token`s hold; returns the ids whose lock was lost.
    pub fn extend_locks(&mut self, held: &[(&str, &str)], lock_ms: i64, now: i64) -> Vec<String> {
        let mut lost = Vec::new();
        for (id, token) in held {
            match self.jobs.get_mut(*id) {
                Some(job) if job.lock_holder(now) == Some(token) => {
                    job.lock = Some(Lock {
                        token: token.to_string(),
                        expires_at: now + lock_ms,
                    });
                    self.stalled.remove(*id);
                }
                _ => lost.push(id.to_string()),
            }
        }
        lost
    }

    /// A job marked on the previous pass that still has no lock goes back
    /// to wait (or, past `max_stalled`, is marked to fail when next taken).
    /// Then every active job is marked for the next pass.
    pub fn check_stalled(&mut self, now: i64, max_stalled: i64, interval_ms: i64) -> Vec<String> {
        if self.stalled_check_until > now {
            return Vec::new();
        }
        self.stalled_check_until = now + interval_ms;
        let mut recovered = Vec::new();
        let marked: Vec<String> = self.stalled.drain().collect();
        for id in marked {
            let unlocked = self
                .jobs
                .get(&id)
                .is_some_and(|j| j.lock_holder(now).is_none());
            if !unlocked || !self.leave_active(&id) {
                continue;
            }
            let job = self.jobs.get_mut(&id).expect("checked above");
            if job.incr("stc") > max_stalled {
                job.set("defa", "job stalled more than allowable limit");
            }
            self.wait.push_back(id.clone());
            self.ready_changed = true;
            self.emit(now, "waiting", &[("jobId", &id), ("prev", "active")]);
            self.emit(now, "stalled", &[("jobId", &id)]);
            recovered.push(id);
        }
        self.stalled = self.active.iter().cloned().collect();
        recovered
    }
}

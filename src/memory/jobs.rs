//! Moving single jobs and bulk moves on an in-process queue (`JobStore`).

use async_trait::async_trait;

use super::state::PRIORITY_UNIT;
use super::MemoryQueue;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;
use crate::engine::options::{due_at as due_after, MAX_DUE_AT_MS};
use crate::engine::store::{BulkMove, Clean, Done, JobStore, Refusal};

#[async_trait]
impl JobStore for MemoryQueue {
    async fn move_to_delayed(&self, id: &str, token: &str, due_at: i64) -> EngineResult<Done> {
        let now = now_ms();
        Ok(self.with(|s| {
            Refusal::from_code(s.release_active(id, token, now))?;
            let due_at = due_at.min(MAX_DUE_AT_MS).max(now);
            if let Some(job) = s.jobs.get_mut(id) {
                job.set("delay", (due_at - now).to_string());
            }
            s.schedule_delayed(now, id, due_at);
            Ok(())
        }))
    }

    async fn change_delay(&self, id: &str, delay: i64) -> EngineResult<Done> {
        let now = now_ms();
        let delay = delay.max(0);
        Ok(self.with(|s| {
            if !s.jobs.contains_key(id) {
                return Err(Refusal::MissingJob);
            }
            if !s.delayed.remove(id) {
                return Err(Refusal::NotInState);
            }
            if let Some(job) = s.jobs.get_mut(id) {
                job.set("delay", delay.to_string());
            }
            s.schedule_delayed(now, id, due_after(now, delay));
            Ok(())
        }))
    }

    async fn change_priority(&self, id: &str, priority: i64, lifo: bool) -> EngineResult<Done> {
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get_mut(id) else {
                return Err(Refusal::MissingJob);
            };
            job.set("priority", priority.to_string());
            let waiting = s.prioritized.remove(id)
                || match s.wait.iter().rposition(|w| w == id) {
                    Some(i) => s.wait.remove(i).is_some(),
                    None => false,
                };
            if waiting {
                s.enqueue(id, priority, lifo);
            }
            Ok(())
        }))
    }

    async fn promote(&self, id: &str) -> EngineResult<Done> {
        let now = now_ms();
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get_mut(id) else {
                return Err(Refusal::MissingJob);
            };
            let priority = job.int("priority");
            if !s.delayed.remove(id) {
                return Err(Refusal::NotInState);
            }
            s.enqueue(id, priority, false);
            s.emit(now, "waiting", &[("jobId", id), ("prev", "delayed")]);
            if let Some(job) = s.jobs.get_mut(id) {
                job.set("delay", "0");
            }
            Ok(())
        }))
    }

    async fn update_data(&self, id: &str, data: &str) -> EngineResult<Done> {
        Ok(self.with(|s| match s.jobs.get_mut(id) {
            Some(job) => {
                job.set("data", data);
                Ok(())
            }
            None => Err(Refusal::MissingJob),
        }))
    }

    async fn extend_lock(&self, id: &str, token: &str, duration_ms: i64) -> EngineResult<bool> {
        let now = now_ms();
        Ok(self.with(|s| {
            s.extend_locks(&[(id, token)], duration_ms.max(1), now)
                .is_empty()
        }))
    }

    /// All at once: one turn of the lock costs less than batches would.
    async fn move_jobs_to_wait(&self, request: &BulkMove<'_>) -> EngineResult<()> {
        let now = now_ms();
        let state = request.state;
        let bound = score_bound(request.max_score);
        self.with(|s| {
            let set = s.set(state);
            let ids = set.up_to(bound, usize::MAX);
            for id in &ids {
                set.remove(id);
            }
            for id in ids {
                if let Some(job) = s.jobs.get_mut(&id) {
                    match state {
                        "failed" => ["finishedOn", "processedOn", "failedReason"],
                        "completed" => ["finishedOn", "processedOn", "returnvalue"],
                        _ => ["", "", ""],
                    }
                    .iter()
                    .for_each(|f| job.del(f));
                }
                s.emit(now, "waiting", &[("jobId", &id), ("prev", state)]);
                s.wait.push_front(id);
                s.ready_changed = true;
            }
        });
        Ok(())
    }

    /// Finished jobs are aged by finishedOn, the others by the add time.
    async fn clean(&self, request: &Clean<'_>) -> EngineResult<Vec<String>> {
        let now = now_ms();
        let Clean {
            state,
            cutoff_ms,
            limit,
        } = *request;
        Ok(self.with(|s| {
            let candidates: Vec<String> = match state {
                "wait" | "waiting" => s.wait.iter().cloned().collect(),
                "active" => s.active.iter().cloned().collect(),
                "completed" | "failed" => s.set(state).up_to(cutoff_ms, usize::MAX),
                "delayed" | "prioritized" => {
                    s.set(state).members().map(|(_, id)| id.clone()).collect()
                }
                _ => Vec::new(),
            };
            let field = if matches!(state, "completed" | "failed") {
                "finishedOn"
            } else {
                "timestamp"
            };
            let mut removed = Vec::new();
            for id in candidates {
                if limit > 0 && removed.len() as i64 >= limit {
                    break;
                }
                let Some(job) = s.jobs.get(&id) else { continue };
                let at = job.get(field).and_then(|v| v.parse::<f64>().ok());
                if job.lock_holder(now).is_some() || at.is_some_and(|at| at as i64 > cutoff_ms) {
                    continue;
                }
                s.unlink(&id);
                s.jobs.remove(&id);
                removed.push(id);
            }
            s.emit(now, "cleaned", &[("count", &removed.len().to_string())]);
            removed
        }))
    }

    async fn counts_per_priority(&self, priorities: &[i64]) -> EngineResult<Vec<i64>> {
        Ok(self.with(|s| {
            priorities
                .iter()
                .map(|&p| {
                    if p == 0 {
                        return s.wait.len() as i64;
                    }
                    let low = p * PRIORITY_UNIT;
                    s.prioritized
                        .members()
                        .filter(|(score, _)| *score >= low && *score < low + PRIORITY_UNIT)
                        .count() as i64
                })
                .collect()
        }))
    }

    async fn clear_logs(&self, id: &str, keep: Option<i64>) -> EngineResult<()> {
        self.with(|s| {
            if let Some(job) = s.jobs.get_mut(id) {
                let keep = keep.filter(|k| *k > 0).unwrap_or(0) as usize;
                let extra = job.logs.len().saturating_sub(keep);
                job.logs.drain(..extra);
            }
        });
        Ok(())
    }
}

/// `move_jobs_to_wait`'s upper score ("+inf", or a number as text).
fn score_bound(max_score: &str) -> i64 {
    match max_score {
        "+inf" => i64::MAX,
        other => other.parse::<f64>().map(|f| f as i64).unwrap_or(i64::MAX),
    }
}

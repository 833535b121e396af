//! Queue operations on an in-process queue (`QueueStore`). The methods are
//! async only because the trait is.

use async_trait::async_trait;

use super::state::State;
use super::zset::rank_window;
use super::MemoryQueue;
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::job::NewJob;
use crate::engine::job::RawJob;
use crate::engine::keys::state_key;
use crate::engine::now_ms;
use crate::engine::options::due_at;
use crate::engine::store::{
    logs_to_keep, Done, JobRange, LogRange, Logged, Logs, QueueStore, Refusal, Reprocess,
};

fn list_range(list: &std::collections::VecDeque<String>, start: i64, end: i64) -> Vec<String> {
    match rank_window(list.len(), start, end) {
        Some((from, to)) => list.range(from..=to).cloned().collect(),
        None => Vec::new(),
    }
}

fn job_json(state: &State, id: &str, out: &mut String) -> bool {
    let Some(job) = state.jobs.get(id) else {
        return false;
    };
    RawJob {
        id,
        fields: &job.fields,
    }
    .write_json(out, None);
    true
}

impl MemoryQueue {
    fn add_jobs(&self, jobs: &[NewJob]) -> Vec<String> {
        let now = now_ms();
        self.with(|s| {
            s.meta
                .entry("version".into())
                .or_insert_with(|| concat!("bullrush:", env!("CARGO_PKG_VERSION")).into());
            jobs.iter().map(|job| s.add_job(job, now)).collect()
        })
    }
}

#[async_trait]
impl QueueStore for MemoryQueue {
    async fn add(&self, jobs: &[NewJob]) -> EngineResult<Vec<String>> {
        Ok(self.add_jobs(jobs))
    }

    fn add_now(&self, jobs: &[NewJob]) -> Option<Vec<String>> {
        Some(self.add_jobs(jobs))
    }

    async fn counts(&self, states: &[String]) -> EngineResult<Vec<i64>> {
        let suffixes = states
            .iter()
            .map(|s| state_key(s))
            .collect::<EngineResult<Vec<_>>>()?;
        Ok(self.with(|s| {
            suffixes
                .iter()
                .map(|suffix| s.count(suffix) as i64)
                .collect()
        }))
    }

    /// Job ids in the given states, each state ranged on its own.
    async fn ranges(&self, range: &JobRange<'_>) -> EngineResult<Vec<String>> {
        let (states, start, end, asc) = (range.states, range.start, range.end, range.asc);
        let suffixes = states
            .iter()
            .map(|s| state_key(s))
            .collect::<EngineResult<Vec<_>>>()?;
        Ok(self.with(|s| {
            let mut ids = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for suffix in suffixes {
                let batch = match suffix {
                    "wait" | "active" => {
                        let list = if suffix == "wait" { &s.wait } else { &s.active };
                        if asc {
                            let mut b = list_range(list, -(end + 1), -(start + 1));
                            b.reverse();
                            b
                        } else {
                            list_range(list, start, end)
                        }
                    }
                    "paused" | "waiting-children" => Vec::new(),
                    other => s.set(other).by_rank(start, end, asc),
                };
                ids.extend(batch.into_iter().filter(|id| seen.insert(id.clone())));
            }
            ids
        }))
    }

    async fn jobs_json(&self, ids: &[String]) -> EngineResult<String> {
        Ok(self.with(|s| {
            let mut out = String::from("[");
            for id in ids {
                let mark = out.len();
                if out.len() > 1 {
                    out.push(',');
                }
                if !job_json(s, id, &mut out) {
                    out.truncate(mark);
                }
            }
            out.push(']');
            out
        }))
    }

    async fn job_json(&self, id: &str) -> EngineResult<Option<String>> {
        Ok(self.with(|s| {
            let mut out = String::new();
            job_json(s, id, &mut out).then_some(out)
        }))
    }

    async fn state(&self, id: &str) -> EngineResult<String> {
        Ok(self.with(|s| s.state_of(id)).to_string())
    }

    async fn set_paused(&self, paused: bool) -> EngineResult<()> {
        let now = now_ms();
        self.with(|s| {
            if paused {
                s.meta.insert("paused".into(), "1".into());
            } else {
                s.meta.remove("paused");
                s.ready_changed = true;
            }
            s.emit(now, if paused { "paused" } else { "resumed" }, &[]);
        });
        Ok(())
    }

    async fn is_paused(&self) -> EngineResult<bool> {
        Ok(self.with(|s| s.is_paused()))
    }

    async fn drain(&self, delayed: bool) -> EngineResult<()> {
        self.with(|s| {
            let mut ids: Vec<String> = s.wait.drain(..).collect();
            ids.extend(s.prioritized.members().map(|(_, id)| id.clone()));
            s.prioritized.clear();
            s.priority_seq = 0;
            if delayed {
                ids.extend(s.delayed.members().map(|(_, id)| id.clone()));
                s.delayed.clear();
            }
            for id in ids {
                s.jobs.remove(&id);
            }
        });
        Ok(())
    }

    async fn obliterate(&self, force: bool, _batch: i64) -> EngineResult<()> {
        self.with(|s| {
            if !force && !s.active.is_empty() {
                return Err(EngineError::Job(
                    "Cannot obliterate queue with active jobs (pass { force: true } to remove them too)".into(),
                ));
            }
            // Event ids keep increasing, as a new Redis stream's would.
            let last_event = s.events.last;
            *s = State::default();
            s.events.last = last_event;
            Ok(())
        })
    }

    async fn remove(&self, id: &str) -> EngineResult<Done> {
        let now = now_ms();
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get(id) else {
                return Err(Refusal::MissingJob);
            };
            if job.lock_holder(now).is_some() {
                return Err(Refusal::Locked);
            }
            let prev = s.unlink(id);
            s.jobs.remove(id);
            s.emit(now, "removed", &[("jobId", id), ("prev", prev)]);
            Ok(())
        }))
    }

    /// Moves a finished job back to wait.
    async fn reprocess(&self, r: &Reprocess<'_>) -> EngineResult<Done> {
        let now = now_ms();
        let (id, state) = (r.id, r.state);
        Ok(self.with(|s| {
            if !s.jobs.contains_key(id) {
                return Err(Refusal::MissingJob);
            }
            let completed = state == "completed";
            if !s.finished_set(!completed).remove(id) {
                return Err(Refusal::NotInState);
            }
            let job = s.jobs.get_mut(id).expect("checked above");
            job.del("finishedOn");
            job.del("processedOn");
            job.del(if completed {
                "returnvalue"
            } else {
                "failedReason"
            });
            if r.reset_attempts_made {
                job.del("atm");
            }
            if r.reset_attempts_started {
                job.del("ats");
            }
            let priority = job.int("priority");
            s.enqueue(id, priority, r.lifo);
            s.emit(now, "waiting", &[("jobId", id), ("prev", state)]);
            Ok(())
        }))
    }

    async fn update_progress(&self, id: &str, progress: &str) -> EngineResult<Done> {
        let now = now_ms();
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get_mut(id) else {
                return Err(Refusal::MissingJob);
            };
            job.set("progress", progress);
            s.emit(now, "progress", &[("jobId", id), ("data", progress)]);
            Ok(())
        }))
    }

    async fn add_log(&self, id: &str, row: &str, keep: Option<i64>) -> EngineResult<Logged> {
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get_mut(id) else {
                return Err(Refusal::MissingJob);
            };
            job.logs.push_back(row.to_string());
            if let Some(keep) = logs_to_keep(keep) {
                let extra = job.logs.len().saturating_sub(keep.max(0) as usize);
                job.logs.drain(..extra);
            }
            Ok(job.logs.len() as i64)
        }))
    }

    async fn logs(&self, range: &LogRange<'_>) -> EngineResult<Logs> {
        let (id, start, end, asc) = (range.id, range.start, range.end, range.asc);
        Ok(self.with(|s| {
            let Some(job) = s.jobs.get(id) else {
                return Logs {
                    logs: Vec::new(),
                    count: 0,
                };
            };
            let rows = if asc {
                list_range(&job.logs, start, end)
            } else {
                let mut rows = list_range(&job.logs, -(end + 1), -(start + 1));
                rows.reverse();
                rows
            };
            Logs {
                logs: rows,
                count: job.logs.len() as i64,
            }
        }))
    }

    async fn ping(&self) -> EngineResult<()> {
        Ok(())
    }
}

impl State {
    fn add_job(&mut self, job: &NewJob, now: i64) -> String {
        let o = &job.opts;
        self.id_seq += 1;
        let id = o.job_id.clone().unwrap_or_else(|| self.id_seq.to_string());
        if o.job_id.is_some() && self.jobs.contains_key(&id) {
            self.emit(now, "duplicated", &[("jobId", &id)]);
            return id;
        }
        let mut fields = Vec::with_capacity(12);
        fields.extend([
            ("name", job.name.clone()),
            ("data", job.data.clone()),
            ("opts", o.encoded.clone()),
            ("timestamp", o.timestamp.to_string()),
            ("delay", o.delay.to_string()),
            ("priority", o.priority.to_string()),
        ]);
        self.jobs.insert(
            id.clone(),
            super::state::Job {
                fields,
                ..Default::default()
            },
        );
        self.emit(now, "added", &[("jobId", &id), ("name", &job.name)]);
        if o.delay > 0 {
            self.schedule_delayed(now, &id, due_at(o.timestamp, o.delay));
        } else {
            self.enqueue(&id, o.priority, o.lifo);
            self.emit(now, "waiting", &[("jobId", &id)]);
        }
        id
    }

    pub(super) fn set(&mut self, suffix: &str) -> &mut super::zset::ZSet {
        match suffix {
            "delayed" => &mut self.delayed,
            "prioritized" => &mut self.prioritized,
            "completed" => &mut self.completed,
            _ => &mut self.failed,
        }
    }

    fn count(&mut self, suffix: &str) -> usize {
        match suffix {
            "wait" => self.wait.len(),
            "active" => self.active.len(),
            "paused" | "waiting-children" => 0,
            other => self.set(other).len(),
        }
    }

    /// A job's state, checked in BullMQ's order.
    fn state_of(&self, id: &str) -> &'static str {
        if self.completed.contains(id) {
            "completed"
        } else if self.failed.contains(id) {
            "failed"
        } else if self.delayed.contains(id) {
            "delayed"
        } else if self.prioritized.contains(id) {
            "prioritized"
        } else if self.active.iter().any(|a| a == id) {
            "active"
        } else if self.wait.iter().any(|w| w == id) {
            "waiting"
        } else {
            "unknown"
        }
    }
}

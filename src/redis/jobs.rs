//! Moving single jobs between states, and bulk moves over a state: the
//! operations behind Job#moveToDelayed, #changeDelay, #changePriority,
//! #promote, #updateData, #extendLock and Queue#clean, #retryJobs,
//! #promoteJobs, #getCountsPerPriority.

use async_trait::async_trait;

use super::queue::RedisQueue;
use super::scripts::scripts;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;
use crate::engine::store::{BulkMove, Clean, Done, JobStore, Refusal};

/// Priorities sit in the top bits of a prioritized score (see prelude.lua).
const PRIORITY_UNIT: f64 = 4_294_967_296.0;

#[async_trait]
impl JobStore for RedisQueue {
    async fn move_to_delayed(&self, id: &str, token: &str, due_at: i64) -> EngineResult<Done> {
        let args = self.base_and(&[id, token, &due_at.to_string(), &now_ms().to_string()]);
        self.done(&scripts().move_to_delayed, &args).await
    }

    async fn change_delay(&self, id: &str, delay: i64) -> EngineResult<Done> {
        let args = self.base_and(&[id, &delay.max(0).to_string(), &now_ms().to_string()]);
        self.done(&scripts().change_delay, &args).await
    }

    async fn change_priority(&self, id: &str, priority: i64, lifo: bool) -> EngineResult<Done> {
        let lifo = if lifo { "1" } else { "0" };
        let args = self.base_and(&[id, &priority.to_string(), lifo]);
        self.done(&scripts().change_priority, &args).await
    }

    async fn promote(&self, id: &str) -> EngineResult<Done> {
        self.done(&scripts().promote, &self.base_and(&[id])).await
    }

    async fn update_data(&self, id: &str, data: &str) -> EngineResult<Done> {
        self.done(&scripts().update_data, &self.base_and(&[id, data]))
            .await
    }

    async fn extend_lock(&self, id: &str, token: &str, duration_ms: i64) -> EngineResult<bool> {
        let args = self.base_and(&[&duration_ms.max(1).to_string(), id, token]);
        let lost: Vec<String> = self.eval(&scripts().extend_locks, &args).await?;
        Ok(lost.is_empty())
    }

    /// One script call per `batch` jobs moved.
    async fn move_jobs_to_wait(&self, request: &BulkMove<'_>) -> EngineResult<()> {
        let batch = request.batch.max(1).to_string();
        let args = self.base_and(&[request.state, &batch, request.max_score]);
        while self
            .eval::<i64>(&scripts().move_jobs_to_wait, &args)
            .await?
            == 1
        {}
        Ok(())
    }

    async fn clean(&self, request: &Clean<'_>) -> EngineResult<Vec<String>> {
        let cutoff = request.cutoff_ms.to_string();
        let args = self.base_and(&[request.state, &cutoff, &request.limit.max(0).to_string()]);
        self.eval(&scripts().clean, &args).await
    }

    async fn counts_per_priority(&self, priorities: &[i64]) -> EngineResult<Vec<i64>> {
        let mut pipe = redis::pipe();
        for &p in priorities {
            if p == 0 {
                pipe.cmd("LLEN").arg(self.keys.key("wait"));
            } else {
                let low = p as f64 * PRIORITY_UNIT;
                pipe.cmd("ZCOUNT")
                    .arg(self.keys.key("prioritized"))
                    .arg(low)
                    .arg(format!("({}", low + PRIORITY_UNIT));
            }
        }
        if priorities.is_empty() {
            return Ok(vec![]);
        }
        self.pipeline(&pipe).await
    }

    async fn clear_logs(&self, id: &str, keep: Option<i64>) -> EngineResult<()> {
        let key = format!("{}:logs", self.keys.job(id));
        let _: () = match keep {
            Some(k) if k > 0 => {
                self.query(redis::cmd("LTRIM").arg(&key).arg(-k).arg(-1))
                    .await?
            }
            _ => self
                .query(redis::cmd("DEL").arg(&key))
                .await
                .map(|_: i64| ())?,
        };
        Ok(())
    }
}

impl RedisQueue {
    /// Runs a script that answers with a job's outcome code.
    async fn done(&self, script: &super::scripts::Lua, args: &[String]) -> EngineResult<Done> {
        let code: i64 = self.eval(script, args).await?;
        Ok(Refusal::from_code(code))
    }
}

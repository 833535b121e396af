//! Moving single jobs between states, and bulk moves over a state: the
//! operations behind Job#moveToDelayed, #changeDelay, #changePriority,
//! #promote, #updateData, #extendLock and Queue#clean, #retryJobs,
//! #promoteJobs, #getCountsPerPriority.

use super::queue::RedisQueue;
use super::scripts::scripts;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;

/// Priorities sit in the top bits of a prioritized score (see prelude.lua).
const PRIORITY_UNIT: f64 = 4_294_967_296.0;

impl RedisQueue {
    pub async fn move_to_delayed(&self, id: &str, token: &str, due_at: i64) -> EngineResult<i64> {
        let args = self.base_and(&[id, token, &due_at.to_string(), &now_ms().to_string()]);
        self.eval(&scripts().move_to_delayed, &args).await
    }

    pub async fn change_delay(&self, id: &str, delay: i64) -> EngineResult<i64> {
        let args = self.base_and(&[id, &delay.max(0).to_string(), &now_ms().to_string()]);
        self.eval(&scripts().change_delay, &args).await
    }

    pub async fn change_priority(&self, id: &str, priority: i64, lifo: bool) -> EngineResult<i64> {
        let lifo = if lifo { "1" } else { "0" };
        let args = self.base_and(&[id, &priority.to_string(), lifo]);
        self.eval(&scripts().change_priority, &args).await
    }

    pub async fn promote(&self, id: &str) -> EngineResult<i64> {
        self.eval(&scripts().promote, &self.base_and(&[id])).await
    }

    pub async fn update_data(&self, id: &str, data: &str) -> EngineResult<i64> {
        self.eval(&scripts().update_data, &self.base_and(&[id, data]))
            .await
    }

    /// 1 when `token` still held the lock and it was extended, else 0.
    pub async fn extend_lock(&self, id: &str, token: &str, duration_ms: i64) -> EngineResult<i64> {
        let args = self.base_and(&[&duration_ms.max(1).to_string(), id, token]);
        let lost: Vec<String> = self.eval(&scripts().extend_locks, &args).await?;
        Ok(if lost.is_empty() { 1 } else { 0 })
    }

    /// Moves every job of `state` scored at most `max_score` back to wait,
    /// `batch` per script call.
    pub async fn move_jobs_to_wait(
        &self,
        state: &str,
        batch: i64,
        max_score: &str,
    ) -> EngineResult<()> {
        let args = self.base_and(&[state, &batch.max(1).to_string(), max_score]);
        while self
            .eval::<i64>(&scripts().move_jobs_to_wait, &args)
            .await?
            == 1
        {}
        Ok(())
    }

    pub async fn clean(
        &self,
        state: &str,
        cutoff_ms: i64,
        limit: i64,
    ) -> EngineResult<Vec<String>> {
        let args = self.base_and(&[state, &cutoff_ms.to_string(), &limit.max(0).to_string()]);
        self.eval(&scripts().clean, &args).await
    }

    pub async fn counts_per_priority(&self, priorities: &[i64]) -> EngineResult<Vec<i64>> {
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

    pub async fn clear_logs(&self, id: &str, keep: Option<i64>) -> EngineResult<()> {
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

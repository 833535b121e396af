//! Queue-wide settings and inspection on an in-process queue: meta fields
//! (global concurrency and rate limit), the rate limiter, events trimming
//! and publishing, the worker list, metrics.

use super::state::{Limiter, PRIORITY_UNIT, RATE_LIMITED};
use super::zset::rank_window;
use super::MemoryQueue;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;

impl MemoryQueue {
    pub async fn set_meta(&self, fields: &[(String, Option<String>)]) -> EngineResult<i64> {
        Ok(self.with(|s| {
            s.ready_changed = true;
            fields
                .iter()
                .map(|(field, value)| match value {
                    Some(v) => s.meta.insert(field.clone(), v.clone()).is_none() as i64,
                    None => s.meta.remove(field).is_some() as i64,
                })
                .sum()
        }))
    }

    pub async fn meta(&self) -> EngineResult<Vec<String>> {
        Ok(self.with(|s| {
            s.meta
                .iter()
                .flat_map(|(k, v)| [k.clone(), v.clone()])
                .collect()
        }))
    }

    pub async fn trim_events(&self, max_len: i64) -> EngineResult<i64> {
        Ok(self.with(|s| s.events.trim(max_len.max(0) as usize) as i64))
    }

    /// As `RedisQueue::rate_limit_ttl`.
    pub async fn rate_limit_ttl(&self, max: i64) -> EngineResult<i64> {
        let now = now_ms();
        Ok(self.with(|s| {
            let max = if max == 0 {
                s.meta_int("max")
            } else {
                Some(max)
            };
            let live = s.limiter.as_ref().filter(|l| l.expires_at > now);
            match (max, live) {
                (None, None) => -2,
                (None, Some(l)) => l.expires_at - now,
                (Some(_), None) => 0,
                (Some(max), Some(l)) if l.count >= max => l.expires_at - now,
                (Some(_), Some(_)) => 0,
            }
        }))
    }

    pub async fn rate_limit(&self, ms: i64) -> EngineResult<()> {
        let now = now_ms();
        self.with(|s| {
            s.limiter = Some(Limiter {
                count: RATE_LIMITED,
                expires_at: now + ms.max(1),
            })
        });
        Ok(())
    }

    pub async fn remove_rate_limit_key(&self) -> EngineResult<i64> {
        Ok(self.with(|s| {
            s.ready_changed = true;
            s.limiter.take().is_some() as i64
        }))
    }

    /// The attached workers as CLIENT LIST lines, named as BullMQ names them.
    pub async fn client_list(&self) -> EngineResult<String> {
        let base = self.keys.client_name();
        let workers = self.shared.workers.lock().unwrap();
        let mut lines: Vec<_> = workers.iter().collect();
        lines.sort();
        Ok(lines
            .into_iter()
            .map(|(id, name)| {
                let name = if name.is_empty() {
                    base.clone()
                } else {
                    format!("{base}:w:{name}")
                };
                format!("id={id} addr=memory name={name}\n")
            })
            .collect())
    }

    pub async fn publish_event(&self, fields: &[String], max_events: i64) -> EngineResult<String> {
        let now = now_ms();
        Ok(self.with(|s| {
            let json = serde_json::to_string(fields).unwrap_or_default();
            let id = s.events.append(now, json, max_events.max(1) as usize);
            super::events::format_id(id)
        }))
    }

    pub async fn metrics(
        &self,
        state: &str,
        start: i64,
        end: i64,
    ) -> EngineResult<(Vec<String>, Vec<String>, i64)> {
        Ok(self.with(|s| match s.metrics.get(state) {
            None => (vec![String::new(); 3], Vec::new(), 0),
            Some(m) => {
                let points = match rank_window(m.data.len(), start, end) {
                    Some((from, to)) => m.data.range(from..=to).map(|p| p.to_string()).collect(),
                    None => Vec::new(),
                };
                (
                    vec![
                        m.count.to_string(),
                        m.prev_ts.map(|t| t.to_string()).unwrap_or_default(),
                        m.prev_count.to_string(),
                    ],
                    points,
                    m.data.len() as i64,
                )
            }
        }))
    }

    pub async fn counts_per_priority(&self, priorities: &[i64]) -> EngineResult<Vec<i64>> {
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
}

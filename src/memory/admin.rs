//! Queue-wide settings and inspection on an in-process queue: meta fields
//! (global concurrency and rate limit), the rate limiter, events trimming
//! and publishing, the worker list, metrics.

use async_trait::async_trait;

use super::state::{Limiter, RATE_LIMITED};
use super::zset::rank_window;
use super::MemoryQueue;
use crate::engine::error::EngineResult;
use crate::engine::now_ms;
use crate::engine::store::{AdminStore, Metrics, WorkerInfo};

#[async_trait]
impl AdminStore for MemoryQueue {
    async fn set_meta(&self, fields: &[(String, Option<String>)]) -> EngineResult<i64> {
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

    async fn meta(&self) -> EngineResult<Vec<(String, String)>> {
        Ok(self.with(|s| s.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }

    async fn trim_events(&self, max_len: i64) -> EngineResult<i64> {
        Ok(self.with(|s| s.events.trim(max_len.max(0) as usize) as i64))
    }

    async fn rate_limit_ttl(&self, max: i64) -> EngineResult<i64> {
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

    async fn rate_limit(&self, ms: i64) -> EngineResult<()> {
        let now = now_ms();
        self.with(|s| {
            s.limiter = Some(Limiter {
                count: RATE_LIMITED,
                expires_at: now.saturating_add(ms.max(1)),
            })
        });
        Ok(())
    }

    async fn remove_rate_limit_key(&self) -> EngineResult<i64> {
        Ok(self.with(|s| {
            s.ready_changed = true;
            s.limiter.take().is_some() as i64
        }))
    }

    /// The attached workers, named as BullMQ names their connections.
    async fn workers(&self) -> EngineResult<Vec<WorkerInfo>> {
        let base = self.keys.client_name();
        let workers = self.shared.workers.lock().unwrap();
        let mut attached: Vec<_> = workers.iter().collect();
        attached.sort();
        Ok(attached
            .into_iter()
            .map(|(id, name)| {
                let name = if name.is_empty() {
                    base.clone()
                } else {
                    format!("{base}:w:{name}")
                };
                vec![
                    ("id".to_string(), id.to_string()),
                    ("addr".to_string(), "memory".to_string()),
                    ("name".to_string(), name),
                ]
            })
            .collect())
    }

    async fn publish_event(&self, fields: &[String], max_events: i64) -> EngineResult<String> {
        let now = now_ms();
        Ok(self.with(|s| {
            let json = serde_json::to_string(fields).unwrap_or_default();
            let id = s.events.append(now, json, max_events.max(1) as usize);
            super::events::format_id(id)
        }))
    }

    async fn metrics(&self, state: &str, start: i64, end: i64) -> EngineResult<Metrics> {
        Ok(self.with(|s| match s.metrics.get(state) {
            None => Metrics::default(),
            Some(m) => Metrics {
                count: m.count,
                prev_ts: m.prev_ts.unwrap_or(0),
                prev_count: m.prev_count,
                data: match rank_window(m.data.len(), start, end) {
                    Some((from, to)) => m.data.range(from..=to).copied().collect(),
                    None => Vec::new(),
                },
                total: m.data.len() as i64,
            },
        }))
    }
}
